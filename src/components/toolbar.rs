use std::time::Duration;

use leptos::prelude::*;

use crate::{
    context::{use_ctx, Ctx},
    state::{all_tags, nothing_shown, tag_key, CatalogState, Filter},
    strings::Key,
};

/// Search, category and "connected only".
#[component]
pub fn Toolbar(filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    // The categories come once the catalog is on screen: the browser's collator that
    // sorts them takes about 7 ms on its first use in a page, which the first render
    // waited for, and nobody picks a category before the cards show.
    let drawn = RwSignal::new(false);
    request_animation_frame(move || {
        set_timeout(
            move || {
                drawn.try_set(true);
            },
            Duration::ZERO,
        );
    });
    let lang = ctx.strings.with_value(|s| s.lang());
    let tags = Memo::new(move |_| match (&*ctx.catalog.read(), drawn.get()) {
        (CatalogState::Loaded(catalog), true) => all_tags(&catalog.integrations, lang),
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
            // Drawn anew with its categories, showing the filter's: an option kept in its
            // place would keep the choice on a category that moved there.
            {move || {
                let tags = tags.get();
                let chosen = filter.with_untracked(|f| f.tag.clone());
                let listed = chosen.filter(|key| tags.iter().any(|tag| tag_key(tag) == *key));
                // A category the catalog no longer has (a solution changed meanwhile)
                // would leave the grid filtered by what the list cannot show.
                if listed.is_none() && filter.with_untracked(|f| f.tag.is_some()) {
                    queue_microtask(move || refine(&|f| f.tag = None));
                }
                view! {
                    <select
                        class="tm-tag"
                        aria-label=ctx.t(Key::tag_label)
                        on:change=move |ev| {
                            let tag = event_target_value(&ev);
                            refine(&|f| f.tag = (!tag.is_empty()).then(|| tag.clone()));
                        }
                    >
                        <option value="">{ctx.t(Key::all_tags)}</option>
                        {tags
                            .into_iter()
                            .map(|tag| {
                                let key = tag_key(&tag);
                                let selected = listed.as_ref() == Some(&key);
                                view! { <option value=key selected=selected>{tag}</option> }.into_any()
                            })
                            .collect_view()}
                    </select>
                }
            }}
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
