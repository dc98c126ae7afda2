//! A typed client of Tray's GraphQL API.

pub mod documents;

use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};

use crate::error::ProxyError;

/// Talks to one Tray organisation (or the sandbox) with its master token.
#[derive(Clone)]
pub struct TrayClient {
    http: reqwest::Client,
    graphql_url: String,
    master_token: String,
}

impl TrayClient {
    pub fn new(http: reqwest::Client, graphql_url: String, master_token: String) -> Self {
        TrayClient {
            http,
            graphql_url,
            master_token,
        }
    }

    /// Every published solution carrying any of `tags` (all when empty), page by page.
    pub async fn list_solutions(&self, tags: &[String]) -> Result<Vec<Solution>, ProxyError> {
        let mut solutions = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let variables = json!({
                "tags": if tags.is_empty() { Value::Null } else { json!(tags) },
                "first": 100,
                "after": after,
            });
            let page: SolutionsData = self
                .execute(&self.master_token, documents::LIST_SOLUTIONS, variables)
                .await?;
            let connection = page.viewer.solutions;
            solutions.extend(connection.edges.into_iter().map(|edge| edge.node));
            match (
                connection.page_info.has_next_page,
                connection.page_info.end_cursor,
            ) {
                (true, Some(cursor)) => after = Some(cursor),
                _ => return Ok(solutions),
            }
        }
    }

    async fn execute<T: DeserializeOwned>(
        &self,
        token: &str,
        document: &str,
        variables: Value,
    ) -> Result<T, ProxyError> {
        let response = self
            .http
            .post(&self.graphql_url)
            .bearer_auth(token)
            .json(&json!({ "query": document, "variables": variables }))
            .send()
            .await
            .map_err(|err| ProxyError::TrayUnavailable(err.without_url().to_string()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ProxyError::TrayUnavailable(format!("HTTP {status}")));
        }
        let body: GraphqlResponse<T> = response
            .json()
            .await
            .map_err(|err| ProxyError::TrayRejected(format!("unreadable response: {err}")))?;
        if let Some(error) = body.errors.into_iter().next() {
            return Err(ProxyError::TrayRejected(error.message));
        }
        body.data
            .ok_or_else(|| ProxyError::TrayRejected("response carried no data".into()))
    }
}

#[derive(Deserialize)]
struct GraphqlResponse<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
}

#[derive(Deserialize)]
struct SolutionsData {
    viewer: SolutionsViewer,
}

#[derive(Deserialize)]
struct SolutionsViewer {
    solutions: Connection<Solution>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    edges: Vec<Edge<T>>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
struct Edge<T> {
    node: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Solution {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Vec<CustomField>,
    pub config_slots: Vec<ConfigSlot>,
    pub auth_slots: Vec<AuthSlot>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomField {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSlot {
    pub external_id: String,
    pub title: String,
    pub default_value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSlot {
    pub external_id: String,
    pub title: String,
}

impl Solution {
    pub fn custom_field(&self, key: &str) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|field| field.key == key)
            .map(|field| field.value.as_str())
    }

    /// Tray custom fields are strings; anything but "true" (any case) is false.
    pub fn flag(&self, key: &str) -> bool {
        self.custom_field(key)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }
}
