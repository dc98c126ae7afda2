use leptos::prelude::*;
use marketplace_wire::{AuthDialogRequest, Instance};

use crate::{
    context::use_ctx,
    popup::{self, DialogMessage, PopupEvent, PopupWatch},
    strings::Key,
};

/// Where one authorization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthState {
    Idle,
    Waiting,
    /// The browser blocked the popup: a fresh click may open it.
    Blocked,
    /// The popup closed without a word: maybe the user is still busy, maybe not.
    ClosedSilently,
    /// The sign-in finished; the proxy is attaching its auth.
    Attaching,
    /// With the auth of a finished sign-in when attaching it failed in a way that may
    /// pass (an outage, a lost answer): "Try again" sends that auth again, so the user
    /// need not sign in again (the proxy keeps it too, and attaches it once Tray is
    /// back); signing in again stays possible for a failure that does not pass.
    Failed(String, Option<String>),
}

/// For the host's developer (English, in the `error` event only).
const COOP_HINT: &str = "the sign-in window closed as it opened: if no one closed it, \
    this page's Cross-Origin-Opener-Policy cut it off, and its answer cannot arrive; \
    serve the page with same-origin-allow-popups";

/// What moves a sign-in on: its popup, or "Try again" after its attach failed.
enum Step {
    Popup(PopupEvent),
    /// Send the auth of a finished sign-in to the proxy (again).
    Attach(String),
}

/// "Authorize <service>" (or re-authorize `auth_id`): runs Tray's auth dialog in a
/// popup and attaches the resulting auth to the instance's `slot`; `on_done` gets the
/// instance as the proxy answered, for the caller to show (showing it may rebuild
/// the view this button is in).
#[component]
pub fn AuthButton(
    instance_id: String,
    slot_id: String,
    auth_id: Option<String>,
    label: String,
    on_done: Callback<Instance>,
) -> impl IntoView {
    let ctx = use_ctx();
    let state = RwSignal::new(AuthState::Idle);
    let watch = StoredValue::new_local(None::<PopupWatch>);
    let target = StoredValue::new((instance_id, slot_id, auth_id));
    on_cleanup(move || {
        watch.try_update_value(|w| *w = None);
        // Gone with its dialog (Escape, ×) while the user was signing in: the popup
        // closes with it, and the live region must not go on saying it is awaited. (Gone
        // with its connection, deleted: that is what was announced, and stays heard.)
        let connection_kept = target
            .try_with_value(|(instance_id, ..)| ctx.lists(instance_id))
            .unwrap_or(true);
        if connection_kept
            && matches!(
                state.try_get_untracked(),
                Some(AuthState::Waiting | AuthState::Blocked | AuthState::ClosedSilently)
            )
        {
            ctx.announce(ctx.t(Key::sign_in_cancelled));
        }
        // Closed with a sign-in whose attach may yet have happened (a lost answer), or
        // will (the proxy attaches what it kept once Tray is back): the catalog is
        // fetched again, so the next look at this instance shows what is true.
        if matches!(
            state.try_get_untracked(),
            Some(AuthState::Failed(_, Some(_)))
        ) {
            leptos::task::spawn_local(async move {
                ctx.reload().await;
            });
        }
    });

    let on_step = move |step: Step| {
        // Never drop the watcher from inside its own listener: handle it a tick later.
        leptos::task::spawn_local(async move {
            let auth_id = match step {
                Step::Attach(auth_id) => auth_id,
                Step::Popup(PopupEvent::Message(DialogMessage::Finished { auth_id })) => {
                    // The task that takes the watcher attaches: a second finish message
                    // from the same popup finds none.
                    let Some(Some(_)) = watch.try_update_value(Option::take) else {
                        return;
                    };
                    auth_id
                }
                Step::Popup(PopupEvent::Message(DialogMessage::Closed)) => {
                    watch.try_update_value(|w| *w = None);
                    state.try_set(AuthState::Idle);
                    ctx.announce(ctx.t(Key::sign_in_cancelled));
                    return;
                }
                Step::Popup(PopupEvent::Message(DialogMessage::Failed(message))) => {
                    watch.try_update_value(|w| *w = None);
                    // Without Tray's message, the user still reads why in their language.
                    let shown = match &message {
                        Some(message) => ctx.fill(Key::dialog_failed, message),
                        None => ctx.t(Key::dialog_failed_unexplained),
                    };
                    ctx.emit(
                        "error",
                        &[("message", message.as_deref().unwrap_or(&shown))],
                    );
                    ctx.announce(shown.clone());
                    state.try_set(AuthState::Failed(shown, None));
                    return;
                }
                Step::Popup(PopupEvent::ClosedSilently { at_once }) => {
                    state.try_set(AuthState::ClosedSilently);
                    ctx.announce(ctx.t(Key::still_waiting));
                    // The host's to fix, and silent otherwise: its error event says how.
                    if at_once {
                        ctx.emit("error", &[("message", COOP_HINT)]);
                    }
                    return;
                }
            };
            let (Some(api), Some((instance_id, slot, _))) = (ctx.client(), target.try_get_value())
            else {
                return;
            };
            // Its buttons go meanwhile: one attach at a time.
            state.try_set(AuthState::Attaching);
            ctx.announce(ctx.t(Key::attaching));
            match api.attach_auth(&instance_id, &slot, &auth_id).await {
                Ok(attached) => {
                    state.try_set(AuthState::Idle);
                    // With the step gone by now (its setup closed), the widget still
                    // shows what the proxy attached, and says so where it last said
                    // the sign-in was being saved.
                    if on_done.try_run(attached.clone()).is_none() {
                        let service = ctx
                            .integration(&attached.solution_id)
                            .and_then(|i| i.auth_slots.into_iter().find(|s| s.external_id == slot));
                        ctx.show(attached).await;
                        if let Some(service) = service {
                            ctx.announce(ctx.fill(Key::authorized, &service.title));
                        }
                    }
                }
                Err(err) => {
                    // Kept for "Try again" unless the auth itself was refused: a sign-in
                    // the host could not renew (401) is no refusal of it. Unless the host
                    // has no way to renew it: then only a reload helps, as the session's
                    // usual words say.
                    let expired = err.session_expired() && api.renews_token();
                    let unattached = (expired || err.outcome_unknown()).then_some(auth_id);
                    let mut message = ctx.fail_change(&instance_id, &err).await;
                    // A reload, as the session's usual words say, would lose the sign-in.
                    if expired {
                        message = ctx.t(Key::session_expired_kept);
                        ctx.fail_named(&instance_id, &message);
                    }
                    state.try_set(AuthState::Failed(message, unattached));
                }
            }
        });
    };
    // Bumped by every start and cancel: the answer to an older request is dropped
    // instead of reviving a cancelled sign-in (its popup closed with its watch).
    let attempt = StoredValue::new(0u32);
    // Opened synchronously in the click and watched from then on, so that leaving the
    // page closes it even while blank; navigated once the proxy answers. Every click
    // mints a fresh dialog URL: its authorization code is single-use and short-lived.
    let start = move |_| {
        let popup = popup::open_blank()
            .and_then(|window| PopupWatch::new(window, move |e| on_step(Step::Popup(e))).ok());
        let opened = popup.is_some();
        watch.set_value(popup);
        attempt.update_value(|a| *a += 1);
        let this_attempt = attempt.get_value();
        state.set(AuthState::Waiting);
        ctx.announce(ctx.t(Key::waiting));
        leptos::task::spawn_local(async move {
            let (Some(api), Some((instance_id, slot, auth_id))) =
                (ctx.client(), target.try_get_value())
            else {
                return;
            };
            let request = match auth_id {
                Some(auth_id) => AuthDialogRequest {
                    slot: None,
                    auth_id: Some(auth_id),
                },
                None => AuthDialogRequest {
                    slot: Some(slot),
                    auth_id: None,
                },
            };
            let answer = api.auth_dialog(&instance_id, &request).await;
            if attempt.try_get_value() != Some(this_attempt) {
                return;
            }
            match answer {
                Ok(dialog) if opened => {
                    // Closed meanwhile, it stays "still waiting?": Reopen asks anew.
                    watch.try_with_value(|watch| {
                        watch
                            .as_ref()
                            .map(|watch| watch.navigate(&dialog.url, &dialog.origin))
                    });
                }
                Ok(_) => {
                    state.try_set(AuthState::Blocked);
                    ctx.announce(ctx.t(Key::popup_blocked));
                }
                Err(err) => {
                    watch.try_update_value(|w| *w = None);
                    let message = ctx.fail_sign_in(&instance_id, &err).await;
                    state.try_set(AuthState::Failed(message, None));
                }
            }
        });
    };
    // Announced, or the live region would still say the sign-in is awaited.
    let cancel = move |_| {
        attempt.update_value(|a| *a += 1);
        watch.set_value(None);
        state.set(AuthState::Idle);
        ctx.announce(ctx.t(Key::sign_in_cancelled));
    };
    let button_label = label.clone();

    // A stable wrapper: when the state swaps the focused button out, the dialog moves
    // focus to this authorization's next button (see Modal).
    let current = move || {
        match state.get() {
        AuthState::Idle => view! {
            <button class="tm-button tm-authorize" on:click=start>{button_label.clone()}</button>
        }
        .into_any(),
        AuthState::Waiting => view! {
            <div class="tm-auth-wait">
                <p>{ctx.t(Key::waiting)}</p>
                <button class="tm-button tm-ghost tm-cancel" on:click=cancel>{ctx.t(Key::cancel)}</button>
            </div>
        }
        .into_any(),
        AuthState::Blocked => view! {
            // Announced by the live region already: not an alert a second time.
            <div class="tm-auth-blocked">
                <p>{ctx.t(Key::popup_blocked)}</p>
                <button class="tm-button tm-open-popup" on:click=start>{ctx.t(Key::open_popup)}</button>
                <button class="tm-button tm-ghost tm-cancel" on:click=cancel>{ctx.t(Key::cancel)}</button>
            </div>
        }
        .into_any(),
        AuthState::ClosedSilently => view! {
            <div class="tm-auth-hint">
                <p>{ctx.t(Key::still_waiting)}</p>
                <button class="tm-button tm-reopen" on:click=start>{ctx.t(Key::reopen)}</button>
                <button class="tm-button tm-ghost tm-cancel" on:click=cancel>{ctx.t(Key::cancel)}</button>
            </div>
        }
        .into_any(),
        AuthState::Attaching => view! {
            <p class="tm-auth-saving" tabindex="-1">{ctx.t(Key::attaching)}</p>
        }
        .into_any(),
        AuthState::Failed(message, unattached) => {
            let retry = unattached.map(|auth_id| {
                view! {
                    <button class="tm-button tm-retry" on:click=move |_| {
                        on_step(Step::Attach(auth_id.clone()))
                    }>{ctx.t(Key::retry)}</button>
                }
            });
            view! {
                <div class="tm-auth-failed">
                    <p class="tm-field-error">{message}</p>
                    {retry}
                    <button class="tm-button tm-authorize" on:click=start>{button_label.clone()}</button>
                </div>
            }
            .into_any()
        }
    }
    };
    view! { <div class="tm-auth tm-focus-scope">{current}</div> }
}
