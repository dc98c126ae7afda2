//! The auth dialog origin: server-rendered consent pages that, like Tray's, post
//! `tray.authpopup.finish` / `tray.authpopup.close` / `tray.authPopup.error` to the
//! opener (or parent frame) with targetOrigin `*`, then close themselves.
//!
//! Opening a page redeems its code (single use) and starts a dialog session carried by
//! the form. Without a browser, POST the form fields to the same URL with a fresh
//! `?code=`: `action=allow` (OAuth) or `action=connect&api_key=...` (API key),
//! `action=deny` (error), `action=cancel` (close). The API key `fail` is rejected.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
    Form, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    api::icon,
    catalog::{AuthKind, ServiceDef},
    control::bump,
    store::new_id,
    SandboxState,
};

/// A dialog opened with a valid code, waiting for the user's choice.
#[derive(Debug, Clone)]
pub struct DialogSession {
    pub user_id: String,
    pub user_name: String,
    /// Catalog key of the service being authorised.
    pub service: String,
    /// What the user is connecting to, for the consent text.
    pub purpose: String,
    /// `Some` when re-authorising an existing authentication.
    pub existing_auth: Option<String>,
    /// The page path, so a session cannot be replayed on another dialog.
    pub path: String,
    pub opened: Instant,
}

/// How long an opened dialog waits for the user's choice.
pub const DIALOG_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The API key the dialog rejects, to produce `tray.authPopup.error` in tests.
pub const FAILING_API_KEY: &str = "fail";

pub fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route(
            "/external/auth/create/{embedded_id}/{instance_id}/{slot}",
            get(create_page).post(create_submit),
        )
        .route(
            "/external/auth/edit/{embedded_id}/{auth_id}",
            get(edit_page).post(edit_submit),
        )
        .route("/icons/{file}", get(icon))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DialogForm {
    session: Option<String>,
    action: String,
    api_key: Option<String>,
}

/// Why a dialog cannot go on: shown to the user and posted as `tray.authPopup.error`.
struct Refusal(StatusCode, String);

type Checked<T> = Result<T, Refusal>;

async fn create_page(
    State(state): State<Arc<SandboxState>>,
    Path((embedded_id, instance_id, slot)): Path<(String, String, String)>,
    Query(query): Query<CodeQuery>,
) -> Response {
    let path = format!("/external/auth/create/{embedded_id}/{instance_id}/{slot}");
    match open_create(&state, &embedded_id, &instance_id, &slot, query.code, path).await {
        Ok(session) => consent_page(&state, start_session(&state, session), None),
        Err(refusal) => error_page(refusal),
    }
}

async fn create_submit(
    State(state): State<Arc<SandboxState>>,
    Path((embedded_id, instance_id, slot)): Path<(String, String, String)>,
    Query(query): Query<CodeQuery>,
    Form(form): Form<DialogForm>,
) -> Response {
    let path = format!("/external/auth/create/{embedded_id}/{instance_id}/{slot}");
    let session = match &form.session {
        Some(id) => resume_session(&state, id, &path),
        None => open_create(&state, &embedded_id, &instance_id, &slot, query.code, path)
            .await
            .map(|session| start_session(&state, session)),
    };
    match session {
        Ok(session_id) => decide(&state, session_id, form).await,
        Err(refusal) => error_page(refusal),
    }
}

async fn edit_page(
    State(state): State<Arc<SandboxState>>,
    Path((embedded_id, auth_id)): Path<(String, String)>,
    Query(query): Query<CodeQuery>,
) -> Response {
    let path = format!("/external/auth/edit/{embedded_id}/{auth_id}");
    match open_edit(&state, &embedded_id, &auth_id, query.code, path).await {
        Ok(session) => consent_page(&state, start_session(&state, session), None),
        Err(refusal) => error_page(refusal),
    }
}

async fn edit_submit(
    State(state): State<Arc<SandboxState>>,
    Path((embedded_id, auth_id)): Path<(String, String)>,
    Query(query): Query<CodeQuery>,
    Form(form): Form<DialogForm>,
) -> Response {
    let path = format!("/external/auth/edit/{embedded_id}/{auth_id}");
    let session = match &form.session {
        Some(id) => resume_session(&state, id, &path),
        None => open_edit(&state, &embedded_id, &auth_id, query.code, path)
            .await
            .map(|session| start_session(&state, session)),
    };
    match session {
        Ok(session_id) => decide(&state, session_id, form).await,
        Err(refusal) => error_page(refusal),
    }
}

fn internal(err: impl std::fmt::Display) -> Refusal {
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
}

/// Check the embedded id and redeem the code; the code's user.
async fn redeem(
    state: &SandboxState,
    embedded_id: &str,
    code: Option<String>,
) -> Checked<(String, String)> {
    if embedded_id != state.embedded_id {
        return Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("Unknown embedded id \"{embedded_id}\""),
        ));
    }
    let code = code.filter(|c| !c.is_empty()).ok_or_else(|| {
        Refusal(
            StatusCode::BAD_REQUEST,
            "Missing authorization code (?code=)".into(),
        )
    })?;
    let user_id = state
        .store
        .redeem_code(&code)
        .await
        .map_err(internal)?
        .map_err(|message| Refusal(StatusCode::FORBIDDEN, message))?;
    let user = state
        .store
        .user(&user_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            Refusal(
                StatusCode::FORBIDDEN,
                "The code's user no longer exists".into(),
            )
        })?;
    Ok((user.id, user.name))
}

async fn open_create(
    state: &SandboxState,
    embedded_id: &str,
    instance_id: &str,
    slot: &str,
    code: Option<String>,
    path: String,
) -> Checked<DialogSession> {
    let (user_id, user_name) = redeem(state, embedded_id, code).await?;
    let not_found = || {
        Refusal(
            StatusCode::NOT_FOUND,
            format!("Solution instance {instance_id} not found for this user"),
        )
    };
    let instance = state
        .store
        .instance(instance_id)
        .await
        .map_err(internal)?
        .filter(|instance| instance.owner == user_id)
        .ok_or_else(not_found)?;
    let base = state
        .catalog
        .solution(&instance.solution_id)
        .ok_or_else(not_found)?;
    // Slots of the latest version count: a user may be authorising one a new version adds.
    let (solution, _) = state.latest_solution(base).await.map_err(internal)?;
    let auth_slot = solution
        .auth_slots
        .iter()
        .find(|candidate| candidate.external_id == slot)
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                format!(
                    "Solution \"{}\" has no auth slot \"{slot}\"",
                    solution.title
                ),
            )
        })?;
    Ok(DialogSession {
        user_id,
        user_name,
        service: auth_slot.service.clone(),
        purpose: format!("{} ({})", solution.title, auth_slot.title),
        existing_auth: None,
        path,
        opened: Instant::now(),
    })
}

async fn open_edit(
    state: &SandboxState,
    embedded_id: &str,
    auth_id: &str,
    code: Option<String>,
    path: String,
) -> Checked<DialogSession> {
    let (user_id, user_name) = redeem(state, embedded_id, code).await?;
    let auth = state
        .store
        .auth(auth_id)
        .await
        .map_err(internal)?
        .filter(|auth| auth.user_id == user_id)
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                format!("Authentication {auth_id} not found for this user"),
            )
        })?;
    Ok(DialogSession {
        user_id,
        user_name,
        purpose: format!("re-authorising \"{}\"", auth.name),
        service: auth.service,
        existing_auth: Some(auth.id),
        path,
        opened: Instant::now(),
    })
}

fn sessions(
    state: &SandboxState,
) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, DialogSession>> {
    state
        .dialog_sessions
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
}

fn start_session(state: &SandboxState, session: DialogSession) -> String {
    let id = new_id();
    let mut open = sessions(state);
    // Abandoned dialogs are forgotten once they could no longer be completed.
    open.retain(|_, existing| existing.opened.elapsed() < DIALOG_LIFETIME);
    open.insert(id.clone(), session);
    id
}

fn resume_session(state: &SandboxState, id: &str, path: &str) -> Checked<String> {
    match sessions(state).get(id) {
        Some(session) if session.path == path && session.opened.elapsed() < DIALOG_LIFETIME => {
            Ok(id.to_owned())
        }
        _ => Err(Refusal(
            StatusCode::FORBIDDEN,
            "This dialog has already been used or has expired; open it again".into(),
        )),
    }
}

/// Act on the user's choice. Only a completed choice ends the session, so a form sent
/// back for correction keeps it.
async fn decide(state: &SandboxState, session_id: String, form: DialogForm) -> Response {
    let Some(session) = sessions(state).get(&session_id).cloned() else {
        return error_page(Refusal(
            StatusCode::FORBIDDEN,
            "This dialog has already been used; open it again".into(),
        ));
    };
    let service = match state.service(&session.service) {
        Ok(service) => service.clone(),
        Err(err) => return error_page(internal(err)),
    };
    let finish_session = || sessions(state).remove(&session_id);
    match form.action.as_str() {
        "cancel" => {
            finish_session();
            message_page(
                StatusCode::OK,
                "Cancelled",
                "You closed the dialog without connecting.",
                json!({"type": "tray.authpopup.close"}),
            )
        }
        "deny" => {
            finish_session();
            error_page(Refusal(
                StatusCode::OK,
                format!("Access to {} was denied", service.title),
            ))
        }
        "allow" | "connect" => {
            let data = match credentials(&service, form.api_key.as_deref()) {
                Ok(data) => data,
                Err(Retry(message)) => {
                    return consent_page(state, session_id, Some(&message));
                }
            };
            if form.api_key.as_deref().map(str::trim) == Some(FAILING_API_KEY) {
                finish_session();
                return error_page(Refusal(
                    StatusCode::OK,
                    format!("{} rejected the API key", service.title),
                ));
            }
            finish_session();
            complete(state, &session, &service, &data).await
        }
        other => consent_page(
            state,
            session_id,
            Some(&format!("Unknown action \"{other}\"")),
        ),
    }
}

/// A correctable mistake in the form.
struct Retry(String);

fn credentials(service: &ServiceDef, api_key: Option<&str>) -> Result<String, Retry> {
    match service.kind {
        AuthKind::Oauth => {
            Ok(json!({"access_token": format!("sandbox-oauth-{}", new_id())}).to_string())
        }
        AuthKind::ApiKey => {
            let key = api_key.map(str::trim).unwrap_or_default();
            if key.is_empty() {
                Err(Retry(format!("Enter your {} API key", service.title)))
            } else {
                Ok(
                    json!({"api_key_last4": key.chars().rev().take(4).collect::<String>()})
                        .to_string(),
                )
            }
        }
    }
}

async fn complete(
    state: &SandboxState,
    session: &DialogSession,
    service: &ServiceDef,
    data: &str,
) -> Response {
    let auth_id = match &session.existing_auth {
        Some(auth_id) => match state.store.touch_auth(auth_id, data).await {
            Ok(()) => auth_id.clone(),
            Err(err) => return error_page(internal(err)),
        },
        None => {
            let name = format!("{} ({})", service.title, session.user_name);
            match state
                .store
                .create_auth(&session.user_id, &name, &session.service, data)
                .await
            {
                Ok(auth_id) => {
                    bump(&state.counters.authentications_created);
                    auth_id
                }
                Err(err) => return error_page(internal(err)),
            }
        }
    };
    message_page(
        StatusCode::OK,
        "Connected",
        &format!("{} is connected. This window closes itself.", service.title),
        json!({
            "type": "tray.authpopup.finish",
            "authType": state.auth_type(service),
            "authId": auth_id,
        }),
    )
}

fn error_page(Refusal(status, message): Refusal) -> Response {
    message_page(
        status,
        "Something went wrong",
        &message,
        json!({"type": "tray.authPopup.error", "error": message}),
    )
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;margin:0;color:#1f2430}
main{max-width:420px;margin:48px auto;background:#fff;border-radius:12px;box-shadow:0 4px 24px #0002;padding:32px}
header{display:flex;align-items:center;gap:16px}header img{width:48px;height:48px}
h1{font-size:20px;margin:0}p{line-height:1.5;color:#4a5160}
label{display:block;font-weight:600;margin:16px 0 6px}input[type=password]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #c9ced6;border-radius:6px}
.actions{display:flex;flex-direction:row-reverse;gap:8px;justify-content:flex-start;margin-top:24px}
button{padding:10px 18px;border-radius:6px;border:1px solid #c9ced6;background:#fff;cursor:pointer;font-size:14px}
button.primary{background:#2a6bf2;border-color:#2a6bf2;color:#fff}
.problem{background:#fdecea;color:#8a1c12;padding:10px;border-radius:6px}
footer{margin-top:24px;font-size:12px;color:#8a90a0}
"#;

fn consent_page(state: &SandboxState, session_id: String, problem: Option<&str>) -> Response {
    let Some(session) = sessions(state).get(&session_id).cloned() else {
        return error_page(Refusal(
            StatusCode::FORBIDDEN,
            "This dialog has expired".into(),
        ));
    };
    let service = match state.service(&session.service) {
        Ok(service) => service,
        Err(err) => return error_page(internal(err)),
    };
    let title = escape(&service.title);
    let problem = problem
        .map(|text| format!(r#"<p class="problem" role="alert">{}</p>"#, escape(text)))
        .unwrap_or_default();
    let fields = match service.kind {
        AuthKind::Oauth => format!(
            r#"<p><strong>{user}</strong>, allow access to your {title} account for {purpose}?</p>
<p>The integration will be able to read and write data in {title} on your behalf.</p>"#,
            user = escape(&session.user_name),
            purpose = escape(&session.purpose),
        ),
        AuthKind::ApiKey => format!(
            r#"<p>Connect your {title} account for {purpose}.</p>
<label for="api_key">{title} API key</label>
<input type="password" id="api_key" name="api_key" autocomplete="off" autofocus>"#,
            purpose = escape(&session.purpose),
        ),
    };
    let primary = match service.kind {
        AuthKind::Oauth => {
            r#"<button class="primary" type="submit" name="action" value="allow" id="allow">Allow</button>"#
        }
        AuthKind::ApiKey => {
            r#"<button class="primary" type="submit" name="action" value="connect" id="connect">Connect</button>"#
        }
    };
    let body = format!(
        r#"<main>
<header><img src="/icons/{icon}" alt=""><h1>Connect {title}</h1></header>
{problem}
<form method="post" id="consent">
<input type="hidden" name="session" value="{session}">
{fields}
<div class="actions">
{primary}
<button type="submit" name="action" value="deny" id="deny">Deny</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
</div>
</form>
<footer>Tray.io Embedded sandbox · authorisation for {title}</footer>
</main>
<script>
// Closing the window without choosing counts as cancelling, as on Tray.
var chosen = false;
document.getElementById('consent').addEventListener('submit', function () {{ chosen = true; }});
window.addEventListener('pagehide', function () {{
  if (chosen) return;
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) target.postMessage({{type: 'tray.authpopup.close'}}, '*');
}});
</script>"#,
        icon = escape(&service.icon),
        session = escape(&session_id),
    );
    page(StatusCode::OK, &format!("Connect {}", service.title), &body)
}

/// A page that posts `message` to the opener (or parent frame) and closes itself.
fn message_page(status: StatusCode, heading: &str, text: &str, message: Value) -> Response {
    // `</` cannot end the script early once escaped.
    let message = message.to_string().replace("</", "<\\/");
    let body = format!(
        r#"<main><h1>{heading}</h1><p>{text}</p></main>
<script type="application/json" id="tray-message">{message}</script>
<script>
(function () {{
  var message = JSON.parse(document.getElementById('tray-message').textContent);
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) target.postMessage(message, '*');
  setTimeout(function () {{ window.close(); }}, 50);
}})();
</script>"#,
        heading = escape(heading),
        text = escape(text),
    );
    page(status, heading, &body)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>"#,
        title = escape(title),
    );
    (status, Html(html)).into_response()
}
