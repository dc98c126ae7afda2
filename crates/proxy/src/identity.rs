//! Who is calling: the host app's backend signs a short-lived JWT for its user; the
//! widget sends it as a Bearer token. Only the configured algorithm is accepted.

use axum::{extract::FromRequestParts, http::request::Parts};
use jsonwebtoken::{
    decode, decode_header, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::{config::HostKey, error::ProxyError, AppState};

/// The host app's user, as its backend vouched for them.
#[derive(Debug, Clone)]
pub struct HostUser {
    /// The host's user id; Tray's externalUserId.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    /// Only for the demo token endpoint, and only with a shared secret.
    signer: Option<EncodingKey>,
}

impl Verifier {
    pub fn new(host_key: &HostKey, audience: Option<&str>) -> Result<Verifier, ProxyError> {
        let (key, algorithm, signer) = match host_key {
            HostKey::Secret(secret) => (
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
                Some(EncodingKey::from_secret(secret.as_bytes())),
            ),
            HostKey::PublicPem(pem) => match DecodingKey::from_rsa_pem(pem) {
                Ok(key) => (key, Algorithm::RS256, None),
                Err(_) => (
                    DecodingKey::from_ed_pem(pem).map_err(|err| {
                        ProxyError::Config(format!(
                            "host JWT public key is neither RSA nor Ed25519 PEM: {err}"
                        ))
                    })?,
                    Algorithm::EdDSA,
                    None,
                ),
            },
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        // A token signed for later is not valid yet.
        validation.validate_nbf = true;
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Verifier {
            key,
            validation,
            signer,
        })
    }

    pub fn verify(&self, token: &str) -> Result<HostUser, ProxyError> {
        let header =
            decode_header(token).map_err(|_| unauthenticated("the user token is not a JWT"))?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(unauthenticated(
                "the user token is signed with an algorithm this proxy does not accept",
            ));
        }
        let data = decode::<Claims>(token, &self.key, &self.validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            match err.kind() {
                ErrorKind::ExpiredSignature => unauthenticated("the user token has expired"),
                ErrorKind::InvalidAudience => {
                    unauthenticated("the user token is for another audience")
                }
                ErrorKind::InvalidSignature => {
                    unauthenticated("the user token's signature is invalid")
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    unauthenticated(&format!("the user token has no `{claim}` claim"))
                }
                _ => unauthenticated("the user token is invalid"),
            }
        })?;
        let id = data.claims.sub.trim().to_owned();
        if id.is_empty() || id.len() > 256 {
            return Err(unauthenticated(
                "the user token's `sub` must be 1 to 256 characters",
            ));
        }
        Ok(HostUser {
            name: data
                .claims
                .name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| id.clone()),
            id,
        })
    }

    /// Sign a demo token (demo mode only; needs a shared secret).
    pub fn sign_demo(&self, claims: &Claims) -> Result<String, ProxyError> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            ProxyError::BadRequest("demo tokens need HOST_JWT_SECRET (HS256)".into())
        })?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, signer)
            .map_err(|err| ProxyError::Config(format!("cannot sign a demo token: {err}")))
    }
}

fn unauthenticated(message: &str) -> ProxyError {
    ProxyError::Unauthenticated(message.to_owned())
}

impl FromRequestParts<Arc<AppState>> for HostUser {
    type Rejection = ProxyError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthenticated("sign in first: no user token was sent"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        state.verifier.verify(token.trim())
    }
}
