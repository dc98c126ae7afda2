use leptos::prelude::*;

use crate::{components::IntegrationCard, state::CatalogState};

/// The grid of integrations, or what stands in for it while loading or after a failure.
#[component]
pub fn CatalogView(state: RwSignal<CatalogState>) -> impl IntoView {
    move || match state.get() {
        CatalogState::Loading => {
            view! { <p class="tm-loading" role="status">"Loading integrations…"</p> }.into_any()
        }
        CatalogState::Failed(err) => {
            view! { <p class="tm-error" role="alert">{err.to_string()}</p> }.into_any()
        }
        CatalogState::Loaded(catalog) => view! {
            <ul class="tm-grid" role="list">
                {catalog
                    .integrations
                    .into_iter()
                    .map(|integration| view! { <IntegrationCard integration /> })
                    .collect_view()}
            </ul>
        }
        .into_any(),
    }
}
