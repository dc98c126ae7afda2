//! Putting the widget on a host page: a shadow root per container, nothing left behind.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlElement, ShadowRootInit, ShadowRootMode};

use crate::{api::ApiClient, components::App};

/// The widget's own stylesheet, placed inside its shadow root.
const STYLE: &str = include_str!("../style/widget.css");

/// A mounted widget; `unmount()` removes it and everything it set up.
#[wasm_bindgen]
pub struct MountHandle {
    inner: Option<leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>>,
}

#[wasm_bindgen]
impl MountHandle {
    pub fn unmount(&mut self) {
        self.inner.take();
    }
}

/// Mount the widget into `element`. Options: `{ proxyUrl }`.
#[wasm_bindgen]
pub fn mount(element: Element, options: JsValue) -> Result<MountHandle, JsValue> {
    let proxy_url = js_sys::Reflect::get(&options, &"proxyUrl".into())
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default();
    let shadow = match element.shadow_root() {
        Some(root) => root,
        None => element.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
    };
    shadow.set_inner_html(&format!(
        "<style>{STYLE}</style><div class=\"tm-host\"></div>"
    ));
    let target: HtmlElement = shadow
        .query_selector(".tm-host")?
        .ok_or_else(|| JsValue::from_str("widget container missing"))?
        .unchecked_into();
    let api = ApiClient::new(proxy_url);
    let handle =
        leptos::mount::mount_to(target, move || view! { <App api=api.clone() /> }.into_any());
    Ok(MountHandle {
        inner: Some(handle),
    })
}

/// Mount every `[data-tray-marketplace]` container on the page at start-up.
#[wasm_bindgen(start)]
pub fn start() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(containers) = document.query_selector_all("[data-tray-marketplace]") else {
        return;
    };
    for index in 0..containers.length() {
        let Some(element) = containers
            .item(index)
            .and_then(|n| n.dyn_into::<Element>().ok())
        else {
            continue;
        };
        let options = js_sys::Object::new();
        let proxy = element.get_attribute("data-proxy-url").unwrap_or_default();
        let _ = js_sys::Reflect::set(&options, &"proxyUrl".into(), &proxy.into());
        if let Ok(handle) = mount(element, options.into()) {
            // Auto-mounted widgets live as long as the page.
            std::mem::forget(handle);
        }
    }
}
