use leptos::{html::Dialog, prelude::*};
use wasm_bindgen::JsCast;
use web_sys::{HtmlDialogElement, HtmlElement, KeyboardEvent, ShadowRoot};

use crate::{context::use_ctx, strings::Key};

/// A modal dialog on the browser's own `<dialog>`: `showModal()` puts it in the top layer
/// (above any host z-index) and makes the rest of the page inert, so focus cannot leave
/// it. Focus moves in when it opens and back to `return_focus` (a selector in the
/// widget, since the opener may have been re-rendered) when it closes; Escape closes it.
#[component]
pub fn Modal(
    title: String,
    on_close: Callback<()>,
    return_focus: String,
    children: Children,
) -> impl IntoView {
    let ctx = use_ctx();
    let dialog = NodeRef::<Dialog>::new();
    // The shadow root is looked up while the dialog is mounted: once it is gone, the
    // opener is found in it.
    let shown = StoredValue::new_local(None::<(HtmlDialogElement, ShadowRoot)>);
    // Shows the dialog once it is mounted. Then, after each catalog refresh (which
    // re-renders the content and may remove the focused button), keeps focus inside the
    // dialog rather than letting it fall back to the page.
    Effect::new(move |_| {
        ctx.catalog.track();
        let Some(element) = dialog.get() else {
            return;
        };
        if shown.with_value(Option::is_none) {
            let _ = element.show_modal();
            let _ = element.focus();
            if let Ok(root) = element.get_root_node().dyn_into() {
                shown.set_value(Some((element, root)));
            }
            return;
        }
        set_timeout(
            move || {
                shown.try_with_value(|shown| match shown {
                    Some((element, root)) if root.active_element().is_none() => {
                        let _ = element.focus();
                    }
                    _ => {}
                });
            },
            std::time::Duration::ZERO,
        );
    });
    on_cleanup(move || {
        let Some((element, root)) = shown.try_get_value().flatten() else {
            return;
        };
        // Closed first: while it is modal, everything outside it is inert and unfocusable.
        element.close();
        let target = root
            .query_selector(&return_focus)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        if let Some(target) = target {
            let _ = target.focus();
        }
    });
    // Escape closes through the widget's state, not the browser's own `cancel`, so the
    // dialog and the state that shows it never disagree.
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            on_close.run(());
        }
    };
    view! {
        <dialog
            class="tm-dialog"
            aria-labelledby="tm-dialog-title"
            tabindex="-1"
            node_ref=dialog
            on:keydown=on_keydown
        >
            <div class="tm-dialog-head">
                <h2 id="tm-dialog-title">{title}</h2>
                <button class="tm-button tm-ghost tm-close" aria-label=ctx.t(Key::close) on:click=move |_| on_close.run(())>
                    "×"
                </button>
            </div>
            {children()}
        </dialog>
    }
}
