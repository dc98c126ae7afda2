//! The widget's side of the proxy's JSON API, called without a browser, with user
//! tokens signed the way a host backend signs them (HS256 with HOST_JWT_SECRET).

use anyhow::{bail, Context};
use jsonwebtoken::{encode, EncodingKey, Header};
use marketplace_wire::{self as wire, API_PREFIX};
use serde::{de::DeserializeOwned, Serialize};

use crate::proxy_process::HOST_JWT_SECRET;

/// A host user's token for the proxy, valid for an hour.
pub fn host_token(user_id: &str) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        name: String,
        exp: u64,
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = Claims {
        sub: user_id,
        name: format!("Bench {user_id}"),
        exp: now + 3600,
    };
    Ok(encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(HOST_JWT_SECRET.as_bytes()),
    )?)
}

/// One host user talking to one proxy.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    pub fn new(http: reqwest::Client, proxy_url: &str, user_id: &str) -> anyhow::Result<Self> {
        Ok(ApiClient {
            http,
            base: format!("{}{API_PREFIX}", proxy_url.trim_end_matches('/')),
            token: host_token(user_id)?,
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// What the widget asks for on every page load.
    pub async fn catalog(&self) -> anyhow::Result<wire::Catalog> {
        self.send(reqwest::Method::GET, "/integrations", None::<&()>)
            .await
    }

    pub async fn create(&self, solution_id: &str, key: &str) -> anyhow::Result<wire::Instance> {
        let body = wire::CreateInstance {
            solution_id: solution_id.to_owned(),
            name: None,
            idempotency_key: key.to_owned(),
        };
        self.send(reqwest::Method::POST, "/instances", Some(&body))
            .await
    }

    pub async fn auth_dialog(&self, id: &str, slot: &str) -> anyhow::Result<wire::AuthDialog> {
        let body = wire::AuthDialogRequest {
            slot: Some(slot.to_owned()),
            auth_id: None,
        };
        self.send(
            reqwest::Method::POST,
            &format!("/instances/{id}/auth-dialog"),
            Some(&body),
        )
        .await
    }

    pub async fn attach_auth(
        &self,
        id: &str,
        slot: &str,
        auth_id: &str,
    ) -> anyhow::Result<wire::Instance> {
        let body = wire::AttachAuth {
            auth_id: auth_id.to_owned(),
        };
        self.send(
            reqwest::Method::PUT,
            &format!("/instances/{id}/auths/{slot}"),
            Some(&body),
        )
        .await
    }

    pub async fn set_config(
        &self,
        id: &str,
        values: Vec<wire::ConfigValue>,
    ) -> anyhow::Result<wire::Instance> {
        let body = wire::SetConfig { values };
        self.send(
            reqwest::Method::PUT,
            &format!("/instances/{id}/config"),
            Some(&body),
        )
        .await
    }

    pub async fn enable(&self, id: &str) -> anyhow::Result<wire::Instance> {
        let body = wire::UpdateInstance {
            name: None,
            enabled: Some(true),
        };
        self.send(
            reqwest::Method::PATCH,
            &format!("/instances/{id}"),
            Some(&body),
        )
        .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<T> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: reading {text}"))
    }
}
