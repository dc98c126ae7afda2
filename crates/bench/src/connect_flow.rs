//! A full connect of a two-slot integration through the proxy's JSON API, the way the
//! widget drives it, with the sandbox's auth dialog completed without a browser:
//! create, then per slot a dialog URL (fresh code), the dialog's consent form, and the
//! attach; then the config values, then enable.
//!
//! Tray forbids enabling sooner than 2 s after creation. That wait is mandatory, not the
//! proxy's cost, so the client waits it out itself before enabling and the time spent
//! waiting is subtracted (the proxy then has nothing left to wait).

use anyhow::{bail, Context};
use marketplace_wire::{self as wire, Integration, Status};
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::client::ApiClient;

/// Tray's rule, as the proxy applies it.
pub const ENABLE_DELAY: Duration = Duration::from_secs(2);

/// The timing of one connect.
#[derive(Debug, Clone, Copy)]
pub struct ConnectTiming {
    /// From the create request to the enabled answer, minus `waited`.
    pub active: Duration,
    /// Time spent waiting for the 2 s after creation (excluded from `active`).
    pub waited: Duration,
}

/// The integration to connect: the first with two auth slots (and config, if any has).
pub fn two_slot_integration(catalog: &wire::Catalog) -> anyhow::Result<&Integration> {
    let two_slots = || {
        catalog
            .integrations
            .iter()
            .filter(|i| i.auth_slots.len() == 2)
    };
    two_slots()
        .find(|i| !i.config_slots.is_empty())
        .or_else(|| two_slots().next())
        .context("the catalog has no integration with two auth slots")
}

/// Connects `integration` for the client's user and checks the result is connected.
pub async fn connect(
    api: &ApiClient,
    http: &reqwest::Client,
    integration: &Integration,
    idempotency_key: &str,
) -> anyhow::Result<ConnectTiming> {
    let started = Instant::now();
    let created = api
        .create(&integration.solution_id, idempotency_key)
        .await?;
    let enable_allowed_at = Instant::now() + ENABLE_DELAY;
    for slot in &integration.auth_slots {
        let dialog = api.auth_dialog(&created.id, &slot.external_id).await?;
        let auth_id = complete_dialog(http, &dialog.url).await?;
        api.attach_auth(&created.id, &slot.external_id, &auth_id)
            .await?;
    }
    if !integration.config_slots.is_empty() {
        api.set_config(&created.id, config_values(integration))
            .await?;
    }
    let waiting_since = Instant::now();
    tokio::time::sleep_until(enable_allowed_at.into()).await;
    let waited = waiting_since.elapsed();
    let enabled = api.enable(&created.id).await?;
    let active = started.elapsed().saturating_sub(waited);
    if enabled.status != Status::Connected
        || enabled.auth_values.len() != integration.auth_slots.len()
    {
        bail!(
            "the connect ended {:?} with {} of {} auths",
            enabled.status,
            enabled.auth_values.len(),
            integration.auth_slots.len()
        );
    }
    Ok(ConnectTiming { active, waited })
}

/// A value for every config slot: its default when it has a meaningful one, otherwise
/// something a user would type.
fn config_values(integration: &Integration) -> Vec<wire::ConfigValue> {
    integration
        .config_slots
        .iter()
        .map(|slot| {
            let value = match slot.default_value.trim() {
                "" | "\"\"" | "null" => "\"bench\"".to_owned(),
                default => default.to_owned(),
            };
            wire::ConfigValue {
                external_id: slot.external_id.clone(),
                value: Some(value),
            }
        })
        .collect()
}

/// Opens the dialog page (redeeming its code) and submits its consent form, as a user
/// in the popup would: an API key when the form asks for one, Allow otherwise.
/// Returns the new auth's id from the `tray.authpopup.finish` message.
pub async fn complete_dialog(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let page = http
        .get(url)
        .send()
        .await
        .context("opening the auth dialog")?
        .text()
        .await?;
    let session = attribute_after(&page, r#"name="session" value=""#)
        .with_context(|| format!("the dialog page has no session: {}", excerpt(&page)))?;
    let form: Vec<(&str, &str)> = if page.contains(r#"id="api_key""#) {
        vec![
            ("session", session),
            ("action", "connect"),
            ("api_key", "sk_bench_1234"),
        ]
    } else {
        vec![("session", session), ("action", "allow")]
    };
    let answer = http
        .post(url)
        .form(&form)
        .send()
        .await
        .context("submitting the auth dialog")?
        .text()
        .await?;
    let message = posted_message(&answer)?;
    if message["type"] != "tray.authpopup.finish" {
        bail!("the dialog did not finish: {message}");
    }
    message["authId"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no authId in {message}"))
}

/// The JSON the dialog posts to its opener, embedded in its final page.
fn posted_message(page: &str) -> anyhow::Result<Value> {
    let marker = r#"id="tray-message">"#;
    let start = page
        .find(marker)
        .map(|at| at + marker.len())
        .with_context(|| format!("no message in the dialog's answer: {}", excerpt(page)))?;
    let end = page[start..]
        .find("</script>")
        .map(|len| start + len)
        .context("the dialog's message is not closed")?;
    Ok(serde_json::from_str(&page[start..end])?)
}

/// The text after `prefix` up to the next double quote.
fn attribute_after<'a>(page: &'a str, prefix: &str) -> Option<&'a str> {
    let start = page.find(prefix)? + prefix.len();
    let len = page[start..].find('"')?;
    Some(&page[start..start + len])
}

fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_finish_message_and_the_session_field() {
        let page = r#"<form><input type="hidden" name="session" value="s-42"></form>"#;
        assert_eq!(
            attribute_after(page, r#"name="session" value=""#),
            Some("s-42")
        );
        let done = r#"<p>Done</p><script type="application/json" id="tray-message">{"type":"tray.authpopup.finish","authType":"oauth","authId":"a-1"}</script>"#;
        assert_eq!(posted_message(done).expect("message")["authId"], "a-1");
        assert!(posted_message("<p>Denied</p>").is_err());
    }
}
