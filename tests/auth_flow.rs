//! The "Authorize" step reacting to Tray's messages, with `fetch` and `window.open`
//! replaced by fakes: the proxy answers from a table, the "popup" is an iframe's window.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{run_js, until};

use integrations_widget::{
    api::ApiClient,
    components::{AuthButton, IntegrationDialog},
    context::{Ctx, OpenPanel},
    events::Emitter,
    state::CatalogState,
    strings::{Locale, Strings},
};
use leptos::prelude::*;
use marketplace_wire::{AuthSlot, AuthValue, Catalog, Instance, Integration, Status};
use std::{cell::Cell, rc::Rc};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, MessageEvent, MessageEventInit};

wasm_bindgen_test_configure!(run_in_browser);

const DIALOG_ORIGIN: &str = "http://dialog.example";

/// Fakes the proxy and `window.open`; returns the fake popup window.
fn install_fakes() -> web_sys::Window {
    let frame: web_sys::HtmlIFrameElement = document()
        .create_element("iframe")
        .unwrap()
        .unchecked_into();
    document().body().unwrap().append_child(&frame).unwrap();
    let popup = frame.content_window().unwrap();
    let window = web_sys::window().unwrap();
    js_sys::Reflect::set(&window, &"__fakePopup".into(), &popup).unwrap();
    js_sys::Function::new_no_args(
        r#"
        window.__calls = [];
        window.__putFailures = [];
        window.__dialogFailure = null;
        window.__catalog = null;
        window.fetch = async (request) => {
            const body = request.method === 'GET' ? null : await request.text();
            window.__calls.push([request.method, new URL(request.url).pathname, body,
                request.headers.get('Authorization')]);
            const json = (body) => new Response(JSON.stringify(body),
                { status: 200, headers: { 'Content-Type': 'application/json' } });
            if (request.url.endsWith('/auth-dialog')) {
                if (window.__holdDialog) {
                    await new Promise((resolve) => { window.__releaseDialog = resolve; });
                }
                if (window.__dialogFailure) {
                    const [status, code] = window.__dialogFailure;
                    return new Response(JSON.stringify({ error: { code, message: `failed with ${code}` } }),
                        { status, headers: { 'Content-Type': 'application/json' } });
                }
                return json({ url: 'about:blank', origin: 'http://dialog.example' });
            }
            if (request.method === 'PUT') {
                if (window.__holdPuts) {
                    await new Promise((resolve) => { window.__releasePut = resolve; });
                }
                // Failures queued by a test as [status, code], answered first.
                const failure = window.__putFailures.shift();
                if (failure) {
                    return new Response(JSON.stringify({ error:
                        { code: failure[1], message: `failed with ${failure[1]}` } }),
                        { status: failure[0], headers: { 'Content-Type': 'application/json' } });
                }
                const { authId } = JSON.parse(body);
                return json({ id: 'i-1', solutionId: 'sol-slack', name: 'Slack', enabled: true,
                    status: 'connected', authValues: [{ externalId: 'slack', authId }],
                    configValues: [], createdAt: 0 });
            }
            if (request.method === 'GET' && window.__catalog) {
                return json(window.__catalog);
            }
            return new Response(null, { status: 204 });
        };
        window.open = () => window.__fakePopup;
        "#,
    )
    .call0(&JsValue::NULL)
    .unwrap();
    popup
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn calls() -> Vec<Vec<JsValue>> {
    let calls = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__calls".into()).unwrap();
    js_sys::Array::from(&calls)
        .iter()
        .map(|call| js_sys::Array::from(&call).to_vec())
        .collect()
}

async fn tick() {
    common::sleep(0).await;
}

fn post(source: &web_sys::Window, data: &[(&str, &str)]) {
    let object = js_sys::Object::new();
    for (key, value) in data {
        js_sys::Reflect::set(&object, &(*key).into(), &(*value).into()).unwrap();
    }
    let init = MessageEventInit::new();
    init.set_data(&object);
    init.set_origin(DIALOG_ORIGIN);
    init.set_source(Some(source.unchecked_ref()));
    let event = MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

/// Tray's dialog reporting a finished sign-in that made `auth_id`.
fn finish_sign_in(popup: &web_sys::Window, auth_id: &str) {
    post(
        popup,
        &[
            ("type", "tray.authpopup.finish"),
            ("authType", "oauth"),
            ("authId", auth_id),
        ],
    );
}

/// The catalog the button's widget shows: Slack's instance `i-1`, its slot not filled.
fn slack_catalog() -> Catalog {
    Catalog {
        integrations: vec![Integration {
            solution_id: "sol-slack".into(),
            title: "Slack".into(),
            description: None,
            tags: vec![],
            icon_url: None,
            force_unique: false,
            auto_enable: true,
            auth_slots: vec![AuthSlot {
                external_id: "slack".into(),
                title: "Slack".into(),
            }],
            config_slots: vec![],
            instances: vec![Instance {
                id: "i-1".into(),
                solution_id: "sol-slack".into(),
                name: "Slack".into(),
                enabled: false,
                status: Status::SettingUp,
                auth_values: vec![],
                config_values: vec![],
                created_at: 0,
                settings_confirmed: false,
            }],
        }],
        dialog_origin: DIALOG_ORIGIN.into(),
    }
}

/// Mounts one "Authorize Slack" button for instance `i-1`, slot `slack`; returns the
/// host, the "done" flag and the unmount handle.
fn mount_button() -> (HtmlElement, RwSignal<bool>, impl Drop) {
    mount_button_in(Locale::En)
}

fn mount_button_in(locale: Locale) -> (HtmlElement, RwSignal<bool>, impl Drop) {
    mount_button_while(locale, RwSignal::new(true))
}

/// As `mount_button`, with the host's `getToken` (JS code) renewing the token.
fn mount_renewing_button(get_token: &str) -> (HtmlElement, RwSignal<bool>, impl Drop) {
    let get_token = js_sys::Function::new_no_args(get_token);
    mount_button_with(Locale::En, RwSignal::new(true), Some(get_token))
}

/// As `mount_button_in`; the button is there while `shown` is true, as a step of a
/// setup is while the setup shows it.
fn mount_button_while(
    locale: Locale,
    shown: RwSignal<bool>,
) -> (HtmlElement, RwSignal<bool>, impl Drop) {
    mount_button_with(locale, shown, None)
}

fn mount_button_with(
    locale: Locale,
    shown: RwSignal<bool>,
    get_token: Option<js_sys::Function>,
) -> (HtmlElement, RwSignal<bool>, impl Drop) {
    let host = common::new_host();
    let done = RwSignal::new(false);
    let for_view = host.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        let announcement = RwSignal::new(String::new());
        let catalog = RwSignal::new(CatalogState::Loaded(slack_catalog()));
        let ctx = Ctx {
            api: StoredValue::new_local(ApiClient::with_token(
                "http://proxy.test",
                Some("jwt".into()),
                get_token.clone(),
            )),
            events: StoredValue::new_local(Emitter::new(for_view.clone().into(), None)),
            strings: StoredValue::new(Strings::new(locale, vec![])),
            catalog,
            announcement,
            notice: RwSignal::new(None),
            connecting: RwSignal::new(Vec::new()),
            open: RwSignal::new(None),
        };
        provide_context(ctx);
        let button = move || {
            shown.get().then(|| {
                view! {
                    <AuthButton
                        instance_id="i-1".to_owned()
                        slot_id="slack".to_owned()
                        auth_id=None
                        label="Authorize Slack".to_owned()
                        on_done=Callback::new(move |attached: Instance| {
                            // The caller shows it (here, as a setup would).
                            leptos::task::spawn_local(async move {
                                ctx.show(attached).await;
                                done.set(true);
                            })
                        })
                    />
                }
            })
        };
        view! {
            {button}
            <p class="test-live">{move || announcement.get()}</p>
            <p class="test-attached">
                {move || catalog.with(|c| c.integration("sol-slack")
                    .map(|i| i.instances[0].auth_values.len().to_string()))}
            </p>
        }
    });
    (host, done, handle)
}

/// What the live region says now.
fn announced(host: &HtmlElement) -> String {
    host.query_selector(".test-live")
        .unwrap()
        .and_then(|live| live.text_content())
        .unwrap_or_default()
}

/// Clicks the button `selector` in the widget.
fn press(host: &HtmlElement, selector: &str) {
    let button: HtmlElement = host
        .query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("{selector} shown"))
        .unchecked_into();
    button.click();
}

async fn click_authorize(host: &HtmlElement) {
    let button: HtmlElement = host
        .query_selector(".tm-authorize")
        .unwrap()
        .expect("authorize button")
        .unchecked_into();
    button.click();
    for _ in 0..20 {
        tick().await;
        if calls()
            .iter()
            .any(|c| c[1].as_string().unwrap().ends_with("/auth-dialog"))
        {
            break;
        }
    }
    tick().await;
    assert!(
        host.query_selector(".tm-auth-wait").unwrap().is_some(),
        "waiting for the popup"
    );
}

#[wasm_bindgen_test]
async fn finish_attaches_the_auth_to_the_slot() {
    let popup = install_fakes();
    let (host, done, _handle) = mount_button();
    click_authorize(&host).await;
    let dialog_call = &calls()[0];
    assert_eq!(dialog_call[0].as_string().unwrap(), "POST");
    assert_eq!(
        dialog_call[1].as_string().unwrap(),
        "/api/v1/instances/i-1/auth-dialog"
    );
    assert_eq!(dialog_call[2].as_string().unwrap(), r#"{"slot":"slack"}"#);
    assert_eq!(dialog_call[3].as_string().unwrap(), "Bearer jwt");

    // Twice, as a dialog that reports twice would: one attach.
    finish_sign_in(&popup, "auth-9");
    finish_sign_in(&popup, "auth-9");
    for _ in 0..20 {
        tick().await;
        if done.get_untracked() {
            break;
        }
    }
    assert!(done.get_untracked(), "on_done ran");
    let attaches: Vec<_> = calls()
        .into_iter()
        .filter(|c| c[0].as_string().unwrap() == "PUT")
        .collect();
    assert_eq!(attaches.len(), 1, "attached once");
    let attach = &attaches[0];
    assert_eq!(
        attach[1].as_string().unwrap(),
        "/api/v1/instances/i-1/auths/slack"
    );
    assert_eq!(attach[2].as_string().unwrap(), r#"{"authId":"auth-9"}"#);
    let attached = host.query_selector(".test-attached").unwrap().unwrap();
    assert_eq!(
        attached.text_content().as_deref(),
        Some("1"),
        "the widget shows the instance the proxy answered with"
    );
    assert!(
        calls().iter().all(|c| c[0].as_string().unwrap() != "GET"),
        "without fetching the catalog"
    );
    host.remove();
}

/// The attaches the widget sent, as their request bodies.
fn attach_bodies() -> Vec<String> {
    calls()
        .into_iter()
        .filter(|c| c[0].as_string().unwrap() == "PUT")
        .map(|c| c[2].as_string().unwrap())
        .collect()
}

fn queue_attach_failure(status: u16, code: &str) {
    run_js(&format!("window.__putFailures.push([{status}, '{code}']);"));
}

fn failure_shown(host: &HtmlElement) -> String {
    host.query_selector(".tm-auth-failed")
        .unwrap()
        .and_then(|failed| failed.text_content())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn a_sign_in_tray_could_not_take_is_sent_again_without_signing_in_again() {
    let popup = install_fakes();
    queue_attach_failure(503, "tray_unavailable");
    run_js("window.__holdPuts = true;");
    let (host, done, _handle) = mount_button();
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| host.query_selector(".tm-auth-saving").unwrap().is_some()).await;
    assert_eq!(announced(&host), "Saving the sign-in…");
    assert!(
        host.query_selector("button").unwrap().is_none(),
        "no second attach or sign-in while the first is on its way"
    );
    run_js("window.__releasePut();");
    until(|| !failure_shown(&host).is_empty()).await;
    let failed = failure_shown(&host);
    assert!(failed.contains("not answering right now"), "{failed}");
    assert!(
        host.query_selector(".tm-authorize").unwrap().is_some(),
        "signing in again stays possible"
    );

    run_js("window.__holdPuts = false;");
    press(&host, ".tm-retry");
    until(|| done.get_untracked()).await;
    assert!(done.get_untracked(), "attached on the second try");
    assert_eq!(
        attach_bodies(),
        [r#"{"authId":"auth-9"}"#, r#"{"authId":"auth-9"}"#],
        "the same auth, sent again"
    );
    let dialogs = calls()
        .iter()
        .filter(|c| c[1].as_string().unwrap().ends_with("/auth-dialog"))
        .count();
    assert_eq!(dialogs, 1, "no new sign-in window");
    host.remove();
}

/// A session the host could not renew (401) is no refusal of the new auth: Try again
/// sends the same auth once the host can sign the user in.
#[wasm_bindgen_test]
async fn a_sign_in_caught_by_an_expired_session_is_kept_for_try_again() {
    let popup = install_fakes();
    queue_attach_failure(401, "unauthenticated");
    let (host, done, _handle) = mount_renewing_button(
        "return window.__signedIn ? 'jwt-2' : Promise.reject(new Error('signed out'));",
    );
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| !failure_shown(&host).is_empty()).await;
    let failed = failure_shown(&host);
    assert!(failed.contains("session has expired"), "{failed}");
    // Not "reload": a reload would lose the sign-in Try again still holds.
    assert!(failed.contains("sign-in is kept"), "{failed}");
    assert!(!failed.contains("Reload"), "{failed}");
    assert_eq!(
        announced(&host),
        "Slack: your change was not saved. Your session has expired. \
         Your sign-in is kept: try again once you are signed in."
    );
    // Signed in again (in another tab, say): the host's getToken answers, and the old
    // token is still refused.
    run_js("window.__signedIn = true;");
    queue_attach_failure(401, "unauthenticated");
    press(&host, ".tm-retry");
    until(|| done.get_untracked()).await;
    assert!(done.get_untracked(), "attached on the second try");
    assert_eq!(
        attach_bodies(),
        [
            r#"{"authId":"auth-9"}"#,
            r#"{"authId":"auth-9"}"#,
            r#"{"authId":"auth-9"}"#
        ],
        "the same auth, the last time with the renewed token"
    );
    let last_token = calls()
        .iter()
        .rev()
        .find(|call| call[0].as_string().as_deref() == Some("PUT"))
        .and_then(|call| call[3].as_string());
    assert_eq!(last_token.as_deref(), Some("Bearer jwt-2"));
    run_js("delete window.__signedIn;");
    host.remove();
}

/// Without a `getToken`, the widget's token never changes: a Try again could never
/// pass, and a reload is the only way on. The user is told so, and offered no retry.
#[wasm_bindgen_test]
async fn a_sign_in_caught_by_a_session_that_cannot_be_renewed_says_reload() {
    let popup = install_fakes();
    queue_attach_failure(401, "unauthenticated");
    let (host, done, _handle) = mount_button();
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| !failure_shown(&host).is_empty()).await;
    let failed = failure_shown(&host);
    assert!(
        failed.starts_with("Your session has expired. Reload the page to sign in again."),
        "{failed}"
    );
    assert!(
        host.query_selector(".tm-retry").unwrap().is_none(),
        "no Try again that cannot pass"
    );
    assert!(!done.get_untracked());
    host.remove();
}

/// The sign-in window's code could not be had: a sign-in failed, nothing the user
/// changed was lost.
#[wasm_bindgen_test]
async fn a_sign_in_window_the_proxy_cannot_open_is_a_failed_sign_in() {
    let _popup = install_fakes();
    run_js("window.__dialogFailure = [503, 'tray_unavailable'];");
    let (host, _done, _handle) = mount_button();
    press(&host, ".tm-authorize");
    until(|| !failure_shown(&host).is_empty()).await;
    let heard = announced(&host);
    assert!(
        heard.starts_with("Sign-in failed: The integration service is not answering"),
        "{heard}"
    );
    assert!(!heard.contains("not saved"), "{heard}");
    assert!(
        failure_shown(&host).contains("Sign-in failed"),
        "{}",
        failure_shown(&host)
    );
    host.remove();
}

/// Not found for a sign-in window (the sign-in to renew was replaced meanwhile, say):
/// with the connection still listed, a failed sign-in in the user's words, not the
/// proxy's; with it gone, that it no longer exists.
#[wasm_bindgen_test]
async fn a_sign_in_window_not_found_says_why_in_the_users_words() {
    for (listed, said) in [
        (true, "Sign-in failed. Please try again."),
        (false, "Slack no longer exists."),
    ] {
        let _popup = install_fakes();
        let mut catalog = slack_catalog();
        if !listed {
            catalog.integrations[0].instances.clear();
        }
        js_sys::Reflect::set(
            &web_sys::window().unwrap(),
            &"__catalog".into(),
            &js_sys::JSON::parse(&serde_json::to_string(&catalog).unwrap()).unwrap(),
        )
        .unwrap();
        run_js("window.__dialogFailure = [404, 'not_found'];");
        let (host, _done, handle) = mount_button();
        press(&host, ".tm-authorize");
        until(|| announced(&host) == said).await;
        assert_eq!(announced(&host), said, "listed: {listed}");
        drop(handle);
        host.remove();
    }
}

/// The answer may have been lost after Tray attached the auth, or the proxy may attach
/// it later: a step closed with its sign-in unattached fetches the catalog again.
#[wasm_bindgen_test]
async fn closing_a_step_whose_sign_in_is_unattached_fetches_the_catalog_again() {
    let popup = install_fakes();
    queue_attach_failure(504, "tray_unavailable");
    let shown = RwSignal::new(true);
    let (host, _done, _handle) = mount_button_while(Locale::En, shown);
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| !failure_shown(&host).is_empty()).await;
    let catalog_fetches = || calls().iter().filter(|c| c[0] == "GET").count();
    assert_eq!(catalog_fetches(), 0);
    shown.set(false);
    until(|| catalog_fetches() > 0).await;
    assert_eq!(catalog_fetches(), 1);
    host.remove();
}

/// A step closed while its sign-in is being saved: the live region, saying so, hears
/// when it is saved (it used to keep saying "Saving the sign-in…").
#[wasm_bindgen_test]
async fn closing_a_step_while_its_sign_in_is_saved_still_hears_it_saved() {
    let (host, heard, _handle) = heard_once_saved_after_its_step_closed(None).await;
    assert_eq!(heard, "Slack authorized");
    host.remove();
}

/// A sign-in that fails to be saved after its step was closed: nothing on screen shows
/// it, so the live region names the connection.
#[wasm_bindgen_test]
async fn a_sign_in_failing_after_its_step_closed_is_heard_by_name() {
    let (host, heard, _handle) =
        heard_once_saved_after_its_step_closed(Some((503, "tray_unavailable"))).await;
    assert!(
        heard.starts_with("Slack: your change was not saved. The integration service"),
        "{heard}"
    );
    host.remove();
}

/// Signs in, closes the step while the sign-in is saved (answered with `failure`, if
/// any), and returns what the live region says once the answer came (and the mount).
async fn heard_once_saved_after_its_step_closed(
    failure: Option<(u16, &str)>,
) -> (HtmlElement, String, impl Drop) {
    let popup = install_fakes();
    run_js("window.__holdPuts = true;");
    if let Some((status, code)) = failure {
        queue_attach_failure(status, code);
    }
    let shown = RwSignal::new(true);
    let (host, _done, handle) = mount_button_while(Locale::En, shown);
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| announced(&host) == "Saving the sign-in…").await;
    shown.set(false);
    tick().await;
    run_js("window.__holdPuts = false; window.__releasePut();");
    until(|| announced(&host) != "Saving the sign-in…").await;
    let heard = announced(&host);
    (host, heard, handle)
}

/// A sign-in window that closes as it is sent to the dialog was closed by no one: the
/// host page's `Cross-Origin-Opener-Policy` cut it off, and its answer can never come.
/// The user sees "Still waiting?"; the host's developer hears why in an `error` event.
/// A window closed later, as a user closes one, is no such hint, nor is one the user
/// closed before the proxy named the dialog.
#[wasm_bindgen_test]
async fn a_sign_in_window_cut_off_as_it_opens_tells_the_host_why() {
    for (closed_after_ms, before_the_dialog, hinted) in [
        (0.0, false, true),
        (5_000.0, false, false),
        (0.0, true, false),
    ] {
        let popup = install_fakes();
        let (host, _done, _handle) = mount_button();
        let errors = common::HostErrors::on(&host);
        run_js(&format!("window.__holdDialog = {before_the_dialog};"));
        click_authorize(&host).await;
        if before_the_dialog {
            popup.frame_element().unwrap().unwrap().remove();
            run_js("window.__holdDialog = false; window.__releaseDialog();");
            tick().await;
        }
        // The clock moved on as if the window had been open that long.
        run_js(&format!(
            "window.__realNow = Date.now; Date.now = () => window.__realNow() + {closed_after_ms};"
        ));
        if !before_the_dialog {
            popup.frame_element().unwrap().unwrap().remove();
        }
        common::sleep(700).await;
        run_js("Date.now = window.__realNow;");
        assert_eq!(
            announced(&host),
            "Still waiting? The sign-in window was closed."
        );
        let cut_off = errors
            .messages()
            .iter()
            .any(|message| message.contains("Cross-Origin-Opener-Policy"));
        assert_eq!(
            cut_off,
            hinted,
            "closed after {closed_after_ms} ms, before the dialog: {before_the_dialog}: {:?}",
            errors.messages()
        );
        host.remove();
    }
}

/// A step closed while its popup is open (Escape or × on the dialog): the live region
/// says the sign-in was cancelled, not that it is still awaited.
#[wasm_bindgen_test]
async fn closing_a_step_while_its_sign_in_is_awaited_says_it_was_cancelled() {
    install_fakes();
    let shown = RwSignal::new(true);
    let (host, _done, _handle) = mount_button_while(Locale::En, shown);
    click_authorize(&host).await;
    assert_eq!(announced(&host), "Waiting for the sign-in window…");
    shown.set(false);
    tick().await;
    assert_eq!(announced(&host), "Sign-in cancelled.");
    host.remove();
}

#[wasm_bindgen_test]
async fn a_sign_in_tray_refused_asks_for_another_sign_in() {
    let popup = install_fakes();
    queue_attach_failure(400, "bad_request");
    let (host, done, _handle) = mount_button();
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| !failure_shown(&host).is_empty()).await;
    let failed = failure_shown(&host);
    assert!(failed.contains("failed with bad_request"), "{failed}");
    assert!(
        host.query_selector(".tm-retry").unwrap().is_none(),
        "sending a refused auth again would only be refused again"
    );
    assert!(host.query_selector(".tm-authorize").unwrap().is_some());
    assert!(!done.get_untracked());
    assert_eq!(attach_bodies().len(), 1);
    host.remove();
}

#[wasm_bindgen_test]
async fn close_returns_to_the_step_and_error_shows_the_message() {
    let popup = install_fakes();
    let (host, done, _handle) = mount_button();
    click_authorize(&host).await;
    post(&popup, &[("type", "tray.authpopup.close")]);
    tick().await;
    tick().await;
    assert!(host.query_selector(".tm-auth-wait").unwrap().is_none());
    assert!(
        host.query_selector(".tm-authorize").unwrap().is_some(),
        "back at the step"
    );
    assert_eq!(announced(&host), "Sign-in cancelled.", "no longer waiting");

    click_authorize(&host).await;
    post(
        &popup,
        &[("type", "tray.authPopup.error"), ("error", "Access denied")],
    );
    tick().await;
    tick().await;
    let failed = host
        .query_selector(".tm-auth-failed")
        .unwrap()
        .expect("error shown");
    assert!(failed
        .text_content()
        .unwrap()
        .contains("Sign-in failed: Access denied"));
    assert_eq!(
        announced(&host),
        "Sign-in failed: Access denied",
        "no longer announced as waiting"
    );
    // Heard once, from the live region: not a second time as an alert.
    assert!(host
        .query_selector(".tm-auth [role=alert]")
        .unwrap()
        .is_none());
    assert!(!done.get_untracked());
    assert!(
        calls().iter().all(|c| c[0].as_string().unwrap() != "PUT"),
        "nothing attached"
    );
    host.remove();
}

#[wasm_bindgen_test]
async fn an_error_without_a_message_is_worded_in_the_widgets_language() {
    let popup = install_fakes();
    let (host, _done, _handle) = mount_button_in(Locale::De);
    click_authorize(&host).await;
    post(&popup, &[("type", "tray.authPopup.error")]);
    tick().await;
    tick().await;
    let failed = host
        .query_selector(".tm-auth-failed")
        .unwrap()
        .expect("error shown")
        .text_content()
        .unwrap();
    assert!(
        failed.contains("Anmeldung fehlgeschlagen. Bitte versuchen Sie es erneut."),
        "{failed}"
    );
    host.remove();
}

#[wasm_bindgen_test]
async fn each_popup_gets_a_window_name_of_its_own() {
    let _popup = install_fakes();
    // `window.open` with a name in use hands back that window: two buttons would then
    // watch one popup and both take its `finish`.
    js_sys::Function::new_no_args(
        "window.__names = []; window.open = (url, name) => { window.__names.push(name); return window.__fakePopup; };",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let (first, _, _first_handle) = mount_button();
    let (second, _, _second_handle) = mount_button();
    click_authorize(&first).await;
    click_authorize(&second).await;
    let names: Vec<String> = js_sys::Array::from(
        &js_sys::Reflect::get(&web_sys::window().unwrap(), &"__names".into()).unwrap(),
    )
    .iter()
    .map(|name| name.as_string().unwrap_or_default())
    .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_ne!(names[0], names[1], "{names:?}");
    assert!(names.iter().all(|name| !name.is_empty()), "{names:?}");
    first.remove();
    second.remove();
}

#[wasm_bindgen_test]
async fn cancel_before_the_proxy_answers_is_not_undone_by_its_answer() {
    let _popup = install_fakes();
    let (host, done, _handle) = mount_button();
    press(&host, ".tm-authorize");
    // One microtask: the view shows "waiting", the dialog URL is still on its way.
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL))
        .await
        .unwrap();
    assert!(
        calls().is_empty() || calls().len() == 1,
        "at most the request itself so far"
    );
    press(&host, ".tm-cancel");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(announced(&host), "Sign-in cancelled.", "no longer waiting");
    assert!(
        calls()
            .iter()
            .any(|c| c[1].as_string().unwrap().ends_with("/auth-dialog")),
        "the proxy answered meanwhile"
    );
    assert!(
        host.query_selector(".tm-auth-wait").unwrap().is_none(),
        "the late answer did not reopen the step"
    );
    assert!(host.query_selector(".tm-authorize").unwrap().is_some());
    assert!(!done.get_untracked());
    host.remove();
}

/// A reload while the proxy is still minting the dialog URL would leave a blank window
/// no one watches.
#[wasm_bindgen_test]
async fn leaving_the_page_before_the_dialog_url_arrives_closes_the_blank_popup() {
    let popup = install_fakes();
    run_js("window.__holdDialog = true;");
    let (host, _done, _handle) = mount_button();
    press(&host, ".tm-authorize");
    tick().await;
    assert!(host.query_selector(".tm-auth-wait").unwrap().is_some());
    assert!(common::leaving_the_page_closes(&popup), "closed, blank");
    run_js("window.__holdDialog = false; window.__releaseDialog();");
    tick().await;
    host.remove();
}

#[wasm_bindgen_test]
async fn a_blocked_popup_is_opened_by_a_fresh_click_with_a_fresh_dialog_url() {
    let _popup = install_fakes();
    js_sys::Function::new_no_args("window.open = () => null;")
        .call0(&JsValue::NULL)
        .unwrap();
    let (host, _done, _handle) = mount_button();
    press(&host, ".tm-authorize");
    for _ in 0..10 {
        tick().await;
    }
    assert!(
        host.query_selector(".tm-auth-blocked").unwrap().is_some(),
        "the blocked popup is explained"
    );
    let dialog_requests = || {
        calls()
            .iter()
            .filter(|c| c[1].as_string().unwrap().ends_with("/auth-dialog"))
            .count()
    };
    assert_eq!(dialog_requests(), 1);

    // The browser allows the next one: the fallback button opens it, with a new URL
    // (an authorization code is single-use and expires).
    js_sys::Function::new_no_args("window.open = () => window.__fakePopup;")
        .call0(&JsValue::NULL)
        .unwrap();
    press(&host, ".tm-open-popup");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(dialog_requests(), 2, "a fresh dialog URL was asked for");
    assert!(host.query_selector(".tm-auth-wait").unwrap().is_some());
    host.remove();
}

/// Reconnecting from a connection's row: the row shows the instance the proxy answered
/// (no longer expiring), and the host hears `updated`, though showing the answer
/// rebuilds the row the sign-in started from.
/// Mounts Slack's dialog from `catalog` in `host`, at the setup of `setup` if given.
fn mount_dialog(host: &HtmlElement, catalog: Catalog, setup: Option<&str>) -> impl Drop {
    let for_view = host.clone();
    let setup = setup.map(str::to_owned);
    leptos::mount::mount_to(host.clone(), move || {
        let announcement = RwSignal::new(String::new());
        provide_context(Ctx {
            api: StoredValue::new_local(ApiClient::with_token(
                "http://proxy.test",
                Some("jwt".into()),
                None,
            )),
            events: StoredValue::new_local(Emitter::new(for_view.clone().into(), None)),
            strings: StoredValue::new(Strings::new(Locale::En, vec![])),
            catalog: RwSignal::new(CatalogState::Loaded(catalog.clone())),
            announcement,
            notice: RwSignal::new(None),
            connecting: RwSignal::new(Vec::new()),
            open: RwSignal::new(None),
        });
        let panel = OpenPanel {
            solution_id: "sol-slack".into(),
            setup: setup.clone(),
        };
        view! {
            <IntegrationDialog panel />
            <p class="test-live">{move || announcement.get()}</p>
        }
    })
}

#[wasm_bindgen_test]
async fn an_authorized_step_is_announced_as_the_next_one_shows() {
    let popup = install_fakes();
    let host = common::new_host();
    let mut two_services = slack_catalog();
    two_services.integrations[0].auth_slots.push(AuthSlot {
        external_id: "jira".into(),
        title: "Jira".into(),
    });
    let _handle = mount_dialog(&host, two_services, Some("i-1"));
    tick().await;
    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    let next_step = || {
        host.query_selector(".tm-authorize")
            .unwrap()
            .and_then(|button| button.text_content())
    };
    until(|| next_step().as_deref() == Some("Authorize Jira")).await;
    assert_eq!(next_step().as_deref(), Some("Authorize Jira"));
    assert_eq!(
        announced(&host),
        "Slack authorized",
        "not still \"Saving…\""
    );
    host.remove();
}

/// Slack's catalog with its connection on and signed in, the sign-in `expiring` or not.
fn signed_in_slack(expiring: bool) -> Catalog {
    let mut catalog = slack_catalog();
    let instance = &mut catalog.integrations[0].instances[0];
    instance.enabled = true;
    instance.status = if expiring {
        Status::AuthExpiring
    } else {
        Status::Connected
    };
    instance.auth_values = vec![AuthValue {
        external_id: "slack".into(),
        auth_id: "auth-old".into(),
        expiring,
    }];
    catalog
}

#[wasm_bindgen_test]
async fn reconnecting_from_a_row_shows_the_answer_and_tells_the_host() {
    let popup = install_fakes();
    let host = common::new_host();
    let updates = Rc::new(Cell::new(0));
    let counter = updates.clone();
    let listener = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        counter.set(counter.get() + 1);
    });
    host.add_event_listener_with_callback(
        "tray-marketplace:updated",
        listener.as_ref().unchecked_ref(),
    )
    .unwrap();
    let _handle = mount_dialog(&host, signed_in_slack(true), None);
    tick().await;
    let badge = || {
        host.query_selector(".tm-instance .tm-badge")
            .unwrap()
            .and_then(|badge| badge.text_content())
    };
    assert_eq!(badge().as_deref(), Some("Reconnect needed"));

    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    for _ in 0..20 {
        tick().await;
        if updates.get() > 0 {
            break;
        }
    }
    assert_eq!(updates.get(), 1, "the host heard `updated`");
    assert_eq!(badge().as_deref(), Some("Connected"));
    host.remove();
}

/// A failure shown in a row (a Disable the proxy answered with nothing readable) goes
/// once a sign-in from that row succeeds: it no longer says what holds.
#[wasm_bindgen_test]
async fn a_sign_in_that_succeeds_clears_the_rows_last_failure() {
    let popup = install_fakes();
    let host = common::new_host();
    let _handle = mount_dialog(&host, signed_in_slack(false), None);
    tick().await;
    let failure = || {
        host.query_selector(".tm-instance > .tm-field-error")
            .unwrap()
            .and_then(|shown| shown.text_content())
            .unwrap_or_default()
    };
    host.query_selector(".tm-toggle")
        .unwrap()
        .expect("Disable")
        .unchecked_into::<HtmlElement>()
        .click();
    until(|| !failure().is_empty()).await;
    assert!(!failure().is_empty(), "the failed Disable is shown");

    click_authorize(&host).await;
    finish_sign_in(&popup, "auth-9");
    until(|| failure().is_empty()).await;
    assert_eq!(failure(), "", "the old failure is gone");
    host.remove();
}

/// Deleting a connection while a sign-in to it is awaited: the popup closes with it, and
/// what is heard is the deletion, not "Sign-in cancelled." said over it.
#[wasm_bindgen_test]
async fn deleting_a_connection_during_its_sign_in_is_heard_as_deleted() {
    let _popup = install_fakes();
    let host = common::new_host();
    let _handle = mount_dialog(&host, signed_in_slack(false), None);
    tick().await;
    click_authorize(&host).await;
    press(&host, ".tm-delete");
    tick().await;
    press(&host, ".tm-confirm-delete");
    until(|| announced(&host).starts_with("Slack deleted")).await;
    for _ in 0..5 {
        tick().await;
    }
    assert_eq!(
        announced(&host).trim_end_matches('\u{200b}'),
        "Slack deleted"
    );
    host.remove();
}
