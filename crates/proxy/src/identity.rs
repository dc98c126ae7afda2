//! Who is calling: the host app's backend signs a short-lived JWT for its user; the
//! widget sends it as a Bearer token. Only the configured algorithm is accepted.

use axum::{extract::FromRequestParts, http::request::Parts};
use jsonwebtoken::{
    decode, decode_header, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{
    config::HostKey, error::ProxyError, fairness::InFlightGuard, AppState, DEMO_JWT_SECRET,
};

/// The host app's user, as its backend vouched for them.
#[derive(Debug, Clone)]
pub struct HostUser {
    /// The host's user id; Tray's externalUserId.
    pub id: String,
    pub name: String,
    /// Counts this request among the user's under way until the handler is done with it
    /// (a change: until it ended, its caller gone or not).
    pub in_flight: Option<Arc<InFlightGuard>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    pub exp: i64,
    /// Read so that one that is no number is refused, not skipped (jsonwebtoken checks
    /// its time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// One audience or a list of them (RFC 7519); jsonwebtoken checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
}

pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    /// A token valid for longer than this from now is refused.
    max_lifetime: Duration,
    /// Only for the demo token endpoint, and only with a shared secret.
    signer: Option<EncodingKey>,
}

impl Verifier {
    pub fn new(
        host_key: &HostKey,
        audience: Option<&str>,
        max_lifetime: Duration,
    ) -> Result<Verifier, ProxyError> {
        let (key, algorithm, signer) = match host_key {
            // Only the public demo secret signs demo tokens (see `sign_demo`).
            HostKey::Secret(secret) => (
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
                (secret == DEMO_JWT_SECRET).then(|| EncodingKey::from_secret(secret.as_bytes())),
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
            // A token without `aud` would pass jsonwebtoken's check: required, so another
            // token the host signs with the same key (a session's) is not one of ours.
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.set_required_spec_claims(&["exp", "sub", "aud"]);
            }
            None => validation.validate_aud = false,
        }
        Ok(Verifier {
            key,
            validation,
            max_lifetime,
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
                // Read before the claims are checked: a missing `sub` or a `sub` that is
                // a number. Saying which tells the host's developer what to fix.
                ErrorKind::Json(json) => {
                    let reason = json.to_string();
                    let reason = reason.split(" at line ").next().unwrap_or_default();
                    unauthenticated(&format!("the user token's claims are wrong: {reason}"))
                }
                _ => unauthenticated("the user token is invalid"),
            }
        })?;
        // A host that signs tokens for days or without end (a typo in `expiresIn`, a
        // timestamp in milliseconds) would hand out tokens that work that long if leaked.
        let latest = now_secs()
            .saturating_add(self.max_lifetime.as_secs())
            .saturating_add(self.validation.leeway);
        // 0: no limit, as with the proxy's other limits.
        let limited = !self.max_lifetime.is_zero();
        if limited && u64::try_from(data.claims.exp).is_ok_and(|exp| exp > latest) {
            return Err(unauthenticated(&format!(
                "the user token is valid for too long: its `exp` must be at most {} s from now \
                 (HOST_JWT_MAX_LIFETIME_SECS)",
                self.max_lifetime.as_secs()
            )));
        }
        // Taken as it is: trimmed, " u1" and "u1" (two of the host's users, for all this
        // proxy knows) would be one.
        let id = data.claims.sub;
        if id.trim().is_empty() || id.chars().count() > 256 {
            return Err(unauthenticated(
                "the user token's `sub` must be 1 to 256 characters",
            ));
        }
        // A NUL or a line break in an id is a host's bug (and Postgres refuses NUL).
        if id.chars().any(char::is_control) {
            return Err(unauthenticated(
                "the user token's `sub` must not contain control characters",
            ));
        }
        Ok(HostUser {
            in_flight: None,
            name: display_name(data.claims.name).unwrap_or_else(|| id.clone()),
            id,
        })
    }

    /// Sign a demo token (demo mode only; needs a shared secret).
    pub fn sign_demo(&self, claims: &Claims) -> Result<String, ProxyError> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            ProxyError::BadRequest("demo tokens are signed with the public demo secret only".into())
        })?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, signer)
            .map_err(|err| ProxyError::Config(format!("cannot sign a demo token: {err}")))
    }
}

/// The user's name as Tray will show it: a name is only a label, so one the host got
/// wrong (a NUL, which Postgres refuses, or a page of text, which Tray may) is cleaned
/// and shortened rather than locking the user out.
fn display_name(name: Option<String>) -> Option<String> {
    const MAX_NAME_CHARS: usize = 200;
    let cleaned: String = name?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|&c| !crate::service::unfit_in_name(c))
        .take(MAX_NAME_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
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
        let mut user = state.verifier.verify(token.trim())?;
        if let Some(limiter) = &state.user_limiter {
            if !limiter.take(&user.id) {
                return Err(ProxyError::UserRateLimited);
            }
        }
        if let Some(in_flight) = &state.in_flight {
            let guard = in_flight
                .enter(&user.id)
                .ok_or(ProxyError::UserRateLimited)?;
            user.in_flight = Some(Arc::new(guard));
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_DAY: Duration = Duration::from_secs(24 * 3600);

    fn token(sub: &str) -> String {
        token_valid_for(sub, 600)
    }

    fn token_valid_for(sub: &str, secs: i64) -> String {
        let exp = now_secs() as i64 + secs;
        let claims = serde_json::json!({ "sub": sub, "exp": exp });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"host-secret"),
        )
        .expect("signs")
    }

    fn verifier() -> Verifier {
        Verifier::new(&HostKey::Secret("host-secret".into()), None, A_DAY).expect("a verifier")
    }

    #[test]
    fn a_token_valid_for_longer_than_the_maximum_is_refused() {
        let verifier = verifier();
        assert!(verifier.verify(&token_valid_for("u1", 24 * 3600)).is_ok());
        let err = verifier
            .verify(&token_valid_for("u1", 24 * 3600 + 120))
            .unwrap_err();
        assert!(err.to_string().contains("valid for too long"), "{err}");
        // `exp` written in milliseconds by mistake: ages ahead.
        let in_millis = token_valid_for("u1", now_secs() as i64 * 999);
        assert!(verifier.verify(&in_millis).is_err());
        // 0 is no limit; a huge limit does not wrap around to a tiny one.
        for max in [Duration::ZERO, Duration::from_secs(u64::MAX)] {
            let unlimited = Verifier::new(&HostKey::Secret("host-secret".into()), None, max)
                .expect("a verifier");
            assert!(unlimited.verify(&in_millis).is_ok(), "{max:?}");
        }
    }

    #[test]
    fn a_not_before_that_is_no_number_is_refused() {
        let claims = serde_json::json!({ "sub": "u1", "exp": now_secs() + 600, "nbf": "soon" });
        let signed = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"host-secret"),
        )
        .expect("signs");
        assert!(verifier().verify(&signed).is_err());
    }

    #[test]
    fn a_claim_missing_or_of_the_wrong_type_is_named() {
        let exp = now_secs() + 600;
        for (claims, named) in [
            (serde_json::json!({ "exp": exp }), "missing field `sub`"),
            (serde_json::json!({ "sub": "u1" }), "missing field `exp`"),
            (
                serde_json::json!({ "sub": 7, "exp": exp }),
                "invalid type: integer `7`, expected a string",
            ),
            (
                serde_json::json!({ "sub": "u1", "exp": exp, "nbf": "soon" }),
                "invalid type: string \"soon\"",
            ),
        ] {
            let signed = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"host-secret"),
            )
            .expect("signs");
            let err = verifier().verify(&signed).unwrap_err().to_string();
            assert!(err.contains(named), "{claims}: {err}");
            assert!(!err.contains("line 1"), "{err}");
        }
    }

    #[test]
    fn a_name_is_cleaned_and_shortened_not_refused() {
        assert_eq!(
            display_name(Some("Ana\0 Lima\n".into())).as_deref(),
            Some("Ana  Lima")
        );
        assert_eq!(
            display_name(Some("\u{202e}Ana".into())).as_deref(),
            Some("Ana")
        );
        let long = display_name(Some("ü".repeat(200_000))).expect("a name");
        assert_eq!(long.chars().count(), 200);
        assert_eq!(
            display_name(Some(" \t ".into())),
            None,
            "blank: the id stands in"
        );
        assert_eq!(display_name(None), None);
    }

    #[test]
    fn a_sub_is_the_hosts_user_id_exactly() {
        let verifier = verifier();
        let user = verifier.verify(&token(" u1")).expect("valid");
        assert_eq!(user.id, " u1", "not merged with u1");
        assert!(verifier.verify(&token("  ")).is_err(), "blank");
    }

    #[test]
    fn a_sub_with_control_characters_or_too_long_is_refused() {
        let verifier = verifier();
        for bad in ["\0", "u1\0", "u1\n", "u\u{7f}1"] {
            let err = verifier.verify(&token(bad)).unwrap_err();
            assert!(
                err.to_string().contains("control characters"),
                "{bad:?}: {err}"
            );
        }
        let long = "ü".repeat(256);
        assert!(
            verifier.verify(&token(&long)).is_ok(),
            "256 characters, 512 bytes"
        );
        assert!(verifier.verify(&token(&format!("{long}x"))).is_err());
    }
}
