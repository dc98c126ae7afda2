//! The GraphQL schema, as Tray's external API declares it (`shared/tray/schema.graphql`).

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, InputObject, InputValueError, InputValueResult,
    Object, Scalar, ScalarType, Schema, SimpleObject, Value,
};
use std::sync::Arc;

use crate::{catalog::SolutionDef, SandboxState};

pub type TraySchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn build_schema(state: Arc<SandboxState>) -> TraySchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(state)
        .finish()
}

/// Who is calling, from the `Authorization: Bearer` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Master,
    Anonymous,
}

fn require_master(ctx: &Context<'_>) -> async_graphql::Result<()> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::Master) => Ok(()),
        _ => Err("This operation requires the master token".into()),
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

pub struct Query;

#[Object]
impl Query {
    async fn viewer(&self) -> Viewer {
        Viewer
    }
}

pub struct Viewer;

#[Object]
impl Viewer {
    async fn solutions(
        &self,
        ctx: &Context<'_>,
        criteria: Option<SolutionSearchCriteria>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SolutionConnection> {
        require_master(ctx)?;
        let state = ctx.data::<Arc<SandboxState>>()?;
        let wanted_tags = criteria.and_then(|c| c.tags).unwrap_or_default();
        let matching: Vec<Solution> = state
            .catalog
            .published()
            .filter(|s| wanted_tags.is_empty() || s.tags.iter().any(|t| wanted_tags.contains(t)))
            .map(|s| Solution::from_def(s, &state.icon_base))
            .collect();
        let start = after
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .map_or(0, |i| i + 1);
        let take = first.map_or(matching.len(), |n| n.max(0) as usize);
        let edges: Vec<SolutionConnectionEdge> = matching
            .iter()
            .enumerate()
            .skip(start)
            .take(take)
            .map(|(index, node)| SolutionConnectionEdge {
                node: node.clone(),
                cursor: encode_cursor(index),
            })
            .collect();
        let end = start + edges.len();
        Ok(SolutionConnection {
            page_info: PageInfo {
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
                has_next_page: end < matching.len(),
                has_previous_page: start > 0,
            },
            edges,
        })
    }
}

fn encode_cursor(index: usize) -> String {
    format!("c{index}")
}

fn decode_cursor(cursor: &str) -> async_graphql::Result<usize> {
    cursor
        .strip_prefix('c')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("Invalid cursor: {cursor}").into())
}

#[derive(InputObject)]
pub struct SolutionSearchCriteria {
    pub tags: Option<Vec<String>>,
}

#[derive(SimpleObject, Clone)]
#[graphql(rename_fields = "camelCase")]
pub struct PageInfo {
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
    pub start_cursor: Option<String>,
    pub has_previous_page: bool,
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
    pub id: async_graphql::ID,
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
