//! The proxy's one error type, and how each variant reaches the widget: one JSON shape
//! (`marketplace_wire::ErrorBody`) with a stable code. Messages never carry a secret.

use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use marketplace_wire::{ErrorBody, ErrorDetail};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProxyError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A 409 of its own code: the idempotency key stood for a connection since deleted,
    /// so sending it again can never succeed (a client drops it for a new one).
    #[error("{0}")]
    KeySpent(String),
    /// The user has as many connections as the proxy allows one user.
    #[error("{0}")]
    LimitReached(String),
    #[error("the request body is larger than this proxy accepts")]
    TooLarge,
    #[error("Tray's rate limit was reached; try again in a moment")]
    TrayRateLimited,
    #[error("too many requests from this user; try again in a moment")]
    UserRateLimited,
    #[error("Tray is unavailable: {0}")]
    TrayUnavailable(String),
    /// A call that may have reached Tray got no answer (it timed out, the connection
    /// broke, a gateway gave up waiting): Tray may still carry it out, later.
    #[error("Tray did not answer: {0}")]
    TrayUnanswered(String),
    #[error("Tray refused the request: {0}")]
    TrayRejected(String),
    /// Something in front of Tray (a gateway, a firewall) refused the call before Tray saw
    /// it: not the user's request refused, so nothing of theirs is dropped for it.
    #[error("the way to Tray refused the request: {0}")]
    TrayBlocked(String),
    #[error("Tray refused the proxy's credentials: {0}")]
    TrayUnauthorized(String),
    /// Tray could not parse or validate a document the proxy sent: the proxy's bug,
    /// neither the user's nor Tray's.
    #[error("Tray did not accept the proxy's GraphQL document: {0}")]
    TrayDocument(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The proxy's own fault (a task that panicked).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ProxyError {
    /// Worth another try: the call may not have reached Tray, or Tray was overloaded.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProxyError::TrayUnavailable(_)
                | ProxyError::TrayUnanswered(_)
                | ProxyError::TrayRateLimited
        )
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ProxyError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ProxyError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ProxyError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ProxyError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ProxyError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ProxyError::KeySpent(_) => (StatusCode::CONFLICT, "key_spent"),
            ProxyError::LimitReached(_) => (StatusCode::CONFLICT, "limit_reached"),
            ProxyError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ProxyError::TrayRateLimited | ProxyError::UserRateLimited => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            }
            ProxyError::TrayUnavailable(_) | ProxyError::TrayUnanswered(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "tray_unavailable")
            }
            ProxyError::TrayRejected(_) | ProxyError::TrayBlocked(_) => {
                (StatusCode::BAD_GATEWAY, "tray_error")
            }
            ProxyError::TrayUnauthorized(_) => (StatusCode::BAD_GATEWAY, "tray_credentials"),
            ProxyError::Database(_)
            | ProxyError::Config(_)
            | ProxyError::TrayDocument(_)
            | ProxyError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ProxyError {
    fn from(err: sqlx::Error) -> Self {
        ProxyError::Database(err.to_string())
    }
}

impl From<JsonRejection> for ProxyError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ProxyError::TooLarge;
        }
        ProxyError::BadRequest(format!("invalid JSON body: {}", rejection.body_text()))
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Our own failures are errors; Tray's are warnings (they pass, and are retried).
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, code, "request failed");
        } else if status.is_server_error() {
            tracing::warn!(error = %self, code, "request failed");
        }
        let message = match &self {
            // Internal details stay in the log.
            ProxyError::Database(_)
            | ProxyError::Config(_)
            | ProxyError::TrayDocument(_)
            | ProxyError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
            },
        };
        (status, Json(body)).into_response()
    }
}
