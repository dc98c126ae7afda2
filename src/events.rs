//! Telling the host what happened: a DOM CustomEvent `tray-marketplace:<name>` on the
//! container (bubbling, composed) and the host's `onEvent({type, detail})` callback.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CustomEvent, CustomEventInit, Element};

pub const EVENT_PREFIX: &str = "tray-marketplace:";

#[derive(Clone)]
pub struct Emitter {
    container: Element,
    on_event: Option<js_sys::Function>,
}

impl Emitter {
    pub fn new(container: Element, on_event: Option<js_sys::Function>) -> Emitter {
        Emitter {
            container,
            on_event,
        }
    }

    /// `detail` is a flat object of string fields, e.g. `[("instanceId", id)]`.
    pub fn emit(&self, name: &str, fields: &[(&str, &str)]) {
        let detail = js_sys::Object::new();
        for (key, value) in fields {
            let _ = js_sys::Reflect::set(&detail, &(*key).into(), &(*value).into());
        }
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_composed(true);
        init.set_detail(&detail);
        if let Ok(event) =
            CustomEvent::new_with_event_init_dict(&format!("{EVENT_PREFIX}{name}"), &init)
        {
            let _ = self.container.dispatch_event(&event);
        }
        if let Some(callback) = &self.on_event {
            let payload = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&payload, &"type".into(), &name.into());
            let _ = js_sys::Reflect::set(&payload, &"detail".into(), &detail);
            // A throwing host callback must not break the widget, nor go unseen: the
            // browser reports it as it does a throwing DOM listener (console, `onerror`).
            if let Err(error) = callback.call1(&JsValue::NULL, &payload) {
                report_error(&error);
            }
        }
    }
}

/// `reportError(error)`: an uncaught error as far as the page can tell.
fn report_error(error: &JsValue) {
    let report = js_sys::Reflect::get(&js_sys::global(), &"reportError".into());
    if let Ok(report) = report.and_then(|f| f.dyn_into::<js_sys::Function>()) {
        let _ = report.call1(&JsValue::NULL, error);
    }
}
