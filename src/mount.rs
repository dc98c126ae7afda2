//! Putting the widget on a host page: a shadow root per container, options from JS
//! (embed.js turns `data-*` attributes into them), and an `unmount()` that leaves
//! nothing behind.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use marketplace_wire::Catalog;
use wasm_bindgen::prelude::*;
use web_sys::{CssStyleSheet, Element, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::{
    api::ApiClient,
    components::App,
    events::Emitter,
    strings::{Locale, Strings},
    wire_js::FromJs,
};

/// The widget's own stylesheet, placed inside its shadow root (`style/widget.css`,
/// minified by build.rs).
const STYLE: &str = include_str!(concat!(env!("OUT_DIR"), "/widget.css"));

/// The attribute carrying the theme, read by the stylesheet's `:host(...)` rules.
const THEME_ATTRIBUTE: &str = "data-tm-theme";

type Unmount = leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>;

/// One live widget: which mount it was, its container, and what unmounts it.
struct Mounted {
    id: u32,
    container: Element,
    handle: Unmount,
    /// Ended with the widget: its requests and waits for the host are not the view's.
    api: ApiClient,
}

thread_local! {
    /// Every widget on the page: a second `mount` on a container replaces the first
    /// one's widget (its listeners, popups and timers go with it), and the first
    /// handle's `unmount()` then leaves the new widget alone.
    static MOUNTED: RefCell<Vec<Mounted>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
}

/// Takes the live widget out of the registry (by mount, or by container) and unmounts
/// it outside the borrow: its cleanups may run arbitrary code.
fn take_mounted(matches: impl Fn(&Mounted) -> bool) -> Option<Mounted> {
    MOUNTED.with_borrow_mut(|all| {
        let at = all.iter().position(matches)?;
        Some(all.swap_remove(at))
    })
}

/// A mounted widget; `unmount()` removes it and everything it set up.
#[wasm_bindgen]
pub struct MountHandle {
    id: u32,
}

#[wasm_bindgen]
impl MountHandle {
    pub fn unmount(&mut self) {
        if let Some(mounted) = take_mounted(|m| m.id == self.id) {
            clear(mounted);
        }
    }
}

/// Unmounts the widget, then gives the container back (see [`show_own_children`]).
fn clear(mounted: Mounted) {
    let Mounted {
        container,
        handle,
        api,
        ..
    } = mounted;
    api.end();
    drop(handle);
    show_own_children(&container);
}

/// Empties the widget's shadow root and the container's attribute. A shadow root cannot
/// be taken off again: a `<slot>` in it shows the container's own children, so what the
/// host puts there afterwards (a message of its own, after a failed mount) is seen.
fn show_own_children(container: &Element) {
    if let Some(shadow) = container.shadow_root() {
        shadow.set_text_content(None);
        // An element always has a document.
        if let Some(slot) = container
            .owner_document()
            .and_then(|d| d.create_element("slot").ok())
        {
            let _ = shadow.append_child(&slot);
        }
        shadow.set_adopted_style_sheets(&js_sys::Array::new());
    }
    let _ = container.remove_attribute(THEME_ATTRIBUTE);
}

/// Everything `mount` accepts, read from a JS options object.
pub struct MountOptions {
    pub proxy_url: String,
    pub token: Option<String>,
    pub get_token: Option<js_sys::Function>,
    pub theme: String,
    pub strings: Strings,
    pub on_event: Option<js_sys::Function>,
    /// The catalog the host (or embed.js) fetched early: a promise of the parsed answer
    /// of `GET /api/v1/integrations`, or the answer itself once it is here.
    pub catalog: Option<JsValue>,
}

impl MountOptions {
    pub fn from_js(options: &JsValue) -> MountOptions {
        let get = |name: &str| js_sys::Reflect::get(options, &name.into()).unwrap_or_default();
        let text = |name: &str| get(name).as_string().filter(|s| !s.is_empty());
        let function = |name: &str| get(name).dyn_into::<js_sys::Function>().ok();
        let theme = match text("theme").as_deref() {
            Some("light") => "light",
            Some("dark") => "dark",
            _ => "system",
        };
        let locale = text("locale")
            .or_else(|| web_sys::window().and_then(|w| w.navigator().language()))
            .map(|tag| Locale::from_tag(&tag))
            .unwrap_or(Locale::En);
        MountOptions {
            proxy_url: text("proxyUrl").unwrap_or_default(),
            token: text("token"),
            get_token: function("getToken"),
            theme: theme.to_owned(),
            strings: Strings::new(locale, string_overrides(&get("strings"))),
            on_event: function("onEvent"),
            catalog: Some(get("catalog")).filter(|c| c.is_object()),
        }
    }
}

fn string_overrides(value: &JsValue) -> Vec<(String, String)> {
    let Some(object) = value.dyn_ref::<js_sys::Object>() else {
        return Vec::new();
    };
    js_sys::Object::entries(object)
        .iter()
        .filter_map(|entry| {
            let pair: js_sys::Array = entry.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// The stylesheet as a constructed sheet: unlike a `<style>` element it needs no
/// `'unsafe-inline'` in the host page's CSP `style-src`.
fn adopt_stylesheet(shadow: &ShadowRoot) -> Result<(), JsValue> {
    let sheet = CssStyleSheet::new()?;
    sheet.replace_sync(STYLE)?;
    shadow.set_adopted_style_sheets(&js_sys::Array::of1(&sheet));
    Ok(())
}

/// The shadow root's skeleton, the element the widget renders into. Built, not parsed:
/// a page enforcing Trusted Types refuses `innerHTML`.
fn skeleton(element: &Element, options: &MountOptions) -> Result<HtmlElement, JsValue> {
    let shadow = match element.shadow_root() {
        Some(root) => root,
        None => element.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
    };
    element.set_attribute(THEME_ATTRIBUTE, &options.theme)?;
    adopt_stylesheet(&shadow)?;
    let document = element
        .owner_document()
        .ok_or_else(|| JsValue::from_str("the container has no document"))?;
    let target: HtmlElement = document.create_element("div")?.unchecked_into();
    target.set_class_name("tm-host");
    // The widget's language may differ from the host page's (WCAG 3.1.2).
    target.set_attribute("lang", options.strings.lang())?;
    shadow.set_text_content(None);
    shadow.append_child(&target)?;
    Ok(target)
}

/// Mount the widget into `element`. Options: `{ proxyUrl, token, getToken, theme,
/// locale, strings, onEvent, catalog }` (see docs/widget.md). Mounting an element again
/// unmounts the widget it had first.
#[wasm_bindgen]
pub fn mount(element: Element, options: JsValue) -> Result<MountHandle, JsValue> {
    let options = MountOptions::from_js(&options);
    if let Some(previous) = take_mounted(|m| js_sys::Object::is(&m.container, &element)) {
        clear(previous);
    }
    let target = match skeleton(&element, &options) {
        Ok(target) => target,
        Err(err) => {
            show_own_children(&element);
            return Err(err);
        }
    };
    let api = ApiClient::with_token(options.proxy_url, options.token, options.get_token);
    // Here already: shown by the first render. Still on its way: the first load awaits it.
    let catalog = match options.catalog.map(JsCast::dyn_into::<js_sys::Promise>) {
        Some(Ok(promise)) => {
            api.use_prefetched_catalog(promise);
            None
        }
        Some(Err(answer)) => Catalog::from_js(&answer).ok(),
        None => None,
    };
    let emitter = Emitter::new(element.clone(), options.on_event);
    let strings = options.strings;
    let handle = leptos::mount::mount_to(target, {
        let api = api.clone();
        move || {
            let api = StoredValue::new_local(api.clone());
            let events = StoredValue::new_local(emitter.clone());
            view! { <App api events strings=strings.clone() catalog=catalog.clone() /> }.into_any()
        }
    });
    let id = NEXT_ID.replace(NEXT_ID.get().wrapping_add(1));
    MOUNTED.with_borrow_mut(|all| {
        all.push(Mounted {
            id,
            container: element,
            handle,
            api,
        })
    });
    Ok(MountHandle { id })
}
