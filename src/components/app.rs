use leptos::prelude::*;
use marketplace_wire::Catalog;

use crate::{
    api::ApiClient,
    components::{CatalogView, IntegrationDialog, Toolbar},
    context::Ctx,
    events::Emitter,
    state::{CatalogState, Filter},
    strings::{Key, Strings},
};

/// The whole widget: the catalog, its filters, the open dialog and a live region.
#[component]
pub fn App(
    api: StoredValue<ApiClient, LocalStorage>,
    events: StoredValue<Emitter, LocalStorage>,
    strings: Strings,
    /// Already fetched (by embed.js, say): shown at once, with no loading state first.
    catalog: Option<Catalog>,
) -> impl IntoView {
    let ctx = Ctx {
        api,
        events,
        strings: StoredValue::new(strings),
        catalog: RwSignal::new(catalog.map_or(CatalogState::Loading, CatalogState::Loaded)),
        announcement: RwSignal::new(String::new()),
        open: RwSignal::new(None),
        notice: RwSignal::new(None),
        connecting: RwSignal::new(Vec::new()),
    };
    provide_context(ctx);
    let fetched = ctx
        .catalog
        .with_untracked(|c| matches!(c, CatalogState::Loaded(_)));
    leptos::task::spawn_local(async move {
        if fetched || ctx.reload().await {
            ctx.ready();
        }
    });
    let filter = RwSignal::new(Filter::default());
    view! {
        // The heading, visible to assistive technology only, puts the cards' <h3>
        // titles under an <h2> of the widget's own, wherever the host places it.
        <section class="tm-root" aria-labelledby="tm-heading" tabindex="-1">
            <h2 class="tm-sr" id="tm-heading">{ctx.t(Key::widget_label)}</h2>
            <Toolbar filter />
            <CatalogView filter />
            <p class="tm-sr" role="status" aria-live="polite">{move || ctx.announcement.get()}</p>
            {move || ctx.open.get().map(|panel| view! { <IntegrationDialog panel /> })}
        </section>
    }
}
