use leptos::prelude::*;

use crate::{
    components::{InstanceRow, Modal, SetupFlow},
    context::{use_ctx, OpenPanel},
    state::can_add_instance,
    strings::Key,
};

/// An integration's dialog: its instances (each editable), or the setup of one.
#[component]
pub fn IntegrationDialog(panel: OpenPanel) -> impl IntoView {
    let ctx = use_ctx();
    let solution_id = StoredValue::new(panel.solution_id.clone());
    let title = ctx
        .integration(&panel.solution_id)
        .map(|i| i.title)
        .unwrap_or_default();
    let setup = RwSignal::new(panel.setup);
    let integration = Memo::new(move |_| {
        ctx.catalog
            .with(|c| c.integration(&solution_id.get_value()))
    });
    let close = Callback::new(move |()| ctx.open.set(None));
    let return_focus = format!(
        "[data-solution-id=\"{}\"] .tm-card-action",
        panel.solution_id
    );
    let adding = RwSignal::new(false);
    let add_another = move |_| {
        let Some(integration) = integration.get_untracked() else {
            return;
        };
        ctx.start_connect(integration, adding);
    };
    let instance_list = move || {
        integration.get().map(|integration| {
            let can_add = can_add_instance(&integration);
            let rows = integration
                .instances
                .iter()
                .map(|instance| {
                    view! { <InstanceRow integration=integration.clone() instance=instance.clone() /> }
                })
                .collect_view();
            view! {
                <ul class="tm-instances" role="list">{rows}</ul>
                {can_add.then(|| view! {
                    <button class="tm-button tm-add" disabled=move || adding.get() on:click=add_another>
                        {ctx.t(Key::add_another)}
                    </button>
                }.into_any())}
            }
        })
    };
    view! {
        <Modal title on_close=close return_focus>
            {move || match setup.get() {
                Some(instance_id) => view! {
                    <SetupFlow
                        solution_id=solution_id.get_value()
                        instance_id
                        on_done=Callback::new(move |()| setup.set(None))
                    />
                }
                .into_any(),
                None => instance_list.into_any(),
            }}
        </Modal>
    }
}
