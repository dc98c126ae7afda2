//! What the views show, kept apart from how they show it: pure functions the tests
//! call without a proxy.

pub mod config_form;

use marketplace_wire::{AuthSlot, Catalog, ConfigSlot, Instance, Integration, Status};

use crate::{api::ApiError, strings::Key};

/// The catalog as the widget knows it at one moment.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogState {
    Loading,
    Loaded(Catalog),
    Failed(ApiError),
}

impl CatalogState {
    pub fn integration(&self, solution_id: &str) -> Option<Integration> {
        match self {
            CatalogState::Loaded(catalog) => catalog
                .integrations
                .iter()
                .find(|i| i.solution_id == solution_id)
                .cloned(),
            _ => None,
        }
    }
}

/// What the user narrowed the catalog to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub query: String,
    /// The category's key ([`tag_key`]).
    pub tag: Option<String>,
    pub connected_only: bool,
}

impl Filter {
    /// Every word of the text is in the title, the description or a tag, ignoring
    /// case and accents: "jira slack" finds Jira issues to Slack, "cafe" finds Café.
    pub fn matches(&self, integration: &Integration) -> bool {
        // No query, no folding: the first render (every card asks) calls no JS for it.
        let query: String = if self.query.trim().is_empty() {
            String::new()
        } else {
            folded(&self.query).into()
        };
        let text_matches = query.split_whitespace().all(|word| {
            let found = |text: &str| folded(text).includes(word, 0);
            found(&integration.title)
                || integration.description.as_deref().is_some_and(found)
                || integration.tags.iter().any(|t| found(t))
        });
        let tag_matches = self
            .tag
            .as_ref()
            .is_none_or(|key| integration.tags.iter().any(|tag| same_tag(tag, key)));
        // An instance still being set up is not a connection yet.
        let connection_matches = !self.connected_only
            || integration
                .instances
                .iter()
                .any(|i| i.status != Status::SettingUp);
        text_matches && tag_matches && connection_matches
    }
}

/// `text` as search compares it: decomposed, without its accents, lower case ("Café"
/// and "cafe" alike, "İstanbul" and "istanbul" too). Done by the browser: Rust's
/// Unicode tables and substring search would add about 9 KB gzip to the wasm.
fn folded(text: &str) -> js_sys::JsString {
    let accents = js_sys::RegExp::new(r"[\u0300-\u036f]", "g");
    js_sys::JsString::from(text)
        .normalize("NFKD")
        .replace_by_pattern(&accents, "")
        .to_lower_case()
}

/// A tag as the category filter knows it: without spaces around it, composed alike (as
/// search reads it) and in lower case, so "CRM ", "crm", or "Café" stored composed and
/// decomposed, are one category.
pub fn tag_key(tag: &str) -> String {
    js_sys::JsString::from(tag.trim())
        .normalize("NFKC")
        .to_lower_case()
        .into()
}

/// Whether `tag` is the category `key`; without a call to the browser for plain ASCII
/// (the filter asks for every tag of every card, on every keystroke).
pub fn same_tag(tag: &str, key: &str) -> bool {
    if tag.is_ascii() {
        tag.trim().eq_ignore_ascii_case(key)
    } else {
        tag_key(tag) == key
    }
}

/// Every category of the catalog once, as first spelled (without spaces around it), in
/// the reader's alphabetical order: the collation of the browser's language ("Æsthetik"
/// among the A's, "Straße" beside "Strasse", "Übersetzung" beside "Tools").
pub fn all_tags(integrations: &[Integration]) -> Vec<String> {
    let collator = js_sys::Intl::Collator::new(&js_sys::Array::new(), &js_sys::Object::new());
    let compare = collator.compare();
    let before = |a: &str, b: &str| {
        compare
            .call2(&wasm_bindgen::JsValue::NULL, &a.into(), &b.into())
            .ok()
            .and_then(|order| order.as_f64())
            .is_some_and(|order| order < 0.0)
    };
    // Sorted insertion instead of `sort`: a handful of tags, and std's sort adds 3 KB.
    let mut keys: Vec<String> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for tag in integrations.iter().flat_map(|i| &i.tags) {
        let key = tag_key(tag);
        // An empty tag names no category (and its option would be "All categories"').
        if key.is_empty() || keys.contains(&key) {
            continue;
        }
        keys.push(key);
        let tag = tag.trim();
        let at = tags.partition_point(|listed| !before(tag, listed));
        tags.insert(at, tag.to_owned());
    }
    tags
}

pub fn status_key(status: Status) -> Key {
    match status {
        Status::NotConnected => Key::status_not_connected,
        Status::SettingUp => Key::status_setting_up,
        Status::Connected => Key::status_connected,
        Status::Disabled => Key::status_disabled,
        Status::NeedsUpdate => Key::status_needs_update,
        Status::AuthExpiring => Key::status_auth_expiring,
    }
}

/// The CSS modifier of a status badge.
pub fn status_class(status: Status) -> &'static str {
    match status {
        Status::NotConnected => "tm-badge tm-badge--none",
        Status::SettingUp => "tm-badge tm-badge--setup",
        Status::Connected => "tm-badge tm-badge--ok",
        Status::Disabled => "tm-badge tm-badge--off",
        Status::NeedsUpdate => "tm-badge tm-badge--update",
        Status::AuthExpiring => "tm-badge tm-badge--expiring",
    }
}

/// What the card's main button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardAction {
    Connect,
    FinishSetup(String),
    Manage,
}

/// A setup left unfinished is resumed from the card only when it is the integration's
/// one connection: beside others, the card opens the list, where its row offers
/// "Finish setting up" and the other connections stay in reach.
pub fn card_action(integration: &Integration) -> CardAction {
    match integration.instances.as_slice() {
        [] => CardAction::Connect,
        [only] if only.status == Status::SettingUp => CardAction::FinishSetup(only.id.clone()),
        _ => CardAction::Manage,
    }
}

/// The connection of `integration` whose setup never finished (never enabled), if any:
/// beside others, where its dialog leads the user on.
pub fn unfinished_setup(integration: &Integration) -> Option<&Instance> {
    integration
        .instances
        .iter()
        .find(|i| i.status == Status::SettingUp && !i.enabled)
}

/// What an empty grid says: with "Connected only" ticked and nothing connected at all,
/// that there is no connection yet; else that nothing matches the search.
pub fn nothing_shown(integrations: &[Integration], filter: &Filter) -> Key {
    let connected = Filter {
        connected_only: true,
        ..Filter::default()
    };
    if filter.connected_only && !integrations.iter().any(|i| connected.matches(i)) {
        Key::no_connections
    } else {
        Key::empty
    }
}

/// The name a new instance of `integration` gets: its title, or "Title 2", "Title 3"…
/// when an instance already bears it, so two connections of one service can be told
/// apart before the user renames either.
pub fn new_instance_name(integration: &Integration) -> String {
    let taken = |name: &str| integration.instances.iter().any(|i| i.name == name);
    let title = &integration.title;
    let mut name = title.clone();
    let mut number = 1;
    while taken(&name) {
        number += 1;
        name = format!("{title} {number}");
    }
    name
}

/// Another instance may be added unless the solution allows only one.
pub fn can_add_instance(integration: &Integration) -> bool {
    !integration.force_unique || integration.instances.is_empty()
}

/// Where a half-done setup continues: the first missing auth, then the config, then
/// enabling (when the solution enables automatically).
///
/// Tray may pre-fill config slots with their defaults when the instance is created, so
/// a filled slot does not mean the user saw it: until `configured` (the user saved the
/// form in this setup), an instance still being set up shows the config step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupStep {
    Authorize(AuthSlot),
    Configure,
    Enable,
    Done,
}

/// The settings of the instance's own version: those it holds values for (Tray fills
/// them at creation), all of `slots` when it holds none. A newer version's settings are
/// the upgrade's (a version awaiting the user's or the host's input; Tray refuses them
/// in a plain change): one awaiting the user that holds no values has none of its own.
pub fn own_config_slots(slots: &[ConfigSlot], instance: &Instance) -> Vec<ConfigSlot> {
    let held = |slot: &&ConfigSlot| {
        instance
            .config_values
            .iter()
            .any(|value| value.external_id == slot.external_id)
    };
    let none_held = instance.config_values.is_empty();
    slots
        .iter()
        .filter(|slot| (none_held && instance.status != Status::NeedsUpdate) || held(slot))
        .cloned()
        .collect()
}

pub fn next_setup_step(
    integration: &Integration,
    instance: &Instance,
    configured: bool,
) -> SetupStep {
    let missing_auth = integration.auth_slots.iter().find(|slot| {
        !instance
            .auth_values
            .iter()
            .any(|v| v.external_id == slot.external_id)
    });
    if let Some(slot) = missing_auth {
        return SetupStep::Authorize(slot.clone());
    }
    // Its own version's: a newer one's settings come with its upgrade (the host's, for
    // a version that needs only the host), not in this setup.
    let own_slots = own_config_slots(&integration.config_slots, instance);
    let missing_config = own_slots.iter().any(|slot| {
        !instance
            .config_values
            .iter()
            .any(|v| v.external_id == slot.external_id && v.value.is_some())
    });
    let unconfirmed = !configured
        && !instance.settings_confirmed
        && !own_slots.is_empty()
        && !instance.enabled
        && (instance.status == Status::SettingUp || !integration.auto_enable);
    if missing_config || unconfirmed {
        SetupStep::Configure
    } else if integration.auto_enable && !instance.enabled {
        SetupStep::Enable
    } else {
        SetupStep::Done
    }
}

/// How many connections the catalog lists, of every integration.
pub fn connection_count(catalog: &CatalogState) -> usize {
    match catalog {
        CatalogState::Loaded(catalog) => {
            catalog.integrations.iter().map(|i| i.instances.len()).sum()
        }
        _ => 0,
    }
}

/// Whether `integration` lists instance `id`.
pub fn lists(integration: &Integration, id: &str) -> bool {
    integration.instances.iter().any(|i| i.id == id)
}

/// What one instance's row shows: the integration with only that instance, so a
/// change to one of its other instances is no change to this row.
pub fn row_of(integration: &Integration, instance_id: &str) -> Option<Integration> {
    let instance = integration
        .instances
        .iter()
        .find(|i| i.id == instance_id)?
        .clone();
    Some(Integration {
        instances: vec![instance],
        ..integration.clone()
    })
}

pub fn has_auth(instance: &Instance, slot: &AuthSlot) -> bool {
    instance
        .auth_values
        .iter()
        .any(|v| v.external_id == slot.external_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack_with(names: &[&str]) -> Integration {
        let instance = |(n, name): (usize, &&str)| Instance {
            id: format!("i{n}"),
            solution_id: "slack".into(),
            name: name.to_string(),
            enabled: true,
            status: Status::Connected,
            auth_values: vec![],
            config_values: vec![],
            created_at: 0,
            settings_confirmed: false,
        };
        Integration {
            solution_id: "slack".into(),
            title: "Slack".into(),
            description: None,
            tags: vec![],
            icon_url: None,
            force_unique: false,
            auto_enable: true,
            auth_slots: vec![],
            config_slots: vec![],
            instances: names.iter().enumerate().map(instance).collect(),
        }
    }

    #[test]
    fn a_new_instance_gets_a_name_no_other_instance_bears() {
        assert_eq!(new_instance_name(&slack_with(&[])), "Slack");
        assert_eq!(new_instance_name(&slack_with(&["Slack"])), "Slack 2");
        assert_eq!(
            new_instance_name(&slack_with(&["Slack", "Slack 3", "Slack 2"])),
            "Slack 4"
        );
        // Renamed away: the title is free again.
        assert_eq!(new_instance_name(&slack_with(&["Sales"])), "Slack");
    }
}
