use leptos::prelude::*;
use marketplace_wire::{ConfigSlot, ConfigValue};

use super::submitted_data;
use crate::{
    context::use_ctx,
    state::config_form::{current_value, input_text, kind_of, validate, FieldKind},
    strings::Key,
};

/// Numbers the forms, for ids no other open form has.
static NEXT_FORM: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A form generated from config slots' default values; validated before `on_save`.
#[component]
pub fn ConfigForm(
    slots: Vec<ConfigSlot>,
    saved: Vec<ConfigValue>,
    submit_label: String,
    on_save: Callback<Vec<ConfigValue>>,
    #[prop(optional)] on_cancel: Option<Callback<()>>,
    /// While the owner saves: the button says so (`aria-disabled` keeps its focus).
    #[prop(optional)]
    busy: Option<RwSignal<bool>>,
    /// While this form's own save is under way: Cancel cannot call it back.
    #[prop(optional)]
    saving: Option<RwSignal<bool>>,
) -> impl IntoView {
    let ctx = use_ctx();
    let errors = RwSignal::new(Vec::<(String, Key)>::new());
    let stored_slots = StoredValue::new(slots.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(data) = submitted_data(&ev) else {
            return;
        };
        let checked = stored_slots.with_value(|slots| {
            // An unchecked checkbox is absent from the form data: "" reads as false.
            let values: Vec<String> = slots
                .iter()
                .map(|slot| data.get(&slot.external_id).as_string().unwrap_or_default())
                .collect();
            let decimal = ctx
                .strings
                .with_value(|strings| strings.decimal_separator());
            validate(slots, &values, decimal)
        });
        match checked {
            Ok(values) => {
                errors.set(Vec::new());
                on_save.run(values);
            }
            Err(problems) => {
                // Keyboard and screen-reader users land on the first field to fix.
                if let Some((field, key)) = problems.first() {
                    focus_field(&ev, field);
                    ctx.announce(ctx.t(*key));
                }
                errors.set(problems);
            }
        }
    };
    let decimal = ctx
        .strings
        .with_value(|strings| strings.decimal_separator());
    let form = NEXT_FORM.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fields = slots
        .into_iter()
        .map(|slot| {
            let kind = kind_of(&slot.default_value);
            let initial = input_text(kind, &current_value(&slot, &saved), decimal);
            // Unique across the forms open at once (two rows' settings, say).
            let error_id = format!("tm-error-{form}-{}", slot.external_id);
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
                    <input type="checkbox" name=slot.external_id value="true" checked=initial == "true" />
                }
                .into_any(),
                FieldKind::Json => view! {
                    <textarea
                        name=slot.external_id
                        rows="4"
                        aria-invalid=invalid
                        aria-describedby=error_id.clone()
                    >
                        {initial}
                    </textarea>
                }
                .into_any(),
                FieldKind::Text | FieldKind::Number => view! {
                    <input
                        type="text"
                        name=slot.external_id
                        value=initial
                        inputmode=(kind == FieldKind::Number).then_some("decimal")
                        aria-invalid=invalid
                        aria-describedby=error_id.clone()
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
                <button class="tm-button tm-save" type="submit" aria-disabled=move || busy.is_some_and(|busy| busy.get()).to_string()>{submit_label}</button>
                {on_cancel.map(|cancel| view! {
                    <button class="tm-button tm-ghost" type="button" aria-disabled=move || saving.is_some_and(|saving| saving.get()).to_string() on:click=move |_| cancel.run(())>{ctx.t(Key::cancel)}</button>
                }.into_any())}
            </div>
        </form>
    }
}

/// Focuses the submitted form's control named `name`.
fn focus_field(ev: &leptos::ev::SubmitEvent, name: &str) {
    use wasm_bindgen::JsCast;
    let Some(form) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let Ok(controls) = form.query_selector_all("input, textarea") else {
        return;
    };
    let control = (0..controls.length())
        .filter_map(|i| controls.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
        .find(|c| c.get_attribute("name").as_deref() == Some(name));
    if let Some(control) = control {
        let _ = control.focus();
    }
}
