//! What the widget API does, independent of HTTP: users, tokens, the cached catalog,
//! instances with their status, and the auths kept until Tray accepts them.

mod auths;
mod changes;
mod create;
mod listing;
mod users;

use marketplace_wire::{self as wire, Instance, Integration, Status};
use serde_json::{json, Value};
use std::{collections::HashMap, collections::HashSet, time::Duration};
use tokio::{sync::Mutex, time::Instant};

use crate::{
    catalog::to_integration,
    db::{now_ms, AuthList, Claim, CreationRequest, Db, PendingAuth, StoredInstance},
    error::ProxyError,
    identity::HostUser,
    lease::Lease,
    tray::{Instances, Solution, SolutionInstance, TrayClient},
};

/// Keys the proxy claims for itself start with this; a client's key may not.
const RESERVED_KEY_PREFIX: &str = "proxy:";

/// How far Tray's clock may be ahead of or behind ours, when comparing its creation
/// times with the moments our creates began.
const CLOCK_SKEW_MS: i64 = 30_000;

/// Whether attaching kept auths waits for a slot another request is attaching.
#[derive(Clone, Copy)]
enum Wait {
    Yes,
    No,
}

/// While one of the user's instances waits for them on a new version, the catalog they
/// see is at most this old (a further version may add more slots).
const CATALOG_TTL_AWAITING_UPDATE: Duration = Duration::from_secs(5);

/// What the widget API does, shared by every handler. Its work is split by concern:
/// users, the catalog (`listing`), creates, changes, and sign-ins (`auths`).
pub struct Marketplace {
    pub config: crate::Config,
    pub tray: TrayClient,
    pub db: Db,
    catalog_ttl: Duration,
    enable_delay: Duration,
    tags: Vec<String>,
    catalog: Mutex<Option<(Instant, Vec<Solution>)>>,
    /// Instances known to wait for the user on a new version. One that newly does was
    /// most likely published after the cached catalog: it is fetched again at once, so
    /// the new version's slots show without waiting out the TTL.
    awaiting_update: Mutex<HashSet<String>>,
    /// Instances whose system upgrade Tray refused, and when.
    system_upgrade_failed: Mutex<HashMap<String, Instant>>,
    /// Instances for which Tray refused the host's settings, and when.
    host_values_failed: Mutex<HashMap<String, Instant>>,
    /// Owners whose kept sign-ins the retry loop failed to attach: when to try next, and
    /// the wait after that (doubling up to `RETRY_BACKOFF_MAX`). A user Tray keeps
    /// refusing costs the organisation's rate budget one attempt per ten minutes, not
    /// one every round.
    retry_after: Mutex<HashMap<String, (Instant, Duration)>>,
    /// Tray user id -> (user token, unix ms after which it is renewed).
    user_tokens: Mutex<HashMap<String, (String, i64)>>,
    /// Attaching to a slot is one at a time (striped by instance and slot): an auth kept
    /// through an outage, sent again, must not land after a newer one the user attached.
    /// A lock in the process, not a claim in the database: a catalog load dropped by its
    /// timeout frees it at once (an attach runs to its end), and a user's attach may wait
    /// as long as a retry takes in Tray's rate limit. (Across replicas the two may still
    /// cross; see docs.)
    slot_locks: [Mutex<()>; SLOT_LOCKS],
}

const SLOT_LOCKS: usize = 64;

/// The caller, resolved to their Tray user and a valid user token.
pub struct Session {
    pub external_user_id: String,
    pub tray_user_id: String,
    pub token: String,
}

/// The longest id, slot or key the client sends (Tray's ids are UUIDs): room to spare,
/// not room for a megabyte.
const MAX_ID_CHARS: usize = 200;

/// An id or key the client makes up (or Tray's, relayed): stored and compared as text,
/// so 1 to `max` characters and no control character (Postgres refuses a NUL outright,
/// which would be a 500 instead of the caller's mistake).
fn check_token_text(field: &str, value: &str, max: usize) -> Result<(), ProxyError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(ProxyError::BadRequest(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ProxyError::BadRequest(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// A name (trimmed, showing something) is shown as text, in a list: at most 200
/// characters, and a control character (a NUL, a line break) or a bidirectional override
/// (which makes "exe.txt" read as "txt.exe") has no place in it.
fn check_name(name: &str) -> Result<(), ProxyError> {
    if name.chars().count() > 200 {
        return Err(ProxyError::BadRequest(
            "name must be at most 200 characters".into(),
        ));
    }
    if name.chars().any(unfit_in_name) {
        return Err(ProxyError::BadRequest(
            "name must not contain control characters".into(),
        ));
    }
    Ok(())
}

pub(crate) fn unfit_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn enc(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// When Tray made `instance`, in ms since the epoch. Without a readable time it counts
/// as made now: waiting 2 s too many before enabling is harmless, enabling too early
/// leaves its triggers without a working URL.
fn created_ms(instance: &SolutionInstance) -> i64 {
    instance
        .created
        .as_deref()
        .and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or_else(now_ms, |at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// When an instance the proxy did not see made counts as made, for the 2 s Tray wants
/// before enabling: Tray's time, unless that is so recent that Tray's clock, maybe
/// behind ours, could put it too early; then now, when it certainly was made.
fn adopted_created_at(tray_created_ms: i64, now_ms: i64) -> i64 {
    now_ms.min(tray_created_ms.saturating_add(CLOCK_SKEW_MS))
}

impl Marketplace {
    pub fn new(config: crate::Config, tray: TrayClient, db: Db) -> Marketplace {
        Marketplace {
            tray,
            db,
            catalog_ttl: config.catalog_ttl,
            enable_delay: config.enable_delay,
            tags: config.solution_tags.clone(),
            config,
            catalog: Mutex::new(None),
            awaiting_update: Mutex::new(HashSet::new()),
            system_upgrade_failed: Mutex::new(HashMap::new()),
            host_values_failed: Mutex::new(HashMap::new()),
            slot_locks: std::array::from_fn(|_| Mutex::new(())),
            user_tokens: Mutex::new(HashMap::new()),
            retry_after: Mutex::new(HashMap::new()),
        }
    }

    /// An idempotency claim its holder has not renewed within this was abandoned.
    fn stale_claim_ms(&self) -> i64 {
        millis(self.config.claim_stale_after)
    }

    /// How often a live holder renews its claim: several renewals fit in the stale time.
    fn claim_renewal(&self) -> Duration {
        self.config.claim_stale_after / 4
    }

    /// The solutions on offer, from Tray at most once per TTL.
    pub async fn solutions(&self) -> Result<Vec<Solution>, ProxyError> {
        self.solutions_within(self.catalog_ttl).await
    }

    /// The solutions, from the cache if it is younger than `max_age`, or if it was
    /// fetched since this call began: requests waiting on one fetch all take its list,
    /// however many ask for a fresh one at once.
    async fn solutions_within(&self, max_age: Duration) -> Result<Vec<Solution>, ProxyError> {
        let asked = Instant::now();
        let mut cached = self.catalog.lock().await;
        if let Some((fetch_began, solutions)) = cached.as_ref() {
            if fetch_began.elapsed() < max_age || *fetch_began >= asked {
                return Ok(solutions.clone());
            }
        }
        let fetch_began = Instant::now();
        let solutions = self.tray.list_solutions(&self.tags).await?;
        *cached = Some((fetch_began, solutions.clone()));
        Ok(solutions)
    }

    async fn solution(&self, solution_id: &str) -> Result<Solution, ProxyError> {
        self.solution_within(solution_id, self.catalog_ttl).await
    }

    /// The solution of one of the user's instances: from the catalog, else as Tray lists
    /// it with the instance. A solution no longer offered (unpublished, or outside
    /// SOLUTION_TAGS) still has instances whose auths must be renewable.
    async fn solution_of(
        &self,
        session: &Session,
        stored: &StoredInstance,
    ) -> Result<Solution, ProxyError> {
        match self.solution(&stored.solution_id).await {
            Err(ProxyError::NotFound(_)) => {
                Ok(self.tray_instance(session, &stored.id).await?.solution)
            }
            other => other,
        }
    }

    async fn solution_within(
        &self,
        solution_id: &str,
        max_age: Duration,
    ) -> Result<Solution, ProxyError> {
        self.solutions_within(max_age)
            .await?
            .into_iter()
            .find(|solution| solution.id == solution_id)
            .ok_or_else(|| ProxyError::NotFound(format!("no integration {solution_id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_tray_made_a_moment_ago_counts_as_made_now() {
        let now = 1_700_000_000_000;
        // Tray's clock may be behind: "a second ago" could be after our now.
        assert_eq!(adopted_created_at(now - 1_000, now), now);
    }

    #[test]
    fn an_instance_made_long_ago_may_be_enabled_at_once() {
        let now = 1_700_000_000_000;
        let made = adopted_created_at(now - 3_600_000, now);
        assert!(made + 2_000 < now, "no wait: {made}");
    }
}
