use leptos::prelude::*;
use marketplace_wire::Status;

use crate::{
    context::use_ctx,
    state::{status_class, status_key},
};

#[component]
pub fn StatusBadge(status: Status) -> impl IntoView {
    let ctx = use_ctx();
    view! { <span class=status_class(status)>{ctx.t(status_key(status))}</span> }
}
