//! Helpers shared by the in-browser test files.
// Each file uses some of them.
#![allow(dead_code)]

use std::{cell::RefCell, rc::Rc};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

/// Waits for `ms` milliseconds of the browser's timers.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// The messages of the `tray-marketplace:error` events a container dispatches while
/// this lives.
pub struct HostErrors {
    messages: Rc<RefCell<Vec<String>>>,
    _listener: Closure<dyn FnMut(web_sys::CustomEvent)>,
}

impl HostErrors {
    pub fn on(host: &web_sys::HtmlElement) -> HostErrors {
        let messages = Rc::new(RefCell::new(Vec::new()));
        let sink = messages.clone();
        let listener =
            Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |event: web_sys::CustomEvent| {
                let message = js_sys::Reflect::get(&event.detail(), &"message".into()).unwrap();
                sink.borrow_mut()
                    .push(message.as_string().unwrap_or_default());
            });
        host.add_event_listener_with_callback(
            "tray-marketplace:error",
            listener.as_ref().unchecked_ref(),
        )
        .unwrap();
        HostErrors {
            messages,
            _listener: listener,
        }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.borrow().clone()
    }
}

/// A few rendering steps of the browser: what a re-render left for an animation frame
/// (focus put back, say) is done by then.
pub async fn next_frames() {
    for _ in 0..3 {
        let frame = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .request_animation_frame(&resolve)
                .unwrap();
        });
        wasm_bindgen_futures::JsFuture::from(frame).await.unwrap();
    }
}

/// Whether leaving the page (its `pagehide`) closes `popup`, whose `close` is spied on.
pub fn leaving_the_page_closes(popup: &web_sys::Window) -> bool {
    js_sys::Function::new_with_args(
        "w",
        "w.__closedByPage = false; w.close = () => { w.__closedByPage = true; };",
    )
    .call1(&JsValue::NULL, popup)
    .unwrap();
    let pagehide = web_sys::Event::new("pagehide").unwrap();
    web_sys::window()
        .unwrap()
        .dispatch_event(&pagehide)
        .unwrap();
    js_sys::Reflect::get(popup, &"__closedByPage".into()).unwrap() == JsValue::TRUE
}

/// A new element at the end of the page's body, for a test to mount into.
///
/// A test that fails stops where it is, so its widget stays, and an open modal dialog
/// makes the rest of the page inert: every later test that moves focus would fail with
/// it. The first call makes a failure close every open dialog first.
pub fn new_host() -> web_sys::HtmlElement {
    static CLOSE_DIALOGS_ON_PANIC: std::sync::Once = std::sync::Once::new();
    CLOSE_DIALOGS_ON_PANIC.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = js_sys::Function::new_no_args(
                "const roots = [document, ...[...document.body.children].map((e) => e.shadowRoot)];
                 for (const root of roots.filter(Boolean))
                   for (const dialog of root.querySelectorAll('dialog[open]')) dialog.close();",
            )
            .call0(&JsValue::NULL);
            report(info);
        }));
    });
    let document = web_sys::window().unwrap().document().unwrap();
    let host: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&host).unwrap();
    host
}

/// Waits, a task at a time, until `done` (for at most 20 turns).
pub async fn until(done: impl Fn() -> bool) {
    for _ in 0..20 {
        if done() {
            return;
        }
        sleep(0).await;
    }
}

/// Runs `code` in the page.
pub fn run_js(code: &str) {
    js_sys::Function::new_no_args(code)
        .call0(&JsValue::NULL)
        .unwrap();
}
