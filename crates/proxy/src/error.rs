//! The proxy's one error type, and how each variant reaches the widget.

use axum::{
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
    #[error("Tray is unavailable: {0}")]
    TrayUnavailable(String),
    #[error("Tray refused the request: {0}")]
    TrayRejected(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl ProxyError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ProxyError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ProxyError::TrayUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "tray_unavailable"),
            ProxyError::TrayRejected(_) => (StatusCode::BAD_GATEWAY, "tray_error"),
            ProxyError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %self, code, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}
