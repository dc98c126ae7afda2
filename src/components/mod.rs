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

/// What a submitted form holds: its inputs are uncontrolled (the browser keeps what the
/// user types), and a submit reads them all at once.
fn submitted_data(ev: &leptos::ev::SubmitEvent) -> Option<web_sys::FormData> {
    use wasm_bindgen::JsCast;
    let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
    web_sys::FormData::new_with_form(&form).ok()
}
