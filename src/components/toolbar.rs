use leptos::prelude::*;

use crate::{
    context::use_ctx,
    state::{all_tags, CatalogState, Filter},
    strings::Key,
};

/// Search, category and "connected only".
#[component]
pub fn Toolbar(filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    let tags = Memo::new(move |_| match &*ctx.catalog.read() {
        CatalogState::Loaded(catalog) => all_tags(&catalog.integrations),
        _ => Vec::new(),
    });
    view! {
        <div class="tm-toolbar" role="search">
            <input
                class="tm-search"
                type="search"
                aria-label=ctx.t(Key::search_label)
                placeholder=ctx.t(Key::search_placeholder)
                on:input=move |ev| filter.update(|f| f.query = event_target_value(&ev))
            />
            <select
                class="tm-tag"
                aria-label=ctx.t(Key::tag_label)
                on:change=move |ev| {
                    let tag = event_target_value(&ev);
                    filter.update(|f| f.tag = (!tag.is_empty()).then_some(tag));
                }
            >
                <option value="">{ctx.t(Key::all_tags)}</option>
                {move || {
                    tags.get()
                        .into_iter()
                        .map(|tag| { let label = tag.clone(); view! { <option value=tag>{label}</option> }.into_any() })
                        .collect_view()
                }}
            </select>
            <label class="tm-check">
                <input
                    class="tm-connected"
                    type="checkbox"
                    on:change=move |ev| filter.update(|f| f.connected_only = event_target_checked(&ev))
                />
                {ctx.t(Key::connected_only)}
            </label>
        </div>
    }
}
