//! Connecting integrations through the real popup: widget (Chromium) → proxy → sandbox's
//! auth dialog on its own origin, and back through `postMessage`.

use e2e::{Browser, Error, Stack};
use serde_json::json;
use std::time::Duration;
use tray_sandbox::Faults;

async fn open_demo() -> Result<(Stack, Browser), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    Ok((stack, browser))
}

/// Connect on Stripe's card, through its one authorization, to "set up".
async fn connect_stripe(browser: &Browser) -> Result<(), Error> {
    browser.click_card_action("Stripe payments").await?;
    browser
        .authorize_in_popup(".tm-authorize", "sk_test_e2e")
        .await?;
    browser
        .widget_wait_text(".tm-setup-done", "Stripe payments is set up.")
        .await
}

#[tokio::test]
async fn connect_a_one_slot_integration() -> Result<(), Error> {
    let (_stack, browser) = open_demo().await?;
    browser
        .wait_card_badge("Stripe payments", "Not connected")
        .await?;
    connect_stripe(&browser).await?;
    browser
        .wait_card_badge("Stripe payments", "Connected")
        .await?;
    browser.widget_click(".tm-done").await?;
    browser
        .widget_wait_text(".tm-instance .tm-badge", "Connected")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn connect_a_two_slot_integration_with_config() -> Result<(), Error> {
    let (_stack, browser) = open_demo().await?;
    browser.click_card_action("Jira issues to Slack").await?;
    browser.authorize_in_popup(".tm-authorize", "key").await?;
    browser
        .widget_wait_text(".tm-step--done", "Jira site authorized")
        .await?;
    browser.authorize_in_popup(".tm-authorize", "key").await?;
    browser
        .widget_wait_text(".tm-step--done", "Slack workspace authorized")
        .await?;
    // The config form starts from the slot's default and validates before saving.
    browser
        .widget_wait(
            "return root.querySelector('input[name=external_project_key]')?.value === 'OPS';",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    browser
        .widget_type("input[name=external_project_key]", "CORE")
        .await?;
    browser.widget_click(".tm-save").await?;
    browser
        .widget_wait_text(".tm-setup-done", "Jira issues to Slack is set up.")
        .await?;
    browser
        .wait_card_badge("Jira issues to Slack", "Connected")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn cancel_in_the_dialog_returns_to_the_step() -> Result<(), Error> {
    let (_stack, browser) = open_demo().await?;
    browser.click_card_action("Stripe payments").await?;
    browser.widget_click(".tm-authorize").await?;
    let main = browser.switch_to_popup().await?;
    browser.popup_click("#cancel").await?;
    browser.switch_back(main).await?;
    browser
        .widget_wait(
            "return !!root.querySelector('.tm-authorize') && !root.querySelector('.tm-auth-wait');",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    browser
        .wait_card_badge("Stripe payments", "Setting up")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn an_error_in_the_dialog_is_shown() -> Result<(), Error> {
    let (_stack, browser) = open_demo().await?;
    browser.click_card_action("Stripe payments").await?;
    // The sandbox's dialog rejects this key and posts `tray.authPopup.error`.
    browser.authorize_in_popup(".tm-authorize", "fail").await?;
    browser
        .widget_wait_text(".tm-auth-failed", "Sign-in failed")
        .await?;
    browser
        .wait_card_badge("Stripe payments", "Setting up")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn a_forged_finish_message_from_another_origin_is_ignored() -> Result<(), Error> {
    let (stack, browser) = open_demo().await?;
    browser.click_card_action("Stripe payments").await?;
    browser.widget_click(".tm-authorize").await?;
    browser.widget_wait_text(".tm-auth-wait", "Waiting").await?;

    // A frame of another origin (localhost vs 127.0.0.1) and the page itself post a
    // well-formed finish message.
    let other_origin = stack.proxy.url().replace("127.0.0.1", "localhost");
    browser
        .client
        .execute(
            "window.__seen = [];
             addEventListener('message', e => window.__seen.push(e.data && e.data.authId));
             const frame = document.createElement('iframe');
             frame.src = arguments[0];
             document.body.append(frame);",
            vec![json!(format!("{other_origin}/healthz"))],
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    browser.client.enter_frame(0).await?;
    browser
        .client
        .execute(
            "parent.postMessage({type: 'tray.authpopup.finish', authType: 'oauth', authId: 'forged-frame'}, '*');",
            vec![],
        )
        .await?;
    browser.client.enter_parent_frame().await?;
    browser
        .client
        .execute(
            "window.postMessage({type: 'tray.authpopup.finish', authType: 'oauth', authId: 'forged-self'}, '*');",
            vec![],
        )
        .await?;
    // Both reached the page (so the widget's listener saw them too)…
    browser
        .widget_wait(
            "return window.__seen.includes('forged-frame') && window.__seen.includes('forged-self');",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    // …and changed nothing: still waiting for the real dialog.
    assert!(browser.widget_has(".tm-auth-wait").await?);
    assert!(!browser.widget_has(".tm-setup-done").await?);
    browser
        .wait_card_badge("Stripe payments", "Setting up")
        .await?;

    // The real dialog still completes the setup.
    let main = browser.switch_to_popup().await?;
    browser
        .client
        .find(fantoccini::Locator::Css("#api_key"))
        .await?
        .send_keys("sk_real")
        .await?;
    browser.popup_click("#connect").await?;
    browser.switch_back(main).await?;
    browser
        .widget_wait_text(".tm-setup-done", "Stripe payments is set up.")
        .await?;
    browser.close().await
}

#[tokio::test]
async fn a_reload_in_the_middle_resumes_the_setup() -> Result<(), Error> {
    let (_stack, browser) = open_demo().await?;
    browser.click_card_action("GitHub to Asana").await?;
    browser.authorize_in_popup(".tm-authorize", "key").await?;
    browser
        .widget_wait_text(".tm-step--done", "GitHub account authorized")
        .await?;

    browser.client.refresh().await?;
    browser
        .wait_card_badge("GitHub to Asana", "Setting up")
        .await?;
    browser
        .widget_wait_text(".tm-card-action", "Finish setting up")
        .await?;
    browser.click_card_action("GitHub to Asana").await?;
    browser
        .widget_wait_text(".tm-step--done", "GitHub account authorized")
        .await?;
    browser
        .widget_wait_text(".tm-authorize", "Authorize Asana workspace")
        .await?;
    browser.authorize_in_popup(".tm-authorize", "key").await?;
    browser
        .widget_wait_text(".tm-setup-done", "GitHub to Asana is set up.")
        .await?;
    browser
        .wait_card_badge("GitHub to Asana", "Connected")
        .await?;
    browser.close().await
}

/// Tray fails while the sign-in the user just made is attached: the step offers "Try
/// again", which attaches that same sign-in once Tray is back, with no second sign-in.
#[tokio::test]
async fn a_sign_in_tray_failed_to_take_is_attached_by_try_again() -> Result<(), Error> {
    let (stack, browser) = open_demo().await?;
    browser.click_card_action("Stripe payments").await?;
    let main = browser.open_consent_popup(".tm-authorize").await?;
    stack.sandbox.set_faults(Faults {
        failure_rate: 1.0,
        ..Faults::default()
    });
    browser.consent_in_popup(main, "sk_test_e2e").await?;
    let failure_shown = browser
        .widget_wait_text(".tm-auth-failed", "not answering right now")
        .await;
    stack.sandbox.set_faults(Faults::default());
    failure_shown?;

    browser.widget_click(".tm-retry").await?;
    browser
        .widget_wait_text(".tm-setup-done", "Stripe payments is set up.")
        .await?;
    let held = stack
        .sandbox
        .execute(
            tray_sandbox::DEMO_MASTER_TOKEN,
            "{ viewer { solutionInstances { edges { node { authValues { externalId } } } } } }",
            json!({}),
        )
        .await;
    let attached = &held["data"]["viewer"]["solutionInstances"]["edges"][0]["node"]["authValues"];
    assert_eq!(attached.as_array().map(Vec::len), Some(1), "{held}");
    browser.close().await
}

/// Connect on Stripe's card while Tray carries out every request and loses its answer:
/// Tray makes the instance, the card shows the failure.
async fn connect_stripe_losing_the_answer(stack: &Stack, browser: &Browser) -> Result<(), Error> {
    browser
        .wait_card_badge("Stripe payments", "Not connected")
        .await?;
    stack.sandbox.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    browser.click_card_action("Stripe payments").await?;
    let failure_shown = browser
        .widget_wait_text(".tm-card .tm-field-error", "not answering right now")
        .await;
    stack.sandbox.set_faults(Faults::default());
    failure_shown
}

/// Tray made the instance but its answer was lost (and so was the proxy's look for it):
/// the card says the connect failed, and connecting again carries on with the instance
/// Tray made instead of making a second. The kept create was for that instance: once it
/// is shown, "Add another" means another, named apart from it.
#[tokio::test]
async fn a_connect_whose_answer_tray_lost_shows_and_is_not_repeated() -> Result<(), Error> {
    let (stack, browser) = open_demo().await?;
    connect_stripe_losing_the_answer(&stack, &browser).await?;

    connect_stripe(&browser).await?;
    browser.widget_click(".tm-done").await?;
    browser
        .widget_wait(
            "return root.querySelectorAll('.tm-instance').length === 1
                 && root.querySelector('.tm-instance .tm-badge')?.textContent === 'Connected';",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    // Tray itself holds the one instance.
    let held = stack
        .sandbox
        .execute(
            tray_sandbox::DEMO_MASTER_TOKEN,
            "{ viewer { solutionInstances { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    let edges = held["data"]["viewer"]["solutionInstances"]["edges"]
        .as_array()
        .map(Vec::len);
    assert_eq!(edges, Some(1), "{held}");

    browser.widget_click(".tm-add").await?;
    browser
        .widget_wait_text(".tm-authorize", "Authorize Stripe account")
        .await?;
    browser.widget_click(".tm-show-all").await?;
    // Named apart, so the user can tell which is which before renaming either.
    browser
        .widget_wait(
            "const names = [...root.querySelectorAll('.tm-instance-name')]
                 .map(name => name.textContent).sort();
             return names.join('|') === 'Stripe payments|Stripe payments 2';",
            vec![],
            Duration::from_secs(20),
        )
        .await?;
    browser.close().await
}
