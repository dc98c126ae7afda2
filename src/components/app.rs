use leptos::prelude::*;

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
) -> impl IntoView {
    let ctx = Ctx {
        api,
        events,
        strings: StoredValue::new(strings),
        catalog: RwSignal::new(CatalogState::Loading),
        announcement: RwSignal::new(String::new()),
        open: RwSignal::new(None),
    };
    provide_context(ctx);
    leptos::task::spawn_local(async move {
        if ctx.reload().await {
            ctx.emit("ready", &[]);
        }
    });
    let filter = RwSignal::new(Filter::default());
    view! {
        <section class="tm-root" aria-label=ctx.t(Key::widget_label)>
            <Toolbar filter />
            <CatalogView filter />
            <p class="tm-sr" role="status" aria-live="polite">{move || ctx.announcement.get()}</p>
            {move || ctx.open.get().map(|panel| view! { <IntegrationDialog panel /> })}
        </section>
    }
}
