//! The modal dialog's keyboard contract: modal, focus moves in, Escape closes, focus returns.
#![cfg(target_arch = "wasm32")]

mod common;

use common::next_frames;
use integrations_widget::{
    api::ApiClient,
    components::Modal,
    context::Ctx,
    events::Emitter,
    state::CatalogState,
    strings::{Locale, Strings},
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, KeyboardEvent, KeyboardEventInit, ShadowRootInit, ShadowRootMode};

wasm_bindgen_test_configure!(run_in_browser);

async fn tick() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn active_class(shadow: &web_sys::ShadowRoot) -> String {
    shadow
        .active_element()
        .map(|e| e.class_name())
        .unwrap_or_default()
}

/// A host element with an open shadow root and a mount target inside it, like the widget.
fn shadow_host() -> (HtmlElement, web_sys::ShadowRoot, HtmlElement) {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = common::new_host();
    let shadow = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .unwrap();
    let target: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    shadow.append_child(&target).unwrap();
    (host, shadow, target)
}

/// A Ctx whose API is never called.
fn test_ctx(host: &HtmlElement, announcement: RwSignal<String>) -> Ctx {
    Ctx {
        api: StoredValue::new_local(ApiClient::new("")),
        events: StoredValue::new_local(Emitter::new(host.clone().into(), None)),
        strings: StoredValue::new(Strings::new(Locale::En, vec![])),
        catalog: RwSignal::new(CatalogState::Loading),
        announcement,
        notice: RwSignal::new(None),
        connecting: RwSignal::new(Vec::new()),
        open: RwSignal::new(None),
    }
}

#[wasm_bindgen_test]
async fn escape_closes_the_dialog_and_focus_returns_to_the_opener() {
    let (host, shadow, target) = shadow_host();

    let open = RwSignal::new(false);
    let for_view = host.clone();
    let _handle = leptos::mount::mount_to(target, move || {
        provide_context(test_ctx(&for_view, RwSignal::new(String::new())));
        view! {
            <div data-solution-id="s1">
                <button class="tm-card-action" on:click=move |_| open.set(true)>"Manage"</button>
            </div>
            {move || open.get().then(|| view! {
                <Modal
                    title="Slack".to_owned()
                    on_close=Callback::new(move |()| open.set(false))
                    return_focus="[data-solution-id=\"s1\"] .tm-card-action".to_owned()
                >
                    <button class="inside">"Inside"</button>
                </Modal>
            })}
        }
    });

    let opener: HtmlElement = shadow
        .query_selector(".tm-card-action")
        .unwrap()
        .unwrap()
        .unchecked_into();
    opener.focus().unwrap();
    opener.click();
    tick().await;
    let dialog = shadow
        .query_selector("dialog")
        .unwrap()
        .expect("dialog open");
    assert!(
        dialog.matches(":modal").unwrap(),
        "shown as a modal: the page behind it is inert"
    );
    assert_eq!(
        active_class(&shadow),
        "tm-dialog",
        "focus moved into the dialog"
    );

    let init = KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let escape = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    dialog.dispatch_event(&escape).unwrap();
    tick().await;
    assert!(
        shadow.query_selector("dialog").unwrap().is_none(),
        "Escape closed it"
    );
    assert_eq!(
        active_class(&shadow),
        "tm-card-action",
        "focus returned to the opener"
    );
    host.remove();
}

/// Mounts a Modal (in a shadow root, like the widget) whose content `step` switches
/// between two buttons inside one focus scope.
fn mount_modal(
    step: RwSignal<bool>,
    announcement: RwSignal<String>,
) -> (HtmlElement, web_sys::ShadowRoot, RwSignal<bool>, impl Drop) {
    mount_modal_with(step, announcement, false)
}

/// As `mount_modal`; with `to_status`, the second step is a status that stands in for
/// the button (as an auth's "Saving the sign-in…" does) instead of another button.
fn mount_modal_with(
    step: RwSignal<bool>,
    announcement: RwSignal<String>,
    to_status: bool,
) -> (HtmlElement, web_sys::ShadowRoot, RwSignal<bool>, impl Drop) {
    let (host, shadow, target) = shadow_host();
    let open = RwSignal::new(true);
    let for_view = host.clone();
    let handle = leptos::mount::mount_to(target, move || {
        provide_context(test_ctx(&for_view, announcement));
        view! {
            {move || open.get().then(|| view! {
                <Modal
                    title="Slack".to_owned()
                    on_close=Callback::new(move |()| open.set(false))
                    return_focus=".nowhere".to_owned()
                >
                    <button class="elsewhere">"Elsewhere"</button>
                    <div class="tm-focus-scope">
                        <span>"Step"</span>
                        {move || if step.get() && to_status {
                            view! { <p class="second" tabindex="-1">"Saving…"</p> }.into_any()
                        } else if step.get() {
                            view! { <button class="second">"Cancel"</button> }.into_any()
                        } else {
                            view! { <button class="first">"Authorize"</button> }.into_any()
                        }}
                    </div>
                </Modal>
            })}
        }
    });
    (host, shadow, open, handle)
}

#[wasm_bindgen_test]
async fn escape_with_nothing_focused_closes_through_the_widget_state() {
    let (host, shadow, open, _handle) =
        mount_modal(RwSignal::new(false), RwSignal::new(String::new()));
    tick().await;
    let dialog = shadow
        .query_selector("dialog")
        .unwrap()
        .expect("dialog open");
    // With focus on the page, Escape reaches the dialog as `cancel`, not as a keydown.
    let init = web_sys::EventInit::new();
    init.set_cancelable(true);
    let cancel = web_sys::Event::new_with_event_init_dict("cancel", &init).unwrap();
    dialog.dispatch_event(&cancel).unwrap();
    tick().await;
    assert!(
        cancel.default_prevented(),
        "the browser does not close it behind our back"
    );
    assert!(!open.get_untracked(), "the state knows it is closed");
    assert!(shadow.query_selector("dialog").unwrap().is_none());
    host.remove();
}

/// Focuses the step's first button, replaces it (by a button or by a status), and
/// answers what has focus then.
async fn focused_after_the_step_changes(to_status: bool) -> String {
    let step = RwSignal::new(false);
    let (host, shadow, _open, _handle) =
        mount_modal_with(step, RwSignal::new(String::new()), to_status);
    tick().await;
    let first: HtmlElement = shadow
        .query_selector(".first")
        .unwrap()
        .unwrap()
        .unchecked_into();
    first.focus().unwrap();
    assert_eq!(active_class(&shadow), "first");
    step.set(true);
    tick().await;
    next_frames().await;
    let focused = active_class(&shadow);
    host.remove();
    focused
}

#[wasm_bindgen_test]
async fn a_rerender_that_removes_the_focused_button_keeps_focus_in_its_scope() {
    assert_eq!(
        focused_after_the_step_changes(false).await,
        "second",
        "focus went to the next control of the same step, not to the page"
    );
}

#[wasm_bindgen_test]
async fn a_status_that_replaces_the_focused_button_holds_focus_in_its_scope() {
    // Not the dialog's first control: when the step moves on, focus follows it.
    assert_eq!(focused_after_the_step_changes(true).await, "second");
}

#[wasm_bindgen_test]
async fn announcements_are_read_from_inside_an_open_dialog() {
    // What the widget announced before this dialog opened.
    let announcement = RwSignal::new("Jira connected".to_owned());
    let (host, shadow, _open, _handle) = mount_modal(RwSignal::new(false), announcement);
    tick().await;
    // Everything outside a modal dialog is inert, live regions included.
    let region = shadow
        .query_selector("dialog [role=status]")
        .unwrap()
        .expect("a live region inside the dialog");
    assert_eq!(
        region.text_content().unwrap(),
        "",
        "not the last dialog's news"
    );
    announcement.set("Slack connected".to_owned());
    tick().await;
    assert_eq!(region.text_content().unwrap(), "Slack connected");
    host.remove();
}

/// Focus lost in a part that hid itself (a deleted connection's row) goes to a control
/// the user can see, not to one inside that part, where focusing does nothing.
#[wasm_bindgen_test]
async fn focus_lost_in_a_hidden_part_goes_to_a_visible_control() {
    let (host, shadow, target) = shadow_host();
    let gone = RwSignal::new(false);
    let for_view = host.clone();
    let _handle = leptos::mount::mount_to(target, move || {
        provide_context(test_ctx(&for_view, RwSignal::new(String::new())));
        view! {
            <Modal title="Slack".to_owned() on_close=Callback::new(|()| {}) return_focus=".nowhere".to_owned()>
                <div hidden=move || gone.get()>
                    <button class="in-hidden">"Rename"</button>
                    <div class="tm-focus-scope">
                        {move || (!gone.get()).then(|| view! { <button class="first">"Delete"</button> })}
                    </div>
                </div>
                <button class="visible">"Add another"</button>
            </Modal>
        }
    });
    tick().await;
    let first: HtmlElement = shadow
        .query_selector(".first")
        .unwrap()
        .unwrap()
        .unchecked_into();
    first.focus().unwrap();
    gone.set(true);
    tick().await;
    next_frames().await;
    assert_eq!(active_class(&shadow), "visible");
    host.remove();
}
