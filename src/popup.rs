//! Tray's auth dialog in a popup window, and the messages it posts back.
//!
//! The window is opened (blank) synchronously in the click handler, so popup blockers
//! let it through, watched from then on, and navigated once the proxy returns the
//! dialog URL. Messages count only when they come from the dialog's origin AND from that
//! very window. A popup closed without a message is reported once, as a hint.

use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{MessageEvent, Window};

/// One of the three messages Tray's auth dialog posts (exact casing matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogMessage {
    /// `tray.authpopup.finish`: the auth exists; attach `auth_id` to the instance.
    Finished { auth_id: String },
    /// `tray.authpopup.close`: the user closed the dialog without finishing.
    Closed,
    /// `tray.authPopup.error`: the dialog failed, with Tray's message if it sent one.
    Failed(Option<String>),
}

/// What the watcher reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopupEvent {
    Message(DialogMessage),
    /// The window is gone and said nothing: maybe cancelled, maybe not. `at_once`: it
    /// went within a moment of being sent to the dialog, faster than anyone closes a
    /// window: most likely the host page's `Cross-Origin-Opener-Policy` cut it off
    /// (the popup lives on, but its messages can never arrive).
    ClosedSilently {
        at_once: bool,
    },
}

/// Reads a message's data; anything else (other apps' messages) is `None`.
pub fn read_message(data: &JsValue) -> Option<DialogMessage> {
    let field = |name: &str| {
        js_sys::Reflect::get(data, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    if !data.is_object() {
        return None;
    }
    match field("type")?.as_str() {
        "tray.authpopup.finish" => Some(DialogMessage::Finished {
            auth_id: field("authId").filter(|id| !id.is_empty())?,
        }),
        "tray.authpopup.close" => Some(DialogMessage::Closed),
        "tray.authPopup.error" => Some(DialogMessage::Failed(
            field("error").filter(|message| !message.trim().is_empty()),
        )),
        _ => None,
    }
}

/// Opens an empty popup; `None` when the browser blocked it. Call inside a click handler.
pub fn open_blank() -> Option<Window> {
    open("about:blank")
}

/// Each popup gets a window name of its own: `window.open` with a name already in use
/// would hand back that other window, and two buttons would watch one popup.
pub fn open(url: &str) -> Option<Window> {
    static OPENED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    web_sys::window()?
        .open_with_url_and_target_and_features(
            url,
            &format!("tray-auth-{n}"),
            "popup,width=520,height=720",
        )
        .ok()
        .flatten()
}

/// How often a silently closed popup is looked for.
const CLOSED_POLL_MS: i32 = 500;
/// A popup gone this soon after it was sent to the dialog was closed by no one.
const CUT_OFF_MS: f64 = 1500.0;

/// Listens to one popup; dropping it removes the listeners, stops the timer and closes
/// the window, so nothing outlives the widget. The page going away (a reload, a link
/// followed) closes it too, blank or not: a sign-in finished in it would reach no one.
pub struct PopupWatch {
    popup: Window,
    /// The dialog's origin, known once the proxy has answered; until then (a blank
    /// window) no message counts.
    origin: std::rc::Rc<std::cell::OnceCell<String>>,
    /// When it was sent to the dialog (`Date.now()`), 0 before.
    navigated_at: std::rc::Rc<std::cell::Cell<f64>>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_tick: Closure<dyn FnMut()>,
    on_leave: Closure<dyn FnMut()>,
    timer: Option<i32>,
}

impl PopupWatch {
    /// Watches `popup`; no message counts before [`PopupWatch::navigate`] names the
    /// dialog's origin.
    pub fn new(
        popup: Window,
        on_event: impl FnMut(PopupEvent) + 'static,
    ) -> Result<PopupWatch, JsValue> {
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let handler = std::rc::Rc::new(std::cell::RefCell::new(on_event));
        let answered = std::rc::Rc::new(std::cell::Cell::new(false));
        let origin = std::rc::Rc::new(std::cell::OnceCell::new());

        let expected_source = popup.clone();
        let (message_handler, message_answered) = (handler.clone(), answered.clone());
        let expected_origin = origin.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let from_popup = event
                .source()
                .is_some_and(|source| js_sys::Object::is(&source, &expected_source));
            let from_dialog = expected_origin
                .get()
                .is_some_and(|origin| event.origin() == *origin);
            if !from_popup || !from_dialog {
                return;
            }
            if let Some(message) = read_message(&event.data()) {
                message_answered.set(true);
                if let Ok(mut handler) = message_handler.try_borrow_mut() {
                    handler(PopupEvent::Message(message));
                }
            }
        });
        window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref())?;

        let watched = popup.clone();
        let reported = std::cell::Cell::new(false);
        let navigated_at = std::rc::Rc::new(std::cell::Cell::new(0.0));
        let sent_at = navigated_at.clone();
        let on_tick = Closure::<dyn FnMut()>::new(move || {
            if watched.closed().unwrap_or(true) && !answered.get() && !reported.replace(true) {
                let sent = sent_at.get();
                let at_once = sent > 0.0 && js_sys::Date::now() - sent < CUT_OFF_MS;
                if let Ok(mut handler) = handler.try_borrow_mut() {
                    handler(PopupEvent::ClosedSilently { at_once });
                }
            }
        });
        let timer = window
            .set_interval_with_callback_and_timeout_and_arguments_0(
                on_tick.as_ref().unchecked_ref(),
                CLOSED_POLL_MS,
            )
            .ok();
        let leaving = popup.clone();
        let on_leave = Closure::<dyn FnMut()>::new(move || {
            let _ = leaving.close();
        });
        window.add_event_listener_with_callback("pagehide", on_leave.as_ref().unchecked_ref())?;
        Ok(PopupWatch {
            popup,
            origin,
            navigated_at,
            on_message,
            on_tick,
            on_leave,
            timer,
        })
    }

    /// Sends the popup to the dialog at `url`, whose messages come from `origin` (the
    /// first origin named stays: one watch, one dialog).
    pub fn navigate(&self, url: &str, origin: &str) -> Result<(), JsValue> {
        let _ = self.origin.set(origin.to_owned());
        // Closed already (by the user, while the proxy answered): no window to send, and
        // no cut-off to suspect.
        if self.popup.closed().unwrap_or(true) {
            return Ok(());
        }
        self.navigated_at.set(js_sys::Date::now());
        self.popup.location().set_href(url)
    }

    pub fn focus(&self) {
        let _ = self.popup.focus();
    }
}

impl Drop for PopupWatch {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            let _ = window.remove_event_listener_with_callback(
                "message",
                self.on_message.as_ref().unchecked_ref(),
            );
            let _ = window.remove_event_listener_with_callback(
                "pagehide",
                self.on_leave.as_ref().unchecked_ref(),
            );
            if let Some(timer) = self.timer.take() {
                window.clear_interval_with_handle(timer);
            }
        }
        let _ = &self.on_tick;
        if !self.popup.closed().unwrap_or(true) {
            let _ = self.popup.close();
        }
    }
}
