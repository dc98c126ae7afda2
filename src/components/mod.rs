//! The views, one component per file.

mod app;
mod catalog_view;
mod integration_card;

pub use app::App;
pub use catalog_view::CatalogView;
pub use integration_card::IntegrationCard;
