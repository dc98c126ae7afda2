use leptos::prelude::*;

use crate::{api::ApiClient, components::CatalogView, state::CatalogState};

/// The whole widget: loads the catalog once and shows it.
#[component]
pub fn App(api: ApiClient) -> impl IntoView {
    let catalog = RwSignal::new(CatalogState::Loading);
    leptos::task::spawn_local(async move {
        let loaded = match api.catalog().await {
            Ok(catalog) => CatalogState::Loaded(catalog),
            Err(err) => CatalogState::Failed(err),
        };
        catalog.set(loaded);
    });
    view! {
        <section class="tm-root" aria-label="Integrations">
            <CatalogView state=catalog />
        </section>
    }
}
