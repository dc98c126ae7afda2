//! Every GraphQL operation `shared/tray/README.md` shows validates against the shared
//! schema and executes against the sandbox without errors.
//!
//! The README writes operations in Tray's shorthand (`authorize(input:{userId}) { accessToken }`,
//! `viewer.solutions(criteria:{tags}, first, after)`): bare names stand for variables. Each
//! one is expanded into a full document with typed variables, as the proxy must send them.

mod common;

use apollo_compiler::{ast::Type, schema::ExtendedType, ExecutableDocument, Schema};
use common::*;
use serde_json::{json, Map, Value};

const README: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/tray/README.md"
);
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/tray/schema.graphql"
);

/// Operations that Tray accepts only with the master token.
const MASTER_FIELDS: &[&str] = &[
    "createExternalUser",
    "removeExternalUser",
    "users",
    "authorize",
    "generateAuthorizationCode",
    "viewer.solutions",
];

struct Operation {
    /// The README's text.
    source: String,
    /// `viewer.solutions` → ["viewer", "solutions"].
    path: Vec<String>,
    document: String,
    variables: Vec<(String, Type)>,
}

/// Inline code spans of the README.
fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn root_type<'a>(schema: &'a Schema, name: &str) -> &'a apollo_compiler::schema::ObjectType {
    match schema.types.get(name) {
        Some(ExtendedType::Object(object)) => object,
        _ => panic!("{name} is an object type"),
    }
}

/// Split `a, b:{c, d}, e:true` at top-level commas.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for ch in text.chars() {
        match ch {
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    parts
}

fn input_field_type(schema: &Schema, input: &Type, field: &str) -> Type {
    match schema.types.get(input.inner_named_type()) {
        Some(ExtendedType::InputObject(object)) => object
            .fields
            .get(field)
            .map(|f| f.ty.as_ref().clone())
            .unwrap_or_else(|| panic!("{} has no field {field}", input.inner_named_type())),
        _ => panic!("{input} is an input object"),
    }
}

/// Expand one README span into a document, or `None` when it is not an operation.
fn expand(schema: &Schema, span: &str) -> Option<Operation> {
    let span = span.trim();
    let head_end = span.find(['(', ' ', '{']).unwrap_or(span.len());
    let path: Vec<String> = span[..head_end].split('.').map(str::to_owned).collect();
    let (operation_kind, root) = if root_type(schema, "Mutation")
        .fields
        .contains_key(path[0].as_str())
    {
        ("mutation", "Mutation")
    } else if root_type(schema, "Query")
        .fields
        .contains_key(path[0].as_str())
    {
        ("query", "Query")
    } else {
        return None;
    };
    // A bare field name is a mention, not an operation.
    if path.len() == 1 && !span.contains(['(', '{']) {
        return None;
    }
    let mut parent = root_type(schema, root);
    for step in &path[..path.len() - 1] {
        let field = parent.fields.get(step.as_str())?;
        parent = root_type(schema, field.ty.inner_named_type());
    }
    let field_name = path.last()?;
    let field = parent.fields.get(field_name.as_str())?;

    let rest = &span[head_end..];
    let (arguments, selection) = match rest.strip_prefix('(') {
        Some(after_paren) => {
            let close = after_paren.rfind(')').expect("balanced parentheses");
            (Some(&after_paren[..close]), after_paren[close + 1..].trim())
        }
        None => (None, rest.trim()),
    };
    let mut variables = Vec::new();
    let mut written_args = Vec::new();
    for argument in arguments.map(split_top_level).unwrap_or_default() {
        let (name, value) = match argument.split_once(':') {
            Some((name, value)) => (name.trim().to_owned(), Some(value.trim().to_owned())),
            None => (argument.trim().to_owned(), None),
        };
        let arg_type = field
            .arguments
            .iter()
            .find(|a| a.name == name.as_str())
            .unwrap_or_else(|| panic!("{span}: no argument {name}"))
            .ty
            .as_ref()
            .clone();
        match value {
            None => {
                variables.push((name.clone(), arg_type));
                written_args.push(format!("{name}: ${name}"));
            }
            Some(object) if object.starts_with('{') => {
                let inner = &object[1..object.len() - 1];
                let mut fields = Vec::new();
                for entry in split_top_level(inner) {
                    match entry.split_once(':') {
                        Some((key, literal)) => {
                            fields.push(format!("{}: {}", key.trim(), literal.trim()))
                        }
                        None => {
                            let key = entry.trim().to_owned();
                            variables
                                .push((key.clone(), input_field_type(schema, &arg_type, &key)));
                            fields.push(format!("{key}: ${key}"));
                        }
                    }
                }
                written_args.push(format!("{name}: {{{}}}", fields.join(", ")));
            }
            Some(literal) => written_args.push(format!("{name}: {literal}")),
        }
    }
    let selection = if selection.starts_with('{') {
        selection.to_owned()
    } else {
        "{ __typename }".to_owned()
    };
    let call = if written_args.is_empty() {
        format!("{field_name} {selection}")
    } else {
        format!("{field_name}({}) {selection}", written_args.join(", "))
    };
    let body = path[..path.len() - 1]
        .iter()
        .rev()
        .fold(call, |inner, step| format!("{step} {{ {inner} }}"));
    let declared: Vec<String> = variables
        .iter()
        .map(|(name, ty)| format!("${name}: {ty}"))
        .collect();
    let header = if declared.is_empty() {
        operation_kind.to_owned()
    } else {
        format!("{operation_kind}({})", declared.join(", "))
    };
    Some(Operation {
        source: span.to_owned(),
        path,
        document: format!("{header} {{ {body} }}"),
        variables,
    })
}

/// Realistic values for the README's variable names.
fn value_for(name: &str, fixture: &Fixture) -> Value {
    match name {
        "userId" => json!(fixture.user),
        "externalUserId" => json!(format!("readme-{}", uuid::Uuid::new_v4())),
        "name" => json!("README user"),
        "tags" => json!(["crm"]),
        "first" => json!(2),
        "after" => Value::Null,
        "solutionId" => json!(SLACK_SOLUTION),
        "instanceName" => json!("From the README"),
        "solutionInstanceId" => json!(fixture.instance),
        "enabled" => json!(false),
        "authValues" => json!([{"externalId": SLACK_SLOT, "authId": fixture.auth}]),
        "configValues" => json!([{"externalId": "external_channel", "value": "\"#readme\""}]),
        other => panic!("no value for README variable ${other}"),
    }
}

struct Fixture {
    user: String,
    token: String,
    instance: String,
    auth: String,
}

#[tokio::test]
async fn every_readme_operation_validates_and_executes() {
    let schema_text = std::fs::read_to_string(SCHEMA).expect("schema readable");
    let schema = Schema::parse_and_validate(schema_text, SCHEMA).expect("valid schema");
    let readme = std::fs::read_to_string(README).expect("README readable");
    let operations: Vec<Operation> = code_spans(&readme)
        .iter()
        .filter_map(|span| expand(&schema, span))
        .collect();
    let sources: Vec<&str> = operations.iter().map(|op| op.source.as_str()).collect();
    for expected in [
        "authorize(input:{userId}) { accessToken }",
        "removeSolutionInstance(input:{solutionInstanceId}) { clientMutationId }",
        "viewer.solutions(criteria:{tags}, first, after)",
    ] {
        assert!(
            sources.contains(&expected),
            "the extractor found {sources:?}"
        );
    }
    assert!(
        operations.len() >= 10,
        "only {} operations found: {sources:?}",
        operations.len()
    );

    let client = Client::default().await;
    let user = client.create_user("readme-owner").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "README target")
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let auth = client
        .connect(&user, &instance, SLACK_SLOT, &[("action", "allow")])
        .await;
    let fixture = Fixture {
        user,
        token,
        instance,
        auth,
    };

    for operation in &operations {
        ExecutableDocument::parse_and_validate(&schema, &operation.document, "readme.graphql")
            .unwrap_or_else(|errors| {
                panic!("{}\n{}\n{errors}", operation.source, operation.document)
            });
        let variables: Map<String, Value> = operation
            .variables
            .iter()
            .map(|(name, _)| (name.clone(), value_for(name, &fixture)))
            .collect();
        let dotted = operation.path.join(".");
        let token = if MASTER_FIELDS.contains(&dotted.as_str()) {
            MASTER
        } else {
            fixture.token.as_str()
        };
        let (status, body) = client
            .post(Some(token), &operation.document, Value::Object(variables))
            .await;
        assert_eq!(status, 200, "{}: {body}", operation.source);
        assert!(
            body.get("errors").is_none(),
            "{}\n{}\n{body}",
            operation.source,
            operation.document
        );
    }
}
