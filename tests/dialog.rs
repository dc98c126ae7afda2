//! The modal dialog's keyboard contract: modal, focus moves in, Escape closes, focus returns.
#![cfg(target_arch = "wasm32")]

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

#[wasm_bindgen_test]
async fn escape_closes_the_dialog_and_focus_returns_to_the_opener() {
    let document = web_sys::window().unwrap().document().unwrap();
    let host: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&host).unwrap();
    let shadow = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .unwrap();
    let target: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    shadow.append_child(&target).unwrap();

    let open = RwSignal::new(false);
    let for_view = host.clone();
    let _handle = leptos::mount::mount_to(target, move || {
        provide_context(Ctx {
            api: StoredValue::new_local(ApiClient::new("")),
            events: StoredValue::new_local(Emitter::new(for_view.clone().into(), None)),
            strings: StoredValue::new(Strings::new(Locale::En, vec![])),
            catalog: RwSignal::new(CatalogState::Loading),
            announcement: RwSignal::new(String::new()),
            open: RwSignal::new(None),
        });
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
