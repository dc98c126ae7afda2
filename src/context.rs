//! What every component of one mounted widget shares, and the actions that touch the
//! proxy (so components stay views).

use leptos::prelude::*;
use marketplace_wire::{Catalog, Instance, Integration, Status, UpdateInstance};

use crate::{
    api::{ApiClient, ApiError},
    events::Emitter,
    state::{next_setup_step, CatalogState, SetupStep},
    strings::{Key, Strings},
};

/// Which integration's dialog is open, and the instance being set up in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPanel {
    pub solution_id: String,
    pub setup: Option<String>,
}

/// Copyable handles; async continuations use `try_*` because the widget may have been
/// unmounted meanwhile.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub api: StoredValue<ApiClient, LocalStorage>,
    pub events: StoredValue<Emitter, LocalStorage>,
    pub strings: StoredValue<Strings>,
    pub catalog: RwSignal<CatalogState>,
    pub announcement: RwSignal<String>,
    pub open: RwSignal<Option<OpenPanel>>,
    /// Why a connection left the open dialog (deleted elsewhere): its row is gone, so
    /// the dialog says it until it closes.
    pub notice: RwSignal<Option<String>>,
    /// The integrations whose Connect is under way. Cards are drawn anew with every
    /// catalog that changed; this outlives them, so a card drawn meanwhile still shows
    /// its Connect busy, and a second press sends no second create (which the proxy
    /// would refuse as under way "elsewhere").
    pub connecting: RwSignal<Vec<String>>,
}

pub fn use_ctx() -> Ctx {
    expect_context::<Ctx>()
}

impl Ctx {
    pub fn t(&self, key: Key) -> String {
        self.strings
            .try_with_value(|s| s.get(key))
            .unwrap_or_default()
    }

    pub fn fill(&self, key: Key, arg: &str) -> String {
        self.strings
            .try_with_value(|s| s.fill(key, arg))
            .unwrap_or_default()
    }

    /// [`Strings::around`] in the widget's strings.
    pub fn around(&self, key: Key) -> (String, Option<String>) {
        self.strings
            .try_with_value(|s| s.around(key))
            .unwrap_or_default()
    }

    pub fn client(&self) -> Option<ApiClient> {
        self.api.try_get_value()
    }

    pub fn emit(&self, name: &str, fields: &[(&str, &str)]) {
        self.events.try_with_value(|e| e.emit(name, fields));
    }

    /// Tells the host the catalog is on screen: once the render the fetched catalog
    /// scheduled has run, not before (a host measuring or scripting the cards finds them).
    pub fn ready(self) {
        // After the microtask that runs the woken render, which was queued first.
        queue_microtask(move || self.emit("ready", &[]));
    }

    /// Puts `text` in the live regions. The same text twice in a row is no change to a
    /// screen reader, so a repeat differs by an invisible character.
    pub fn announce(&self, text: String) {
        self.announcement.try_update(|current| {
            *current = if *current == text {
                text + "\u{200b}"
            } else {
                text
            };
        });
    }

    /// A failure in the user's language (the host's `error` event keeps the details).
    pub fn describe(&self, err: &ApiError) -> String {
        match err {
            // The browser's reason ("Failed to fetch") is in its own language: the host's
            // `error` event keeps it.
            ApiError::Network(_) => self.t(Key::network_failed),
            // Outages and the server's own failures get the widget's words; a refusal of
            // what the user did keeps the proxy's, which name the reason.
            ApiError::Server {
                status,
                code,
                message,
            } => match code.as_str() {
                "tray_unavailable" => self.t(Key::service_unavailable),
                "rate_limited" => self.t(Key::service_busy),
                // A 5xx page of something before the proxy: not reached, as an outage.
                "http" if *status >= 500 => self.t(Key::service_unavailable),
                "internal" | "tray_credentials" | "tray_error" | "http" => {
                    self.t(Key::service_failed)
                }
                "unauthenticated" => self.t(Key::session_expired),
                "limit_reached" => self.t(Key::limit_reached),
                "too_large" => self.t(Key::too_large),
                // Another tab's (or request's) connect of it is under way.
                "conflict" => self.t(Key::under_way_elsewhere),
                _ => message.clone(),
            },
            ApiError::Decode(_) => self.t(Key::unexpected_answer),
        }
    }

    /// Announces a failure and tells the host. A refusal (at the limit, under way
    /// elsewhere, too large) is said as it is: nothing went wrong, and its words say why.
    pub fn fail(&self, err: &ApiError) -> String {
        let message = self.describe(err);
        let refused = matches!(err, ApiError::Server { code, .. }
            if code == "limit_reached" || code == "conflict" || code == "too_large");
        self.announce(if refused {
            message.clone()
        } else {
            self.fill(Key::failed, &message)
        });
        self.emit("error", &[("message", &err.to_string())]);
        message
    }

    /// Announces why a change to instance `id` failed, by the connection's name, as a
    /// success is heard ("Slack disabled"): with several connections "something went
    /// wrong" says neither which nor what, and once its editor or dialog closed nothing
    /// on screen says so either.
    pub fn fail_named(&self, id: &str, message: &str) {
        self.announce(match self.instance_name(id) {
            Some(name) => self.fill(Key::not_saved, &name) + " " + message,
            None => self.fill(Key::failed, message),
        });
    }

    /// Fetches the catalog; keeps what is shown when a refresh fails. True on success.
    pub async fn reload(self) -> bool {
        self.refresh().await.is_ok()
    }

    /// [`Self::reload`], failing with why, in the user's words.
    async fn refresh(self) -> Result<(), String> {
        let Some(api) = self.client() else {
            return Err(String::new());
        };
        match api.catalog().await {
            Ok(catalog) => {
                self.show_catalog(catalog);
                Ok(())
            }
            Err(err) => {
                let showing = self
                    .catalog
                    .try_with_untracked(|c| matches!(c, CatalogState::Loaded(_)))
                    .unwrap_or(false);
                if showing {
                    Err(self.fail(&err))
                } else {
                    let why = self.describe(&err);
                    self.emit("error", &[("message", &err.to_string())]);
                    self.catalog.try_set(CatalogState::Failed(err));
                    Err(why)
                }
            }
        }
    }

    fn show_catalog(self, catalog: Catalog) {
        // Unchanged, nothing is rendered again: what the cards show (a failure, focus)
        // stays.
        let fresh = CatalogState::Loaded(catalog);
        let changed = self.catalog.try_with_untracked(|shown| *shown != fresh);
        if changed == Some(true) {
            self.catalog.try_set(fresh);
        }
    }

    /// Fetches the catalog after a change whose outcome is unknown; whether it came. A
    /// failure here goes unannounced: the change's own is.
    async fn recheck(self) -> bool {
        let Some(api) = self.client() else {
            return false;
        };
        let Ok(catalog) = api.catalog().await else {
            return false;
        };
        self.show_catalog(catalog);
        true
    }

    pub fn integration(&self, solution_id: &str) -> Option<Integration> {
        self.catalog
            .try_with_untracked(|c| c.integration(solution_id))
            .flatten()
    }

    fn instance(&self, solution_id: &str, instance_id: &str) -> Option<(Integration, Instance)> {
        let integration = self.integration(solution_id)?;
        let instance = integration
            .instances
            .iter()
            .find(|i| i.id == instance_id)?
            .clone();
        Some((integration, instance))
    }

    /// Connects in the background, one at a time per integration (see `connecting`,
    /// which its buttons show); a failure is announced and left in `failure` for the view
    /// to show.
    pub fn start_connect(
        self,
        integration: Integration,
        failure: RwSignal<Option<String>>,
        setup_in: Option<RwSignal<Option<String>>>,
    ) {
        // Its button is only `aria-disabled` meanwhile (a disabled button drops focus).
        let solution_id = integration.solution_id.clone();
        if self.is_connecting(&solution_id) {
            return;
        }
        self.connecting
            .update(|under_way| under_way.push(solution_id.clone()));
        failure.set(None);
        leptos::task::spawn_local(async move {
            if let Err(err) = self.connect(integration, setup_in).await {
                failure.try_set(Some(self.fail(&err)));
            }
            self.connecting
                .try_update(|under_way| under_way.retain(|id| *id != solution_id));
        });
    }

    /// Whether a Connect of `solution_id` is under way (tracked: a card shows it).
    pub fn is_connecting(&self, solution_id: &str) -> bool {
        self.connecting
            .try_with(|under_way| under_way.iter().any(|id| id == solution_id))
            .unwrap_or(false)
    }

    /// Creates an instance and opens its setup: in `setup_in`, the setup of the dialog
    /// it was added from (that dialog stays, and its focus with it), else in a dialog.
    async fn connect(
        self,
        integration: Integration,
        setup_in: Option<RwSignal<Option<String>>>,
    ) -> Result<(), ApiError> {
        let api = self.client().ok_or_else(ApiError::unmounted)?;
        // A create kept for its unknown outcome (or refused as under way, the first try
        // after a reload) may have made its connection by now: shown if so, not made again.
        if api.keeps_create(&integration.solution_id)
            && self.open_made_meanwhile(&integration, setup_in).await
        {
            return Ok(());
        }
        let instance = match api.create_instance(&integration).await {
            // Another tab's connect, or this page's before a reload, made it meanwhile
            // (one per user, or one of this name at a time). (Nothing new listed: still
            // being made, say; the proxy's answer says so.)
            Err(err) if matches!(&err, ApiError::Server { status: 409, code, .. } if code == "conflict") =>
            {
                if self.open_made_meanwhile(&integration, setup_in).await {
                    return Ok(());
                }
                return Err(err);
            }
            other => other?,
        };
        let id = instance.id.clone();
        self.show(instance).await;
        // Closed meanwhile: the card offers Finish setting up (Manage, beside other
        // connections, whose list has the setup's row).
        if let Some(setup) = setup_in {
            setup.try_set(Some(id));
            return Ok(());
        }
        self.open_if_free(OpenPanel {
            solution_id: integration.solution_id,
            setup: Some(id),
        });
        Ok(())
    }

    /// Whether a fresh catalog lists a connection of `integration` it did not list before
    /// (made elsewhere, or by an earlier try). If so, the user goes on with it: with its
    /// setup while it is being set up, as if this Connect had made it, else in its dialog.
    async fn open_made_meanwhile(
        self,
        integration: &Integration,
        setup_in: Option<RwSignal<Option<String>>>,
    ) -> bool {
        self.reload().await;
        let made = self
            .integration(&integration.solution_id)
            .and_then(|listed| {
                listed
                    .instances
                    .into_iter()
                    .find(|new| !integration.instances.iter().any(|known| known.id == new.id))
            });
        let Some(made) = made else {
            return false;
        };
        let setup = (made.status == Status::SettingUp).then_some(made.id);
        match setup_in {
            // Asked from its dialog: that dialog lists it now.
            Some(setup_in) => {
                if setup.is_some() {
                    setup_in.try_set(setup);
                }
            }
            None => self.open_if_free(OpenPanel {
                solution_id: integration.solution_id.clone(),
                setup,
            }),
        }
        true
    }

    /// Opens `panel`, unless the user opened another integration's dialog while the
    /// request ran: what they do there (typing, say) is not taken away, and the card
    /// offers Finish setting up instead.
    fn open_if_free(self, panel: OpenPanel) {
        let free = self.open.try_with_untracked(|open| {
            open.as_ref()
                .is_none_or(|open| open.solution_id == panel.solution_id)
        });
        if free == Some(true) {
            self.open.try_set(Some(panel));
        }
    }

    /// Shows `instance` as the proxy answered it, in place of the catalog's copy: a
    /// fetch of the whole catalog would cost a Tray request and a round trip per step.
    /// Fetches only when the catalog does not list its integration.
    pub async fn show(self, instance: Instance) {
        // A copy changed and set back: one more closure through the signal's update
        // would cost nearly 1 KB of wasm.
        if let Some(CatalogState::Loaded(mut catalog)) = self.catalog.try_get_untracked() {
            if let Some(integration) = catalog
                .integrations
                .iter_mut()
                .find(|i| i.solution_id == instance.solution_id)
            {
                match integration
                    .instances
                    .iter_mut()
                    .find(|i| i.id == instance.id)
                {
                    Some(listed) => *listed = instance,
                    None => integration.instances.push(instance),
                }
                self.catalog.try_set(CatalogState::Loaded(catalog));
                return;
            }
        }
        self.reload().await;
    }

    /// Whether the catalog shown lists instance `id`.
    pub fn lists(&self, id: &str) -> bool {
        self.instance_name(id).is_some()
    }

    /// The name of instance `id` in the catalog shown.
    fn instance_name(&self, id: &str) -> Option<String> {
        self.listing(id).map(|(_, name)| name)
    }

    /// The integration (its solution id) and the name of instance `id` in the catalog
    /// shown.
    fn listing(&self, id: &str) -> Option<(String, String)> {
        self.catalog
            .try_with_untracked(|catalog| match catalog {
                CatalogState::Loaded(catalog) => catalog.integrations.iter().find_map(|i| {
                    let instance = i.instances.iter().find(|instance| instance.id == id)?;
                    Some((i.solution_id.clone(), instance.name.clone()))
                }),
                _ => None,
            })
            .flatten()
    }

    /// Whether the catalog shown says a change of unknown outcome was made: a deletion
    /// no longer listed (`Some(None)`); a rename, Enable or Disable `asked` for, or an
    /// update to the latest version (`upgraded`), which the connection now shows
    /// (`Some(the instance)`).
    fn made_after_all(
        &self,
        id: &str,
        event: &str,
        asked: Option<&UpdateInstance>,
    ) -> Option<Option<Instance>> {
        if event == "deleted" {
            return (!self.lists(id)).then_some(None);
        }
        let asked = asked?;
        self.catalog
            .try_with_untracked(|catalog| match catalog {
                CatalogState::Loaded(catalog) => catalog
                    .integrations
                    .iter()
                    .flat_map(|integration| &integration.instances)
                    .find(|instance| {
                        instance.id == id
                            && (event != "upgraded" || instance.status != Status::NeedsUpdate)
                            && asked.enabled.is_none_or(|on| instance.enabled == on)
                            && asked
                                .name
                                .as_ref()
                                .is_none_or(|name| instance.name == *name)
                    })
                    .cloned(),
                _ => None,
            })
            .flatten()
            .map(Some)
    }

    /// Takes a deleted instance off the catalog.
    fn forget(self, instance_id: &str) {
        if let Some(CatalogState::Loaded(mut catalog)) = self.catalog.try_get_untracked() {
            for integration in &mut catalog.integrations {
                integration.instances.retain(|i| i.id != instance_id);
            }
            self.catalog.try_set(CatalogState::Loaded(catalog));
        }
    }

    /// After a slot was filled: shows the instance as the proxy `answered`, enables it
    /// when it is complete (and the solution enables automatically), then tells the
    /// host it is connected.
    pub async fn advance_setup(
        self,
        solution_id: String,
        instance_id: String,
        configured: bool,
        answered: Option<Instance>,
    ) -> Result<(), String> {
        if let Some(instance) = answered {
            self.show(instance).await;
        }
        let Some((integration, instance)) = self.instance(&solution_id, &instance_id) else {
            return Ok(());
        };
        let mut step = next_setup_step(&integration, &instance, configured);
        let mut enabled = instance.enabled;
        if step == SetupStep::Enable {
            // Tray wants 2 s between creating and enabling: the proxy waits them out,
            // so no timer here outlives an unmount.
            let enable = UpdateInstance {
                name: None,
                enabled: Some(true),
            };
            let Some(api) = self.client() else {
                return Ok(());
            };
            // An Enable whose answer was lost may have been made: the catalog says.
            let result = api.update_instance(&instance_id, &enable).await.map(Some);
            match self
                .settle(&instance_id, "enabled", Some(&enable), result)
                .await
            {
                Ok(enabled) => {
                    if let Some(enabled) = enabled {
                        self.show(enabled).await;
                    }
                }
                Err(err) => return Err(self.fail_change(&instance_id, &err).await),
            }
            step = SetupStep::Done;
            enabled = true;
        }
        if step == SetupStep::Done {
            // An integration that does not switch itself on says so: "connected" would
            // promise it runs.
            let said = if enabled {
                Key::connected_announce
            } else {
                Key::setup_done_off
            };
            self.announce(self.fill(said, &integration.title));
            self.emit(
                "connected",
                &[("solutionId", &solution_id), ("instanceId", &instance_id)],
            );
        }
        Ok(())
    }

    /// After a change to an instance: shows it as the proxy answered (`None`: it was
    /// deleted) and reports it as `event`, or announces the failure and returns its
    /// message.
    pub async fn changed(
        self,
        title: String,
        instance_id: String,
        event: &'static str,
        result: Result<Option<Instance>, ApiError>,
        asked: Option<UpdateInstance>,
    ) -> Result<(), String> {
        // `event`: the host event (`updated`, `deleted`), or `enabled` / `disabled` for
        // an Enable or Disable and `upgraded` for an update to the latest version, which
        // the host hears as `updated`.
        // Not found, and gone from a fresh catalog too: a deletion is done.
        let result = match result {
            Err(err @ ApiError::Server { status: 404, .. }) if event == "deleted" => {
                self.reload().await;
                if self.lists(&instance_id) {
                    Err(err)
                } else {
                    Ok(None)
                }
            }
            other => {
                self.settle(&instance_id, event, asked.as_ref(), other)
                    .await
            }
        };
        match result {
            Ok(changed) => {
                // A rename is heard by its new name.
                let title = changed
                    .as_ref()
                    .map_or(title, |instance| instance.name.clone());
                match changed {
                    Some(instance) => self.show(instance).await,
                    None => self.forget(&instance_id),
                }
                // Enable and Disable say which it is now; the host hears `updated`.
                let (key, event) = match event {
                    "deleted" => (Key::deleted_announce, event),
                    "enabled" => (Key::enabled_announce, "updated"),
                    "disabled" => (Key::disabled_announce, "updated"),
                    "upgraded" => (Key::updated_announce, "updated"),
                    _ => (Key::updated_announce, event),
                };
                self.announce(self.fill(key, &title));
                self.emit(event, &[("instanceId", &instance_id)]);
                Ok(())
            }
            // Announced and told to the host; the message is the caller's to show.
            Err(err) => Err(self.fail_change(&instance_id, &err).await),
        }
    }

    /// A change's `result`, with one whose answer was lost or unreadable counted as done
    /// when it was made all the same: the catalog says, and the row shows what Tray
    /// holds (see [`Self::made_after_all`]). Not after a rate limit: nothing was done,
    /// and a fetch would only add to the load.
    async fn settle(
        self,
        instance_id: &str,
        event: &str,
        asked: Option<&UpdateInstance>,
        result: Result<Option<Instance>, ApiError>,
    ) -> Result<Option<Instance>, ApiError> {
        match result {
            Err(err)
                if err.outcome_unknown()
                    && !matches!(err, ApiError::Server { status: 429, .. }) =>
            {
                let made = self
                    .recheck()
                    .await
                    .then(|| self.made_after_all(instance_id, event, asked));
                made.flatten().ok_or(err)
            }
            other => other,
        }
    }

    /// Announces that the sign-in window could not be opened for instance `id` (its
    /// code was not given) and returns the message: a sign-in failed, no change was lost.
    /// Not found is a connection gone, as for a change.
    pub async fn fail_sign_in(self, id: &str, err: &ApiError) -> String {
        let message = match err {
            ApiError::Server { status: 404, .. } => {
                if let Some(why) = self.gone_after_all(id, err).await {
                    return why;
                }
                // Still listed: the sign-in to renew was replaced meanwhile, say. The
                // proxy's words are for the host.
                self.t(Key::dialog_failed_unexplained)
            }
            _ => self.fill(Key::dialog_failed, &self.describe(err)),
        };
        self.announce(message.clone());
        self.emit("error", &[("message", &err.to_string())]);
        message
    }

    /// Announces a failed change to instance `id` and returns its message. Not found,
    /// and gone from a fresh catalog too (deleted in another tab, or on Tray's side; the
    /// proxy may just not have known it yet): it says so by the connection's name, its
    /// row goes with the fresh catalog, and a setup of it closes (its dialog sees it gone;
    /// the dialog itself stays, with its live region and focus).
    pub async fn fail_change(self, id: &str, err: &ApiError) -> String {
        if let ApiError::Server { status: 404, .. } = err {
            if let Some(why) = self.gone_after_all(id, err).await {
                return why;
            }
        }
        let message = self.describe(err);
        self.fail_named(id, &message);
        self.emit("error", &[("message", &err.to_string())]);
        message
    }

    /// After a not found for instance `id`: fetches the catalog, and when it no longer
    /// lists the connection, says it is gone by its name (and in its integration's
    /// dialog, if that is the one open) and returns that. Also returns why the catalog
    /// could not be fetched (in the user's words, announced already): unconfirmed,
    /// rather than the proxy's "no instance". `None` while it is still listed: a 404 is
    /// no proof of a deletion, a replaced sign-in is one too.
    async fn gone_after_all(self, id: &str, err: &ApiError) -> Option<String> {
        let (solution_id, name) = self.listing(id).unwrap_or_default();
        if let Err(why) = self.refresh().await {
            return Some(why);
        }
        if self.lists(id) {
            return None;
        }
        let message = self.fill(Key::gone, &name);
        self.announce(message.clone());
        let in_view = self
            .open
            .try_with_untracked(|open| open.as_ref().is_some_and(|p| p.solution_id == solution_id));
        if in_view == Some(true) {
            self.notice.try_set(Some(message.clone()));
        }
        self.emit("error", &[("message", &err.to_string())]);
        Some(message)
    }
}
