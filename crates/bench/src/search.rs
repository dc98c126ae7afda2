//! Searching a large catalog: the time one keystroke in the search field takes to show
//! its result (the widget's script, then the browser's style and layout), with 250
//! integrations (past Tray's page of 100) of which 100 are connected.

use std::path::Path;

use anyhow::Context;
use e2e::Browser;
use marketplace_wire::{Catalog, Instance, Integration, Status};

use crate::widget::{distribution, Distribution};

/// Integrations in the catalog searched.
pub const INTEGRATIONS: usize = 250;

/// What the user types, one keystroke at a time, then erases: each prefix is a query.
const TYPED: &str = "sales sync";

/// Times [`TYPED`] is typed and erased, after a first pass that is not counted.
const PASSES: usize = 3;

const SERVICES: [&str; 10] = [
    "Slack",
    "Salesforce",
    "HubSpot",
    "Jira",
    "Stripe",
    "Zendesk",
    "Mailchimp",
    "Asana",
    "GitHub",
    "Google Sheets",
];
const TAGS: [&str; 6] = ["crm", "chat", "sync", "billing", "support", "marketing"];

/// `INTEGRATIONS` integrations, named as a marketplace names them ("Salesforce to
/// Slack"), with a description and tags; two in five have a connection.
pub fn large_catalog() -> Catalog {
    let integrations = (0..INTEGRATIONS)
        .map(|n| {
            let from = SERVICES[n % SERVICES.len()];
            // Never the service itself: 1 to 9 places on.
            let to =
                SERVICES[(n + 1 + (n / SERVICES.len()) % (SERVICES.len() - 1)) % SERVICES.len()];
            let solution_id = format!("bench-{n}");
            let instances = if n % 5 < 2 {
                vec![Instance {
                    id: format!("{solution_id}-i"),
                    solution_id: solution_id.clone(),
                    name: format!("{from} to {to}"),
                    enabled: true,
                    status: Status::Connected,
                    auth_values: vec![],
                    config_values: vec![],
                    created_at: 0,
                    settings_confirmed: true,
                }]
            } else {
                vec![]
            };
            Integration {
                solution_id,
                title: format!("{from} to {to} #{n}"),
                description: Some(format!(
                    "Keeps {to} up to date with what changes in {from}: new records, \
                     updates and deletions, within a minute, with a log of every run."
                )),
                tags: vec![
                    TAGS[n % TAGS.len()].to_owned(),
                    TAGS[(n / 3) % TAGS.len()].to_owned(),
                ],
                icon_url: None,
                force_unique: false,
                auto_enable: true,
                auth_slots: vec![],
                config_slots: vec![],
                instances,
            }
        })
        .collect();
    Catalog {
        integrations,
        dialog_origin: "http://127.0.0.1:9".into(),
    }
}

/// The page: the widget mounted through the JS API with `catalog` as its first catalog,
/// so no request is made; `window.__ready` is set by its `ready` event.
pub struct SearchPage {
    name: &'static str,
}

impl SearchPage {
    pub fn write(dist: &Path, catalog: &Catalog) -> anyhow::Result<SearchPage> {
        let json = serde_json::to_string(catalog)?.replace("</", "<\\/");
        let html = format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>bench: search</title></head>
<body><div id="widget"></div>
<script type="module">
import {{ mount }} from '/widget/embed.js';
mount(document.getElementById('widget'), {{
  proxyUrl: location.origin, token: 'unused', locale: 'en', catalog: {json},
  onEvent: ({{ type }}) => {{ if (type === 'ready') window.__ready = true; }},
}});
</script></body></html>"#
        );
        let page = SearchPage {
            name: "bench-search.html",
        };
        std::fs::write(dist.join(page.name), html)?;
        Ok(page)
    }

    pub fn url(&self, origin: &str) -> String {
        format!("{origin}/widget/{}", self.name)
    }

    pub fn remove(&self, dist: &Path) {
        let _ = std::fs::remove_file(dist.join(self.name));
    }
}

/// Loads the page and types [`TYPED`] into the search, then erases it, a keystroke at a
/// time with a pause between; each keystroke's time from its `input` event until the
/// browser has laid out the grid it left (the widget renders in microtasks, which run
/// before the next task, a message the probe posts itself; a timer would add the 4 ms
/// browsers clamp nested timers to). Paint is not included.
pub async fn keystrokes(
    browser: &Browser,
    url: &str,
    catalog: &Catalog,
) -> anyhow::Result<Distribution> {
    browser.client.goto(url).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while browser
        .client
        .execute("return !!window.__ready;", vec![])
        .await?
        != true
    {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{url}: no ready within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let typed: Vec<String> = (1..=TYPED.len()).map(|n| TYPED[..n].to_owned()).collect();
    let mut pass = typed.clone();
    pass.extend(typed.into_iter().rev().skip(1));
    pass.push(String::new());
    // The first pass also compiles the code it runs (the browser compiles wasm lazily):
    // left out.
    let queries: Vec<&String> = std::iter::repeat_n(&pass, PASSES + 1).flatten().collect();
    let times = browser
        .client
        .execute_async(
            r#"
const [queries, done] = arguments;
const root = document.getElementById('widget').shadowRoot;
const search = root.querySelector('.tm-search');
const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A task right after the microtasks: a chain of setTimeout(0) is clamped to 4 ms.
const next_task = () => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = resolve;
  channel.port2.postMessage(0);
});
const shown = () => root.querySelectorAll('.tm-card:not([hidden])').length;
(async () => {
  const times = [];
  const shown_after = {};
  for (const query of queries) {
    const start = performance.now();
    search.value = query;
    search.dispatchEvent(new Event('input', { bubbles: true }));
    await next_task();
    root.querySelector('.tm-root').getBoundingClientRect();
    times.push(performance.now() - start);
    shown_after[query] = shown();
    await settle(30);
  }
  done({ times, shown_after });
})();
"#,
            vec![serde_json::to_value(&queries)?],
        )
        .await?;
    let measured: Measured =
        serde_json::from_value(times).context("reading the keystroke times")?;
    // A search that did nothing would be timed all the same: what it showed is checked.
    for (query, expected) in [(TYPED, matching(catalog, TYPED)), ("", INTEGRATIONS)] {
        let shown = measured.shown_after.get(query).copied();
        anyhow::ensure!(
            shown == Some(expected),
            "the search for {query:?} showed {shown:?} cards, not {expected}"
        );
    }
    Ok(distribution(measured.times[pass.len()..].to_vec()))
}

#[derive(serde::Deserialize)]
struct Measured {
    times: Vec<f64>,
    /// Cards shown after each query.
    shown_after: std::collections::HashMap<String, usize>,
}

/// How many integrations have every word of `query` in their title, description or
/// tags (ASCII, so lower case is all the folding the widget's search does here).
fn matching(catalog: &Catalog, query: &str) -> usize {
    catalog
        .integrations
        .iter()
        .filter(|i| {
            let text = format!(
                "{}\n{}\n{}",
                i.title,
                i.description.as_deref().unwrap_or_default(),
                i.tags.join("\n")
            )
            .to_lowercase();
            query.split_whitespace().all(|word| text.contains(word))
        })
        .count()
}
