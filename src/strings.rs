//! Every user-visible string, in English and German. The host picks a language with
//! the `locale` option (default: the browser's language) and may override any string
//! by its key, e.g. `strings: { connect: "Link" }`. `{}` marks where a name goes.

/// A shipped language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    De,
}

impl Locale {
    /// `de`, `de-AT`, … pick German; anything else falls back to English.
    pub fn from_tag(tag: &str) -> Locale {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("de") {
            Locale::De
        } else {
            Locale::En
        }
    }
}

macro_rules! strings {
    ($($key:ident: $en:literal, $de:literal;)*) => {
        /// The key of a string; its name is what a host uses to override it.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Key { $($key),* }

        impl Key {
            pub const ALL: &'static [Key] = &[$(Key::$key),*];

            pub fn name(self) -> &'static str {
                match self { $(Key::$key => stringify!($key)),* }
            }

            fn text(self, locale: Locale) -> &'static str {
                match locale {
                    Locale::En => match self { $(Key::$key => $en),* },
                    Locale::De => match self { $(Key::$key => $de),* },
                }
            }
        }
    };
}

strings! {
    widget_label: "Integrations", "Integrationen";
    search_label: "Search integrations", "Integrationen durchsuchen";
    search_placeholder: "Search…", "Suchen…";
    tag_label: "Category", "Kategorie";
    all_tags: "All categories", "Alle Kategorien";
    connected_only: "Connected only", "Nur verbundene";
    loading: "Loading integrations…", "Integrationen werden geladen…";
    empty: "No integrations match your search.", "Keine Integration passt zu Ihrer Suche.";
    no_connections: "No connections yet. Connect an integration to see it here.", "Noch keine Verbindungen. Verbinden Sie eine Integration, um sie hier zu sehen.";
    matches: "Integrations shown: {}", "Angezeigte Integrationen: {}";
    load_failed: "Could not load integrations: {}", "Integrationen konnten nicht geladen werden: {}";
    retry: "Try again", "Erneut versuchen";
    status_not_connected: "Not connected", "Nicht verbunden";
    status_setting_up: "Setting up", "Wird eingerichtet";
    status_connected: "Connected", "Verbunden";
    status_disabled: "Disabled", "Deaktiviert";
    status_needs_update: "Update needed", "Aktualisierung nötig";
    status_auth_expiring: "Reconnect needed", "Erneute Anmeldung nötig";
    connect: "Connect", "Verbinden";
    manage: "Manage", "Verwalten";
    finish_setup: "Finish setting up", "Einrichtung abschließen";
    add_another: "Add another", "Weitere hinzufügen";
    close: "Close", "Schließen";
    cancel: "Cancel", "Abbrechen";
    authorize: "Authorize {}", "{} autorisieren";
    authorized: "{} authorized", "{} autorisiert";
    reauthorize: "Reconnect {}", "{} neu verbinden";
    reauthorize_expiring: "Reconnect {}: its sign-in expires soon", "{} neu verbinden: die Anmeldung läuft bald ab";
    waiting: "Waiting for the sign-in window…", "Warte auf das Anmeldefenster…";
    popup_blocked: "Your browser blocked the sign-in window.", "Ihr Browser hat das Anmeldefenster blockiert.";
    open_popup: "Open sign-in window", "Anmeldefenster öffnen";
    still_waiting: "Still waiting? The sign-in window was closed.", "Warten Sie noch? Das Anmeldefenster wurde geschlossen.";
    reopen: "Reopen", "Erneut öffnen";
    attaching: "Saving the sign-in…", "Anmeldung wird gespeichert…";
    sign_in_cancelled: "Sign-in cancelled.", "Anmeldung abgebrochen.";
    dialog_failed: "Sign-in failed: {}", "Anmeldung fehlgeschlagen: {}";
    dialog_failed_unexplained: "Sign-in failed. Please try again.", "Anmeldung fehlgeschlagen. Bitte versuchen Sie es erneut.";
    settings: "Settings", "Einstellungen";
    save: "Save", "Speichern";
    not_a_number: "Enter a number, without thousands separators.", "Bitte eine Zahl ohne Tausenderpunkte eingeben.";
    number_too_large: "That number is too large.", "Diese Zahl ist zu groß.";
    number_required: "Enter a number.", "Bitte eine Zahl eingeben.";
    not_json: "Enter valid JSON.", "Bitte gültiges JSON eingeben.";
    not_json_object: "Enter a JSON object, like {\"key\": \"value\"}.", "Bitte ein JSON-Objekt eingeben, etwa {\"key\": \"value\"}.";
    not_json_list: "Enter a JSON list, like [1, 2].", "Bitte eine JSON-Liste eingeben, etwa [1, 2].";
    enable: "Enable", "Aktivieren";
    disable: "Disable", "Deaktivieren";
    rename: "Rename", "Umbenennen";
    name_label: "Name", "Name";
    name_required: "Enter a name.", "Bitte einen Namen eingeben.";
    update: "Update", "Aktualisieren";
    update_now: "Update now", "Jetzt aktualisieren";
    update_hint: "A new version needs your input.", "Eine neue Version braucht Ihre Angaben.";
    update_authorize_first: "A new version needs your input: first authorize {} below.", "Eine neue Version braucht Ihre Angaben: Autorisieren Sie zuerst {} (unten).";
    delete: "Delete", "Löschen";
    confirm_delete: "Delete “{}”? This cannot be undone.", "„{}“ löschen? Das lässt sich nicht rückgängig machen.";
    setup_done: "{} is set up.", "{} ist eingerichtet.";
    setup_done_off: "{} is set up, and stays off until you enable it.", "{} ist eingerichtet und bleibt aus, bis Sie es aktivieren.";
    done: "Done", "Fertig";
    all_connections: "All connections", "Alle Verbindungen";
    network_failed: "The server could not be reached.", "Der Server ist nicht erreichbar.";
    unexpected_answer: "The server sent an answer the widget cannot read.", "Die Antwort des Servers ist unlesbar.";
    service_unavailable: "The integration service is not answering right now. Try again in a moment.", "Der Integrationsdienst antwortet gerade nicht. Versuchen Sie es gleich noch einmal.";
    service_busy: "Too many requests right now. Try again in a moment.", "Gerade gibt es zu viele Anfragen. Versuchen Sie es gleich noch einmal.";
    service_failed: "The server could not do this. Try again later.", "Der Server konnte das nicht ausführen. Versuchen Sie es später noch einmal.";
    session_expired: "Your session has expired. Reload the page to sign in again.", "Ihre Sitzung ist abgelaufen. Laden Sie die Seite neu, um sich wieder anzumelden.";
    session_expired_kept: "Your session has expired. Your sign-in is kept: try again once you are signed in.", "Ihre Sitzung ist abgelaufen. Ihre Anmeldung bleibt erhalten: Versuchen Sie es erneut, sobald Sie wieder angemeldet sind.";
    connected_announce: "{} connected", "{} verbunden";
    updated_announce: "{} updated", "{} aktualisiert";
    enabled_announce: "{} enabled", "{} aktiviert";
    disabled_announce: "{} disabled", "{} deaktiviert";
    gone: "{} no longer exists.", "{} existiert nicht mehr.";
    not_saved: "{}: your change was not saved.", "{}: Ihre Änderung wurde nicht gespeichert.";
    too_large: "That is too much to save at once. Shorten what you entered.", "Das ist zu viel, um es auf einmal zu speichern. Kürzen Sie Ihre Eingabe.";
    under_way_elsewhere: "This is being set up elsewhere already. Try again in a moment.", "Das wird gerade anderswo eingerichtet. Versuchen Sie es gleich noch einmal.";
    limit_reached: "You have as many connections as this app allows. Delete one to add another.", "Sie haben so viele Verbindungen, wie diese App erlaubt. Löschen Sie eine, um eine weitere hinzuzufügen.";
    deleted_announce: "{} deleted", "{} gelöscht";
    failed: "Something went wrong: {}", "Etwas ist schiefgelaufen: {}";
}

/// The strings of one mounted widget: a language plus the host's overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Strings {
    pub locale: Option<Locale>,
    pub overrides: Vec<(String, String)>,
}

impl Strings {
    pub fn new(locale: Locale, overrides: Vec<(String, String)>) -> Strings {
        Strings {
            locale: Some(locale),
            overrides,
        }
    }

    /// The decimal separator users of the widget's language type.
    pub fn decimal_separator(&self) -> char {
        match self.locale.unwrap_or(Locale::En) {
            Locale::En => '.',
            Locale::De => ',',
        }
    }

    /// The BCP 47 tag of the widget's language, for its `lang` attribute.
    pub fn lang(&self) -> &'static str {
        match self.locale.unwrap_or(Locale::En) {
            Locale::En => "en",
            Locale::De => "de",
        }
    }

    pub fn get(&self, key: Key) -> String {
        let name = key.name();
        self.overrides
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| key.text(self.locale.unwrap_or(Locale::En)).to_owned())
    }

    /// The text with its first `{}` replaced by `arg` (a host's text without one is
    /// taken as it is). A plain byte scan: std's substring search (`replacen`) costs 2 KB
    /// of wasm for this one call.
    pub fn fill(&self, key: Key, arg: &str) -> String {
        match self.around(key) {
            (before, Some(after)) => [before.as_str(), arg, after.as_str()].concat(),
            (text, None) => text,
        }
    }

    /// The text before the placeholder and, if it has one, after it: for a view that
    /// sets the value apart, as a `<bdi>` isolates a name written right to left.
    pub fn around(&self, key: Key) -> (String, Option<String>) {
        let mut text = self.get(key);
        match text.as_bytes().windows(2).position(|pair| pair == b"{}") {
            Some(at) => {
                let after = text[at + 2..].to_owned();
                text.truncate(at);
                (text, Some(after))
            }
            None => (text, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_text_without_a_placeholder_is_taken_as_it_is() {
        let strings = Strings::new(
            Locale::En,
            vec![("deleted_announce".into(), "Connection deleted".into())],
        );
        assert_eq!(
            strings.fill(Key::deleted_announce, "Slack"),
            "Connection deleted"
        );
        assert_eq!(strings.fill(Key::gone, "Slack"), "Slack no longer exists.");
    }

    #[test]
    fn german_is_picked_by_language_tag_and_english_is_the_fallback() {
        assert_eq!(Locale::from_tag("de-AT"), Locale::De);
        assert_eq!(Locale::from_tag("fr-FR"), Locale::En);
        assert_eq!(Locale::from_tag(""), Locale::En);
    }

    #[test]
    fn host_overrides_win_and_placeholders_are_filled() {
        let strings = Strings::new(Locale::De, vec![("connect".into(), "Link".into())]);
        assert_eq!(strings.get(Key::connect), "Link");
        assert_eq!(strings.fill(Key::authorize, "Slack"), "Slack autorisieren");
    }

    #[test]
    fn every_german_string_differs_or_is_a_shared_word() {
        let shared = ["name_label"];
        for key in Key::ALL {
            if !shared.contains(&key.name()) {
                assert_ne!(key.text(Locale::En), key.text(Locale::De), "{}", key.name());
            }
        }
    }

    /// A host overrides strings by these keys: the docs list every one, as it reads.
    #[test]
    fn the_docs_list_every_key_with_its_english_text() {
        let docs = include_str!("../docs/widget.md");
        let listed = &docs[docs.find("## Strings").expect("a Strings section")..];
        for key in Key::ALL {
            let row = format!(
                "| `{}` | {} |",
                key.name(),
                key.text(Locale::En).replace('|', "\\|")
            );
            assert!(listed.contains(&row), "docs/widget.md lacks {row}");
        }
    }
}
