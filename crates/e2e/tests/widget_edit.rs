//! Editing a connection through the widget: rename, config, disable/enable,
//! re-authorize (Tray's edit dialog in the real popup), delete.

use e2e::{Browser, Error, Stack};
use std::time::Duration;

const SLACK: &str = "3f1c9a52-6d0e-4d8b-9a51-0c1f6f2e7a01";

/// Sets up "Slack notifications" through the widget: its one auth, then its config.
async fn connect_slack(browser: &Browser) -> Result<(), Error> {
    browser.click_card_action("Slack notifications").await?;
    browser.authorize_in_popup(".tm-authorize", "key").await?;
    browser
        .widget_wait(
            "return root.querySelector('input[name=external_channel]')?.value === '#general';",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    browser.widget_click(".tm-save").await?;
    browser
        .widget_wait_text(".tm-setup-done", "is set up")
        .await?;
    browser.widget_click(".tm-done").await
}

#[tokio::test]
async fn edit_and_delete_a_connection() -> Result<(), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;

    // Set up Slack notifications (one auth slot, two config slots).
    connect_slack(&browser).await?;

    // Rename: an empty name is refused, a real one is saved.
    browser.widget_click(".tm-rename-open").await?;
    browser.widget_type(".tm-name", "   ").await?;
    browser.widget_click(".tm-rename .tm-save").await?;
    browser
        .widget_wait_text(".tm-rename .tm-field-error", "Enter a name.")
        .await?;
    browser.widget_type(".tm-name", "Team alerts").await?;
    browser.widget_click(".tm-rename .tm-save").await?;
    browser
        .widget_wait_text(".tm-instance-name", "Team alerts")
        .await?;

    // Config: an invalid value is refused with a message, a valid one is saved.
    browser.widget_click(".tm-settings").await?;
    browser
        .widget_type("input[name=external_channel]", "#ops")
        .await?;
    browser.widget_click(".tm-config .tm-save").await?;
    // Saved: the editor closes (the live region already says "Team alerts updated",
    // from the rename).
    browser
        .widget_wait(
            "return !root.querySelector('.tm-config');",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    browser
        .widget_wait_text(".tm-sr", "Team alerts updated")
        .await?;
    browser.widget_click(".tm-settings").await?;
    browser
        .widget_wait(
            "return root.querySelector('input[name=external_channel]')?.value === '#ops';",
            vec![],
            Duration::from_secs(20),
        )
        .await?;

    // Disable, then enable.
    browser.widget_wait_text(".tm-toggle", "Disable").await?;
    browser.widget_click(".tm-toggle").await?;
    browser
        .wait_card_badge("Slack notifications", "Disabled")
        .await?;
    browser.widget_wait_text(".tm-toggle", "Enable").await?;
    browser.widget_click(".tm-toggle").await?;
    browser
        .wait_card_badge("Slack notifications", "Connected")
        .await?;

    // Re-authorize through Tray's edit dialog.
    browser
        .widget_wait_text(".tm-reauth .tm-authorize", "Reconnect Slack workspace")
        .await?;
    browser.count_updated_events().await?;
    browser
        .authorize_in_popup(".tm-reauth .tm-authorize", "key")
        .await?;
    browser
        .widget_wait(
            "return window.__updatedEvents >= 1;",
            vec![],
            Duration::from_secs(20),
        )
        .await?;

    // Delete, with confirmation.
    browser.widget_click(".tm-delete").await?;
    browser
        .widget_wait_text(".tm-confirm", "Delete “Team alerts”?")
        .await?;
    browser.widget_click(".tm-confirm-delete").await?;
    browser
        .wait_card_badge("Slack notifications", "Not connected")
        .await?;
    browser.close().await
}

/// A 200-character name without a space, on a phone-sized window: the dialog wraps it
/// in its row and in the delete confirmation instead of growing past the screen.
#[tokio::test]
async fn a_long_unbroken_name_fits_a_narrow_window() -> Result<(), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    browser.client.set_window_size(320, 800).await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    connect_slack(&browser).await?;
    let name: String = "SalesNotificationsEMEA"
        .repeat(10)
        .chars()
        .take(200)
        .collect();
    browser.widget_click(".tm-rename-open").await?;
    browser.widget_type(".tm-name", &name).await?;
    browser.widget_click(".tm-rename .tm-save").await?;
    browser.widget_wait_text(".tm-instance-name", &name).await?;
    browser.widget_click(".tm-delete").await?;
    browser.widget_wait_text(".tm-confirm", "Delete").await?;
    let overflow = browser
        .widget_wait(
            "const dialog = root.querySelector('.tm-dialog');
             const widget = root.querySelector('.tm-root');
             return [dialog.scrollWidth - dialog.clientWidth, widget.scrollWidth - widget.clientWidth];",
            vec![],
            Duration::from_secs(5),
        )
        .await?;
    assert_eq!(
        overflow,
        serde_json::json!([0, 0]),
        "sideways overflow (dialog, widget)"
    );
    browser.close().await
}

/// At 400 % zoom (a 320 px wide, short window) a dialog scrolls: a control Tab brings
/// into view at its edge shows its whole focus ring, not a ring cut by the edge.
#[tokio::test]
async fn a_focus_ring_at_a_zoomed_dialogs_edge_shows_whole() -> Result<(), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    browser.client.set_window_size(320, 260).await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    browser.click_card_action("Slack notifications").await?;
    browser
        .widget_wait_text(".tm-authorize", "Authorize")
        .await?;
    // Tab to the dialog's last button, below the fold of the short window.
    let mut tabs = 0;
    while !browser.widget_has(".tm-show-all:focus").await? {
        browser.press(fantoccini::key::Key::Tab).await?;
        tabs += 1;
        assert!(tabs < 20, "Tab never reached the dialog's last button");
    }
    // The ring: 2 px wide, 2 px away from the button.
    let room = browser
        .widget_wait(
            "const dialog = root.querySelector('.tm-dialog');
             const edge = dialog.getBoundingClientRect().top + dialog.clientTop + dialog.clientHeight;
             return edge - (root.activeElement.getBoundingClientRect().bottom + 4);",
            vec![],
            Duration::from_secs(5),
        )
        .await?;
    let room = room.as_f64().expect("a number");
    assert!(
        room >= 0.0,
        "the focus ring's foot is {room} px under the dialog's edge"
    );
    browser.close().await
}

#[tokio::test]
async fn a_new_version_that_adds_a_service_is_authorized_and_applied() -> Result<(), Error> {
    // A fresh catalog on every page load: the new version's slot shows at once.
    let stack = Stack::start_with(|config| config.catalog_ttl = Duration::ZERO).await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    connect_slack(&browser).await?;

    // Version 2 also posts to Jira: the user must authorize it and confirm the settings.
    let version = serde_json::from_value(serde_json::json!({
        "authSlots": [{ "externalId": "external_jira_auth", "title": "Jira site", "service": "jira" }],
        "configSlots": [{ "externalId": "external_project", "title": "Project", "defaultValue": "\"OPS\"" }],
        "needs": "user",
    }))?;
    stack.sandbox.publish_version(SLACK, version).await?;
    browser.client.refresh().await?;
    browser
        .wait_card_badge("Slack notifications", "Update needed")
        .await?;
    browser.click_card_action("Slack notifications").await?;
    let jira = ".tm-reauth .tm-auth:nth-of-type(2) .tm-authorize";
    browser
        .widget_wait_text(jira, "Authorize Jira site")
        .await?;
    // Nothing to press that would fail: the hint asks for the new service first, by name.
    browser
        .widget_wait_text(".tm-hint", "first authorize Jira site below")
        .await?;
    assert!(!browser.widget_has(".tm-update").await?, "no Update yet");
    browser.count_updated_events().await?;
    browser.authorize_in_popup(jira, "key").await?;
    browser
        .widget_wait_text(jira, "Reconnect Jira site")
        .await?;
    // Heard as the service signed in to, and nothing is updated yet (the host hears
    // of it once the update is applied); the Update that appeared has focus.
    browser
        .widget_wait_text(".tm-dialog [role=status]", "Jira site authorized")
        .await?;
    browser
        .widget_wait(
            "return root.activeElement?.classList.contains('tm-update');",
            vec![],
            Duration::from_secs(5),
        )
        .await?;
    let updates = browser
        .client
        .execute("return window.__updatedEvents;", vec![])
        .await?;
    assert_eq!(updates, 0, "no update yet");

    browser.widget_click(".tm-update").await?;
    browser
        .widget_wait(
            "return root.querySelector('input[name=external_project]')?.value === 'OPS';",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    browser.widget_click(".tm-config .tm-save").await?;
    browser
        .wait_card_badge("Slack notifications", "Connected")
        .await?;
    browser.close().await
}

trait CountUpdates {
    async fn count_updated_events(&self) -> Result<(), Error>;
}

impl CountUpdates for Browser {
    /// Counts the widget's `updated` events on its container from now on. (The live
    /// region cannot be cleared from outside: the widget owns its text node.)
    async fn count_updated_events(&self) -> Result<(), Error> {
        self.client
            .execute(
                "window.__updatedEvents = 0;
                 document.querySelector('[data-tray-marketplace]')
                   .addEventListener('tray-marketplace:updated', () => window.__updatedEvents += 1);",
                vec![],
            )
            .await?;
        Ok(())
    }
}

/// How the first element matching each selector in the widget looks: the background
/// one sees (a transparent one shows its nearest painted ancestor's), text colour and
/// border style.
const BUTTON_LOOKS: &str = r#"
    const seen = el => {
        for (let e = el; e; e = e.parentElement || e.getRootNode().host) {
            const colour = getComputedStyle(e).backgroundColor;
            if (!/^rgba\(.*, 0\)$/.test(colour)) return colour;
        }
        return 'the page';
    };
    return arguments[0].map(sel => {
        const el = root.querySelector(sel);
        if (!el) return null;
        const style = getComputedStyle(el);
        return [seen(el), style.color, style.borderTopStyle].join(' | ');
    });
"#;

#[tokio::test]
async fn forced_colours_keep_the_kinds_of_button_apart() -> Result<(), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    // Windows' contrast themes: the system's colours replace the widget's.
    browser
        .emulate_media(&[("forced-colors", "active")])
        .await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    connect_slack(&browser).await?;

    let selectors = [".tm-card-action", ".tm-rename-open", ".tm-delete"];
    let looks = browser
        .widget_wait(
            BUTTON_LOOKS,
            vec![serde_json::json!(selectors)],
            Duration::from_secs(10),
        )
        .await?;
    let looks: Vec<Option<String>> = serde_json::from_value(looks)?;
    let [main, outlined, delete] = [&looks[0], &looks[1], &looks[2]].map(|look| {
        look.clone()
            .unwrap_or_else(|| panic!("every button is there: {looks:?}"))
    });
    assert_ne!(main, outlined, "the main action looks like an outlined one");
    assert_ne!(
        delete, outlined,
        "Delete looks like the other outlined buttons"
    );
    assert_ne!(delete, main, "Delete looks like the main action");
    browser.close().await
}
