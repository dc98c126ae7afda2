use leptos::prelude::*;
use marketplace_wire::Integration;

/// One integration: icon, title, description.
#[component]
pub fn IntegrationCard(integration: Integration) -> impl IntoView {
    view! {
        <li class="tm-card">
            {integration.icon_url.map(|src| view! { <img class="tm-icon" src=src alt="" width="40" height="40" /> })}
            <h3 class="tm-title">{integration.title}</h3>
            <p class="tm-description">{integration.description}</p>
        </li>
    }
}
