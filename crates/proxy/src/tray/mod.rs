//! A typed client of Tray's GraphQL API: variables only, an org-wide rate limiter, and
//! retries with backoff and jitter for the calls that are safe to repeat.

pub mod documents;
pub mod limiter;

use rand::Rng;
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};

use crate::error::ProxyError;
use limiter::RateLimiter;

/// Tray's answer past its rate limit (see shared/tray/README.md).
const RATE_LIMIT_MESSAGE: &str = "Rate limit exceeded";
const MAX_ATTEMPTS: u32 = 5;

/// Whether a call may be sent again after a failure that left its outcome unknown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Idempotent,
    Once,
}

/// Talks to one Tray organisation (or the sandbox).
#[derive(Clone)]
pub struct TrayClient {
    http: reqwest::Client,
    graphql_url: String,
    master_token: String,
    limiter: Arc<RateLimiter>,
}

impl TrayClient {
    pub fn new(
        http: reqwest::Client,
        graphql_url: String,
        master_token: String,
        limiter: RateLimiter,
    ) -> Self {
        TrayClient {
            http,
            graphql_url,
            master_token,
            limiter: Arc::new(limiter),
        }
    }

    /// Every published solution carrying any of `tags` (all when empty), page by page.
    pub async fn list_solutions(&self, tags: &[String]) -> Result<Vec<Solution>, ProxyError> {
        let tags = if tags.is_empty() {
            Value::Null
        } else {
            json!(tags)
        };
        let mut solutions = Vec::new();
        let (mut after, mut seen) = (None::<String>, Vec::new());
        loop {
            let variables = json!({ "tags": tags, "first": 100, "after": after });
            let data: Viewer<SolutionsField> = self
                .master(documents::LIST_SOLUTIONS, variables, Retry::Idempotent)
                .await?;
            let page = data.viewer.solutions;
            let next = page.page_info.next(&seen)?;
            solutions.extend(page.edges.into_iter().map(|edge| edge.node));
            match next {
                Some(cursor) => {
                    seen.push(cursor.clone());
                    after = Some(cursor);
                }
                None => return Ok(solutions),
            }
        }
    }

    /// The user's own instances (a user token sees nothing else), all of them or those
    /// `which` picks. Tray filters, so that looking up one instance costs one call however
    /// many the user has; what it answers is filtered here too, so that a Tray ignoring a
    /// criterion still yields only what was asked for.
    pub async fn list_instances(
        &self,
        user_token: &str,
        which: Instances<'_>,
    ) -> Result<Vec<SolutionInstance>, ProxyError> {
        let criteria = match which {
            Instances::All => Value::Null,
            Instances::Id(id) => json!({ "id": id }),
            Instances::OfSolution(solution_id) => json!({ "solutionId": solution_id }),
        };
        let mut instances = Vec::new();
        let (mut after, mut seen) = (None::<String>, Vec::new());
        loop {
            let variables = json!({ "criteria": criteria, "first": 100, "after": after });
            let data: Viewer<InstancesField> = self
                .call(
                    user_token,
                    documents::LIST_INSTANCES,
                    variables,
                    Retry::Idempotent,
                )
                .await?;
            let page = data.viewer.solution_instances;
            let next = page.page_info.next(&seen)?;
            let nodes = page.edges.into_iter().map(|edge| edge.node);
            instances.extend(nodes.filter(|instance| which.picks(instance)));
            match next {
                Some(cursor) => {
                    seen.push(cursor.clone());
                    after = Some(cursor);
                }
                None => return Ok(instances),
            }
        }
    }

    /// How many instances the user holds, by Tray's count: one call, however many.
    pub async fn count_instances(&self, user_token: &str) -> Result<usize, ProxyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Counted {
            solution_instances: Total,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Total {
            total_count: usize,
        }
        let data: Viewer<Counted> = self
            .call(
                user_token,
                documents::COUNT_INSTANCES,
                json!({}),
                Retry::Idempotent,
            )
            .await?;
        Ok(data.viewer.solution_instances.total_count)
    }

    pub async fn create_external_user(
        &self,
        external_user_id: &str,
        name: &str,
    ) -> Result<String, ProxyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            create_external_user: Created,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            user_id: String,
        }
        let variables = json!({ "externalUserId": external_user_id, "name": name });
        let data: Data = self
            .master(documents::CREATE_EXTERNAL_USER, variables, Retry::Once)
            .await?;
        Ok(data.create_external_user.user_id)
    }

    /// The Tray user already created for `external_user_id`, if any: used only to
    /// recover when our database lost the mapping, never per request.
    pub async fn find_user(&self, external_user_id: &str) -> Result<Option<String>, ProxyError> {
        #[derive(Deserialize)]
        struct Data {
            users: Connection<UserNode>,
        }
        let variables = json!({ "externalUserId": external_user_id });
        let data: Data = self
            .master(documents::FIND_USER, variables, Retry::Idempotent)
            .await?;
        let found: Vec<UserNode> = data.users.edges.into_iter().map(|e| e.node).collect();
        exactly_the_user(found, external_user_id)
    }

    /// Whether `auth_id` is one of the user's own authentications.
    pub async fn owns_authentication(
        &self,
        user_token: &str,
        auth_id: &str,
    ) -> Result<bool, ProxyError> {
        #[derive(Deserialize)]
        struct Authentications {
            authentications: Connection<AuthNode>,
        }
        #[derive(Deserialize)]
        struct AuthNode {
            id: String,
        }
        let data: Viewer<Authentications> = self
            .call(
                user_token,
                documents::OWN_AUTHENTICATIONS,
                json!({}),
                Retry::Idempotent,
            )
            .await?;
        let edges = data.viewer.authentications.edges;
        Ok(edges.iter().any(|edge| edge.node.id == auth_id))
    }

    pub async fn authorize(&self, tray_user_id: &str) -> Result<String, ProxyError> {
        #[derive(Deserialize)]
        struct Data {
            authorize: Token,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Token {
            access_token: String,
        }
        let data: Data = self
            .master(
                documents::AUTHORIZE,
                json!({ "userId": tray_user_id }),
                Retry::Idempotent,
            )
            .await?;
        Ok(data.authorize.access_token)
    }

    pub async fn generate_authorization_code(
        &self,
        tray_user_id: &str,
    ) -> Result<String, ProxyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            generate_authorization_code: Code,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Code {
            authorization_code: String,
        }
        let data: Data = self
            .master(
                documents::GENERATE_CODE,
                json!({ "userId": tray_user_id }),
                Retry::Idempotent,
            )
            .await?;
        Ok(data.generate_authorization_code.authorization_code)
    }

    /// Not retried on an unknown outcome: the caller's idempotency key reconciles it.
    pub async fn create_instance(
        &self,
        user_token: &str,
        solution_id: &str,
        name: &str,
        config_values: &[Value],
    ) -> Result<SolutionInstance, ProxyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            create_solution_instance: Payload,
        }
        let variables = json!({
            "solutionId": solution_id,
            "instanceName": name,
            "configValues": config_values,
        });
        let data: Data = self
            .call(
                user_token,
                documents::CREATE_INSTANCE,
                variables,
                Retry::Once,
            )
            .await?;
        Ok(data.create_solution_instance.solution_instance)
    }

    /// `input` is Tray's `UpdateSolutionInstanceInput`; setting values is idempotent.
    pub async fn update_instance(
        &self,
        user_token: &str,
        input: Value,
    ) -> Result<SolutionInstance, ProxyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            update_solution_instance: Payload,
        }
        let data: Data = self
            .call(
                user_token,
                documents::UPDATE_INSTANCE,
                json!({ "input": input }),
                Retry::Idempotent,
            )
            .await?;
        Ok(data.update_solution_instance.solution_instance)
    }

    pub async fn upgrade_instance(
        &self,
        user_token: &str,
        input: Value,
    ) -> Result<SolutionInstance, ProxyError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            upgrade_solution_instance: Payload,
        }
        let data: Data = self
            .call(
                user_token,
                documents::UPGRADE_INSTANCE,
                json!({ "input": input }),
                Retry::Idempotent,
            )
            .await?;
        Ok(data.upgrade_solution_instance.solution_instance)
    }

    pub async fn remove_instance(
        &self,
        user_token: &str,
        instance_id: &str,
    ) -> Result<(), ProxyError> {
        let _: Value = self
            .call(
                user_token,
                documents::REMOVE_INSTANCE,
                json!({ "solutionInstanceId": instance_id }),
                Retry::Idempotent,
            )
            .await?;
        Ok(())
    }

    async fn master<T: DeserializeOwned>(
        &self,
        document: &str,
        variables: Value,
        retry: Retry,
    ) -> Result<T, ProxyError> {
        self.call(&self.master_token, document, variables, retry)
            .await
    }

    /// Sends a call, again while it may not have reached Tray (`Retry::Idempotent`) or was
    /// rate limited; no new attempt starts past the deadline of [`with_deadline`].
    async fn call<T: DeserializeOwned>(
        &self,
        token: &str,
        document: &str,
        variables: Value,
        retry: Retry,
    ) -> Result<T, ProxyError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire().await?;
            match self.send(token, document, &variables).await {
                Err(err)
                    if err.is_transient()
                        && retry == Retry::Idempotent
                        && attempt < MAX_ATTEMPTS
                        && !past_retry_deadline() =>
                {
                    tracing::debug!(attempt, error = %err, "retrying a Tray call");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                // Rate limited means not executed: safe to send again even when not idempotent.
                Err(ProxyError::TrayRateLimited)
                    if attempt < MAX_ATTEMPTS && !past_retry_deadline() =>
                {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        token: &str,
        document: &str,
        variables: &Value,
    ) -> Result<T, ProxyError> {
        let response = self
            .http
            .post(&self.graphql_url)
            .bearer_auth(token)
            .json(&json!({ "query": document, "variables": variables }))
            .send()
            .await
            .map_err(unsent_or_unanswered)?;
        let status = response.status();
        // A gateway that gave up waiting, or got a broken answer: Tray may have it.
        if matches!(
            status,
            reqwest::StatusCode::GATEWAY_TIMEOUT | reqwest::StatusCode::BAD_GATEWAY
        ) {
            return Err(ProxyError::TrayUnanswered(format!("HTTP {status}")));
        }
        if status.is_server_error() {
            return Err(ProxyError::TrayUnavailable(format!("HTTP {status}")));
        }
        // Past the limit, whatever the body (an edge in front of Tray may answer for it).
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ProxyError::TrayRateLimited);
        }
        // A refused token is a 401 whatever the body (JSON, text, empty): never retried
        // as an outage, always a reason to renew the token.
        if status == reqwest::StatusCode::UNAUTHORIZED {
            let text = response.text().await.unwrap_or_default();
            return Err(ProxyError::TrayUnauthorized(unauthorized_reason(&text)));
        }
        // Errors first, data second: GraphQL may answer an error with partial data, which
        // need not have the shape a success has.
        // A refusal that is not GraphQL (a gateway's or firewall's 403, a 413, in HTML or
        // its own JSON) was not carried out, and sent again would be refused again.
        let refused_before_tray =
            status.is_client_error() && status != reqwest::StatusCode::REQUEST_TIMEOUT;
        let body: GraphqlResponse<Value> = match response.json().await {
            Ok(body) => body,
            Err(_) if refused_before_tray => {
                return Err(ProxyError::TrayBlocked(format!("HTTP {status}")))
            }
            // Cut off or garbled: whatever Tray did, its answer did not arrive.
            Err(err) => {
                return Err(ProxyError::TrayUnanswered(format!(
                    "unreadable response ({status}): {err}"
                )))
            }
        };
        if let Some(error) = body.errors.into_iter().next() {
            return Err(error.into());
        }
        let data = match body.data {
            Some(data) => data,
            None if refused_before_tray => {
                return Err(ProxyError::TrayBlocked(format!("HTTP {status}")))
            }
            None => {
                return Err(ProxyError::TrayUnanswered(
                    "response carried no data".into(),
                ))
            }
        };
        serde_json::from_value(data).map_err(|err| {
            ProxyError::TrayUnanswered(format!("unreadable response ({status}): {err}"))
        })
    }
}

/// A call that never left (no connection) is unavailable; any other failure to get an
/// answer (a timeout, a connection broken mid-call) leaves Tray's outcome unknown.
fn unsent_or_unanswered(err: reqwest::Error) -> ProxyError {
    let unsent = err.is_connect();
    let reason = err.without_url().to_string();
    if unsent {
        ProxyError::TrayUnavailable(reason)
    } else {
        ProxyError::TrayUnanswered(reason)
    }
}

/// The first GraphQL error message of a 401 body, else a generic reason.
fn unauthorized_reason(body: &str) -> String {
    serde_json::from_str::<GraphqlResponse<Value>>(body)
        .ok()
        .and_then(|body| body.errors.into_iter().next())
        .map_or_else(|| "HTTP 401".to_owned(), |error| error.message)
}

tokio::task_local! {
    /// See [`with_deadline`].
    static DEADLINE: tokio::time::Instant;
}

/// Runs `work` (a request, or a change whose caller may go) with its Tray calls bound by
/// `deadline`: none is attempted again after it (a first attempt still goes, and an
/// attempt under way runs to its answer), and none queues for the rate limit past half
/// the time left. A request's calls are not made for a caller who has given up; a change
/// whose caller went keeps going, but is not sent to Tray again long after its caller
/// was told it failed, where it could land after a newer change of the user's.
pub async fn with_deadline<F: std::future::Future>(
    deadline: tokio::time::Instant,
    work: F,
) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the work this runs in, if it has one.
fn deadline() -> Option<tokio::time::Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

fn past_retry_deadline() -> bool {
    deadline().is_some_and(|deadline| tokio::time::Instant::now() >= deadline)
}

/// Exponential backoff with full jitter: 100 ms, 200 ms, 400 ms, ... capped at 3 s.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (100u64 << attempt.min(5)).min(3_000);
    Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
}

#[derive(Deserialize)]
struct GraphqlResponse<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

/// A GraphQL error as Tray words it: `extensions.name` is `GraphQLError` (the document),
/// `PreconditionError` (the state of things or the values sent, `code` says which) or
/// `InternalError` (Tray's own failure, `errorId` to report).
#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    #[serde(default)]
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorExtensions {
    name: Option<String>,
    /// Text or a number: kept for the log either way.
    error_id: Option<Value>,
}

impl From<GraphqlError> for ProxyError {
    fn from(error: GraphqlError) -> Self {
        let extensions = error.extensions.unwrap_or_default();
        if error.message == RATE_LIMIT_MESSAGE {
            return ProxyError::TrayRateLimited;
        }
        // Tray failed, not the request: like an HTTP 5xx, the outcome is unknown and the
        // request is not the caller's mistake (an auth being attached is kept, not dropped).
        match extensions.name.as_deref() {
            Some("InternalError") => {
                let id = extensions
                    .error_id
                    .map_or_else(String::new, |id| format!(" (Tray error id {id})"));
                ProxyError::TrayUnavailable(format!("{}{id}", error.message))
            }
            Some("GraphQLError") => ProxyError::TrayDocument(error.message),
            _ => ProxyError::TrayRejected(error.message),
        }
    }
}

#[derive(Deserialize)]
struct Viewer<T> {
    viewer: T,
}

#[derive(Deserialize)]
struct SolutionsField {
    solutions: Connection<Solution>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstancesField {
    solution_instances: Connection<SolutionInstance>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    solution_instance: SolutionInstance,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    edges: Vec<Edge<T>>,
    #[serde(default)]
    page_info: Option<PageInfo>,
}

trait NextPage {
    /// The cursor of the next page, if there is one. A next page without a cursor, or
    /// with one already followed (`seen`), would be a page fetched again, for ever: a
    /// list cut short there could make the proxy forget instances on the pages after.
    fn next(self, seen: &[String]) -> Result<Option<String>, ProxyError>;
}

impl NextPage for Option<PageInfo> {
    fn next(self, seen: &[String]) -> Result<Option<String>, ProxyError> {
        let Some(page) = self.filter(|page| page.has_next_page) else {
            return Ok(None);
        };
        match page.end_cursor {
            Some(cursor) if !seen.contains(&cursor) => Ok(Some(cursor)),
            cursor => Err(ProxyError::TrayUnavailable(format!(
                "Tray's list did not move on past cursor {cursor:?}"
            ))),
        }
    }
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserNode {
    id: String,
    external_user_id: Option<String>,
}

/// Only the user of exactly this id: were Tray to match loosely (ignoring case, say),
/// taking its first answer would hand this host user someone else's connections. Users
/// listed, none of them this one, is no proof the user is gone (the caller would then
/// forget its mapping): an error. A lone user Tray names no id for is taken on Tray's
/// word, as its search asked for this id.
fn exactly_the_user(
    found: Vec<UserNode>,
    external_user_id: &str,
) -> Result<Option<String>, ProxyError> {
    if let [UserNode {
        id,
        external_user_id: None,
    }] = found.as_slice()
    {
        return Ok(Some(id.clone()));
    }
    let exact = found
        .iter()
        .find(|node| node.external_user_id.as_deref() == Some(external_user_id));
    match exact {
        Some(node) => Ok(Some(node.id.clone())),
        None if found.is_empty() => Ok(None),
        None => Err(ProxyError::TrayRejected(
            "Tray lists users under ids like this one, but none under exactly it".into(),
        )),
    }
}

/// Which of the user's instances to list.
#[derive(Debug, Clone, Copy)]
pub enum Instances<'a> {
    All,
    Id(&'a str),
    OfSolution(&'a str),
}

impl Instances<'_> {
    fn picks(self, instance: &SolutionInstance) -> bool {
        match self {
            Instances::All => true,
            Instances::Id(id) => instance.id == id,
            Instances::OfSolution(solution_id) => instance.solution.id == solution_id,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SolutionInstance {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    #[serde(default)]
    pub created: Option<String>,
    pub owner: String,
    /// Tray's own view of the solution: lets an instance be shown even when its
    /// solution is no longer in the published list.
    pub solution: Solution,
    pub auth_values: Vec<AuthSlotValue>,
    pub config_values: Vec<ConfigSlotValue>,
    pub solution_version_flags: VersionFlags,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSlotValue {
    pub external_id: String,
    pub auth_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSlotValue {
    pub external_id: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionFlags {
    pub has_newer_version: bool,
    pub requires_user_input_to_update_version: bool,
    pub requires_system_input_to_update_version: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(body: Value) -> ProxyError {
        let body: GraphqlResponse<Value> = serde_json::from_value(body).expect("a GraphQL answer");
        body.errors.into_iter().next().expect("an error").into()
    }

    #[test]
    fn trays_internal_error_is_an_outage_not_a_refusal() {
        let err = first_error(json!({"data": null, "errors": [{
            "message": "Something went wrong",
            "extensions": {"name": "InternalError", "errorId": "e-42"}
        }]}));
        assert!(err.is_transient(), "{err:?}");
        assert!(
            err.to_string().contains("e-42"),
            "the id to report is kept: {err}"
        );
    }

    #[test]
    fn a_document_tray_cannot_read_is_the_proxys_fault_not_the_users() {
        let err = first_error(json!({"data": null, "errors": [{
            "message": "Cannot query field \"nope\"",
            "extensions": {"name": "GraphQLError"}
        }]}));
        assert!(matches!(err, ProxyError::TrayDocument(_)), "{err:?}");
        assert!(!err.is_transient());
    }

    #[test]
    fn a_numeric_error_id_is_kept_too() {
        let err = first_error(json!({"data": null, "errors": [{
            "message": "Something went wrong",
            "extensions": {"name": "InternalError", "errorId": 4242}
        }]}));
        assert!(err.to_string().contains("4242"), "{err}");
    }

    #[test]
    fn a_precondition_or_a_plain_error_is_a_refusal() {
        for error in [
            json!({"message": "Solution instance x not found",
                   "extensions": {"name": "PreconditionError", "code": "resource_does_not_exist"}}),
            json!({"message": "Cannot enable: missing values"}),
        ] {
            let err = first_error(json!({"data": null, "errors": [error]}));
            assert!(matches!(err, ProxyError::TrayRejected(_)), "{err:?}");
        }
    }

    #[test]
    fn the_rate_limit_error_is_recognised() {
        let err = first_error(quoted_rate_limit_body());
        assert!(matches!(err, ProxyError::TrayRateLimited), "{err:?}");
    }

    /// Tray's answer past the limit, as shared/tray/README.md quotes it.
    fn quoted_rate_limit_body() -> Value {
        json!({"data": null, "errors": [{"message": "Rate limit exceeded",
            "extensions": {"name": "PreconditionError", "code": "access_not_allowed"}}]})
    }

    fn page(has_next_page: bool, end_cursor: Option<&str>) -> Option<PageInfo> {
        Some(PageInfo {
            has_next_page,
            end_cursor: end_cursor.map(str::to_owned),
        })
    }

    #[test]
    fn a_user_found_under_a_similar_id_is_not_taken() {
        let node = |id: &str, external: Option<&str>| UserNode {
            id: id.into(),
            external_user_id: external.map(str::to_owned),
        };
        let found = || {
            vec![
                node("tray-1", Some("Alice")),
                node("tray-2", None),
                node("tray-3", Some("alice")),
            ]
        };
        assert_eq!(
            exactly_the_user(found(), "alice").ok(),
            Some(Some("tray-3".into()))
        );
        assert!(
            exactly_the_user(found(), "ALICE").is_err(),
            "others listed: not proof the user is gone"
        );
        assert_eq!(exactly_the_user(vec![], "alice").ok(), Some(None));
        let unnamed = vec![node("tray-9", None)];
        assert_eq!(
            exactly_the_user(unnamed, "alice").ok(),
            Some(Some("tray-9".into()))
        );
    }

    #[test]
    fn a_list_goes_on_only_to_a_new_cursor() {
        let seen = ["a".to_owned()];
        let next = |page: Option<PageInfo>| page.next(&seen).ok();
        assert_eq!(next(page(true, Some("b"))), Some(Some("b".into())));
        assert_eq!(next(page(false, Some("b"))), Some(None), "the last page");
        assert_eq!(next(None), Some(None));
        assert_eq!(next(page(true, Some("a"))), None, "a page again");
        assert_eq!(next(page(true, None)), None, "no cursor to go on from");
        assert!(page(true, Some("a")).next(&[]).is_ok(), "the first page");
    }
}
