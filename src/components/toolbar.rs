use leptos::prelude::*;

use crate::{
    context::{use_ctx, Ctx},
    state::{all_tags, nothing_shown, CatalogState, Filter},
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
    // Said when the number changes, not on every keystroke that leaves it as it was.
    let heard = StoredValue::new(None::<usize>);
    let refine = move |change: &dyn Fn(&mut Filter)| {
        filter.update(|f| change(f));
        announce_matches(ctx, &filter.read_untracked(), heard);
    };
    view! {
        <div class="tm-toolbar" role="search">
            <input
                class="tm-search"
                type="search"
                aria-label=ctx.t(Key::search_label)
                placeholder=ctx.t(Key::search_placeholder)
                on:input=move |ev| {
                    let query = event_target_value(&ev);
                    refine(&|f| f.query.clone_from(&query));
                }
            />
            <select
                class="tm-tag"
                aria-label=ctx.t(Key::tag_label)
                on:change=move |ev| {
                    let tag = event_target_value(&ev);
                    refine(&|f| f.tag = (!tag.is_empty()).then(|| tag.clone()));
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
                    on:change=move |ev| {
                        let checked = event_target_checked(&ev);
                        refine(&|f| f.connected_only = checked);
                    }
                />
                {ctx.t(Key::connected_only)}
            </label>
        </div>
    }
}

/// Tells screen readers what a search or filter left, as the grid shows it.
fn announce_matches(ctx: Ctx, filter: &Filter, heard: StoredValue<Option<usize>>) {
    let shown = ctx.catalog.with_untracked(|catalog| match catalog {
        CatalogState::Loaded(catalog) => Some((
            catalog
                .integrations
                .iter()
                .filter(|i| filter.matches(i))
                .count(),
            nothing_shown(&catalog.integrations, filter),
        )),
        _ => None,
    });
    let Some((count, says)) = shown.filter(|(count, _)| Some(*count) != heard.get_value()) else {
        return;
    };
    heard.set_value(Some(count));
    ctx.announce(if count == 0 {
        ctx.t(says)
    } else {
        ctx.fill(Key::matches, &count.to_string())
    });
}
