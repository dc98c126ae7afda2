//! A typed client of the proxy's JSON API (`marketplace_wire`).
//!
//! Every request carries `Authorization: Bearer <host token>`. When the proxy answers
//! 401 the host's `getToken` callback is asked once for a fresh token and the request
//! is retried once.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    rc::Rc,
};

use marketplace_wire::{
    AttachAuth, AuthDialog, AuthDialogRequest, Catalog, CreateInstance, ErrorDetail, Instance,
    Integration, SetConfig, UpdateInstance, UpgradeInstance, API_PREFIX,
};
use wasm_bindgen::{JsCast, JsValue, UnwrapThrowExt};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Request, RequestCache, RequestInit, Response};

use crate::wire_js::{FromJs, ToJs};

/// What went wrong, in words the widget can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The proxy could not be reached at all.
    Network(String),
    /// The proxy answered with its error shape.
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The proxy answered something the widget cannot read.
    Decode(String),
}

impl ApiError {
    pub fn unmounted() -> ApiError {
        ApiError::Network("the widget was unmounted".into())
    }

    /// Whether the user's session was refused (401): an expired token, or one the host's
    /// `getToken` could not renew.
    pub fn session_expired(&self) -> bool {
        matches!(self, ApiError::Server { status: 401, .. })
    }

    /// Whether the request may have taken effect all the same: the network or Tray
    /// failed on the way back, or it is still running. Only a refusal is certain.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            // Refusals however often sent: its key stood for a connection since deleted, or
            // the user has as many connections as the proxy allows.
            ApiError::Server { code, .. } if code == "key_spent" || code == "limit_reached" => {
                false
            }
            ApiError::Server { status, .. } => {
                !(400..=499).contains(status) || matches!(status, 409 | 429)
            }
            _ => true,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Network(reason) => write!(f, "network error: {reason}"),
            ApiError::Server { message, .. } => f.write_str(message),
            ApiError::Decode(reason) => write!(f, "unexpected response: {reason}"),
        }
    }
}

/// The host's token and the callback that renews it.
#[derive(Default)]
struct Credentials {
    token: RefCell<Option<String>>,
    get_token: Option<js_sys::Function>,
}

/// Calls the proxy at `base_url` (empty for the page's own origin).
#[derive(Clone)]
pub struct ApiClient {
    base_url: String,
    credentials: Rc<Credentials>,
    /// A catalog request started before the wasm was ready, used once.
    prefetched_catalog: Rc<RefCell<Option<js_sys::Promise>>>,
    /// Creates whose outcome is unknown, each sent again by the next create of its
    /// integration (see `create_instance`), with the number of instances the
    /// integration had when it was sent.
    unsettled_creates: Rc<RefCell<Vec<(CreateInstance, usize)>>>,
    /// Changes the proxy answered so far: a catalog fetched while one was answered may
    /// predate it, and the widget shows what a change answers (see `catalog`).
    changes: Rc<Cell<u32>>,
    /// Aborted when the widget unmounts (see [`Self::end`]).
    ended: AbortController,
}

impl ApiClient {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_token(base_url, None, None)
    }

    pub fn with_token(
        base_url: impl Into<String>,
        token: Option<String>,
        get_token: Option<js_sys::Function>,
    ) -> Self {
        ApiClient {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            credentials: Rc::new(Credentials {
                token: RefCell::new(token),
                get_token,
            }),
            prefetched_catalog: Rc::default(),
            unsettled_creates: Rc::default(),
            changes: Rc::default(),
            // Only a browser without AbortController (none the widget runs in) fails.
            ended: AbortController::new().unwrap_throw(),
        }
    }

    /// The widget unmounted: its reads under way are aborted (a change runs to its end,
    /// see `fetch`), a wait for the host's `getToken` or catalog ends, and nothing is
    /// sent or asked of the host any more. Left running, a read would also hold back
    /// the next widget's same request.
    pub fn end(&self) {
        self.ended.abort();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{path}", self.base_url)
    }

    /// The first catalog load answers from `catalog_json`: a promise of the parsed body
    /// of `GET {proxy}/api/v1/integrations` with this client's token, started early.
    pub fn use_prefetched_catalog(&self, catalog_json: js_sys::Promise) {
        *self.prefetched_catalog.borrow_mut() = Some(catalog_json);
    }

    pub async fn catalog(&self) -> Result<Catalog, ApiError> {
        if let Some(json) = self.take_prefetched_catalog().await {
            return Catalog::from_js(&json).map_err(|err| ApiError::Decode(err.to_string()));
        }
        // A change answered while the list was on its way may be missing from it (Tray
        // listed before it was made), and showing this list would undo it on screen.
        let mut catalog: Result<Catalog, ApiError>;
        let mut tries = 0;
        loop {
            let changes = self.changes.get();
            catalog = self.json("GET", "/integrations", None).await;
            tries += 1;
            if catalog.is_err() || self.changes.get() == changes || tries == 3 {
                break;
            }
        }
        if let Ok(catalog) = &catalog {
            self.unsettled_creates
                .borrow_mut()
                .retain(|(request, known)| {
                    catalog.integrations.iter().all(|listed| {
                        listed.solution_id != request.solution_id
                            || listed.instances.len() <= *known
                    })
                });
        }
        catalog
    }

    /// The host's catalog, once it arrived. A failed one (a network error, an expired
    /// token), or one still on its way when a request of the widget's own would have
    /// given up, is asked for anew the normal way, which renews the token.
    async fn take_prefetched_catalog(&self) -> Option<JsValue> {
        let promise = self.prefetched_catalog.borrow_mut().take()?;
        within(&promise, FETCH_PATIENCE_MS, &self.ended.signal())
            .await
            .ok()
    }

    /// Whether the host gave a `getToken`: without one the token never changes, and a
    /// request refused for it is refused again.
    pub fn renews_token(&self) -> bool {
        self.credentials.get_token.is_some()
    }

    /// Whether a create of `solution_id` is kept for sending again.
    pub fn keeps_create(&self, solution_id: &str) -> bool {
        self.unsettled_creates
            .borrow()
            .iter()
            .any(|(request, _)| request.solution_id == solution_id)
    }

    /// Creates an instance of `integration`. A create whose outcome is unknown (the
    /// network or Tray failed on the way back, or it is still running) is kept: the next
    /// create of that integration sends it again, idempotency key and all, so the proxy
    /// finds the instance Tray may have made instead of making a second. It is
    /// forgotten once a catalog lists a new instance of the integration: the user then
    /// sees what it made.
    ///
    /// A kept create whose connection was deleted meanwhile is refused (`key_spent`):
    /// the user asked for a connection, so a new one is made at once, with a new key.
    pub async fn create_instance(&self, integration: &Integration) -> Result<Instance, ApiError> {
        let solution_id = &integration.solution_id;
        loop {
            let kept = {
                let mut unsettled = self.unsettled_creates.borrow_mut();
                let position = unsettled
                    .iter()
                    .position(|(r, _)| r.solution_id == *solution_id);
                position.map(|at| unsettled.swap_remove(at).0)
            };
            let was_kept = kept.is_some();
            let request = kept.unwrap_or_else(|| CreateInstance {
                solution_id: solution_id.clone(),
                name: Some(crate::state::new_instance_name(integration)),
                idempotency_key: idempotency_key(),
            });
            let created = self
                .changed("POST", "/instances".into(), body(&request))
                .await;
            match &created {
                Err(ApiError::Server { code, .. }) if was_kept && code == "key_spent" => continue,
                Err(err) if err.outcome_unknown() => {
                    let known = integration.instances.len();
                    self.unsettled_creates.borrow_mut().push((request, known));
                }
                _ => {}
            }
            return created;
        }
    }

    // The routes that change an instance answer with it as changed, which the widget
    // shows without fetching the catalog. They build their request here and share
    // `changed`'s future: one async state machine in the wasm instead of one per route.

    pub fn update_instance(
        &self,
        id: &str,
        update: &UpdateInstance,
    ) -> impl Future<Output = Result<Instance, ApiError>> + '_ {
        self.changed("PATCH", instance_path(id, ""), body(update))
    }

    pub async fn delete_instance(&self, id: &str) -> Result<(), ApiError> {
        self.send("DELETE", &instance_path(id, ""), None).await?;
        self.count_change();
        Ok(())
    }

    pub async fn auth_dialog(
        &self,
        id: &str,
        request: &AuthDialogRequest,
    ) -> Result<AuthDialog, ApiError> {
        self.json(
            "POST",
            &instance_path(id, "/auth-dialog"),
            Some(body(request)?),
        )
        .await
    }

    pub fn attach_auth(
        &self,
        id: &str,
        slot: &str,
        auth_id: &str,
    ) -> impl Future<Output = Result<Instance, ApiError>> + '_ {
        let path = instance_path(id, &format!("/auths/{}", encode_segment(slot)));
        let attach = AttachAuth {
            auth_id: auth_id.to_owned(),
        };
        self.changed("PUT", path, body(&attach))
    }

    pub fn set_config(
        &self,
        id: &str,
        config: &SetConfig,
    ) -> impl Future<Output = Result<Instance, ApiError>> + '_ {
        self.changed("PUT", instance_path(id, "/config"), body(config))
    }

    pub fn upgrade(
        &self,
        id: &str,
        upgrade: &UpgradeInstance,
    ) -> impl Future<Output = Result<Instance, ApiError>> + '_ {
        self.changed("POST", instance_path(id, "/upgrade"), body(upgrade))
    }

    async fn json<T: FromJs>(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<T, ApiError> {
        read_json(self.send(method, path, body).await?).await
    }

    /// `body` is the request's JSON, or why it could not be written.
    async fn changed(
        &self,
        method: &'static str,
        path: String,
        body: Result<String, ApiError>,
    ) -> Result<Instance, ApiError> {
        let changed = self.json(method, &path, Some(body?)).await;
        if changed.is_ok() {
            self.count_change();
        }
        changed
    }

    fn count_change(&self) {
        self.changes.set(self.changes.get() + 1);
    }

    /// Sends once, and once more with a renewed token after a 401.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<Response, ApiError> {
        if self.credentials.token.borrow().is_none() {
            // Every request of the widget's needs a token: one sent without it (the
            // host's getToken failed) could only be refused, a second error to read.
            self.renew_token().await?;
        }
        let response = self.fetch(method, path, body.as_deref()).await?;
        if response.status() == 401 && self.renew_token().await? {
            let retried = self.fetch(method, path, body.as_deref()).await?;
            return check(retried).await;
        }
        check(response).await
    }

    /// Asks the host's `getToken` (which may return a promise); false without one.
    async fn renew_token(&self) -> Result<bool, ApiError> {
        let Some(get_token) = &self.credentials.get_token else {
            return Ok(false);
        };
        let ended = self.ended.signal();
        if ended.aborted() {
            return Err(ApiError::unmounted());
        }
        let failed = |err: JsValue| token_failure(&describe(&err));
        let mut value = get_token.call0(&JsValue::NULL).map_err(failed)?;
        if let Some(promise) = value.dyn_ref::<js_sys::Promise>() {
            value = within(promise, GET_TOKEN_PATIENCE_MS, &ended)
                .await
                .map_err(failed)?;
        }
        // An empty one too: sent, the proxy could only say the header is malformed.
        let token = value
            .as_string()
            .filter(|token| !token.trim().is_empty())
            .ok_or_else(|| token_failure("it returned no token"))?;
        *self.credentials.token.borrow_mut() = Some(token);
        Ok(true)
    }

    async fn fetch(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, ApiError> {
        let ended = self.ended.signal();
        // A wait (for the host's token) that ends after the unmount sends nothing.
        if ended.aborted() {
            return Err(ApiError::unmounted());
        }
        let init = RequestInit::new();
        init.set_method(method);
        // Aborts the request, the reading of its answer included, once its time is up.
        // Racing a timer is not enough: a request left running holds one of the
        // browser's few connections to the proxy, and a handful of them stall every
        // later one. (A server may also send the headers and stall.) A read is aborted
        // by the unmount too; a change runs to its end, as the user asked: cut off, the
        // proxy would stop between Tray's part and its own.
        let timeout = AbortSignal::timeout_with_u32(FETCH_PATIENCE_MS);
        init.set_signal(Some(&if method == "GET" {
            either(&ended, timeout)
        } else {
            timeout
        }));
        // Past the browser's cache: two requests of one URL (every user's catalog is
        // `/integrations`) would otherwise go one after the other, the second waiting
        // up to 20 s on the first's cache entry. The proxy's answers are `no-store`.
        init.set_cache(RequestCache::NoStore);
        if let Some(body) = body {
            init.set_body(&body.into());
        }
        let request = Request::new_with_str_and_init(&self.url(path), &init).map_err(network)?;
        let headers = request.headers();
        headers.set("Accept", "application/json").map_err(network)?;
        if body.is_some() {
            headers
                .set("Content-Type", "application/json")
                .map_err(network)?;
        }
        if let Some(token) = self.credentials.token.borrow().as_deref() {
            headers
                .set("Authorization", &format!("Bearer {token}"))
                .map_err(network)?;
        }
        let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
        JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(network)?
            .dyn_into()
            .map_err(network)
    }
}

/// How long the host's `getToken` may take, and a request with the reading of its
/// answer (the proxy answers within 30 s itself, so past this the network has stalled).
/// A callback or a request that never settles must not keep a control busy for good.
const GET_TOKEN_PATIENCE_MS: u32 = 20_000;
const FETCH_PATIENCE_MS: u32 = 45_000;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `AbortSignal.any`, which browsers before Chromium 116, Firefox 124 and Safari
    /// 17.4 lack (web-sys's binding would trap there).
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = any, catch)]
    fn abort_signal_any(signals: &js_sys::Array) -> Result<AbortSignal, JsValue>;
}

/// A signal aborted once `ended` or `timeout` is (in a browser without
/// `AbortSignal.any`, only `timeout`: nothing is sent after the unmount all the same).
fn either(ended: &AbortSignal, timeout: AbortSignal) -> AbortSignal {
    abort_signal_any(&js_sys::Array::of2(ended, &timeout)).unwrap_or(timeout)
}

/// `promise`'s outcome, or a rejection once `ms` have passed or `ended` is aborted.
async fn within(
    promise: &js_sys::Promise,
    ms: u32,
    ended: &AbortSignal,
) -> Result<JsValue, JsValue> {
    let deadline = either(ended, AbortSignal::timeout_with_u32(ms));
    // An aborted signal fires no more (the host's getToken may have unmounted).
    if deadline.aborted() {
        return Err("no answer in time".into());
    }
    let expiry = js_sys::Promise::new(&mut |_, reject| deadline.set_onabort(Some(&reject)));
    let outcome =
        JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(promise, &expiry))).await;
    deadline.set_onabort(None);
    // Rejected with the abort event: the reason is the deadline's.
    outcome.map_err(|err| {
        if deadline.aborted() {
            "no answer in time".into()
        } else {
            err
        }
    })
}

async fn read_json<T: FromJs>(response: Response) -> Result<T, ApiError> {
    let value = body_json(response).await?;
    T::from_js(&value).map_err(|err| ApiError::Decode(err.to_string()))
}

/// The body, parsed. (Not generic, so one copy serves every route.)
async fn body_json(response: Response) -> Result<JsValue, ApiError> {
    let read = response.json().map_err(decode)?;
    JsFuture::from(read).await.map_err(|err| {
        // Only a body that is no JSON is the proxy's fault; a body cut off (aborted at
        // the deadline, a dropped connection) is the network's.
        if err.is_instance_of::<js_sys::SyntaxError>() {
            decode(err)
        } else {
            network(err)
        }
    })
}

/// Passes a success through; turns the proxy's `ErrorBody` into `ApiError::Server`.
async fn check(response: Response) -> Result<Response, ApiError> {
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let fallback = || ApiError::Server {
        status,
        code: "http".into(),
        message: format!("HTTP {status} {}", response.status_text()),
    };
    let Ok(promise) = response.json() else {
        return Err(fallback());
    };
    let Ok(value) = JsFuture::from(promise).await else {
        return Err(fallback());
    };
    match ErrorDetail::from_js(&value) {
        Ok(error) => Err(ApiError::Server {
            status,
            code: error.code,
            message: error.message,
        }),
        Err(_) => Err(fallback()),
    }
}

fn instance_path(id: &str, rest: &str) -> String {
    format!("/instances/{}{rest}", encode_segment(id))
}

fn encode_segment(segment: &str) -> String {
    String::from(js_sys::encode_uri_component(segment))
}

fn body<T: ToJs>(value: &T) -> Result<String, ApiError> {
    js_sys::JSON::stringify(&value.to_js())
        .map(String::from)
        .map_err(decode)
}

/// The host could not sign the user in: a sign-in problem for the user (not the
/// server's), with the host's reason for the host's `error` event.
fn token_failure(reason: &str) -> ApiError {
    ApiError::Server {
        status: 401,
        code: "unauthenticated".into(),
        message: format!("getToken failed: {reason}"),
    }
}

fn network(err: JsValue) -> ApiError {
    ApiError::Network(describe(&err))
}

fn decode(err: JsValue) -> ApiError {
    ApiError::Decode(describe(&err))
}

fn describe(err: &JsValue) -> String {
    err.as_string()
        .or_else(|| {
            err.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "unknown error".into())
}

/// Unique enough per click: time plus randomness.
fn idempotency_key() -> String {
    let random = (js_sys::Math::random() * 1e15) as u64;
    format!("{}-{random}", js_sys::Date::now() as u64)
}
