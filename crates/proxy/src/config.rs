//! Command-line flags and environment, as operators set them.

use clap::{Parser, ValueEnum};
use std::{net::SocketAddr, path::PathBuf};

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
    after_help = "Environment only (never a flag, so it never shows in a process list):\n  \
                  TRAY_MASTER_TOKEN  the Tray organisation's master token (required)"
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
    /// Serve the demo host page at / (development and evaluation only).
    #[arg(long, env = "PROXY_DEMO")]
    pub demo: bool,
}

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
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_args(args: Args, master_token: Option<String>) -> Result<Config, ProxyError> {
        let master_token = master_token
            .filter(|token| !token.trim().is_empty())
            .ok_or_else(|| ProxyError::Config("TRAY_MASTER_TOKEN is not set".into()))?;
        Ok(Config {
            listen: args.listen,
            graphql_url: args
                .tray_graphql_url
                .unwrap_or_else(|| args.tray_region.graphql_url().to_owned()),
            dialog_url: args
                .tray_dialog_url
                .unwrap_or_else(|| args.tray_region.dialog_url().to_owned())
                .trim_end_matches('/')
                .to_owned(),
            master_token,
            embedded_id: args.embedded_id,
            solution_tags: args
                .solution_tags
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect(),
            allowed_origins: args
                .allowed_origins
                .into_iter()
                .filter(|o| !o.is_empty())
                .collect(),
            widget_dir: args.widget_dir,
            demo: args.demo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("proxy").chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn region_picks_both_endpoints_and_urls_override_it() {
        let eu = Config::from_args(parse(&["--tray-region", "eu"]), Some("t".into())).unwrap();
        assert_eq!(eu.graphql_url, "https://eu1.tray.io/graphql");
        assert_eq!(eu.dialog_url, "https://embedded.eu1.tray.io");
        let custom = Config::from_args(
            parse(&[
                "--tray-graphql-url",
                "http://127.0.0.1:9/graphql",
                "--tray-dialog-url",
                "http://127.0.0.1:10/",
            ]),
            Some("t".into()),
        )
        .unwrap();
        assert_eq!(custom.graphql_url, "http://127.0.0.1:9/graphql");
        assert_eq!(custom.dialog_url, "http://127.0.0.1:10");
    }

    #[test]
    fn missing_master_token_is_a_clear_error() {
        let err = Config::from_args(parse(&[]), None).unwrap_err();
        assert!(err.to_string().contains("TRAY_MASTER_TOKEN"));
    }

    #[test]
    fn master_token_is_redacted_from_debug_output() {
        let config = Config::from_args(parse(&[]), Some("s3cr3t-master".into())).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t-master"));
    }
}
