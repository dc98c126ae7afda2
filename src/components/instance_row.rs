use leptos::prelude::*;
use marketplace_wire::{Instance, Integration, SetConfig, Status, UpdateInstance, UpgradeInstance};
use wasm_bindgen::JsCast;

use super::{focus_after_render, submitted_data};
use crate::{
    components::{AuthButton, ConfigForm, StatusBadge},
    context::use_ctx,
    state::{has_auth, own_config_slots},
    strings::Key,
};

/// Which editor of a row is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Editing {
    Nothing,
    Rename,
    Settings,
    Update,
    ConfirmDelete,
}

/// One instance: status, re-authorize, rename, settings, enable/disable, update, delete.
/// An instance whose setup never finished offers `resume_setup` instead of Enable.
///
/// `row` is the integration with just this instance. A change to it redraws the status
/// and the buttons only: an editor the user has open (and what they typed in it), a
/// change under way and its outcome belong to the row and stay.
#[component]
pub fn InstanceRow(
    instance_id: String,
    row: Memo<Option<Integration>>,
    resume_setup: Callback<()>,
) -> impl IntoView {
    let ctx = use_ctx();
    let editing = RwSignal::new(Editing::Nothing);
    let busy = RwSignal::new(false);
    // An editor's own change under way (not Enable/Disable): it cannot be called back,
    // so its editor cannot be closed meanwhile.
    let saving = RwSignal::new(false);
    let name_error = RwSignal::new(false);
    // What the last change Tray or the proxy refused said, shown last in the row: under
    // the editor a change was made in, where the user is.
    let failure = RwSignal::new(None::<String>);
    // Read by the handlers when they run: the instance as it is then.
    let current =
        move || row.with_untracked(|r| r.as_ref().and_then(|i| i.instances.first().cloned()));
    let stored_id = StoredValue::new(instance_id.clone());
    let id = move || stored_id.get_value();
    let title = move || current().map(|i| i.name).unwrap_or_default();

    let editor_box = NodeRef::<leptos::html::Div>::new();
    // Every change: run it, show its outcome, announce, tell the host. One at a time:
    // a second press while one is under way sends nothing.
    let run = move |event: &'static str, work: Change| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        // Read now: the row may be gone when the answer comes (its dialog closed).
        let (instance_id, name) = (id(), title());
        // An update of a connection whose setup never finished (never enabled, its
        // settings never saved) finishes that setup: the user has just signed in to its
        // services and saved its settings, so it is enabled (or said to stay off) and
        // the host hears `connected`, as at the end of any setup.
        let finishes_setup = matches!(work, Change::Upgrade(_))
            .then(|| {
                current().zip(row.with_untracked(|r| r.as_ref().map(|i| i.solution_id.clone())))
            })
            .flatten()
            .filter(|(instance, _)| !instance.enabled && !instance.settings_confirmed)
            .map(|(_, solution_id)| solution_id);
        // Where focus goes once the change shows: back to the control that made it (or
        // opened its editor), or for a deletion (the row is gone) to the Add button.
        let dialog = editor_box
            .get_untracked()
            .and_then(|b| b.closest(".tm-dialog").ok().flatten());
        let then_focus: &'static [&'static str] = match &work {
            Change::Update(update) if update.enabled.is_some() => {
                &[".tm-toggle", ".tm-resume", ".tm-rename-open"]
            }
            Change::Config(_) => &[".tm-settings", ".tm-rename-open"],
            Change::Update(_) | Change::Upgrade(_) => &[".tm-rename-open"],
            Change::Delete => &[".tm-add", ".tm-close"],
        };
        let row = (!matches!(work, Change::Delete)).then(|| instance_id.clone());
        // The control the user made the change with (or typed in): focus is taken back
        // at the end only from there, or when it was lost.
        let origin = dialog.as_ref().and_then(focused_in);
        // Enable/Disable is no editor's doing: an editor open meanwhile stays open.
        let closes_editor = !matches!(&work, Change::Update(update) if update.enabled.is_some());
        saving.set(closes_editor);
        let row_id = instance_id.clone();
        // What a rename, Enable or Disable asked for (an update to the latest version:
        // nothing more): should its answer be lost, a fresh catalog showing it says it
        // was made.
        let asked = match &work {
            Change::Update(update) => Some(update.clone()),
            Change::Upgrade(_) => Some(UpdateInstance::default()),
            _ => None,
        };
        leptos::task::spawn_local(async move {
            let Some(api) = ctx.client() else { return };
            let result = match work {
                Change::Update(update) => {
                    api.update_instance(&instance_id, &update).await.map(Some)
                }
                Change::Config(values) => api
                    .set_config(&instance_id, &SetConfig { values })
                    .await
                    .map(Some),
                Change::Upgrade(upgrade) => api.upgrade(&instance_id, &upgrade).await.map(Some),
                Change::Delete => api.delete_instance(&instance_id).await.map(|()| None),
            };
            let outcome = match ctx
                .changed(name, instance_id.clone(), event, result, asked)
                .await
            {
                Ok(()) => match finishes_setup {
                    Some(solution_id) => {
                        ctx.advance_setup(solution_id, instance_id, true, None)
                            .await
                    }
                    None => Ok(()),
                },
                failed => failed,
            };
            busy.try_set(false);
            saving.try_set(false);
            match outcome {
                Ok(()) => {
                    if closes_editor {
                        editing.try_set(Editing::Nothing);
                    }
                    // Moved on meanwhile (another control of this row or another, an
                    // editor, Add another): focus stays where the user is, where their
                    // next Enter is meant.
                    let stays = dialog
                        .as_ref()
                        .is_some_and(|d| moved_on(d, origin.as_ref()));
                    if let Some(dialog) = dialog.filter(|_| !stays) {
                        focus_after_render(dialog, row, then_focus);
                    }
                }
                Err(message) => {
                    failure.try_set(Some(message));
                    // Gone elsewhere, its row with it: focus stays in the dialog.
                    if !ctx.lists(&row_id) {
                        if let Some(dialog) = dialog {
                            focus_after_render(dialog, None, &[".tm-add", ".tm-close"]);
                        }
                    }
                }
            }
        });
    };
    let toggle = move |_| {
        // Only `aria-disabled` while busy: a disabled button drops its focus.
        let Some(instance) = current().filter(|_| !busy.get_untracked()) else {
            return;
        };
        run(
            if instance.enabled {
                "disabled"
            } else {
                "enabled"
            },
            Change::Update(UpdateInstance {
                name: None,
                enabled: Some(!instance.enabled),
            }),
        )
    };
    let rename = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(data) = submitted_data(&ev) else {
            return;
        };
        // Invisible characters the proxy refuses: a pasted tab or line break becomes a
        // space, a bidi override goes.
        let new_name: String = data
            .get("name")
            .as_string()
            .unwrap_or_default()
            .chars()
            .filter_map(|c| match c {
                '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => None,
                c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => Some(' '),
                c => Some(c),
            })
            .collect();
        let new_name = new_name.trim().to_owned();
        // Zero-width or filler characters alone are no name either.
        let blank = !marketplace_wire::shows_something(&new_name);
        name_error.set(blank);
        if !blank {
            run(
                "updated",
                Change::Update(UpdateInstance {
                    name: Some(new_name),
                    enabled: None,
                }),
            );
        }
    };
    // A sign-in made in the row, to `service`: heard as that service authorized. A
    // replaced one changed the connection, which the host hears as `updated`; one
    // added (a new version's, kept for its update, or an unfinished setup's) changed
    // nothing the host counts yet. Once the last service a new version added is signed
    // in to, focus goes to the Update that now appears.
    let signed_in = move |service: String, replaced: bool| {
        Callback::new(move |attached: Instance| {
            // What an earlier change's failure said no longer holds.
            failure.set(None);
            let instance_id = id();
            let dialog = editor_box
                .get_untracked()
                .and_then(|b| b.closest(".tm-dialog").ok().flatten());
            let service = service.clone();
            leptos::task::spawn_local(async move {
                ctx.show(attached).await;
                ctx.announce(ctx.fill(Key::authorized, &service));
                if replaced {
                    ctx.emit("updated", &[("instanceId", &instance_id)]);
                } else if let Some(dialog) = dialog {
                    focus_after_render(dialog, Some(instance_id), &[".tm-update"]);
                }
            });
        })
    };
    // Cancel or Escape: the editor closes (not the dialog around it) and focus goes
    // back to the button that opened it.
    // Not while the editor's change is under way: it cannot be called back, and an editor
    // gone would look as if it had been.
    let close_editor = Callback::new(move |()| {
        if saving.get_untracked() {
            return;
        }
        let opener = match editing.get_untracked() {
            Editing::Nothing => return,
            Editing::Rename => ".tm-rename-open",
            Editing::Settings => ".tm-settings",
            Editing::Update => ".tm-update",
            Editing::ConfirmDelete => ".tm-delete",
        };
        editing.set(Editing::Nothing);
        failure.set(None);
        // Its button may be gone meanwhile (Update, once another tab updated it).
        focus_in_row(editor_box, &[opener, ".tm-rename-open"]);
    });
    // While its change is under way the editor stays, and Escape goes on to close the
    // dialog, as × does (a failure is then announced by the connection's name). Not
    // from a deletion's confirmation: that Escape would look as if it had called the
    // deletion back.
    let on_editor_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let editor = editing.get_untracked();
        if ev.key() == "Escape"
            && editor != Editing::Nothing
            && (!saving.get_untracked() || editor == Editing::ConfirmDelete)
        {
            ev.prevent_default();
            ev.stop_propagation();
            close_editor.run(());
        }
    };
    // One handler shape for every editor button (one closure type, not four).
    let open_editor = move |which: Editing| {
        move |_| {
            // One change at a time: the editor being saved stays, and with it what was
            // typed should it be refused (its answer would close another one opened now).
            if saving.get_untracked() {
                return;
            }
            // An editor opens with what it holds, not with the last change's complaint:
            // under it, that would read as its own failure.
            name_error.set(false);
            failure.set(None);
            editing.set(which);
        }
    };

    // What the sign-in buttons show, apart: a rename or Enable/Disable leaves them (and
    // a sign-in under way in one) alone.
    let sign_in_slots = Memo::new(move |_| {
        row.with(|r| {
            let integration = r.as_ref()?;
            let instance = integration.instances.first()?;
            let slots: Vec<SignIn> = integration
                .auth_slots
                .iter()
                .map(|slot| {
                    let existing = instance
                        .auth_values
                        .iter()
                        .find(|v| v.external_id == slot.external_id);
                    // "Reconnect needed" names the service whose sign-in expires.
                    let key = match existing {
                        Some(auth) if auth.expiring => Key::reauthorize_expiring,
                        Some(_) => Key::reauthorize,
                        None => Key::authorize,
                    };
                    let auth_id = existing.map(|v| v.auth_id.clone());
                    SignIn {
                        slot_id: slot.external_id.clone(),
                        auth_id,
                        label: ctx.fill(key, &slot.title),
                        service: slot.title.clone(),
                    }
                })
                .collect();
            Some(slots)
        })
        .unwrap_or_default()
    });

    let name_error_id = format!("tm-name-error-{instance_id}");
    let confirm_id = format!("tm-confirm-{instance_id}");
    // The row's name labels its groups of controls: with several connections of one
    // integration, a screen reader says whose "Delete" it is.
    let name_id = format!("tm-row-name-{instance_id}");
    let summary_name_id = name_id.clone();
    let editor = move || {
        let which = editing.get();
        if which != Editing::Nothing {
            // An editor that opens takes focus (the delete confirmation is an
            // alertdialog): once it is mounted, which is after this render.
            let select = which == Editing::Rename;
            queue_microtask(move || focus_first_control(editor_box, select));
        }
        match which {
        Editing::Nothing => ().into_any(),
        Editing::Rename => view! {
            <form class="tm-rename" novalidate on:submit=rename>
                <label>
                    <span class="tm-label">{ctx.t(Key::name_label)}</span>
                    <input
                        type="text"
                        class="tm-name"
                        dir="auto"
                        name="name"
                        value=title()
                        aria-invalid=move || name_error.get().to_string()
                        aria-describedby=name_error_id.clone()
                        maxlength="200"
                    />
                </label>
                <p class="tm-field-error" id=name_error_id.clone() role="alert">{move || name_error.get().then(|| ctx.t(Key::name_required))}</p>
                <div class="tm-actions">
                    <button class="tm-button tm-save" type="submit" aria-disabled=move || busy.get().to_string()>{ctx.t(Key::save)}</button>
                    <button class="tm-button tm-ghost" type="button" aria-disabled=move || saving.get().to_string() on:click=move |_| close_editor.run(())>{ctx.t(Key::cancel)}</button>
                </div>
            </form>
        }
        .into_any(),
        Editing::Settings | Editing::Update => {
            let upgrade = which == Editing::Update;
            let on_save = Callback::new(move |values| {
                if upgrade {
                    run(
                        "upgraded",
                        Change::Upgrade(UpgradeInstance {
                            auth_values: current().map(|i| i.auth_values).unwrap_or_default(),
                            config_values: values,
                        }),
                    )
                } else {
                    run("updated", Change::Config(values))
                }
            });
            // The values and settings of when it opened: a change to the instance
            // meanwhile does not reset what the user is typing.
            let Some((slots, instance)) = row.with_untracked(|r| {
                let integration = r.as_ref()?;
                Some((integration.config_slots.clone(), integration.instances.first()?.clone()))
            }) else {
                return ().into_any();
            };
            view! {
                <ConfigForm
                    slots=editable_slots(&slots, &instance, upgrade)
                    saved=instance.config_values
                    submit_label=ctx.t(if upgrade { Key::update_now } else { Key::save })
                    on_save
                    on_cancel=close_editor
                    busy
                    saving
                />
            }
            .into_any()
        }
        // Cancel comes first, so the focus an opened editor takes lands on the
        // harmless choice, not on Delete.
        Editing::ConfirmDelete => {
            // The name set apart: one written right to left keeps its punctuation on its
            // own side of the sentence.
            let (confirm_before, confirm_after) = ctx.around(Key::confirm_delete);
            // A host's text without a placeholder goes without the name.
            let confirm_name = confirm_after.is_some().then(title).unwrap_or_default();
            let confirm_after = confirm_after.unwrap_or_default();
            view! {
            <div class="tm-confirm" role="alertdialog" aria-label=ctx.t(Key::delete) aria-describedby=confirm_id.clone()>
                <p id=confirm_id.clone()>{confirm_before}<bdi>{confirm_name}</bdi>{confirm_after}</p>
                <div class="tm-actions">
                    <button class="tm-button tm-ghost tm-cancel-delete" aria-disabled=move || saving.get().to_string() on:click=move |_| close_editor.run(())>{ctx.t(Key::cancel)}</button>
                    <button class="tm-button tm-danger tm-confirm-delete" aria-disabled=move || busy.get().to_string() on:click=move |_| run("deleted", Change::Delete)>
                        {ctx.t(Key::delete)}
                    </button>
                </div>
            </div>
            }
            .into_any()
        }
    }
    };
    // What the instance shows (redrawn when it changes), and its sign-ins.
    let summary = move || {
        row.with(|r| {
            let integration = r.as_ref()?;
            let instance = integration.instances.first()?;
            let has_config =
                !editable_slots(&integration.config_slots, instance, false).is_empty();
            // A new version's added services are authorized (the buttons below) before
            // it can be applied: until then the hint says so and there is no Update to fail.
            let awaiting_auth = integration
                .auth_slots
                .iter()
                .any(|slot| !has_auth(instance, slot));
            let needs_update = instance.status == Status::NeedsUpdate;
            // Never enabled: its setup (auths, settings, enabling) is where the user goes
            // on. (An enabled one missing a value a new version added keeps its Disable.)
            let setting_up = instance.status == Status::SettingUp && !instance.enabled;
            // A setup never finished that a new version awaits: the update comes first
            // (its sign-ins are kept for it), then Finish setting up. An Enable here would
            // be refused for the values the old version still misses, and so would one
            // while a service is not signed in to.
            let update_first = needs_update
                && !instance.enabled
                && (!instance.settings_confirmed || awaiting_auth);
            let can_update = needs_update && !awaiting_auth;
            // Named: the row lists every service, those signed in to already too.
            let hint = if awaiting_auth {
                let missing: Vec<&str> = integration
                    .auth_slots
                    .iter()
                    .filter(|slot| !has_auth(instance, slot))
                    .map(|slot| slot.title.as_str())
                    .collect();
                ctx.fill(Key::update_authorize_first, &missing.join(", "))
            } else {
                ctx.t(Key::update_hint)
            };
            let enabled = instance.enabled;
            Some(view! {
                <div class="tm-instance-head">
                    <strong class="tm-instance-name" dir="auto" id=summary_name_id.clone()>{instance.name.clone()}</strong>
                    <StatusBadge status=instance.status />
                </div>
                {needs_update.then(|| view! { <p class="tm-hint">{hint}</p> }.into_any())}
                <div class="tm-actions" role="group" aria-labelledby=summary_name_id.clone() aria-busy=move || busy.get().to_string()>
                    {can_update.then(|| view! {
                        <button class="tm-button tm-update" aria-disabled=move || saving.get().to_string() on:click=open_editor(Editing::Update)>{ctx.t(Key::update)}</button>
                    }.into_any())}
                    {(!update_first).then(|| if setting_up {
                        view! {
                            <button class="tm-button tm-resume" on:click=move |_| resume_setup.run(())>
                                {ctx.t(Key::finish_setup)}
                            </button>
                        }.into_any()
                    } else {
                        view! {
                            <button class="tm-button tm-toggle" aria-disabled=move || busy.get().to_string() on:click=toggle>
                                {ctx.t(if enabled { Key::disable } else { Key::enable })}
                            </button>
                        }.into_any()
                    })}
                    <button class="tm-button tm-ghost tm-rename-open" aria-disabled=move || saving.get().to_string() on:click=open_editor(Editing::Rename)>{ctx.t(Key::rename)}</button>
                    {has_config.then(|| view! {
                        <button class="tm-button tm-ghost tm-settings" aria-disabled=move || saving.get().to_string() on:click=open_editor(Editing::Settings)>{ctx.t(Key::settings)}</button>
                    }.into_any())}
                    <button class="tm-button tm-ghost tm-danger tm-delete" aria-disabled=move || saving.get().to_string() on:click=open_editor(Editing::ConfirmDelete)>{ctx.t(Key::delete)}</button>
                </div>
            }
            .into_any())
        })
    };
    let sign_ins = move || {
        sign_in_slots
            .get()
            .into_iter()
            .map(
                |SignIn {
                     slot_id,
                     auth_id,
                     label,
                     service,
                 }| {
                    let on_done = signed_in(service, auth_id.is_some());
                    view! {
                        <AuthButton instance_id=id() slot_id auth_id label on_done />
                    }
                },
            )
            .collect_view()
    };
    view! {
        // Deleted (here or elsewhere): its row hides, and the others stay as they are.
        <li class="tm-instance tm-focus-scope" data-instance-id=instance_id hidden=move || row.with(|r| r.is_none())>
            {summary}
            <div class="tm-reauth" role="group" aria-labelledby=name_id.clone()>{sign_ins}</div>
            <div class="tm-editor" role="group" aria-labelledby=name_id node_ref=editor_box on:keydown=on_editor_keydown>{editor}</div>
            // Announced by the live region already (ctx.fail): not an alert a second time.
            <p class="tm-field-error">{move || failure.get()}</p>
        </li>
    }
}

/// Focuses the editor's first control; `select`s its text for a rename, where typing
/// replaces the name. A setting's value is left whole, the caret after it: a keystroke
/// there edits it.
fn focus_first_control(within: NodeRef<leptos::html::Div>, select: bool) {
    // The row may be gone by then (a refresh): its node ref with it.
    if let Some(first) = within
        .try_get_untracked()
        .flatten()
        .and_then(|b| b.query_selector("input, textarea, button").ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = first.focus();
        // Focus leaves the caret at the start, where typing would prepend. (A number
        // field has no caret to place: it throws, and is left as it is.)
        if let Some(input) = first.dyn_ref::<web_sys::HtmlInputElement>() {
            if select {
                input.select();
            } else {
                let end = input.value().encode_utf16().count() as u32;
                let _ = input.set_selection_range(end, end);
            }
        } else if let Some(json) = first.dyn_ref::<web_sys::HtmlTextAreaElement>() {
            let end = json.value().encode_utf16().count() as u32;
            let _ = json.set_selection_range(end, end);
        }
    }
}

/// The control focused in the widget (its root's `activeElement`: `:focus` does not
/// match while the window is in the background).
fn focused_in(dialog: &web_sys::Element) -> Option<web_sys::Element> {
    let root = dialog.get_root_node();
    match root.dyn_ref::<web_sys::ShadowRoot>() {
        Some(shadow) => shadow.active_element(),
        None => root.dyn_ref::<web_sys::Document>()?.active_element(),
    }
}

/// Whether focus is now on a control of `dialog` other than `origin`, the one a change
/// was made with: the user has moved on, and the change ending must not take the focus
/// back. Still on `origin`, on the dialog itself, or lost (its row gone): not moved on.
fn moved_on(dialog: &web_sys::Element, origin: Option<&web_sys::Element>) -> bool {
    focused_in(dialog)
        .is_some_and(|now| origin != Some(&now) && &now != dialog && dialog.contains(Some(&now)))
}

/// Focuses the first control matching one of `selectors` in the row around `editor_box`.
fn focus_in_row(editor_box: NodeRef<leptos::html::Div>, selectors: &[&str]) {
    if let Some(control) = editor_box
        .try_get_untracked()
        .flatten()
        .and_then(|b| b.parent_element())
        .and_then(|row| {
            selectors
                .iter()
                .find_map(|selector| row.query_selector(selector).ok().flatten())
        })
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = control.focus();
    }
}

/// The settings an editor shows: for Update the new version's (the integration's), for
/// Settings the instance's own version's.
fn editable_slots(
    slots: &[marketplace_wire::ConfigSlot],
    instance: &Instance,
    upgrade: bool,
) -> Vec<marketplace_wire::ConfigSlot> {
    if upgrade {
        slots.to_vec()
    } else {
        own_config_slots(slots, instance)
    }
}

/// One of the row's sign-in buttons: its slot, the sign-in it renews (if any), its
/// label and the service's name.
#[derive(Clone, PartialEq)]
struct SignIn {
    slot_id: String,
    auth_id: Option<String>,
    label: String,
    service: String,
}

/// A change to the instance, sent by `run`.
enum Change {
    Update(UpdateInstance),
    Config(Vec<marketplace_wire::ConfigValue>),
    Upgrade(UpgradeInstance),
    Delete,
}
