use leptos::{html::Dialog, prelude::*};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{
    Element, Event, FocusEvent, HtmlDialogElement, HtmlElement, KeyboardEvent, MutationObserver,
    MutationObserverInit, ShadowRoot,
};

use super::focus_pending;
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
    // Its live region starts empty: a screen reader may read out what it holds when it
    // appears, and that would be the last dialog's news.
    ctx.announcement.set(String::new());
    let dialog = NodeRef::<Dialog>::new();
    // The shadow root is looked up while the dialog is mounted: once it is gone, the
    // opener is found in it.
    let shown = StoredValue::new_local(None::<(HtmlDialogElement, ShadowRoot)>);
    // The `.tm-focus-scope` the user was last in (an authorization, a row, the setup).
    let scope = StoredValue::new_local(None::<Element>);
    let observer = StoredValue::new_local(None::<FocusWatch>);
    // Shows the dialog once it is mounted (after this render: a microtask), and starts
    // watching its content: when a re-render removes the focused button (a step that
    // advanced, a refreshed catalog), focus would fall to the page; it goes to the next
    // control of the same scope instead.
    queue_microtask(move || {
        let Some(element) = dialog
            .try_get_untracked()
            .flatten()
            .filter(|d| d.is_connected())
        else {
            return;
        };
        let _ = element.show_modal();
        let _ = element.focus();
        if let Ok(root) = element.get_root_node().dyn_into::<ShadowRoot>() {
            observer.try_set_value(watch_focus_loss(&element, &root, scope));
            shown.try_set_value(Some((element, root)));
        }
    });
    on_cleanup(move || {
        if let Some((observer, _callback)) = observer.try_update_value(Option::take).flatten() {
            observer.disconnect();
        }
        let Some((element, root)) = shown.try_get_value().flatten() else {
            return;
        };
        // Closed first: while it is modal, everything outside it is inert and unfocusable.
        element.close();
        // The opener may be gone (a filter hides the card of a connection just
        // deleted): then the search, where the user filtered, rather than the page.
        let target = [return_focus.as_str(), ".tm-search"]
            .into_iter()
            .find_map(|selector| root.query_selector(selector).ok().flatten())
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        if let Some(target) = target {
            let _ = target.focus();
        }
    });
    let on_focusin = move |ev: FocusEvent| {
        let focused = ev.target().and_then(|t| t.dyn_into::<Element>().ok());
        scope.set_value(focused.and_then(|e| e.closest(".tm-focus-scope").ok().flatten()));
    };
    // Escape closes through the widget's state, not the browser's own `cancel`, so the
    // dialog and the state that shows it never disagree.
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            on_close.run(());
        }
    };
    // Escape with nothing focused reaches the dialog as `cancel` instead of a keydown.
    let on_cancel = move |ev: Event| {
        ev.prevent_default();
        on_close.run(());
    };
    view! {
        <dialog
            class="tm-dialog"
            aria-labelledby="tm-dialog-title"
            tabindex="-1"
            node_ref=dialog
            on:keydown=on_keydown
            on:cancel=on_cancel
            on:focusin=on_focusin
        >
            <div class="tm-dialog-head">
                <h2 id="tm-dialog-title">{title}</h2>
                <button class="tm-button tm-ghost tm-close" aria-label=ctx.t(Key::close) on:click=move |_| on_close.run(())>
                    "×"
                </button>
            </div>
            {children()}
            // Outside the dialog everything is inert while it is open, the widget's
            // main live region included: announcements are read from here meanwhile.
            <p class="tm-sr" role="status" aria-live="polite">{move || ctx.announcement.get()}</p>
        </dialog>
    }
}

/// The observer and the callback it calls (dropped together when the dialog goes).
type FocusWatch = (MutationObserver, Closure<dyn FnMut()>);

/// After every change inside `dialog`: if focus was lost (nothing in the widget has it),
/// focus the first control of the scope the user was in, or the dialog's first action.
fn watch_focus_loss(
    dialog: &HtmlDialogElement,
    root: &ShadowRoot,
    scope: StoredValue<Option<Element>, LocalStorage>,
) -> Option<FocusWatch> {
    let (watched, root) = (dialog.clone(), root.clone());
    let on_change = Closure::<dyn FnMut()>::new(move || {
        refocus_when_settled(watched.clone(), root.clone(), scope);
    });
    let observer = MutationObserver::new(on_change.as_ref().unchecked_ref()).ok()?;
    let options = MutationObserverInit::new();
    options.set_child_list(true);
    options.set_subtree(true);
    observer.observe_with_options(dialog, &options).ok()?;
    Some((observer, on_change))
}

/// Focuses the first control of `scope` (else of `dialog`) if focus is lost, once every
/// focus move a change promised has been made (`focus_after_render`, a frame later): focus
/// never passes through this fallback's pick, a Disable button say, on its way back to
/// the control that made the change.
fn refocus_when_settled(
    dialog: HtmlDialogElement,
    root: ShadowRoot,
    scope: StoredValue<Option<Element>, LocalStorage>,
) {
    request_animation_frame(move || {
        if focus_pending() {
            return refocus_when_settled(dialog, root, scope);
        }
        if root.active_element().is_some() || !dialog.open() {
            return;
        }
        let in_scope = scope
            .try_get_value()
            .flatten()
            .filter(|s| s.is_connected() && !is_hidden(s))
            .and_then(|s| first_control(&s));
        let target = in_scope
            .or_else(|| first_control(&dialog))
            .unwrap_or_else(|| dialog.clone().unchecked_into());
        let _ = target.focus();
    });
}

/// A `tabindex="-1"` status standing in for the buttons it replaced (an auth being
/// saved) counts: focus waits there, so it follows the step when the step moves on.
/// Not in a hidden part (a deleted connection's row, with an editor still open in it):
/// focus cannot go there.
fn first_control(within: &Element) -> Option<HtmlElement> {
    let found = within
        .query_selector_all(
            "button:not(.tm-close):not([disabled]), input, textarea, select, [tabindex=\"-1\"]",
        )
        .ok()?;
    (0..found.length())
        .filter_map(|i| found.item(i)?.dyn_into::<HtmlElement>().ok())
        .find(|control| !is_hidden(control))
}

fn is_hidden(element: &Element) -> bool {
    element.closest("[hidden]").ok().flatten().is_some()
}
