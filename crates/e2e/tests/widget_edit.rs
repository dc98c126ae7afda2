//! Editing a connection through the widget: rename, config, disable/enable,
//! re-authorize (Tray's edit dialog in the real popup), delete.

use e2e::{Browser, Error, Stack};
use std::time::Duration;

#[tokio::test]
async fn edit_and_delete_a_connection() -> Result<(), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;

    // Set up Slack notifications (one auth slot, two config slots).
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
    browser.widget_click(".tm-done").await?;

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
