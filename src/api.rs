//! A typed client of the proxy's JSON API (`marketplace_wire`).

use marketplace_wire::{Catalog, ErrorBody, API_PREFIX};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

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

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Network(reason) => write!(f, "network error: {reason}"),
            ApiError::Server { message, .. } => f.write_str(message),
            ApiError::Decode(reason) => write!(f, "unexpected response: {reason}"),
        }
    }
}

/// Calls the proxy at `base_url` (empty for the page's own origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    base_url: String,
}

impl ApiClient {
    pub fn new(base_url: impl Into<String>) -> Self {
        ApiClient {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{path}", self.base_url)
    }

    pub async fn catalog(&self) -> Result<Catalog, ApiError> {
        self.send("GET", "/integrations").await
    }

    async fn send<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<T, ApiError> {
        let init = RequestInit::new();
        init.set_method(method);
        let request = Request::new_with_str_and_init(&self.url(path), &init).map_err(network)?;
        request
            .headers()
            .set("Accept", "application/json")
            .map_err(network)?;
        let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
        let response: Response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(network)?
            .dyn_into()
            .map_err(network)?;
        let status = response.status();
        let body = JsFuture::from(response.json().map_err(decode)?)
            .await
            .map_err(decode)?;
        if response.ok() {
            serde_wasm_bindgen::from_value(body).map_err(|err| ApiError::Decode(err.to_string()))
        } else {
            let error: ErrorBody = serde_wasm_bindgen::from_value(body)
                .map_err(|_| ApiError::Decode(format!("HTTP {status}")))?;
            Err(ApiError::Server {
                status,
                code: error.error.code,
                message: error.error.message,
            })
        }
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
