use leptos::prelude::*;
use marketplace_wire::{ConfigSlot, ConfigValue};

use crate::{
    context::use_ctx,
    state::config_form::{current_value, input_text, kind_of, validate, FieldKind},
    strings::Key,
};

/// A form generated from config slots' default values; validated before `on_save`.
#[component]
pub fn ConfigForm(
    slots: Vec<ConfigSlot>,
    saved: Vec<ConfigValue>,
    submit_label: String,
    on_save: Callback<Vec<ConfigValue>>,
    #[prop(optional)] on_cancel: Option<Callback<()>>,
) -> impl IntoView {
    let ctx = use_ctx();
    let inputs: Vec<RwSignal<String>> = slots
        .iter()
        .map(|slot| {
            let kind = kind_of(&slot.default_value);
            RwSignal::new(input_text(kind, &current_value(slot, &saved)))
        })
        .collect();
    let errors = RwSignal::new(Vec::<(String, Key)>::new());
    let stored_slots = StoredValue::new(slots.clone());
    let stored_inputs = StoredValue::new(inputs.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let values: Vec<String> =
            stored_inputs.with_value(|inputs| inputs.iter().map(|i| i.get_untracked()).collect());
        match stored_slots.with_value(|slots| validate(slots, &values)) {
            Ok(values) => {
                errors.set(Vec::new());
                on_save.run(values);
            }
            Err(problems) => errors.set(problems),
        }
    };
    let fields = slots
        .into_iter()
        .zip(inputs)
        .map(|(slot, input)| {
            let kind = kind_of(&slot.default_value);
            let error_id = format!("tm-error-{}", slot.external_id);
            let external_id = slot.external_id.clone();
            let problem = move || {
                errors.with(|e| e.iter().find(|(id, _)| *id == external_id).map(|(_, key)| *key))
            };
            let invalid = {
                let problem = problem.clone();
                move || problem().is_some().to_string()
            };
            let control = match kind {
                FieldKind::Checkbox => view! {
                    <input
                        type="checkbox"
                        name=slot.external_id.clone()
                        prop:checked=move || input.get() == "true"
                        on:change=move |ev| input.set(event_target_checked(&ev).to_string())
                    />
                }
                .into_any(),
                FieldKind::Json => view! {
                    <textarea
                        name=slot.external_id.clone()
                        rows="4"
                        aria-invalid=invalid
                        aria-describedby=error_id.clone()
                        prop:value=move || input.get()
                        on:input=move |ev| input.set(event_target_value(&ev))
                    ></textarea>
                }
                .into_any(),
                FieldKind::Text | FieldKind::Number => view! {
                    <input
                        type="text"
                        name=slot.external_id.clone()
                        inputmode=(kind == FieldKind::Number).then_some("decimal")
                        aria-invalid=invalid
                        aria-describedby=error_id.clone()
                        prop:value=move || input.get()
                        on:input=move |ev| input.set(event_target_value(&ev))
                    />
                }
                .into_any(),
            };
            view! {
                <div class="tm-field" class:tm-field--check=kind == FieldKind::Checkbox>
                    <label>
                        <span class="tm-label">{slot.title}</span>
                        {control}
                    </label>
                    <p class="tm-field-error" id=error_id>{move || problem().map(|key| ctx.t(key))}</p>
                </div>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <form class="tm-config" novalidate on:submit=on_submit>
            <fieldset>
                <legend>{ctx.t(Key::settings)}</legend>
                {fields}
            </fieldset>
            <div class="tm-actions">
                <button class="tm-button tm-save" type="submit">{submit_label}</button>
                {on_cancel.map(|cancel| view! {
                    <button class="tm-button tm-ghost" type="button" on:click=move |_| cancel.run(())>{ctx.t(Key::cancel)}</button>
                }.into_any())}
            </div>
        </form>
    }
}
