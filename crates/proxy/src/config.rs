//! Command-line flags and environment, as operators set them.

use clap::{Parser, ValueEnum};
use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use crate::error::ProxyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Region {
    Us,
    Eu,
    Ap,
}

impl Region {
    pub fn graphql_url(self) -> &'static str {
        match self {
            Region::Us => "https://tray.io/graphql",
            Region::Eu => "https://eu1.tray.io/graphql",
            Region::Ap => "https://ap1.tray.io/graphql",
        }
    }

    pub fn dialog_url(self) -> &'static str {
        match self {
            Region::Us => "https://embedded.tray.io",
            Region::Eu => "https://embedded.eu1.tray.io",
            Region::Ap => "https://embedded.ap1.tray.io",
        }
    }
}

/// The endpoint between the integrations widget and Tray.io Embedded.
#[derive(Debug, Clone, Parser)]
#[command(
    version,
    after_help = "Environment only (secrets are never flags, so they never show in a process list):\n  \
                  TRAY_MASTER_TOKEN    the Tray organisation's master token (required)\n  \
                  HOST_JWT_SECRET      HS256 secret the host backend signs user tokens with\n  \
                  TRAY_WEBHOOK_SECRET  shared secret Tray passes as ?secret= to the auth-expiring webhook (off without it)"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "PROXY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Tray region whose endpoints to use.
    #[arg(long, env = "TRAY_REGION", value_enum, default_value = "us")]
    pub tray_region: Region,
    /// Tray GraphQL endpoint; overrides the region (the sandbox, a whitelabel domain).
    #[arg(long, env = "TRAY_GRAPHQL_URL")]
    pub tray_graphql_url: Option<String>,
    /// Origin of Tray's auth dialog pages; overrides the region.
    #[arg(long, env = "TRAY_DIALOG_URL")]
    pub tray_dialog_url: Option<String>,
    /// The organisation's Embedded ID (a setting, not a secret).
    #[arg(long, env = "TRAY_EMBEDDED_ID", default_value = "")]
    pub embedded_id: String,
    /// Offer only solutions with any of these tags (comma-separated; all when empty).
    #[arg(long, env = "SOLUTION_TAGS", value_delimiter = ',')]
    pub solution_tags: Vec<String>,
    /// Origins of host pages allowed to call the API (comma-separated).
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Directory of the built widget, served under /widget/.
    #[arg(long, env = "WIDGET_DIR")]
    pub widget_dir: Option<PathBuf>,
    /// Serve the demo host page at / and a token endpoint standing in for the host's
    /// backend at /demo/token (development and evaluation only).
    #[arg(long, env = "PROXY_DEMO")]
    pub demo: bool,
    /// PEM public key (RS256 or Ed25519) that verifies host user tokens, instead of HOST_JWT_SECRET.
    #[arg(long, env = "HOST_JWT_PUBLIC_KEY")]
    pub host_jwt_public_key: Option<PathBuf>,
    /// Required `aud` claim of host user tokens (checked when set).
    #[arg(long, env = "HOST_JWT_AUDIENCE")]
    pub host_jwt_audience: Option<String>,
    /// Longest a host user token may still be valid for, in seconds: a token whose `exp`
    /// lies further ahead is refused (a leaked one would work that long). 0: no limit.
    #[arg(long, env = "HOST_JWT_MAX_LIFETIME_SECS", default_value_t = 24 * 3600)]
    pub host_jwt_max_lifetime_secs: u64,
    /// `sqlite://file.db?mode=rwc` (default) or `postgres://...` for several replicas.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://proxy.db?mode=rwc"
    )]
    pub database_url: String,
    /// Postgres connections this replica keeps open at most. Every replica's count adds
    /// up against the server's `max_connections` (100 by default): lower it for many
    /// replicas or a small managed database. SQLite uses 4
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub database_max_connections: u32,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "PROXY_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,
    /// Seconds the catalog of solutions is cached (solutions change rarely).
    #[arg(long, env = "CATALOG_TTL_SECS", default_value_t = 60)]
    pub catalog_ttl_secs: u64,
    /// Tray requests per second the proxy allows itself (Tray's limit is 30/s per
    /// organisation). On Postgres the bucket is shared by every replica; on SQLite it is
    /// this process's own.
    #[arg(long, env = "TRAY_RATE_PER_SECOND", default_value_t = 25)]
    pub tray_rate_per_second: u32,
    /// Burst the proxy allows itself (Tray's is 50); shared by replicas on Postgres.
    #[arg(long, env = "TRAY_RATE_BURST", default_value_t = 40)]
    pub tray_rate_burst: u32,
    /// API requests per second one host user may make (0: no limit), so that one user
    /// cannot use up the organisation's Tray budget for everyone. Per process.
    #[arg(long, env = "USER_RATE_PER_SECOND", default_value_t = 10)]
    pub user_rate_per_second: u32,
    /// Burst of each user's share (a page load and a connect take a handful).
    #[arg(long, env = "USER_RATE_BURST", default_value_t = 30)]
    pub user_rate_burst: u32,
    /// Requests of one host user the proxy works on at once (0: no limit); more get a
    /// 429. Tray calls queue in arrival order, so this bounds how many of one user's
    /// requests can stand before another user's call. Per process.
    #[arg(long, env = "USER_REQUESTS_IN_FLIGHT", default_value_t = 8)]
    pub user_requests_in_flight: u32,
    /// Connections one host user may have (0: no limit). Listing them is one Tray call
    /// per 100, and the catalog lists them on every load.
    #[arg(long, env = "MAX_CONNECTIONS_PER_USER", default_value_t = 100)]
    pub max_connections_per_user: u32,
    /// Log lines as JSON objects (for log collectors) instead of text.
    #[arg(long, env = "PROXY_LOG_JSON")]
    pub log_json: bool,
    /// JSON file of the values the host supplies when a new solution version needs
    /// system input: `{"<config slot externalId>": value, "<solutionId>/<externalId>": value}`
    /// (the second form wins). Slots without one get their default.
    #[arg(long, env = "SYSTEM_VALUES_FILE")]
    pub system_values: Option<PathBuf>,
}

/// Secrets, read from the environment only.
#[derive(Clone, Default)]
pub struct Secrets {
    pub master_token: Option<String>,
    pub host_jwt_secret: Option<String>,
    pub webhook_secret: Option<String>,
}

impl Secrets {
    pub fn from_env() -> Self {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        Secrets {
            master_token: read("TRAY_MASTER_TOKEN"),
            host_jwt_secret: read("HOST_JWT_SECRET"),
            webhook_secret: read("TRAY_WEBHOOK_SECRET"),
        }
    }
}

/// How host user tokens are verified.
#[derive(Clone)]
pub enum HostKey {
    /// HS256 with a shared secret.
    Secret(String),
    /// RS256 or EdDSA with the public half of the host's key, as PEM.
    PublicPem(Vec<u8>),
}

/// HS256 keys shorter than its 256-bit hash are below what RFC 7518 requires.
pub const MIN_SECRET_BYTES: usize = 32;

/// The secret the demo signs its tokens with when none is configured. Demo only.
pub const DEMO_JWT_SECRET: &str = "demo-host-secret-not-for-production";

/// Everything the running proxy needs, resolved and checked.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub graphql_url: String,
    pub dialog_url: String,
    pub master_token: String,
    pub embedded_id: String,
    pub solution_tags: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub widget_dir: Option<PathBuf>,
    pub demo: bool,
    pub host_key: HostKey,
    pub host_jwt_audience: Option<String>,
    pub host_jwt_max_lifetime: std::time::Duration,
    pub database_url: String,
    /// Postgres only: the pool's size in this process.
    pub database_max_connections: u32,
    pub webhook_secret: Option<String>,
    pub body_limit: usize,
    pub catalog_ttl: std::time::Duration,
    /// Tray's rule: never enable an instance sooner than this after its creation.
    pub enable_delay: std::time::Duration,
    /// A request still unanswered after this gets a 504 (Tray too slow).
    pub request_timeout: std::time::Duration,
    /// Each call to Tray is given up after this; its outcome is then unknown.
    pub tray_timeout: std::time::Duration,
    /// An idempotency claim its holder has not renewed within this was abandoned (a
    /// crash, or a create Tray left unanswered) and is taken over by the next request.
    pub claim_stale_after: std::time::Duration,
    /// After a create Tray left unanswered, how long its retry waits for Tray to show
    /// the instance before it may make one itself. At least `claim_stale_after`, which
    /// is how long other creates of its name wait.
    pub unanswered_grace: std::time::Duration,
    /// How long an idempotency key is remembered after its last use: a retry later than
    /// this creates anew. (Stripe keeps its keys for 24 hours too.)
    pub idempotency_key_ttl: std::time::Duration,
    /// Kept under Tray's 30/s (bursts to 50), org-wide.
    pub tray_rate_per_second: u32,
    pub tray_rate_burst: u32,
    /// Each host user's share of the proxy (0: no limit).
    pub user_rate_per_second: u32,
    pub user_rate_burst: u32,
    pub user_requests_in_flight: u32,
    pub max_connections_per_user: u32,
    /// Config values the host supplies for versions that need system input, by
    /// `externalId` or `solutionId/externalId`.
    pub system_values: BTreeMap<String, serde_json::Value>,
}

impl std::fmt::Debug for Config {
    // Hand-written so the master token can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("graphql_url", &self.graphql_url)
            .field("dialog_url", &self.dialog_url)
            .field("master_token", &"<redacted>")
            .field("embedded_id", &self.embedded_id)
            .field("solution_tags", &self.solution_tags)
            .field("allowed_origins", &self.allowed_origins)
            .field("database_url", &redact_url(&self.database_url))
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

/// The serialized origin of a URL (`scheme://host[:port]`, lowercase, default port
/// left out): what the browser reports as `event.origin` for a page under it.
pub fn origin_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization(),
        // Unreachable for a checked Config (see `check_dialog_url`).
        Err(_) => url.to_owned(),
    }
}

/// The dialog URL must be an http(s) URL, or no browser origin can ever match it.
fn check_dialog_url(url: &str) -> Result<(), ProxyError> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        _ => Err(ProxyError::Config(format!(
            "TRAY_DIALOG_URL must be an http(s) URL, not {url:?}"
        ))),
    }
}

/// An allowed origin as browsers send it (`https://app.example.com`: lower case, no
/// path, no trailing slash), or `*` for any; anything else is a configuration error
/// rather than an origin that silently never matches.
fn host_origin(origin: &str) -> Result<String, ProxyError> {
    if origin == "*" {
        return Ok(origin.to_owned());
    }
    let invalid = || {
        ProxyError::Config(format!(
            "--allowed-origins takes origins like https://app.example.com (or *), not {origin:?}"
        ))
    };
    let parsed = reqwest::Url::parse(origin).map_err(|_| invalid())?;
    let bare = parsed.path() == "/" && parsed.query().is_none() && parsed.fragment().is_none();
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() || !bare {
        return Err(invalid());
    }
    Ok(parsed.origin().ascii_serialization())
}

/// The system values file: one JSON object, its keys slot ids (or `solution/slot`).
fn read_system_values(
    path: &std::path::Path,
) -> Result<BTreeMap<String, serde_json::Value>, ProxyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| ProxyError::Config(format!("cannot read {}: {err}", path.display())))?;
    serde_json::from_str(&text).map_err(|err| {
        ProxyError::Config(format!(
            "{} must be a JSON object of config slot ids to values: {err}",
            path.display()
        ))
    })
}

/// A database URL without its password, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://<redacted>@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// What the widget compares `event.origin` of dialog messages with.
    pub fn dialog_origin(&self) -> String {
        origin_of(&self.dialog_url)
    }

    /// Defaults for talking to one Tray-compatible endpoint (the sandbox in tests).
    pub fn for_endpoint(
        graphql_url: &str,
        dialog_url: &str,
        master_token: &str,
        embedded_id: &str,
    ) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            graphql_url: graphql_url.to_owned(),
            dialog_url: dialog_url.trim_end_matches('/').to_owned(),
            master_token: master_token.to_owned(),
            embedded_id: embedded_id.to_owned(),
            solution_tags: Vec::new(),
            allowed_origins: Vec::new(),
            widget_dir: None,
            demo: false,
            host_key: HostKey::Secret(DEMO_JWT_SECRET.to_owned()),
            host_jwt_audience: None,
            host_jwt_max_lifetime: std::time::Duration::from_secs(24 * 3600),
            database_url: "sqlite::memory:".to_owned(),
            database_max_connections: 16,
            webhook_secret: None,
            body_limit: 64 * 1024,
            catalog_ttl: std::time::Duration::from_secs(60),
            enable_delay: std::time::Duration::from_secs(2),
            request_timeout: std::time::Duration::from_secs(30),
            tray_timeout: std::time::Duration::from_secs(20),
            claim_stale_after: std::time::Duration::from_secs(60),
            unanswered_grace: std::time::Duration::from_secs(60),
            idempotency_key_ttl: std::time::Duration::from_secs(24 * 3600),
            tray_rate_per_second: 25,
            tray_rate_burst: 40,
            user_rate_per_second: 10,
            user_rate_burst: 30,
            user_requests_in_flight: 8,
            max_connections_per_user: 100,
            system_values: BTreeMap::new(),
        }
    }

    /// The host's value for `slot` of `solution_id`, if it supplies one.
    /// Whether the host supplies `slot` of `solution_id`: the user neither sees nor sets it.
    pub fn host_supplies(&self, solution_id: &str, slot: &str) -> bool {
        self.system_value(solution_id, slot).is_some()
    }

    pub fn system_value(&self, solution_id: &str, slot: &str) -> Option<&serde_json::Value> {
        self.system_values
            .get(&format!("{solution_id}/{slot}"))
            .or_else(|| self.system_values.get(slot))
    }

    pub fn from_args(args: Args, secrets: Secrets) -> Result<Config, ProxyError> {
        let master_token = secrets
            .master_token
            .ok_or_else(|| ProxyError::Config("TRAY_MASTER_TOKEN is not set".into()))?;
        let host_key = match (&args.host_jwt_public_key, secrets.host_jwt_secret) {
            // /demo/token signs a token for whoever asks: with the host's real key that
            // would let anyone sign in as anyone.
            (Some(_), _) | (_, Some(_)) if args.demo => {
                return Err(ProxyError::Config(
                    "--demo signs tokens for anyone at /demo/token, so it runs only with its public demo secret: unset HOST_JWT_SECRET and --host-jwt-public-key, or drop --demo".into(),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(ProxyError::Config(
                    "set either HOST_JWT_SECRET or --host-jwt-public-key, not both".into(),
                ))
            }
            (Some(path), None) => HostKey::PublicPem(std::fs::read(path).map_err(|err| {
                ProxyError::Config(format!("cannot read {}: {err}", path.display()))
            })?),
            (None, Some(secret)) if secret.len() < MIN_SECRET_BYTES => {
                return Err(ProxyError::Config(format!(
                    "HOST_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes: user tokens reach the browser, and a short secret can be guessed from one offline"
                )))
            }
            (None, Some(secret)) => HostKey::Secret(secret),
            (None, None) if args.demo => {
                tracing::warn!("HOST_JWT_SECRET is not set: demo mode signs and accepts tokens with a public demo secret");
                HostKey::Secret(DEMO_JWT_SECRET.to_owned())
            }
            (None, None) => {
                return Err(ProxyError::Config(
                    "set HOST_JWT_SECRET or --host-jwt-public-key to verify host users".into(),
                ))
            }
        };
        let graphql_url = args
            .tray_graphql_url
            .unwrap_or_else(|| args.tray_region.graphql_url().to_owned());
        let dialog_url = args
            .tray_dialog_url
            .unwrap_or_else(|| args.tray_region.dialog_url().to_owned())
            .trim_end_matches('/')
            .to_owned();
        check_dialog_url(&dialog_url)?;
        // Tray's dialog URLs carry the Embedded ID (the sandbox's too); without it every
        // popup fails.
        let embedded_id = args.embedded_id.trim().to_owned();
        if embedded_id.is_empty() {
            return Err(ProxyError::Config(
                "TRAY_EMBEDDED_ID (--embedded-id) is not set".into(),
            ));
        }
        let system_values = match &args.system_values {
            Some(path) => read_system_values(path)?,
            None => BTreeMap::new(),
        };
        Ok(Config {
            system_values,
            host_key,
            host_jwt_audience: args.host_jwt_audience,
            host_jwt_max_lifetime: std::time::Duration::from_secs(args.host_jwt_max_lifetime_secs),
            database_url: args.database_url,
            database_max_connections: args.database_max_connections,
            webhook_secret: secrets.webhook_secret,
            body_limit: args.body_limit,
            catalog_ttl: std::time::Duration::from_secs(args.catalog_ttl_secs),
            enable_delay: std::time::Duration::from_secs(2),
            request_timeout: std::time::Duration::from_secs(30),
            tray_timeout: std::time::Duration::from_secs(20),
            claim_stale_after: std::time::Duration::from_secs(60),
            unanswered_grace: std::time::Duration::from_secs(60),
            idempotency_key_ttl: std::time::Duration::from_secs(24 * 3600),
            tray_rate_per_second: args.tray_rate_per_second,
            tray_rate_burst: args.tray_rate_burst,
            user_rate_per_second: args.user_rate_per_second,
            user_rate_burst: args.user_rate_burst,
            user_requests_in_flight: args.user_requests_in_flight,
            max_connections_per_user: args.max_connections_per_user,
            listen: args.listen,
            graphql_url,
            dialog_url,
            master_token,
            embedded_id,
            solution_tags: args
                .solution_tags
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect(),
            allowed_origins: args
                .allowed_origins
                .iter()
                .filter(|o| !o.is_empty())
                .map(|o| host_origin(o))
                .collect::<Result<_, _>>()?,
            widget_dir: args.widget_dir,
            demo: args.demo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(master: &str) -> Secrets {
        Secrets {
            master_token: Some(master.into()),
            host_jwt_secret: Some("a-host-secret-of-at-least-32-bytes".into()),
            webhook_secret: None,
        }
    }

    #[test]
    fn a_short_host_secret_is_refused() {
        let mut short = secrets("t");
        short.host_jwt_secret = Some("host-secret".into());
        let err = Config::from_args(parse(&[]), short).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn host_identity_must_be_configured_outside_demo_mode() {
        let mut no_jwt = secrets("t");
        no_jwt.host_jwt_secret = None;
        let err = Config::from_args(parse(&[]), no_jwt.clone()).unwrap_err();
        assert!(err.to_string().contains("HOST_JWT_SECRET"));
        assert!(Config::from_args(parse(&["--demo"]), no_jwt).is_ok());
    }

    #[test]
    fn allowed_origins_are_written_as_browsers_send_them() {
        let config = Config::from_args(
            parse(&[
                "--allowed-origins",
                "HTTPS://App.Example.com/,http://localhost:3000",
            ]),
            secrets("t"),
        )
        .expect("valid");
        assert_eq!(
            config.allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        let any = Config::from_args(parse(&["--allowed-origins", "*"]), secrets("t"));
        assert_eq!(any.expect("valid").allowed_origins, ["*"]);
        for bad in [
            "app.example.com",
            "https://app.example.com/settings",
            "ftp://x.example",
        ] {
            let err = Config::from_args(parse(&["--allowed-origins", bad]), secrets("t"));
            assert!(err.is_err(), "{bad}");
        }
    }

    #[test]
    fn demo_mode_never_signs_with_the_hosts_real_secret() {
        let err = Config::from_args(parse(&["--demo"]), secrets("t")).unwrap_err();
        assert!(err.to_string().contains("--demo"), "{err}");
    }

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://u:pw@db:5432/x"),
            "postgres://<redacted>@db:5432/x"
        );
    }

    /// Arguments after a valid Embedded ID (a later `--embedded-id` overrides it).
    fn parse(args: &[&str]) -> Args {
        let base = ["proxy", "--embedded-id", "org-embedded-id"];
        Args::try_parse_from(base.into_iter().chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn region_picks_both_endpoints_and_urls_override_it() {
        let eu = Config::from_args(parse(&["--tray-region", "eu"]), secrets("t")).unwrap();
        assert_eq!(eu.graphql_url, "https://eu1.tray.io/graphql");
        assert_eq!(eu.dialog_url, "https://embedded.eu1.tray.io");
        let custom = Config::from_args(
            parse(&[
                "--tray-graphql-url",
                "http://127.0.0.1:9/graphql",
                "--tray-dialog-url",
                "http://127.0.0.1:10/",
            ]),
            secrets("t"),
        )
        .unwrap();
        assert_eq!(custom.graphql_url, "http://127.0.0.1:9/graphql");
        assert_eq!(custom.dialog_url, "http://127.0.0.1:10");
    }

    #[test]
    fn system_values_come_from_a_json_object_and_the_solutions_own_win() {
        let file = std::env::temp_dir().join(format!("system-{}.json", std::process::id()));
        std::fs::write(
            &file,
            r#"{"region": "eu", "sol-1/region": "us", "limit": 7}"#,
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let config = Config::from_args(parse(&["--system-values", path]), secrets("t")).unwrap();
        assert_eq!(config.system_value("sol-1", "region"), Some(&"us".into()));
        assert_eq!(config.system_value("sol-2", "region"), Some(&"eu".into()));
        assert_eq!(config.system_value("sol-2", "limit"), Some(&7.into()));
        assert_eq!(config.system_value("sol-2", "other"), None);

        std::fs::write(&file, "[1, 2]").unwrap();
        let err = Config::from_args(parse(&["--system-values", path]), secrets("t")).unwrap_err();
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn missing_master_token_is_a_clear_error() {
        let err = Config::from_args(parse(&[]), Secrets::default()).unwrap_err();
        assert!(err.to_string().contains("TRAY_MASTER_TOKEN"));
    }

    #[test]
    fn master_token_is_redacted_from_debug_output() {
        let config = Config::from_args(parse(&[]), secrets("s3cr3t-master")).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t-master"));
    }
}
