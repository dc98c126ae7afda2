//! The integrations marketplace widget: Leptos, client-side rendered, in a shadow root.
//!
//! `api` talks to the proxy (its JSON read and written by `wire_js`), `popup` runs Tray's auth dialog, `state` holds the logic
//! the views show (pure, testable), `strings` every user-visible text, `context` the
//! per-widget handles and actions, `components` the views, `mount` the JS API. The host
//! page either marks a container with `data-tray-marketplace` (embed.js mounts it) or
//! calls `mount(element, options)` itself.

pub mod api;
pub mod components;
pub mod context;
pub mod events;
pub mod mount;
pub mod popup;
pub mod state;
pub mod strings;
pub mod wire_js;

pub use mount::{mount, MountHandle};
