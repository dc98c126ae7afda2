//! The GraphQL schema, as Tray's external API declares it (`shared/tray/schema.graphql`),
//! with Tray's token rules: each resolver says which token it accepts.

use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, InputObject, InputValueError, InputValueResult,
    Interface, Object, Scalar, ScalarType, Schema, SimpleObject, Value, ID,
};
use std::sync::Arc;

use crate::{
    catalog::SolutionDef,
    control::bump,
    domain::fill_defaults,
    error::SandboxError,
    store::{
        iso8601, new_id, now_ms, AuthRow, InstanceRow, StoredAuthValue, StoredConfigValue, UserRow,
    },
    SandboxState,
};

pub type TraySchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(state: Arc<SandboxState>) -> TraySchema {
    schema_builder().data(state).finish()
}

fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .register_output_type::<Node>()
        .register_output_type::<User>()
}

/// The sandbox's schema in SDL, to compare with `shared/tray/schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// Who is calling, from the `Authorization: Bearer` header (checked before the schema runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Master,
    User(String),
}

const MASTER_ONLY: &str =
    "This operation requires the master token; a user token cannot perform it";
const USER_ONLY: &str =
    "This operation requires a user token (from authorize); the master token cannot perform it";

fn require_master(ctx: &Context<'_>) -> async_graphql::Result<()> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::Master) => Ok(()),
        _ => Err(precondition(MASTER_ONLY, ACCESS_NOT_ALLOWED)),
    }
}

fn require_user(ctx: &Context<'_>) -> async_graphql::Result<String> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User(id)) => Ok(id.clone()),
        _ => Err(precondition(USER_ONLY, ACCESS_NOT_ALLOWED)),
    }
}

fn state<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<SandboxState>> {
    ctx.data::<Arc<SandboxState>>()
}

// Tray's error shape: `extensions.name` says whose failure it is (`GraphQLError`: the
// document; `PreconditionError`: the state of things or the values sent, `code` saying
// which when Tray has one; `InternalError`: Tray's own, with an `errorId`). The schema's
// own parse and validation errors are named in `name_graphql_errors`.
const ACCESS_NOT_ALLOWED: Option<&str> = Some("access_not_allowed");
const RESOURCE_DOES_NOT_EXIST: Option<&str> = Some("resource_does_not_exist");
const USER_DOES_NOT_EXIST: Option<&str> = Some("user_does_not_exist");

fn precondition(message: impl Into<String>, code: Option<&'static str>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("name", "PreconditionError");
        if let Some(code) = code {
            extensions.set("code", code);
        }
    })
}

fn gql(err: SandboxError) -> async_graphql::Error {
    match err {
        SandboxError::NotFound(message) => precondition(message, RESOURCE_DOES_NOT_EXIST),
        SandboxError::Conflict(message) => precondition(message, Some("resource_already_exists")),
        SandboxError::Invalid(message) => precondition(message, None),
        other => async_graphql::Error::new(other.to_string()).extend_with(|_, extensions| {
            extensions.set("name", "InternalError");
            extensions.set("errorId", uuid::Uuid::new_v4().to_string());
        }),
    }
}

/// Errors no resolver named come from parsing and validating the document: Tray's
/// `GraphQLError`.
pub fn name_graphql_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("name").is_none() {
            extensions.set("name", "GraphQLError");
        }
    }
}

/// Tray's `Json` scalar: JSON text carried as a GraphQL string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(pub String);

#[Scalar(name = "Json")]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(text) => Ok(Json(text)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// ISO-8601 UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTime(pub String);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(text) => Ok(DateTime(text)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID"))]
pub enum Node {
    Solution(Solution),
    SolutionInstance(SolutionInstance),
    WorkflowInstance(WorkflowInstance),
    Authentication(Authentication),
    Service(Service),
    ServiceEnvironment(ServiceEnvironment),
    ExternalUser(ExternalUser),
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID"))]
pub enum User {
    ExternalUser(ExternalUser),
}

// --- pagination -----------------------------------------------------------------------------

#[derive(SimpleObject, Clone, Debug)]
#[graphql(rename_fields = "camelCase")]
pub struct PageInfo {
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
    pub start_cursor: Option<String>,
    pub has_previous_page: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct PageArgs<'a> {
    first: Option<i32>,
    last: Option<i32>,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

fn encode_cursor(key: i64) -> String {
    format!("cursor:{key}")
}

fn decode_cursor(cursor: &str) -> async_graphql::Result<i64> {
    cursor
        .strip_prefix("cursor:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| precondition(format!("Invalid cursor: {cursor}"), None))
}

fn count(name: &str, value: Option<i32>) -> async_graphql::Result<Option<usize>> {
    match value {
        Some(n) if n < 0 => Err(precondition(format!("`{name}` must not be negative"), None)),
        Some(n) => Ok(Some(n as usize)),
        None => Ok(None),
    }
}

/// Relay pagination over items keyed by a stable, increasing key.
fn paginate<T>(
    items: Vec<(i64, T)>,
    args: PageArgs<'_>,
) -> async_graphql::Result<(Vec<(String, T)>, PageInfo)> {
    let after = args.after.map(decode_cursor).transpose()?;
    let before = args.before.map(decode_cursor).transpose()?;
    let first = count("first", args.first)?;
    let last = count("last", args.last)?;
    let keys: Vec<i64> = items.iter().map(|(key, _)| *key).collect();
    let mut page: Vec<(i64, T)> = items
        .into_iter()
        .filter(|(key, _)| after.is_none_or(|a| *key > a) && before.is_none_or(|b| *key < b))
        .collect();
    if let Some(first) = first {
        page.truncate(first);
    }
    if let Some(last) = last {
        let skip = page.len().saturating_sub(last);
        page.drain(..skip);
    }
    let (start, end) = match (page.first(), page.last()) {
        (Some((start, _)), Some((end, _))) => (Some(*start), Some(*end)),
        _ => (None, None),
    };
    let page_info = PageInfo {
        start_cursor: start.map(encode_cursor),
        end_cursor: end.map(encode_cursor),
        has_next_page: match end {
            Some(end) => keys.iter().any(|key| *key > end),
            None => after.is_some_and(|a| keys.iter().any(|key| *key > a)) && first != Some(0),
        },
        has_previous_page: match start {
            Some(start) => keys.iter().any(|key| *key < start),
            None => after.is_some(),
        },
    };
    let edges = page
        .into_iter()
        .map(|(key, item)| (encode_cursor(key), item))
        .collect();
    Ok((edges, page_info))
}

// --- queries --------------------------------------------------------------------------------

pub struct Query;

#[Object]
impl Query {
    async fn viewer(&self) -> Viewer {
        Viewer
    }

    /// Master token only.
    async fn users(
        &self,
        ctx: &Context<'_>,
        criteria: Option<UserSearchCriteria>,
        first: Option<i32>,
        last: Option<i32>,
        before: Option<String>,
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        require_master(ctx)?;
        let state = state(ctx)?;
        let criteria = criteria.unwrap_or_default();
        let users: Vec<(i64, ExternalUser)> = state
            .store
            .users()
            .await
            .map_err(gql)?
            .into_iter()
            .filter(|user| criteria.matches(user))
            .map(|user| (user.seq, ExternalUser::from(user)))
            .collect();
        let args = PageArgs {
            first,
            last,
            before: before.as_deref(),
            after: after.as_deref(),
        };
        let (edges, page_info) = paginate(users, args)?;
        Ok(UserConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, node)| UserConnectionEdge { node, cursor })
                .collect(),
            page_info,
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(rename_fields = "camelCase")]
pub struct UserSearchCriteria {
    pub external_user_id: Option<String>,
    pub name: Option<String>,
    pub user_id: Option<String>,
}

impl UserSearchCriteria {
    fn matches(&self, user: &UserRow) -> bool {
        self.external_user_id
            .as_ref()
            .is_none_or(|id| *id == user.external_user_id)
            && self.name.as_ref().is_none_or(|name| *name == user.name)
            && self.user_id.as_ref().is_none_or(|id| *id == user.id)
    }
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UserConnection {
    pub edges: Vec<UserConnectionEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct UserConnectionEdge {
    pub node: ExternalUser,
    pub cursor: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct ExternalUser {
    pub id: ID,
    pub name: String,
    pub external_user_id: Option<String>,
}

impl From<UserRow> for ExternalUser {
    fn from(user: UserRow) -> Self {
        ExternalUser {
            id: user.id.into(),
            name: user.name,
            external_user_id: Some(user.external_user_id),
        }
    }
}

pub struct Viewer;

#[Object]
impl Viewer {
    /// Master token only; published solutions, latest version.
    async fn solutions(
        &self,
        ctx: &Context<'_>,
        criteria: Option<SolutionSearchCriteria>,
        first: Option<i32>,
        last: Option<i32>,
        before: Option<String>,
        after: Option<String>,
    ) -> async_graphql::Result<SolutionConnection> {
        require_master(ctx)?;
        let state = state(ctx)?;
        let wanted_tags = criteria.and_then(|c| c.tags).unwrap_or_default();
        let mut matching = Vec::new();
        for (index, def) in state.catalog.published().enumerate() {
            if wanted_tags.is_empty() || def.tags.iter().any(|t| wanted_tags.contains(t)) {
                let (latest, _) = state.latest_solution(def).await.map_err(gql)?;
                matching.push((index as i64, Solution::from_def(&latest, &state.icon_base)));
            }
        }
        let args = PageArgs {
            first,
            last,
            before: before.as_deref(),
            after: after.as_deref(),
        };
        let (edges, page_info) = paginate(matching, args)?;
        Ok(SolutionConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, node)| SolutionConnectionEdge { node, cursor })
                .collect(),
            page_info,
        })
    }

    /// Master token: every instance (filter with `criteria.owner`); user token: own only.
    async fn solution_instances(
        &self,
        ctx: &Context<'_>,
        criteria: Option<SolutionInstanceSearchCriteria>,
        first: Option<i32>,
        last: Option<i32>,
        before: Option<String>,
        after: Option<String>,
    ) -> async_graphql::Result<SolutionInstanceConnection> {
        let state = state(ctx)?;
        let own = match ctx.data_opt::<Caller>() {
            Some(Caller::Master) => None,
            Some(Caller::User(id)) => Some(id.clone()),
            None => return Err(precondition(MASTER_ONLY, ACCESS_NOT_ALLOWED)),
        };
        let criteria = criteria.unwrap_or_default();
        let rows: Vec<InstanceRow> = state
            .store
            .instances()
            .await
            .map_err(gql)?
            .into_iter()
            .filter(|row| own.as_ref().is_none_or(|me| *me == row.owner))
            .filter(|row| criteria.matches(row))
            .collect();
        let total_count = rows.len() as i32;
        let keyed = rows.into_iter().map(|row| (row.seq, row)).collect();
        let args = PageArgs {
            first,
            last,
            before: before.as_deref(),
            after: after.as_deref(),
        };
        let (page, page_info) = paginate(keyed, args)?;
        let mut edges = Vec::with_capacity(page.len());
        for (cursor, row) in page {
            let node = SolutionInstance::load(state, row).await.map_err(gql)?;
            edges.push(SolutionInstanceConnectionEdge { node, cursor });
        }
        Ok(SolutionInstanceConnection {
            edges,
            page_info,
            total_count,
        })
    }

    /// User token only: the user's authentications.
    async fn authentications(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<AuthenticationConnection> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        let mut edges = Vec::new();
        for auth in state.store.auths().await.map_err(gql)? {
            if auth.user_id == user_id {
                edges.push(AuthenticationEdge {
                    node: Authentication::build(state, auth).map_err(gql)?,
                });
            }
        }
        let page_info = PageInfo {
            start_cursor: None,
            end_cursor: None,
            has_next_page: false,
            has_previous_page: false,
        };
        Ok(AuthenticationConnection { edges, page_info })
    }

    async fn details(&self, ctx: &Context<'_>) -> async_graphql::Result<UserDetails> {
        let state = state(ctx)?;
        match ctx.data_opt::<Caller>() {
            Some(Caller::User(id)) => {
                let user = state.store.user(id).await.map_err(gql)?.ok_or_else(|| {
                    precondition(
                        "The user of this token no longer exists",
                        USER_DOES_NOT_EXIST,
                    )
                })?;
                Ok(UserDetails {
                    email: format!("{}@users.sandbox.invalid", user.external_user_id),
                    username: user.external_user_id,
                    name: user.name,
                })
            }
            _ => Ok(UserDetails {
                username: "sandbox-organisation".into(),
                email: "owner@sandbox.invalid".into(),
                name: "Sandbox organisation".into(),
            }),
        }
    }
}

#[derive(InputObject)]
pub struct SolutionSearchCriteria {
    pub tags: Option<Vec<String>>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct SolutionConnection {
    pub edges: Vec<SolutionConnectionEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct SolutionConnectionEdge {
    pub node: Solution,
    pub cursor: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct Solution {
    pub id: ID,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Vec<CustomField>,
    pub config_slots: Vec<ConfigSlot>,
    pub auth_slots: Vec<AuthSlot>,
}

impl Solution {
    fn from_def(def: &SolutionDef, icon_base: &str) -> Self {
        let mut custom_fields = Vec::new();
        if let Some(image) = &def.image {
            custom_fields.push(CustomField::new(
                "image",
                format!("{icon_base}/icons/{image}"),
            ));
        }
        if def.force_unique {
            custom_fields.push(CustomField::new("forceUnique", "true"));
        }
        if def.disable_auto_enable {
            custom_fields.push(CustomField::new("disableAutoEnable", "true"));
        }
        Solution {
            id: def.id.clone().into(),
            title: def.title.clone(),
            description: def.description.clone(),
            tags: def.tags.clone(),
            custom_fields,
            config_slots: def
                .config_slots
                .iter()
                .map(|slot| ConfigSlot {
                    external_id: slot.external_id.clone(),
                    title: slot.title.clone(),
                    default_value: Json(slot.default_value.clone()),
                })
                .collect(),
            auth_slots: def
                .auth_slots
                .iter()
                .map(|slot| AuthSlot {
                    external_id: slot.external_id.clone(),
                    title: slot.title.clone(),
                })
                .collect(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct CustomField {
    pub key: String,
    pub value: String,
}

impl CustomField {
    fn new(key: &str, value: impl Into<String>) -> Self {
        CustomField {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct ConfigSlot {
    pub external_id: String,
    pub title: String,
    pub default_value: Json,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthSlot {
    pub external_id: String,
    pub title: String,
}

// --- solution instances ---------------------------------------------------------------------

#[derive(InputObject, Default)]
#[graphql(rename_fields = "camelCase")]
pub struct SolutionInstanceSearchCriteria {
    pub id: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub solution_id: Option<String>,
}

impl SolutionInstanceSearchCriteria {
    fn matches(&self, row: &InstanceRow) -> bool {
        self.id.as_ref().is_none_or(|id| *id == row.id)
            && self.name.as_ref().is_none_or(|name| *name == row.name)
            && self.owner.as_ref().is_none_or(|owner| *owner == row.owner)
            && self
                .solution_id
                .as_ref()
                .is_none_or(|id| *id == row.solution_id)
    }
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct SolutionInstanceConnection {
    pub edges: Vec<SolutionInstanceConnectionEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

#[derive(SimpleObject)]
pub struct SolutionInstanceConnectionEdge {
    pub node: SolutionInstance,
    pub cursor: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct SolutionInstance {
    pub id: ID,
    pub solution: Solution,
    pub name: String,
    pub enabled: bool,
    pub auth_values: Vec<AuthSlotValue>,
    pub config_values: Vec<ConfigSlotValue>,
    pub workflows: WorkflowInstanceConnection,
    pub solution_version_flags: SolutionInstanceSolutionVersionFlags,
    pub created: DateTime,
    pub owner: String,
}

impl SolutionInstance {
    /// Build the API view, applying a due lazy update first.
    async fn load(state: &SandboxState, mut row: InstanceRow) -> Result<Self, SandboxError> {
        let flags = state.refresh_versions(&mut row).await?;
        let base = state.catalog.solution(&row.solution_id).ok_or_else(|| {
            SandboxError::NotFound(format!("Solution {} not found", row.solution_id))
        })?;
        let versions = state.store.versions(&row.solution_id).await?;
        let solution = state.solution_at(base, &versions, row.version);
        let workflows = solution
            .workflows
            .iter()
            .enumerate()
            .map(|(index, name)| WorkflowInstanceConnectionEdge {
                node: WorkflowInstance {
                    id: format!("{}-wf{index}", row.id).into(),
                    source_workflow_id: format!("{}-wf{index}", solution.id),
                    source_workflow_name: name.clone(),
                    trigger_url: (!row.trigger_broken)
                        .then(|| format!("{}/triggers/{}/{index}", state.icon_base, row.id)),
                },
            })
            .collect();
        Ok(SolutionInstance {
            id: row.id.clone().into(),
            solution: Solution::from_def(&solution, &state.icon_base),
            name: row.name,
            enabled: row.enabled,
            auth_values: row
                .auth_values
                .into_iter()
                .map(|value| AuthSlotValue {
                    external_id: value.external_id,
                    auth_id: value.auth_id,
                })
                .collect(),
            config_values: row
                .config_values
                .into_iter()
                .map(|value| ConfigSlotValue {
                    external_id: value.external_id,
                    value: value.value.map(Json),
                })
                .collect(),
            workflows: WorkflowInstanceConnection { edges: workflows },
            solution_version_flags: SolutionInstanceSolutionVersionFlags {
                has_newer_version: flags.has_newer_version,
                requires_user_input_to_update_version: flags.requires_user_input,
                requires_system_input_to_update_version: flags.requires_system_input,
            },
            created: DateTime(iso8601(row.created_ms)),
            owner: row.owner,
        })
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthSlotValue {
    pub external_id: String,
    pub auth_id: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct ConfigSlotValue {
    pub external_id: String,
    pub value: Option<Json>,
}

#[derive(SimpleObject, Clone)]
pub struct WorkflowInstanceConnection {
    pub edges: Vec<WorkflowInstanceConnectionEdge>,
}

#[derive(SimpleObject, Clone)]
pub struct WorkflowInstanceConnectionEdge {
    pub node: WorkflowInstance,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct WorkflowInstance {
    pub id: ID,
    pub source_workflow_id: String,
    pub source_workflow_name: String,
    pub trigger_url: Option<String>,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct SolutionInstanceSolutionVersionFlags {
    pub has_newer_version: bool,
    pub requires_user_input_to_update_version: bool,
    pub requires_system_input_to_update_version: bool,
}

// --- authentications ------------------------------------------------------------------------

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthenticationConnection {
    pub edges: Vec<AuthenticationEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct AuthenticationEdge {
    pub node: Authentication,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct Authentication {
    pub id: ID,
    pub name: String,
    pub custom_fields: Option<Json>,
    pub service: Service,
    pub service_environment: ServiceEnvironment,
}

impl Authentication {
    fn build(state: &SandboxState, auth: AuthRow) -> Result<Self, SandboxError> {
        let service = state.service(&auth.service)?;
        Ok(Authentication {
            id: auth.id.into(),
            name: auth.name,
            custom_fields: Some(Json(format!(
                "{{\"created\":\"{}\"}}",
                iso8601(auth.created_ms)
            ))),
            service: Service {
                id: auth.service.clone().into(),
                name: auth.service.clone(),
                version: "1.0".into(),
                title: service.title.clone(),
                icon: format!("{}/icons/{}", state.icon_base, service.icon),
            },
            service_environment: ServiceEnvironment {
                id: environment_id(&auth.service).into(),
                name: "production".into(),
                title: "Production".into(),
            },
        })
    }
}

/// The one environment each sandbox service has; `createUserAuthentication` needs it.
pub fn environment_id(service: &str) -> String {
    format!("{service}-production")
}

#[derive(SimpleObject, Clone)]
pub struct Service {
    pub id: ID,
    pub name: String,
    pub version: String,
    pub title: String,
    pub icon: String,
}

#[derive(SimpleObject, Clone)]
pub struct ServiceEnvironment {
    pub id: ID,
    #[graphql(deprecation = "use id and title")]
    pub name: String,
    pub title: String,
}

#[derive(SimpleObject)]
pub struct UserDetails {
    pub username: String,
    pub email: String,
    pub name: String,
}

// --- mutations ------------------------------------------------------------------------------

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthValue {
    pub external_id: String,
    pub auth_id: String,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ConfigValue {
    pub external_id: String,
    pub value: Option<Json>,
}

fn stored_auth(values: Option<Vec<AuthValue>>) -> Vec<StoredAuthValue> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(|value| StoredAuthValue {
            external_id: value.external_id,
            auth_id: value.auth_id,
        })
        .collect()
}

fn stored_config(values: Option<Vec<ConfigValue>>) -> Vec<StoredConfigValue> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(|value| StoredConfigValue {
            external_id: value.external_id,
            value: value.value.map(|json| json.0),
        })
        .collect()
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct CreateSolutionInstanceInput {
    pub solution_id: ID,
    pub instance_name: String,
    pub auth_values: Option<Vec<AuthValue>>,
    pub config_values: Option<Vec<ConfigValue>>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct CreateSolutionInstancePayload {
    pub solution_instance: SolutionInstance,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UpdateSolutionInstanceInput {
    pub solution_instance_id: ID,
    pub instance_name: Option<String>,
    pub enabled: Option<bool>,
    pub auth_values: Option<Vec<AuthValue>>,
    pub config_values: Option<Vec<ConfigValue>>,
    pub error_on_enabling_with_missing_values: Option<bool>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UpdateSolutionInstancePayload {
    pub solution_instance: SolutionInstance,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UpgradeSolutionInstanceInput {
    pub solution_instance_id: ID,
    pub auth_values: Option<Vec<AuthValue>>,
    pub config_values: Option<Vec<ConfigValue>>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct UpgradeSolutionInstancePayload {
    pub solution_instance: SolutionInstance,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct RemoveSolutionInstanceInput {
    pub solution_instance_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct RemoveSolutionInstancePayload {
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct CreateExternalUserInput {
    pub name: String,
    pub external_user_id: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct CreateExternalUserPayload {
    pub user_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct RemoveExternalUserInput {
    pub user_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct RemoveExternalUserPayload {
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthorizeInput {
    pub user_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct AuthorizePayload {
    pub access_token: String,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct GenerateAuthorizationCodeInput {
    pub user_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct GenerateAuthorizationCodePayload {
    pub authorization_code: String,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct CreateUserAuthenticationInput {
    pub name: String,
    pub service_id: String,
    pub service_environment_id: String,
    pub data: Json,
    pub form_data: Option<Json>,
    pub scopes: Option<Vec<String>>,
    pub hidden: Option<bool>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct CreateUserAuthenticationPayload {
    pub authentication_id: String,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct RemoveUserAuthenticationInput {
    pub authentication_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct RemoveUserAuthenticationPayload {
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ConnectorCallInput {
    pub connector: String,
    pub version: String,
    pub operation: String,
    pub auth_id: Option<String>,
    pub input: Json,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ConnectorCallPayload {
    pub output: Json,
    pub client_mutation_id: Option<String>,
}

/// The caller's own instance, or "not found" (Tray does not reveal others' instances).
async fn owned_instance(
    state: &SandboxState,
    id: &str,
    user_id: &str,
) -> async_graphql::Result<InstanceRow> {
    state
        .store
        .instance(id)
        .await
        .map_err(gql)?
        .filter(|row| row.owner == user_id)
        .ok_or_else(|| {
            precondition(
                format!("Solution instance {id} not found"),
                RESOURCE_DOES_NOT_EXIST,
            )
        })
}

async fn existing_user(state: &SandboxState, id: &str) -> async_graphql::Result<UserRow> {
    state
        .store
        .user(id)
        .await
        .map_err(gql)?
        .ok_or_else(|| precondition(format!("User {id} not found"), USER_DOES_NOT_EXIST))
}

fn non_empty(name: &str, value: &str) -> async_graphql::Result<()> {
    if value.trim().is_empty() {
        Err(precondition(format!("`{name}` must not be empty"), None))
    } else {
        Ok(())
    }
}

fn parse_json(name: &str, text: &str) -> async_graphql::Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|err| precondition(format!("`{name}` is not valid JSON: {err}"), None))
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// User token. The new instance is disabled.
    async fn create_solution_instance(
        &self,
        ctx: &Context<'_>,
        input: CreateSolutionInstanceInput,
    ) -> async_graphql::Result<CreateSolutionInstancePayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        non_empty("instanceName", &input.instance_name)?;
        let base = state.published_solution(&input.solution_id).map_err(gql)?;
        let (solution, version) = state.latest_solution(base).await.map_err(gql)?;
        let mut row = InstanceRow {
            seq: 0,
            id: new_id(),
            owner: user_id.clone(),
            solution_id: solution.id.clone(),
            name: input.instance_name,
            enabled: false,
            auth_values: Vec::new(),
            config_values: Vec::new(),
            created_ms: now_ms(),
            version,
            trigger_broken: false,
        };
        state
            .merge_auth_values(
                &solution,
                &user_id,
                &mut row.auth_values,
                stored_auth(input.auth_values),
            )
            .await
            .map_err(gql)?;
        state
            .merge_config_values(
                &solution,
                &mut row.config_values,
                stored_config(input.config_values),
            )
            .map_err(gql)?;
        // Slots the host left out start from their defaults, as on Tray.
        fill_defaults(&mut row.config_values, &solution.config_slots);
        // Tray's 2 s before enabling count from the create's completion, not its start.
        row.created_ms = now_ms();
        row.seq = state.store.insert_instance(&row).await.map_err(gql)?;
        Ok(CreateSolutionInstancePayload {
            solution_instance: SolutionInstance::load(state, row).await.map_err(gql)?,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// User token, own instances only.
    async fn update_solution_instance(
        &self,
        ctx: &Context<'_>,
        input: UpdateSolutionInstanceInput,
    ) -> async_graphql::Result<UpdateSolutionInstancePayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        let mut row = owned_instance(state, &input.solution_instance_id, &user_id).await?;
        state.refresh_versions(&mut row).await.map_err(gql)?;
        let base = state.published_solution(&row.solution_id).map_err(gql)?;
        let versions = state.store.versions(&row.solution_id).await.map_err(gql)?;
        let solution = state.solution_at(base, &versions, row.version);
        if let Some(name) = input.instance_name {
            non_empty("instanceName", &name)?;
            row.name = name;
        }
        state
            .merge_auth_values(
                &solution,
                &user_id,
                &mut row.auth_values,
                stored_auth(input.auth_values),
            )
            .await
            .map_err(gql)?;
        state
            .merge_config_values(
                &solution,
                &mut row.config_values,
                stored_config(input.config_values),
            )
            .map_err(gql)?;
        match input.enabled {
            Some(true) if !row.enabled => {
                if input.error_on_enabling_with_missing_values == Some(true) {
                    let missing = state.missing_values(&solution, &row);
                    if !missing.is_empty() {
                        return Err(precondition(
                            format!(
                                "Cannot enable solution instance {}: missing values for {}",
                                row.id,
                                missing.join(", ")
                            ),
                            None,
                        ));
                    }
                }
                state.note_enable(&mut row);
                row.enabled = true;
            }
            Some(false) => row.enabled = false,
            _ => {}
        }
        state.store.save_instance(&row).await.map_err(gql)?;
        Ok(UpdateSolutionInstancePayload {
            solution_instance: SolutionInstance::load(state, row).await.map_err(gql)?,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// User token. Moves the instance to the latest solution version; the new slots
    /// that need input must be filled by the values given (or already present).
    async fn upgrade_solution_instance(
        &self,
        ctx: &Context<'_>,
        input: UpgradeSolutionInstanceInput,
    ) -> async_graphql::Result<UpgradeSolutionInstancePayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        let mut row = owned_instance(state, &input.solution_instance_id, &user_id).await?;
        let flags = state.refresh_versions(&mut row).await.map_err(gql)?;
        let base = state.published_solution(&row.solution_id).map_err(gql)?;
        let (solution, latest) = state.latest_solution(base).await.map_err(gql)?;
        state
            .merge_auth_values(
                &solution,
                &user_id,
                &mut row.auth_values,
                stored_auth(input.auth_values),
            )
            .await
            .map_err(gql)?;
        state
            .merge_config_values(
                &solution,
                &mut row.config_values,
                stored_config(input.config_values),
            )
            .map_err(gql)?;
        let missing_auth: Vec<String> = solution
            .auth_slots
            .iter()
            .filter(|slot| {
                !row.auth_values
                    .iter()
                    .any(|v| v.external_id == slot.external_id)
            })
            .map(|slot| slot.external_id.clone())
            .collect();
        if latest > row.version && !missing_auth.is_empty() {
            return Err(precondition(
                format!(
                    "Cannot upgrade solution instance {}: the new version needs auth values for {}",
                    row.id,
                    missing_auth.join(", ")
                ),
                None,
            ));
        }
        let missing_config: Vec<&str> = solution
            .config_slots
            .iter()
            .filter(|slot| {
                !row.config_values
                    .iter()
                    .any(|v| v.external_id == slot.external_id)
            })
            .map(|slot| slot.external_id.as_str())
            .collect();
        // A version that needs the user's or the host's input gets it here: its new
        // settings are not filled from their defaults (only a lazy update does that).
        let needs_input = flags.requires_user_input || flags.requires_system_input;
        if latest > row.version && needs_input && !missing_config.is_empty() {
            return Err(precondition(
                format!(
                    "Cannot upgrade solution instance {}: the new version needs config values for {}",
                    row.id,
                    missing_config.join(", ")
                ),
                None,
            ));
        }
        fill_defaults(&mut row.config_values, &solution.config_slots);
        row.version = latest;
        state.store.save_instance(&row).await.map_err(gql)?;
        Ok(UpgradeSolutionInstancePayload {
            solution_instance: SolutionInstance::load(state, row).await.map_err(gql)?,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// User token, own instances only.
    async fn remove_solution_instance(
        &self,
        ctx: &Context<'_>,
        input: RemoveSolutionInstanceInput,
    ) -> async_graphql::Result<RemoveSolutionInstancePayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        let row = owned_instance(state, &input.solution_instance_id, &user_id).await?;
        state.store.remove_instance(&row.id).await.map_err(gql)?;
        Ok(RemoveSolutionInstancePayload {
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Master token.
    async fn create_external_user(
        &self,
        ctx: &Context<'_>,
        input: CreateExternalUserInput,
    ) -> async_graphql::Result<CreateExternalUserPayload> {
        require_master(ctx)?;
        non_empty("name", &input.name)?;
        non_empty("externalUserId", &input.external_user_id)?;
        let user = state(ctx)?
            .store
            .create_user(&input.external_user_id, &input.name)
            .await
            .map_err(|err| match err {
                SandboxError::Conflict(message) => {
                    precondition(message, Some("user_already_exists"))
                }
                other => gql(other),
            })?;
        Ok(CreateExternalUserPayload {
            user_id: user.id.into(),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Master token. Removes the user with their instances and authentications.
    async fn remove_external_user(
        &self,
        ctx: &Context<'_>,
        input: RemoveExternalUserInput,
    ) -> async_graphql::Result<RemoveExternalUserPayload> {
        require_master(ctx)?;
        if !state(ctx)?
            .store
            .remove_user(&input.user_id)
            .await
            .map_err(gql)?
        {
            return Err(precondition(
                format!("User {} not found", input.user_id.as_str()),
                USER_DOES_NOT_EXIST,
            ));
        }
        Ok(RemoveExternalUserPayload {
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Master token. A user token valid for the configured TTL (2 days by default).
    async fn authorize(
        &self,
        ctx: &Context<'_>,
        input: AuthorizeInput,
    ) -> async_graphql::Result<AuthorizePayload> {
        require_master(ctx)?;
        let state = state(ctx)?;
        let user = existing_user(state, &input.user_id).await?;
        let ttl = state.user_token_ttl.as_millis() as i64;
        let access_token = state.store.issue_token(&user.id, ttl).await.map_err(gql)?;
        Ok(AuthorizePayload {
            access_token,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Master token. A single-use code for the dialog, expiring after 5 minutes by default.
    async fn generate_authorization_code(
        &self,
        ctx: &Context<'_>,
        input: GenerateAuthorizationCodeInput,
    ) -> async_graphql::Result<GenerateAuthorizationCodePayload> {
        require_master(ctx)?;
        let state = state(ctx)?;
        let user = existing_user(state, &input.user_id).await?;
        let ttl = state.code_ttl.as_millis() as i64;
        let authorization_code = state.store.issue_code(&user.id, ttl).await.map_err(gql)?;
        Ok(GenerateAuthorizationCodePayload {
            authorization_code,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// User token. `serviceId` is a catalog service key (e.g. `stripe`) and
    /// `serviceEnvironmentId` is `<serviceId>-production`; `data` is a JSON object.
    async fn create_user_authentication(
        &self,
        ctx: &Context<'_>,
        input: CreateUserAuthenticationInput,
    ) -> async_graphql::Result<CreateUserAuthenticationPayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        non_empty("name", &input.name)?;
        state.service(&input.service_id).map_err(gql)?;
        if input.service_environment_id != environment_id(&input.service_id) {
            return Err(precondition(
                format!(
                    "Service environment {} not found for service {} (use {})",
                    input.service_environment_id,
                    input.service_id,
                    environment_id(&input.service_id)
                ),
                RESOURCE_DOES_NOT_EXIST,
            ));
        }
        if !parse_json("data", &input.data.0)?.is_object() {
            return Err(precondition("`data` must be a JSON object", None));
        }
        if let Some(form_data) = &input.form_data {
            parse_json("formData", &form_data.0)?;
        }
        let authentication_id = state
            .store
            .create_auth(&user_id, &input.name, &input.service_id, &input.data.0)
            .await
            .map_err(gql)?;
        bump(&state.counters.authentications_created);
        Ok(CreateUserAuthenticationPayload {
            authentication_id,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// User token, own authentications only.
    async fn remove_authentication(
        &self,
        ctx: &Context<'_>,
        input: RemoveUserAuthenticationInput,
    ) -> async_graphql::Result<RemoveUserAuthenticationPayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        let id = input.authentication_id.as_str();
        state
            .store
            .auth(id)
            .await
            .map_err(gql)?
            .filter(|auth| auth.user_id == user_id)
            .ok_or_else(|| {
                precondition(
                    format!("Authentication {id} not found"),
                    RESOURCE_DOES_NOT_EXIST,
                )
            })?;
        state.store.remove_auth(id).await.map_err(gql)?;
        Ok(RemoveUserAuthenticationPayload {
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// User token. A plausible echo: the sandbox has no real connectors.
    async fn call_connector(
        &self,
        ctx: &Context<'_>,
        input: ConnectorCallInput,
    ) -> async_graphql::Result<ConnectorCallPayload> {
        let user_id = require_user(ctx)?;
        let state = state(ctx)?;
        let parsed_input = parse_json("input", &input.input.0)?;
        if let Some(auth_id) = &input.auth_id {
            state
                .store
                .auth(auth_id)
                .await
                .map_err(gql)?
                .filter(|auth| auth.user_id == user_id)
                .ok_or_else(|| {
                    precondition(
                        format!("Authentication {auth_id} not found"),
                        RESOURCE_DOES_NOT_EXIST,
                    )
                })?;
        }
        let output = serde_json::json!({
            "connector": input.connector,
            "version": input.version,
            "operation": input.operation,
            "authId": input.auth_id,
            "echo": parsed_input,
        });
        Ok(ConnectorCallPayload {
            output: Json(output.to_string()),
            client_mutation_id: input.client_mutation_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(edges: &[(String, &str)]) -> Vec<String> {
        edges.iter().map(|(_, name)| (*name).to_owned()).collect()
    }

    fn items() -> Vec<(i64, &'static str)> {
        vec![(1, "a"), (4, "b"), (7, "c"), (9, "d")]
    }

    #[test]
    fn last_and_before_page_backwards() {
        let args = PageArgs {
            last: Some(2),
            before: Some("cursor:9"),
            ..PageArgs::default()
        };
        let (edges, info) = paginate(items(), args).expect("valid page");
        assert_eq!(names(&edges), ["b", "c"]);
        assert!(info.has_previous_page);
        assert!(info.has_next_page);
        assert_eq!(info.start_cursor.as_deref(), Some("cursor:4"));
    }

    #[test]
    fn a_page_past_the_end_is_empty_without_cursors() {
        let args = PageArgs {
            first: Some(2),
            after: Some("cursor:9"),
            ..PageArgs::default()
        };
        let (edges, info) = paginate(items(), args).expect("valid page");
        assert!(edges.is_empty());
        assert!(!info.has_next_page);
        assert_eq!(info.end_cursor, None);
    }

    #[test]
    fn negative_counts_are_refused() {
        let args = PageArgs {
            first: Some(-1),
            ..PageArgs::default()
        };
        let err = paginate(items(), args).expect_err("negative first");
        assert_eq!(err.message, "`first` must not be negative");
    }
}
