use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::{
    components::{focus_after_render, IntegrationCard},
    context::use_ctx,
    state::{nothing_shown, visible_integrations, CatalogState, Filter},
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
        CatalogState::Failed(err) => view! {
            <div class="tm-error">
                <p role="alert">{ctx.fill(Key::load_failed, &ctx.describe(&err))}</p>
                <button class="tm-button tm-retry" on:click=retry>{ctx.t(Key::retry)}</button>
            </div>
        }
        .into_any(),
        CatalogState::Loaded(catalog) => {
            let filter = filter.get();
            let visible = visible_integrations(&catalog.integrations, &filter);
            if visible.is_empty() {
                let says = nothing_shown(&catalog.integrations, &filter);
                view! { <p class="tm-empty">{ctx.t(says)}</p> }.into_any()
            } else {
                view! {
                    <ul class="tm-grid" role="list">
                        {visible
                            .into_iter()
                            .map(|integration| view! { <IntegrationCard integration /> })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            }
        }
    }
    }
}
