//! The views, one component per file.

mod app;
mod auth_button;
mod catalog_view;
mod config_form;
mod instance_row;
mod integration_card;
mod integration_dialog;
mod modal;
mod setup_flow;
mod status_badge;
mod toolbar;

pub use app::App;
pub use auth_button::AuthButton;
pub use catalog_view::CatalogView;
pub use config_form::ConfigForm;
pub use instance_row::InstanceRow;
pub use integration_card::IntegrationCard;
pub use integration_dialog::IntegrationDialog;
pub use modal::Modal;
pub use setup_flow::SetupFlow;
pub use status_badge::StatusBadge;
pub use toolbar::Toolbar;

use std::sync::atomic::{AtomicU32, Ordering};

/// What a submitted form holds: its inputs are uncontrolled (the browser keeps what the
/// user types), and a submit reads them all at once.
fn submitted_data(ev: &leptos::ev::SubmitEvent) -> Option<web_sys::FormData> {
    use wasm_bindgen::JsCast;
    let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
    web_sys::FormData::new_with_form(&form).ok()
}

/// Focus moves `focus_after_render` has promised and not made yet: the dialog's fallback
/// for lost focus waits for them (see `Modal`), whichever frame it was asked in.
static FOCUS_PENDING: AtomicU32 = AtomicU32::new(0);

/// Whether a `focus_after_render` is still to come.
fn focus_pending() -> bool {
    FOCUS_PENDING.load(Ordering::Relaxed) > 0
}

/// Focuses the first of `selectors` (in that order) found in `within`, or in its row of
/// instance `row`, on the next frame: a change re-renders the row the user acted in, and
/// the control they used is a new element by then. Without this, focus would fall to
/// whatever comes first in the dialog, a Disable button say, where the next Enter does
/// harm.
fn focus_after_render(
    within: web_sys::Element,
    row: Option<String>,
    selectors: &'static [&'static str],
) {
    use wasm_bindgen::JsCast;
    FOCUS_PENDING.fetch_add(1, Ordering::Relaxed);
    leptos::prelude::request_animation_frame(move || {
        FOCUS_PENDING.fetch_sub(1, Ordering::Relaxed);
        let scope = match row {
            Some(id) => row_element(&within, &id),
            None => Some(within),
        };
        let target = scope
            .and_then(|scope| {
                selectors
                    .iter()
                    .find_map(|selector| scope.query_selector(selector).ok().flatten())
            })
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(target) = target {
            let _ = target.focus();
        }
    });
}

/// The row of instance `id` (compared, not put in a selector: an id is Tray's text).
fn row_element(within: &web_sys::Element, id: &str) -> Option<web_sys::Element> {
    use wasm_bindgen::JsCast;
    let rows = within.query_selector_all(".tm-instance").ok()?;
    (0..rows.length())
        .filter_map(|i| rows.item(i)?.dyn_into::<web_sys::Element>().ok())
        .find(|row| row.get_attribute("data-instance-id").as_deref() == Some(id))
}
