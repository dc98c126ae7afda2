//! The integrations marketplace widget: Leptos, client-side rendered, in a shadow root.
//!
//! `api` talks to the proxy, `state` holds what the views show, `components` are the
//! views. The host page either marks a container with `data-tray-marketplace` (the
//! module mounts it at start-up) or calls `mount(element, options)` itself.

pub mod api;
pub mod components;
pub mod mount;
pub mod state;

pub use mount::{mount, MountHandle};
