//! Every GraphQL document the proxy sends to Tray. Values always travel as variables;
//! `cargo test` validates each document against `shared/tray/schema.graphql`.

/// The fields of a solution the catalog shows, shared by the solution and instance documents.
macro_rules! solution_fields {
    () => {
        r#"
          id
          title
          description
          tags
          customFields { key value }
          configSlots { externalId title defaultValue }
          authSlots { externalId title }
        "#
    };
}

pub const LIST_SOLUTIONS: &str = concat!(
    r#"
query ListSolutions($tags: [String!], $first: Int, $after: String) {
  viewer {
    solutions(criteria: { tags: $tags }, first: $first, after: $after) {
      edges {
        node {"#,
    solution_fields!(),
    r#"}
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"#
);

/// The fields of an instance the widget needs, shared by every instance document.
macro_rules! instance_fields {
    () => {
        concat!(
            r#"
      id
      name
      enabled
      created
      owner
      solution {"#,
            solution_fields!(),
            r#"}
      authValues { externalId authId }
      configValues { externalId value }
      solutionVersionFlags { hasNewerVersion requiresUserInputToUpdateVersion requiresSystemInputToUpdateVersion }
"#
        )
    };
}

pub const LIST_INSTANCES: &str = concat!(
    r#"
query ListInstances($criteria: SolutionInstanceSearchCriteria, $first: Int, $after: String) {
  viewer {
    solutionInstances(criteria: $criteria, first: $first, after: $after) {
      edges { node {"#,
    instance_fields!(),
    r#"} }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"#
);

/// How many instances the caller holds, without listing them.
pub const COUNT_INSTANCES: &str = r#"
query CountInstances {
  viewer { solutionInstances(first: 1) { totalCount } }
}
"#;

pub const CREATE_EXTERNAL_USER: &str = r#"
mutation CreateExternalUser($externalUserId: String!, $name: String!) {
  createExternalUser(input: { externalUserId: $externalUserId, name: $name }) { userId }
}
"#;

pub const FIND_USER: &str = r#"
query FindUser($externalUserId: String!) {
  users(criteria: { externalUserId: $externalUserId }, first: 10) {
    edges { node { id externalUserId } }
  }
}
"#;

pub const AUTHORIZE: &str = r#"
mutation Authorize($userId: ID!) {
  authorize(input: { userId: $userId }) { accessToken }
}
"#;

pub const GENERATE_CODE: &str = r#"
mutation GenerateAuthorizationCode($userId: ID!) {
  generateAuthorizationCode(input: { userId: $userId }) { authorizationCode }
}
"#;

/// The caller's own authentications (a user token sees no one else's).
pub const OWN_AUTHENTICATIONS: &str = r#"
query OwnAuthentications {
  viewer { authentications { edges { node { id } } } }
}
"#;

pub const CREATE_INSTANCE: &str = concat!(
    r#"
mutation CreateInstance($solutionId: ID!, $instanceName: String!, $configValues: [ConfigValue!]) {
  createSolutionInstance(input: { solutionId: $solutionId, instanceName: $instanceName, configValues: $configValues }) {
    solutionInstance {"#,
    instance_fields!(),
    r#"}
  }
}
"#
);

pub const UPDATE_INSTANCE: &str = concat!(
    r#"
mutation UpdateInstance($input: UpdateSolutionInstanceInput!) {
  updateSolutionInstance(input: $input) {
    solutionInstance {"#,
    instance_fields!(),
    r#"}
  }
}
"#
);

pub const UPGRADE_INSTANCE: &str = concat!(
    r#"
mutation UpgradeInstance($input: UpgradeSolutionInstanceInput!) {
  upgradeSolutionInstance(input: $input) {
    solutionInstance {"#,
    instance_fields!(),
    r#"}
  }
}
"#
);

pub const REMOVE_INSTANCE: &str = r#"
mutation RemoveInstance($solutionInstanceId: ID!) {
  removeSolutionInstance(input: { solutionInstanceId: $solutionInstanceId }) { clientMutationId }
}
"#;

/// Every document, by name, for the schema test.
pub const ALL: &[(&str, &str)] = &[
    ("ListSolutions", LIST_SOLUTIONS),
    ("ListInstances", LIST_INSTANCES),
    ("CountInstances", COUNT_INSTANCES),
    ("CreateExternalUser", CREATE_EXTERNAL_USER),
    ("FindUser", FIND_USER),
    ("Authorize", AUTHORIZE),
    ("GenerateAuthorizationCode", GENERATE_CODE),
    ("OwnAuthentications", OWN_AUTHENTICATIONS),
    ("CreateInstance", CREATE_INSTANCE),
    ("UpdateInstance", UPDATE_INSTANCE),
    ("UpgradeInstance", UPGRADE_INSTANCE),
    ("RemoveInstance", REMOVE_INSTANCE),
];

#[cfg(test)]
mod tests {
    use apollo_compiler::{ExecutableDocument, Schema};

    const SCHEMA_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/tray/schema.graphql"
    );

    fn schema() -> apollo_compiler::validation::Valid<Schema> {
        let sdl =
            std::fs::read_to_string(SCHEMA_PATH).expect("shared/tray/schema.graphql is readable");
        Schema::parse_and_validate(sdl, "schema.graphql").expect("the shared schema is valid")
    }

    #[test]
    fn every_document_validates_against_the_shared_schema() {
        let schema = schema();
        for (name, document) in super::ALL {
            if let Err(errors) = ExecutableDocument::parse_and_validate(&schema, *document, *name) {
                panic!("{name} does not match the Tray schema:\n{errors}");
            }
        }
    }

    #[test]
    fn a_misspelled_field_fails_validation() {
        let schema = schema();
        let misspelled = super::LIST_SOLUTIONS.replace("configSlots", "configSlot");
        assert!(ExecutableDocument::parse_and_validate(&schema, misspelled, "typo").is_err());
    }
}
