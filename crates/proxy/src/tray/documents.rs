//! Every GraphQL document the proxy sends to Tray. Values always travel as variables;
//! `cargo test` validates each document against `shared/tray/schema.graphql`.

pub const LIST_SOLUTIONS: &str = r#"
query ListSolutions($tags: [String!], $first: Int, $after: String) {
  viewer {
    solutions(criteria: { tags: $tags }, first: $first, after: $after) {
      edges {
        node {
          id
          title
          description
          tags
          customFields { key value }
          configSlots { externalId title defaultValue }
          authSlots { externalId title }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"#;

/// Every document, by name, for the schema test.
pub const ALL: &[(&str, &str)] = &[("ListSolutions", LIST_SOLUTIONS)];
