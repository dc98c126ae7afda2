//! Helpers shared by the sandbox's HTTP-level tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use tray_sandbox::{Sandbox, SandboxConfig, DEMO_EMBEDDED_ID, DEMO_MASTER_TOKEN};

pub const MASTER: &str = DEMO_MASTER_TOKEN;
pub const SLACK_SOLUTION: &str = "3f1c9a52-6d0e-4d8b-9a51-0c1f6f2e7a01";
pub const SLACK_SLOT: &str = "external_slack_auth";

pub struct Client {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
}

impl Client {
    pub async fn start(config: SandboxConfig) -> Client {
        Client {
            sandbox: Sandbox::start(config).await.expect("sandbox starts"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn default() -> Client {
        Client::start(SandboxConfig::default()).await
    }

    /// POST a GraphQL document; the HTTP status and the JSON body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.sandbox.graphql_url())
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sandbox answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A document expected to succeed: its `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(Some(token), query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// The users Tray holds under `external_id` (their edges): `[]` when none.
    pub async fn users_named(&self, external_id: &str) -> Value {
        let data = self
            .ok(
                MASTER,
                "query($e: String) { users(criteria: {externalUserId: $e}) { edges { node { id } } } }",
                json!({ "e": external_id }),
            )
            .await;
        data["users"]["edges"].clone()
    }

    /// A document expected to fail with a GraphQL error: the first message.
    pub async fn error(&self, token: &str, query: &str, variables: Value) -> String {
        let (status, body) = self.post(Some(token), query, variables).await;
        assert_eq!(status, 200, "{body}");
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {body}"))
            .to_owned()
    }

    pub async fn create_user(&self, external_id: &str) -> String {
        let data = self
            .ok(
                MASTER,
                "mutation($e: String!, $n: String!) { createExternalUser(input: {externalUserId: $e, name: $n}) { userId } }",
                json!({"e": external_id, "n": format!("User {external_id}")}),
            )
            .await;
        data["createExternalUser"]["userId"]
            .as_str()
            .expect("userId")
            .to_owned()
    }

    pub async fn user_token(&self, user_id: &str) -> String {
        let data = self
            .ok(
                MASTER,
                "mutation($u: ID!) { authorize(input: {userId: $u}) { accessToken } }",
                json!({"u": user_id}),
            )
            .await;
        data["authorize"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    pub async fn code(&self, user_id: &str) -> String {
        let data = self
            .ok(
                MASTER,
                "mutation($u: ID!) { generateAuthorizationCode(input: {userId: $u}) { authorizationCode } }",
                json!({"u": user_id}),
            )
            .await;
        data["generateAuthorizationCode"]["authorizationCode"]
            .as_str()
            .expect("code")
            .to_owned()
    }

    pub async fn create_instance(&self, token: &str, solution_id: &str, name: &str) -> Value {
        let data = self
            .ok(
                token,
                &format!("mutation($s: ID!, $n: String!) {{ createSolutionInstance(input: {{solutionId: $s, instanceName: $n}}) {{ solutionInstance {{ {INSTANCE_FIELDS} }} }} }}"),
                json!({"s": solution_id, "n": name}),
            )
            .await;
        data["createSolutionInstance"]["solutionInstance"].clone()
    }

    /// Submit the dialog form without a browser; the HTTP status and the posted message.
    pub async fn dialog_post(&self, path_and_query: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path_and_query}", self.sandbox.dialog_url()))
            .form(form)
            .send()
            .await
            .expect("dialog answers");
        let status = response.status().as_u16();
        let html = response.text().await.expect("page");
        (status, posted_message(&html))
    }

    pub fn create_path(&self, instance_id: &str, slot: &str, code: &str) -> String {
        format!("/external/auth/create/{DEMO_EMBEDDED_ID}/{instance_id}/{slot}?code={code}")
    }

    /// Authorise `slot` of `instance_id` through the dialog; the new authId.
    pub async fn connect(
        &self,
        user_id: &str,
        instance_id: &str,
        slot: &str,
        form: &[(&str, &str)],
    ) -> String {
        let code = self.code(user_id).await;
        let (_, message) = self
            .dialog_post(&self.create_path(instance_id, slot, &code), form)
            .await;
        assert_eq!(message["type"], "tray.authpopup.finish", "{message}");
        message["authId"].as_str().expect("authId").to_owned()
    }
}

pub const INSTANCE_FIELDS: &str = "id name enabled created owner \
    solution { id title authSlots { externalId title } configSlots { externalId defaultValue } } \
    authValues { externalId authId } configValues { externalId value } \
    workflows { edges { node { id sourceWorkflowId sourceWorkflowName triggerUrl } } } \
    solutionVersionFlags { hasNewerVersion requiresUserInputToUpdateVersion requiresSystemInputToUpdateVersion }";

/// The message a dialog page posts to its opener (the JSON in `#tray-message`).
pub fn posted_message(html: &str) -> Value {
    let start_tag = r#"<script type="application/json" id="tray-message">"#;
    let Some(start) = html.find(start_tag) else {
        return Value::Null;
    };
    let rest = &html[start + start_tag.len()..];
    let end = rest.find("</script>").expect("closed script");
    serde_json::from_str(&rest[..end].replace("<\\/", "</")).expect("message JSON")
}
