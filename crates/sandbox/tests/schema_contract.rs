//! The sandbox's schema declares everything `shared/tray/schema.graphql` declares, with the
//! same types and nullability.

use apollo_compiler::{schema::ExtendedType, Schema};

const SHARED_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/tray/schema.graphql"
);

fn shared_schema() -> Schema {
    let text = std::fs::read_to_string(SHARED_SCHEMA).expect("shared schema readable");
    Schema::parse_and_validate(text, SHARED_SCHEMA)
        .expect("shared schema is valid")
        .into_inner()
}

fn sandbox_schema() -> Schema {
    Schema::parse_and_validate(tray_sandbox::graphql::sdl(), "sandbox.graphql")
        .expect("sandbox SDL is valid")
        .into_inner()
}

fn kind(ty: &ExtendedType) -> &'static str {
    match ty {
        ExtendedType::Scalar(_) => "scalar",
        ExtendedType::Object(_) => "object",
        ExtendedType::Interface(_) => "interface",
        ExtendedType::Union(_) => "union",
        ExtendedType::Enum(_) => "enum",
        ExtendedType::InputObject(_) => "input",
    }
}

/// Every difference in what `expected` declares, described for a reader.
fn differences(expected: &Schema, actual: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    for (name, expected_type) in &expected.types {
        if expected_type.is_built_in() {
            continue;
        }
        let Some(actual_type) = actual.types.get(name) else {
            found.push(format!("type {name} is missing"));
            continue;
        };
        if kind(expected_type) != kind(actual_type) {
            found.push(format!(
                "type {name} is a {} in the sandbox, a {} in the contract",
                kind(actual_type),
                kind(expected_type)
            ));
            continue;
        }
        match (expected_type, actual_type) {
            (ExtendedType::Object(e), ExtendedType::Object(a)) => {
                compare_fields(name, &e.fields, &a.fields, &mut found);
                for interface in &e.implements_interfaces {
                    if !a.implements_interfaces.contains(interface) {
                        found.push(format!("{name} does not implement {interface}"));
                    }
                }
            }
            (ExtendedType::Interface(e), ExtendedType::Interface(a)) => {
                compare_fields(name, &e.fields, &a.fields, &mut found);
            }
            (ExtendedType::InputObject(e), ExtendedType::InputObject(a)) => {
                for (field, expected_field) in &e.fields {
                    match a.fields.get(field) {
                        None => found.push(format!("input field {name}.{field} is missing")),
                        Some(actual_field) if actual_field.ty != expected_field.ty => found.push(
                            format!(
                                "input field {name}.{field} is {} in the sandbox, {} in the contract",
                                actual_field.ty, expected_field.ty
                            ),
                        ),
                        Some(_) => {}
                    }
                }
            }
            _ => {}
        }
    }
    found
}

fn compare_fields(
    type_name: &str,
    expected: &apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<apollo_compiler::ast::FieldDefinition>,
    >,
    actual: &apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<apollo_compiler::ast::FieldDefinition>,
    >,
    found: &mut Vec<String>,
) {
    for (field, expected_field) in expected {
        let Some(actual_field) = actual.get(field) else {
            found.push(format!("field {type_name}.{field} is missing"));
            continue;
        };
        if actual_field.ty != expected_field.ty {
            found.push(format!(
                "field {type_name}.{field} is {} in the sandbox, {} in the contract",
                actual_field.ty, expected_field.ty
            ));
        }
        for expected_arg in &expected_field.arguments {
            match actual_field
                .arguments
                .iter()
                .find(|arg| arg.name == expected_arg.name)
            {
                None => found.push(format!(
                    "argument {type_name}.{field}({}) is missing",
                    expected_arg.name
                )),
                Some(actual_arg) if actual_arg.ty != expected_arg.ty => found.push(format!(
                    "argument {type_name}.{field}({}) is {} in the sandbox, {} in the contract",
                    expected_arg.name, actual_arg.ty, expected_arg.ty
                )),
                Some(_) => {}
            }
        }
    }
}

#[test]
fn sandbox_schema_matches_the_shared_contract() {
    let found = differences(&shared_schema(), &sandbox_schema());
    assert!(
        found.is_empty(),
        "schema differences:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_comparison_notices_a_changed_nullability() {
    // Guards the guard: a contract with one altered field must be reported.
    let altered = std::fs::read_to_string(SHARED_SCHEMA)
        .expect("shared schema readable")
        .replace("totalCount: Int!", "totalCount: Int");
    let altered = Schema::parse_and_validate(altered, "altered.graphql")
        .expect("altered schema is valid")
        .into_inner();
    let found = differences(&altered, &sandbox_schema());
    assert_eq!(
        found,
        vec!["field SolutionInstanceConnection.totalCount is Int! in the sandbox, Int in the contract".to_owned()]
    );
}
