use leptos::prelude::*;

use super::focus_after_render;
use crate::{
    components::{InstanceRow, Modal, SetupFlow},
    context::{use_ctx, OpenPanel},
    state::{can_add_instance, connection_count, lists, row_of},
    strings::Key,
};

/// An integration's dialog: its instances (each editable), or the setup of one.
#[component]
pub fn IntegrationDialog(panel: OpenPanel) -> impl IntoView {
    let ctx = use_ctx();
    let solution_id = StoredValue::new(panel.solution_id.clone());
    // Whole here: the card shows four lines of the description at most.
    let (title, description) = ctx
        .integration(&panel.solution_id)
        .map(|i| (i.title, i.description))
        .unwrap_or_default();
    let setup = RwSignal::new(panel.setup);
    let integration = Memo::new(move |_| {
        ctx.catalog
            .with(|c| c.integration(&solution_id.get_value()))
    });
    let close = Callback::new(move |()| {
        ctx.notice.set(None);
        ctx.open.set(None);
    });
    let return_focus = format!(
        "[data-solution-id=\"{}\"]:not([hidden]) .tm-card-action",
        panel.solution_id
    );
    let add_failure = RwSignal::new(None::<String>);
    let connections = move || integration.with(|i| i.as_ref().map_or(0, |i| i.instances.len()));
    // The user's connections, of every integration, at the last Add: its failure ("as
    // many connections as this app allows", the user's limit) is stale once there are
    // fewer, whichever was deleted, here or in another tab.
    let connections_at_add = StoredValue::new(0);
    let add_another = move |_| {
        let Some(integration) = integration.get_untracked() else {
            return;
        };
        connections_at_add.set_value(ctx.catalog.with_untracked(connection_count));
        ctx.start_connect(integration, add_failure, Some(setup));
    };
    let add_failure_shown = move || {
        let fewer = ctx.catalog.with(connection_count) < connections_at_add.get_value();
        add_failure.get().filter(|_| !fewer)
    };
    // One row per instance: a change to an instance redraws only what changed in its row,
    // so an editor or a sign-in open in it, or in another row, survives it. The list
    // only grows while the dialog is open: a deleted connection's row hides itself, and
    // a rename typed in another row meanwhile stays.
    let instance_ids = Memo::new(move |shown: Option<&Vec<String>>| {
        let mut ids = shown.cloned().unwrap_or_default();
        integration.with(|i| {
            for instance in i.iter().flat_map(|i| &i.instances) {
                if !ids.contains(&instance.id) {
                    ids.push(instance.id.clone());
                }
            }
        });
        ids
    });
    let row = move |instance_id: String| {
        let id = instance_id.clone();
        let row = Memo::new(move |_| integration.with(|i| row_of(i.as_ref()?, &id)));
        let id = instance_id.clone();
        let resume_setup = Callback::new(move |()| setup.set(Some(id.clone())));
        view! { <InstanceRow instance_id row resume_setup /> }
    };
    // The rows there when the list is drawn are drawn once; connections that appear
    // meanwhile (made in another tab, found by a fresh catalog) join after them. Unkeyed
    // (a keyed <For> costs 6 KB gzip), only those late rows are redrawn when one more
    // comes, and the rows the user is busy in are left alone.
    let rows = move || {
        let drawn = instance_ids.get_untracked();
        let first_late = drawn.len();
        let late = move || {
            instance_ids
                .with(|ids| ids.get(first_late..).map(<[String]>::to_vec))
                .unwrap_or_default()
                .into_iter()
                .map(row)
                .collect_view()
        };
        let mut rows: Vec<AnyView> = drawn.into_iter().map(|id| row(id).into_any()).collect();
        // A list of views, as before, rather than a tuple: 1.2 KB gzip less.
        rows.push(late.into_any());
        rows
    };
    let can_add = move || integration.with(|i| i.as_ref().is_some_and(can_add_instance));
    // With every connection deleted, there is nothing to add another to.
    let add_label = move || {
        ctx.t(if connections() == 0 {
            Key::connect
        } else {
            Key::add_another
        })
    };
    let instance_list = move || {
        view! {
            // Announced already (ctx.fail_change): seen here, not heard twice.
            <p class="tm-hint">{move || ctx.notice.get()}</p>
            <ul class="tm-instances" role="list">
                {rows}
            </ul>
            {move || can_add().then(|| view! {
                <button class="tm-button tm-add" aria-disabled=move || ctx.is_connecting(&solution_id.get_value()).to_string() on:click=add_another>
                    {add_label}
                </button>
            }.into_any())}
            <p class="tm-field-error">{add_failure_shown}</p>
        }
    };
    // A setup whose connection is gone (deleted elsewhere) gives way to the list, which
    // says so; focus goes where the user can go on, not to the first row's Disable.
    // (A list of none or one: the memo type the rows use already, where a memo of an
    // Option would cost the wasm 1.1 KB.)
    let setup_shown = Memo::new(move |_| {
        setup
            .get()
            .into_iter()
            .filter(|id| integration.with(|i| i.as_ref().is_some_and(|i| lists(i, id))))
            .collect::<Vec<_>>()
    });
    let body = NodeRef::<leptos::html::Div>::new();
    view! {
        <Modal title on_close=close return_focus>
            <p class="tm-dialog-description">{description}</p>
            <div node_ref=body>
            {move || match setup_shown.get().pop() {
                None if setup.get_untracked().is_some() => {
                    if let Some(dialog) = body.get_untracked().and_then(|b| b.closest(".tm-dialog").ok().flatten()) {
                        focus_after_render(dialog, None, &[".tm-add", ".tm-close"]);
                    }
                    instance_list.into_any()
                }
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
            </div>
        </Modal>
    }
}
