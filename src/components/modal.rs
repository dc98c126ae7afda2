use leptos::{html::Div, prelude::*};
use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent, ShadowRoot};

use crate::{context::use_ctx, strings::Key};

/// A modal dialog: focus moves in when it opens and back to `return_focus` (a selector
/// in the widget, since the opener may have been re-rendered) when it closes; Escape
/// closes it and Tab stays inside.
#[component]
pub fn Modal(
    title: String,
    on_close: Callback<()>,
    return_focus: String,
    children: Children,
) -> impl IntoView {
    let ctx = use_ctx();
    let dialog = NodeRef::<Div>::new();
    // The shadow root is found from the dialog itself: the opener may be gone or
    // disabled by the time the dialog opens.
    let root = send_wrapper::SendWrapper::new(Rc::new(RefCell::new(None::<ShadowRoot>)));
    let root_for_focus = root.clone();
    Effect::new(move || {
        if let Some(element) = dialog.get() {
            *root_for_focus.borrow_mut() = element.get_root_node().dyn_into().ok();
            let _ = element.focus();
        }
    });
    on_cleanup(move || {
        let target = root
            .borrow()
            .as_ref()
            .and_then(|root| root.query_selector(&return_focus).ok().flatten())
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        if let Some(target) = target {
            let _ = target.focus();
        }
    });
    // A refresh re-renders the dialog's content and may remove the focused button:
    // keep focus inside the dialog rather than letting it fall back to the page.
    Effect::new(move |_| {
        ctx.catalog.track();
        set_timeout(
            move || {
                let Some(element) = dialog.try_get_untracked().flatten() else {
                    return;
                };
                let lost = element
                    .get_root_node()
                    .dyn_into::<ShadowRoot>()
                    .is_ok_and(|root| root.active_element().is_none());
                if lost {
                    let _ = element.focus();
                }
            },
            std::time::Duration::ZERO,
        );
    });
    let on_keydown = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.stop_propagation();
            on_close.run(());
        }
        "Tab" => {
            if let Some(element) = dialog.get_untracked() {
                keep_focus_inside(&element, &ev);
            }
        }
        _ => {}
    };
    view! {
        <div class="tm-backdrop">
            <div
                class="tm-dialog"
                role="dialog"
                aria-modal="true"
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
            </div>
        </div>
    }
}

/// Wraps Tab from the last focusable element to the first, and Shift+Tab back.
fn keep_focus_inside(dialog: &HtmlElement, ev: &KeyboardEvent) {
    let Ok(nodes) = dialog.query_selector_all("button:not([disabled]),input,select,textarea")
    else {
        return;
    };
    let (Some(first), Some(last)) = (nodes.item(0), nodes.item(nodes.length().saturating_sub(1)))
    else {
        return;
    };
    let active = dialog
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .and_then(|root| root.active_element());
    let active_node: Option<web_sys::Node> = active.map(Into::into);
    let wrap_to = if ev.shift_key() && active_node.as_ref() == Some(&first) {
        last
    } else if !ev.shift_key() && active_node.as_ref() == Some(&last) {
        first
    } else {
        return;
    };
    if let Ok(target) = wrap_to.dyn_into::<HtmlElement>() {
        ev.prevent_default();
        let _ = target.focus();
    }
}
