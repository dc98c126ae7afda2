//! The JSON the widget and the proxy exchange.
//!
//! Both sides compile these types, so a renamed field breaks the build instead of the
//! page. Everything is camelCase on the wire. Tray's own shapes never appear here: the
//! proxy translates them, and no Tray token or authorization code is part of any type
//! except [`AuthDialog::url`], whose single-use code is the point of the popup.

use serde::{Deserialize, Serialize};

/// Every route of the widget API lives under this prefix.
pub const API_PREFIX: &str = "/api/v1";

/// Whether a connection's name shows anything: a name of spaces, zero-width characters,
/// fillers or other invisible marks reads as blank in every list (both sides refuse a
/// rename to one, and a create asking for one gets the integration's title).
pub fn shows_something(name: &str) -> bool {
    name.chars().any(|c| !is_invisible(c))
}

fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// `GET /api/v1/integrations`: the catalog merged with the caller's instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    pub integrations: Vec<Integration>,
    /// Origin of Tray's auth dialog: the only origin whose messages the widget accepts.
    pub dialog_origin: String,
}

/// One solution the host offers, with what the user has made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub solution_id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    /// At most one instance per user (Tray custom field `forceUnique`).
    #[serde(default)]
    pub force_unique: bool,
    /// Enable the instance once set up, unless the solution sets `disableAutoEnable`.
    #[serde(default = "default_true")]
    pub auto_enable: bool,
    #[serde(default)]
    pub auth_slots: Vec<AuthSlot>,
    #[serde(default)]
    pub config_slots: Vec<ConfigSlot>,
    #[serde(default)]
    pub instances: Vec<Instance>,
}

fn default_true() -> bool {
    true
}

impl Integration {
    /// The status shown on the catalog card: the most urgent of the user's instances.
    pub fn status(&self) -> Status {
        self.instances
            .iter()
            .map(|instance| instance.status)
            .max_by_key(|status| status.urgency())
            .unwrap_or(Status::NotConnected)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSlot {
    pub external_id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSlot {
    pub external_id: String,
    pub title: String,
    /// JSON text, as Tray stores it: `"\"text\""`, `"7"`, `"true"`, `"{\"k\":1}"`.
    pub default_value: String,
}

/// A user's connection: one Tray solution instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: String,
    pub solution_id: String,
    pub name: String,
    pub enabled: bool,
    pub status: Status,
    #[serde(default)]
    pub auth_values: Vec<AuthValue>,
    #[serde(default)]
    pub config_values: Vec<ConfigValue>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The user saved its settings (or it was enabled once): a setup resumed after a
    /// reload goes on past them instead of asking again.
    #[serde(default)]
    pub settings_confirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthValue {
    pub external_id: String,
    pub auth_id: String,
    /// Tray warned that this auth expires soon: the user should re-authorize.
    #[serde(default)]
    pub expiring: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    pub external_id: String,
    /// JSON text; `None` when the slot has no value yet.
    #[serde(default)]
    pub value: Option<String>,
}

/// What the user sees on a card or an instance row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotConnected,
    /// Created and never enabled yet: auth or config slots may still be missing.
    SettingUp,
    /// Enabled and complete.
    Connected,
    /// Turned off after having been enabled.
    Disabled,
    /// A new solution version needs the user's input.
    NeedsUpdate,
    /// Tray announced that an auth expires: reconnect needed.
    AuthExpiring,
}

impl Status {
    /// Higher is more urgent; the card shows the most urgent of its instances.
    pub fn urgency(self) -> u8 {
        match self {
            Status::NotConnected => 0,
            Status::Disabled => 1,
            Status::Connected => 2,
            Status::SettingUp => 3,
            Status::NeedsUpdate => 4,
            Status::AuthExpiring => 5,
        }
    }
}

/// `POST /api/v1/instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInstance {
    pub solution_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The same key always yields the same instance: a double click creates one.
    pub idempotency_key: String,
}

/// `POST /api/v1/instances/{id}/auth-dialog`: either a slot to fill or an auth to redo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthDialogRequest {
    #[serde(default)]
    pub slot: Option<String>,
    #[serde(default)]
    pub auth_id: Option<String>,
}

/// Where to send the popup, and the origin its messages must come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthDialog {
    pub url: String,
    pub origin: String,
}

/// `PUT /api/v1/instances/{id}/auths/{slot}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachAuth {
    pub auth_id: String,
}

/// `PUT /api/v1/instances/{id}/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetConfig {
    pub values: Vec<ConfigValue>,
}

/// `PATCH /api/v1/instances/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstance {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `POST /api/v1/instances/{id}/upgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeInstance {
    #[serde(default)]
    pub auth_values: Vec<AuthValue>,
    #[serde(default)]
    pub config_values: Vec<ConfigValue>,
}

/// `POST /demo/token` (only with the proxy's demo flag): stands in for the host app's
/// backend, which in production signs the user's JWT itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoTokenRequest {
    /// The host app's user id (becomes Tray's externalUserId).
    pub user_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoToken {
    /// A host-user JWT, sent by the widget as `Authorization: Bearer <token>`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The one error shape of the API: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthenticated`, `not_found`, ...
    pub code: String,
    /// For people; may change between releases.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_of_invisible_characters_shows_nothing() {
        for blank in [
            "",
            "  ",
            "\u{200b}",
            "\u{2060}\u{200d}",
            "\u{3164}",
            "\u{feff} \u{2800}",
        ] {
            assert!(!shows_something(blank), "{blank:?}");
        }
        for name in ["Slack", " a ", "\u{200b}x", "👍", "إشعارات", "\u{3164}한"] {
            assert!(shows_something(name), "{name:?}");
        }
    }

    fn instance(status: Status) -> Instance {
        Instance {
            id: "i".into(),
            solution_id: "s".into(),
            name: "n".into(),
            enabled: status == Status::Connected,
            status,
            auth_values: vec![],
            config_values: vec![],
            created_at: 0,
            settings_confirmed: false,
        }
    }

    #[test]
    fn card_status_is_the_most_urgent_instance() {
        let mut integration = Integration {
            solution_id: "s".into(),
            title: "Slack".into(),
            description: None,
            tags: vec![],
            icon_url: None,
            force_unique: false,
            auto_enable: true,
            auth_slots: vec![],
            config_slots: vec![],
            instances: vec![],
        };
        assert_eq!(integration.status(), Status::NotConnected);
        integration.instances = vec![instance(Status::Connected), instance(Status::AuthExpiring)];
        assert_eq!(integration.status(), Status::AuthExpiring);
    }

    #[test]
    fn status_is_snake_case_on_the_wire() {
        let json = serde_json::to_string(&Status::NeedsUpdate).expect("serializes");
        assert_eq!(json, "\"needs_update\"");
        let back: Status = serde_json::from_str("\"auth_expiring\"").expect("parses");
        assert_eq!(back, Status::AuthExpiring);
    }

    #[test]
    fn integration_fields_are_camel_case_and_auto_enable_defaults_on() {
        let parsed: Integration =
            serde_json::from_str(r#"{"solutionId":"s1","title":"Slack","forceUnique":true}"#)
                .expect("parses");
        assert!(parsed.force_unique);
        assert!(parsed.auto_enable);
        assert!(parsed.instances.is_empty());
    }
}
