use leptos::{leptos_dom::helpers::IdleCallbackHandle, prelude::*};

use crate::{
    context::{use_ctx, Ctx},
    state::{all_tags, nothing_shown, same_tag, tag_key, CatalogState, Filter},
    strings::Key,
};

/// Search, category and "connected only".
#[component]
pub fn Toolbar(filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    // Said when the number changes, not on every keystroke that leaves it as it was.
    let heard = StoredValue::new(None::<usize>);
    let refine = move |change: &dyn Fn(&mut Filter)| {
        filter.update(|f| change(f));
        announce_matches(ctx, &filter.read_untracked(), heard);
    };
    // Sorting the categories starts the browser's collator, about 7 ms on its first use
    // in a page: they are listed once the browser is idle after the catalog is on screen,
    // not in the render that shows it (nobody picks a category sooner).
    let sortable = RwSignal::new(false);
    let waiting = StoredValue::new(None::<IdleCallbackHandle>);
    on_cleanup(move || {
        if let Some(idle) = waiting.try_get_value().flatten() {
            idle.cancel();
        }
    });
    let tags = Memo::new(move |_| match (&*ctx.catalog.read(), sortable.get()) {
        (CatalogState::Loaded(catalog), true) => all_tags(&catalog.integrations),
        _ => Vec::new(),
    });
    let select = NodeRef::<leptos::html::Select>::new();
    Effect::new(move |_| {
        let loaded = ctx.catalog.with(|c| matches!(c, CatalogState::Loaded(_)));
        if loaded && !sortable.get_untracked() && waiting.with_value(Option::is_none) {
            let idle = request_idle_callback_with_handle(move || {
                sortable.try_set(true);
            });
            waiting.set_value(idle.ok());
        }
        // The list shows the filter's category, not a place in it: its options are
        // redrawn in place when the categories change, and the browser would keep the
        // choice on the place, whichever category moved there. One the catalog no longer
        // has would filter by what the list cannot show: it stops filtering.
        let chosen = filter.with(|f| f.tag.clone());
        let listed = chosen.filter(|key| tags.with(|tags| tags.iter().any(|t| same_tag(t, key))));
        if listed.is_none() && filter.with_untracked(|f| f.tag.is_some()) {
            refine(&|f| f.tag = None);
        }
        if let Some(select) = select.get_untracked() {
            select.set_value(listed.as_deref().unwrap_or_default());
        }
    });
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
                node_ref=select
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
                        .map(|tag| {
                            let key = tag_key(&tag);
                            view! { <option value=key>{tag}</option> }.into_any()
                        })
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
