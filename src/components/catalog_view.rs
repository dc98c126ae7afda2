use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::{
    components::{focus_after_render, IntegrationCard},
    context::use_ctx,
    state::{nothing_shown, CatalogState, Filter},
    strings::Key,
};

/// The grid of integrations, skeletons while loading, an empty state, or the error
/// with a retry.
#[component]
pub fn CatalogView(filter: RwSignal<Filter>) -> impl IntoView {
    let ctx = use_ctx();
    let retry = move |ev: leptos::ev::MouseEvent| {
        // The button goes with the error: focus moves to the widget's region (it stays),
        // not to the page.
        let region = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|button| button.closest(".tm-root").ok().flatten());
        if let Some(region) = region
            .clone()
            .and_then(|r| r.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = region.focus();
        }
        ctx.catalog.set(CatalogState::Loading);
        leptos::task::spawn_local(async move {
            // The first load failed, so the host has not had its `ready` yet.
            if ctx.reload().await {
                ctx.ready();
            } else if let Some(region) = region {
                // Failed again: back to the new Try again button.
                focus_after_render(region, None, &[".tm-retry"]);
            }
        });
    };
    move || {
        match ctx.catalog.get() {
        CatalogState::Loading => view! {
            <div class="tm-loading">
                <p class="tm-sr" role="status">{ctx.t(Key::loading)}</p>
                <ul class="tm-grid" aria-hidden="true">
                    {(0..6).map(|_| view! { <li class="tm-card tm-skeleton"></li> }.into_any()).collect_view()}
                </ul>
            </div>
        }
        .into_any(),
        CatalogState::Failed(err) => {
            // A session the host cannot renew (it gave no getToken) would be refused
            // again: only the reload its message asks for helps.
            let futile =
                err.session_expired() && !ctx.client().is_some_and(|api| api.renews_token());
            view! {
                <div class="tm-error">
                    <p role="alert">{ctx.fill(Key::load_failed, &ctx.describe(&err))}</p>
                    <button class="tm-button tm-retry" hidden=futile on:click=retry>{ctx.t(Key::retry)}</button>
                </div>
            }
            .into_any()
        }
        // Every card is drawn once per catalog, and a search only hides and shows them:
        // drawing them again cost 250 cards a median 17 ms a keystroke, 58 at p95 (bench).
        CatalogState::Loaded(catalog) => {
            let says = move || ctx.catalog.with_untracked(|c| filter.with(|f| empty_state(c, f)));
            view! {
                <ul class="tm-grid" role="list" hidden=move || says().is_some()>
                    {catalog
                        .integrations
                        .into_iter()
                        .map(|integration| view! { <IntegrationCard integration filter /> })
                        .collect_view()}
                </ul>
                {move || says().map(|says| view! { <p class="tm-empty">{ctx.t(says)}</p> })}
            }
            .into_any()
        }
    }
    }
}

/// What the grid says instead of cards when `filter` leaves none.
fn empty_state(catalog: &CatalogState, filter: &Filter) -> Option<Key> {
    let CatalogState::Loaded(catalog) = catalog else {
        return None;
    };
    let all = &catalog.integrations;
    (!all.iter().any(|i| filter.matches(i))).then(|| nothing_shown(all, filter))
}
