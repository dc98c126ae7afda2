use leptos::prelude::*;
use marketplace_wire::Integration;
use wasm_bindgen::JsCast;

use super::focus_after_render;
use crate::{
    components::StatusBadge,
    context::{use_ctx, OpenPanel},
    state::{card_action, unfinished_setup, CardAction, Filter},
    strings::Key,
};

/// One integration: icon, title, description, tags, status and its main action; hidden
/// while `filter` leaves it out.
#[component]
pub fn IntegrationCard(integration: Integration, filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    // Also a Connect pressed on the card this one replaced (a catalog that changed).
    let busy_id = integration.solution_id.clone();
    let busy_shown = move || ctx.is_connecting(&busy_id).to_string();
    let failure = RwSignal::new(None::<String>);
    let action = card_action(&integration);
    let label = ctx.t(match action {
        CardAction::Connect => Key::connect,
        CardAction::FinishSetup(_) => Key::finish_setup,
        CardAction::Manage => Key::manage,
    });
    let title_id = format!("tm-title-{}", integration.solution_id);
    let solution_id = integration.solution_id.clone();
    let status = integration.status();
    let for_click = integration.clone();
    let for_filter = integration.clone();
    let hidden = move || filter.with(|f| !f.matches(&for_filter));
    let on_click = move |ev: leptos::ev::MouseEvent| {
        let setup = match &action {
            CardAction::Connect => return ctx.start_connect(for_click.clone(), failure, None),
            CardAction::FinishSetup(id) => Some(id.clone()),
            CardAction::Manage => None,
        };
        ctx.open.set(Some(OpenPanel {
            solution_id: solution_id.clone(),
            setup,
        }));
        // Beside other connections, an unfinished setup is where the user goes on: its
        // row's Finish setting up takes focus once the dialog is drawn.
        let root = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|button| button.closest(".tm-root").ok().flatten());
        if let (CardAction::Manage, Some(root), Some(unfinished)) =
            (&action, root, unfinished_setup(&for_click))
        {
            focus_after_render(root, Some(unfinished.id.clone()), &[".tm-resume"]);
        }
    };
    view! {
        <li class="tm-card" data-solution-id=integration.solution_id.clone() hidden=hidden>
            <div class="tm-card-head">
                {integration.icon_url.map(|src| view! { <img class="tm-icon" src=src alt="" width="40" height="40" /> }.into_any())}
                <h3 class="tm-title" id=title_id.clone()>{integration.title}</h3>
            </div>
            <p class="tm-description">{integration.description}</p>
            <ul class="tm-tags" role="list">
                {integration.tags.into_iter().filter(|tag| !tag.trim().is_empty()).map(|tag| view! { <li class="tm-tag-chip">{tag}</li> }.into_any()).collect_view()}
            </ul>
            <div class="tm-card-foot">
                <StatusBadge status />
                <button
                    class="tm-button tm-card-action"
                    aria-describedby=title_id
                    aria-disabled=busy_shown.clone()
                    aria-busy=busy_shown
                    on:click=on_click
                >
                    {label}
                </button>
            </div>
            // Announced by the live region already (ctx.fail): not an alert a second time.
            <p class="tm-field-error">{move || failure.get()}</p>
        </li>
    }
}
