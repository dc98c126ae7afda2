use leptos::prelude::*;
use marketplace_wire::{Instance, SetConfig};
use wasm_bindgen::JsCast;

use super::focus_after_render;
use crate::{
    components::{AuthButton, ConfigForm},
    context::use_ctx,
    state::{has_auth, next_setup_step, own_config_slots, SetupStep},
    strings::Key,
};

/// Setting up one instance: one "Authorize <service>" step per auth slot, then the
/// config form, then enabling. Progress lives in the instance itself (the proxy stores
/// each attached auth), so a reload resumes at the same step.
#[component]
pub fn SetupFlow(solution_id: String, instance_id: String, on_done: Callback<()>) -> impl IntoView {
    let ctx = use_ctx();
    let ids = StoredValue::new((solution_id, instance_id));
    // Read fresh from the catalog; `step` below is what decides re-rendering.
    let current = move || {
        let (solution_id, instance_id) = ids.get_value();
        let integration = ctx.catalog.with(|c| c.integration(&solution_id))?;
        let instance = integration
            .instances
            .iter()
            .find(|i| i.id == instance_id)?
            .clone();
        Some((integration, instance))
    };
    // Set once the user saved the config form in this setup.
    let configured = RwSignal::new(false);
    let step = Memo::new(move |_| {
        let configured = configured.get();
        current()
            .map(|(integration, instance)| next_setup_step(&integration, &instance, configured))
    });
    // True while a step is being completed (enabling waits 2 s after creation): the
    // Enable button must not send a second request meanwhile.
    let busy = RwSignal::new(false);
    // Why the last save or enable failed, shown under the step until the next try.
    let failure = RwSignal::new(None::<String>);
    // Back to the list, with focus on this connection's row.
    let finish = move |ev: leptos::ev::MouseEvent| {
        let dialog = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest(".tm-dialog").ok().flatten());
        let (_, instance_id) = ids.get_value();
        on_done.run(());
        if let Some(dialog) = dialog {
            focus_after_render(dialog, Some(instance_id), &[".tm-rename-open"]);
        }
    };
    // After a step, with the instance as the proxy answered it (if it did). Also run
    // after a request, when the setup may have closed meanwhile.
    let advance = move |answered: Option<Instance>| {
        let Some((solution_id, instance_id)) = ids.try_get_value() else {
            // Closed meanwhile (its settings were being saved): nothing more to set up
            // here, but the answer is shown, and heard where the save was last heard of.
            if let Some(instance) = answered {
                ctx.announce(ctx.fill(Key::updated_announce, &instance.name));
                ctx.emit("updated", &[("instanceId", &instance.id)]);
                leptos::task::spawn_local(ctx.show(instance));
            }
            return;
        };
        busy.try_set(true);
        failure.try_set(None);
        let configured = configured.try_get_untracked().unwrap_or(false);
        leptos::task::spawn_local(async move {
            let advanced = ctx
                .advance_setup(solution_id, instance_id, configured, answered)
                .await;
            failure.try_set(advanced.err());
            busy.try_set(false);
        });
    };
    let progress = move || {
        current().map(|(integration, instance)| {
            integration
                .auth_slots
                .iter()
                .map(|slot| {
                    let done = has_auth(&instance, slot);
                    let text = if done {
                        ctx.fill(Key::authorized, &slot.title)
                    } else {
                        ctx.fill(Key::authorize, &slot.title)
                    };
                    view! { <li class="tm-step" class:tm-step--done=done>{text}</li> }.into_any()
                })
                .collect_view()
        })
    };
    let action = move || {
        let (integration, instance) = untrack(current)?;
        let view = match step.get()? {
            SetupStep::Authorize(slot) => {
                // Heard in place of "Saving the sign-in…" as the next step shows.
                let authorized = ctx.fill(Key::authorized, &slot.title);
                view! {
                    <AuthButton
                        instance_id=instance.id.clone()
                        slot_id=slot.external_id.clone()
                        auth_id=None
                        label=ctx.fill(Key::authorize, &slot.title)
                        on_done=Callback::new(move |attached| {
                            ctx.announce(authorized.clone());
                            advance(Some(attached))
                        })
                    />
                }
                .into_any()
            }
            SetupStep::Configure => {
                let save = Callback::new(move |values| {
                    // One save at a time: a second answer would advance the setup twice.
                    if busy.get_untracked() {
                        return;
                    }
                    busy.set(true);
                    failure.set(None);
                    let (_, instance_id) = ids.get_value();
                    leptos::task::spawn_local(async move {
                        let Some(api) = ctx.client() else { return };
                        match api.set_config(&instance_id, &SetConfig { values }).await {
                            Ok(saved) => {
                                configured.try_set(true);
                                advance(Some(saved))
                            }
                            Err(err) => {
                                busy.try_set(false);
                                let message = ctx.fail_change(&instance_id, &err).await;
                                failure.try_set(Some(message));
                            }
                        }
                    });
                });
                view! {
                    <ConfigForm
                        slots=own_config_slots(&integration.config_slots, &instance)
                        saved=instance.config_values.clone()
                        submit_label=ctx.t(Key::save)
                        on_save=save
                        busy
                    />
                }
                .into_any()
            }
            SetupStep::Enable => view! {
                // `aria-disabled`, not `disabled`: a disabled button drops its focus.
                <button
                    class="tm-button tm-enable"
                    aria-disabled=move || busy.get().to_string()
                    aria-busy=move || busy.get().to_string()
                    on:click=move |_| {
                        if !busy.get_untracked() {
                            advance(None)
                        }
                    }
                >
                    {ctx.t(Key::enable)}
                </button>
            }
            .into_any(),
            SetupStep::Done => view! {
                <div class="tm-setup-done">
                    // Heard from the live region already (ctx.advance_setup): seen here.
                    <p>{ctx.fill(if instance.enabled { Key::setup_done } else { Key::setup_done_off }, &integration.title)}</p>
                    <button class="tm-button tm-done" on:click=finish>{ctx.t(Key::done)}</button>
                </div>
            }
            .into_any(),
        };
        Some(view)
    };
    // With several connections of the integration, the setup says which one it is.
    let connection = untrack(current)
        .filter(|(integration, _)| integration.instances.len() > 1)
        .map(|(_, instance)| {
            view! { <p class="tm-setup-name" dir="auto">{instance.name}</p> }.into_any()
        });
    view! {
        <div class="tm-setup tm-focus-scope">
            {connection}
            <ol class="tm-steps">{progress}</ol>
            <div class="tm-step-action">{action}</div>
            // Announced by the live region already (ctx.fail): not an alert a second time.
            <p class="tm-field-error">{move || failure.get()}</p>
            // A setup may be abandoned: the instance list is where it can be deleted.
            <button class="tm-button tm-ghost tm-show-all" on:click=finish>
                {ctx.t(Key::all_connections)}
            </button>
        </div>
    }
}
