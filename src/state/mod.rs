//! What the views show, kept apart from how they show it.

use marketplace_wire::Catalog;

use crate::api::ApiError;

/// The catalog as the widget knows it at one moment.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogState {
    Loading,
    Loaded(Catalog),
    Failed(ApiError),
}
