//! The widget's hand-written JSON codec (`wire_js`) against serde's, which the proxy
//! uses: every wire type the widget reads or writes goes through both and must come
//! back equal, so a field renamed in `marketplace_wire` fails here.
#![cfg(target_arch = "wasm32")]

use integrations_widget::wire_js::{status_from_wire, FromJs, ToJs};
use marketplace_wire::{
    AttachAuth, AuthDialog, AuthDialogRequest, AuthSlot, AuthValue, Catalog, ConfigSlot,
    ConfigValue, CreateInstance, ErrorBody, ErrorDetail, Instance, Integration, SetConfig, Status,
    UpdateInstance, UpgradeInstance,
};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ALL_STATUSES: [Status; 6] = [
    Status::NotConnected,
    Status::SettingUp,
    Status::Connected,
    Status::Disabled,
    Status::NeedsUpdate,
    Status::AuthExpiring,
];

/// What the proxy sends, as the browser's `response.json()` would hand it over.
fn as_parsed_json<T: Serialize>(value: &T) -> JsValue {
    let text = serde_json::to_string(value).expect("serializable");
    js_sys::JSON::parse(&text).expect("valid JSON")
}

/// What the widget sends, as the proxy's serde would read it.
fn as_read_by_proxy<T: ToJs, U: DeserializeOwned>(value: &T) -> U {
    let text: String = js_sys::JSON::stringify(&value.to_js())
        .expect("stringifiable")
        .into();
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn read<T: FromJs>(json: &str) -> Result<T, String> {
    let value = js_sys::JSON::parse(json).expect("valid JSON");
    T::from_js(&value).map_err(|err| err.0)
}

fn instance(status: Status) -> Instance {
    Instance {
        id: format!("inst-{status:?}"),
        solution_id: "sol-slack".into(),
        name: "Slack – #général".into(),
        enabled: status == Status::Connected,
        status,
        auth_values: vec![AuthValue {
            external_id: "external_slack_auth".into(),
            auth_id: "auth-1".into(),
            expiring: status == Status::AuthExpiring,
        }],
        config_values: vec![
            ConfigValue {
                external_id: "external_channel".into(),
                value: Some("\"#general\"".into()),
            },
            ConfigValue {
                external_id: "external_limit".into(),
                value: None,
            },
        ],
        created_at: 1_763_856_000_123,
        settings_confirmed: true,
    }
}

fn catalog() -> Catalog {
    Catalog {
        integrations: vec![
            Integration {
                solution_id: "sol-slack".into(),
                title: "Slack".into(),
                description: Some("Post \"deals\" to a channel".into()),
                tags: vec!["chat".into(), "alerts".into()],
                icon_url: Some("http://127.0.0.1:9/icons/slack.svg".into()),
                force_unique: true,
                auto_enable: false,
                auth_slots: vec![AuthSlot {
                    external_id: "external_slack_auth".into(),
                    title: "Slack workspace".into(),
                }],
                config_slots: vec![ConfigSlot {
                    external_id: "external_channel".into(),
                    title: "Channel".into(),
                    default_value: "\"#general\"".into(),
                }],
                instances: ALL_STATUSES.into_iter().map(instance).collect(),
            },
            Integration {
                solution_id: "sol-bare".into(),
                title: "Bare".into(),
                description: None,
                tags: vec![],
                icon_url: None,
                force_unique: false,
                auto_enable: true,
                auth_slots: vec![],
                config_slots: vec![],
                instances: vec![],
            },
        ],
        dialog_origin: "http://127.0.0.1:4001".into(),
    }
}

#[wasm_bindgen_test]
fn reads_every_response_as_serde_wrote_it() {
    let catalog = catalog();
    assert_eq!(Catalog::from_js(&as_parsed_json(&catalog)), Ok(catalog));

    let single = instance(Status::SettingUp);
    assert_eq!(Instance::from_js(&as_parsed_json(&single)), Ok(single));

    let dialog = AuthDialog {
        url: "http://127.0.0.1:4001/external/auth/create/e/i/s?code=c".into(),
        origin: "http://127.0.0.1:4001".into(),
    };
    assert_eq!(AuthDialog::from_js(&as_parsed_json(&dialog)), Ok(dialog));

    let error = ErrorBody {
        error: ErrorDetail {
            code: "not_found".into(),
            message: "no such instance".into(),
        },
    };
    assert_eq!(
        ErrorDetail::from_js(&as_parsed_json(&error)),
        Ok(error.error)
    );
}

#[wasm_bindgen_test]
fn every_status_is_spelled_as_serde_spells_it() {
    for status in ALL_STATUSES {
        let spelled = serde_json::to_value(status).expect("serializable");
        assert_eq!(
            status_from_wire(spelled.as_str().unwrap_or_default()),
            Some(status)
        );
    }
    assert_eq!(status_from_wire("connected "), None);
}

#[wasm_bindgen_test]
fn optional_fields_default_like_serde() {
    let bare: Integration = read(r#"{"solutionId":"s","title":"T"}"#).expect("minimal integration");
    let from_serde: Integration =
        serde_json::from_str(r#"{"solutionId":"s","title":"T"}"#).expect("serde reads it too");
    assert_eq!(bare, from_serde);
    assert!(bare.auto_enable, "autoEnable defaults to true");
}

#[wasm_bindgen_test]
fn malformed_responses_name_the_field() {
    let err =
        read::<Catalog>(r#"{"integrations":[{"solutionId":"s","title":7}],"dialogOrigin":"o"}"#)
            .expect_err("a number is no title");
    assert!(err.contains("Integration.title"), "{err}");

    let err = read::<Instance>(
        r#"{"id":"i","solutionId":"s","name":"n","enabled":true,"status":"sleeping","createdAt":1}"#,
    )
    .expect_err("unknown status");
    assert!(err.contains("status"), "{err}");

    let err = read::<Instance>(
        r#"{"id":"i","solutionId":"s","name":"n","enabled":true,"status":"connected","createdAt":1.5}"#,
    )
    .expect_err("a fractional timestamp");
    assert!(err.contains("createdAt"), "{err}");

    let err = read::<Catalog>(r#"{"integrations":[{"solutionId":"s","title":7}]}"#)
        .expect_err("two wrong fields");
    assert!(
        err.contains("Integration.title") && !err.contains("dialogOrigin"),
        "the first wrong field is the one named: {err}"
    );

    assert!(read::<Catalog>("[]").is_err(), "a list is no catalog");
    assert!(read::<Catalog>("null").is_err());
}

#[wasm_bindgen_test]
fn writes_every_request_as_the_proxy_reads_it() {
    let create = CreateInstance {
        solution_id: "sol-slack".into(),
        name: Some("Slack".into()),
        idempotency_key: "k-1".into(),
    };
    assert_eq!(as_read_by_proxy::<_, CreateInstance>(&create), create);
    let unnamed = CreateInstance {
        name: None,
        ..create
    };
    assert_eq!(as_read_by_proxy::<_, CreateInstance>(&unnamed), unnamed);

    for update in [
        UpdateInstance {
            name: Some("New".into()),
            enabled: None,
        },
        UpdateInstance {
            name: None,
            enabled: Some(false),
        },
    ] {
        assert_eq!(as_read_by_proxy::<_, UpdateInstance>(&update), update);
    }
    for request in [
        AuthDialogRequest {
            slot: Some("external_slack_auth".into()),
            auth_id: None,
        },
        AuthDialogRequest {
            slot: None,
            auth_id: Some("auth-1".into()),
        },
    ] {
        assert_eq!(as_read_by_proxy::<_, AuthDialogRequest>(&request), request);
    }
    let attach = AttachAuth {
        auth_id: "auth-9".into(),
    };
    assert_eq!(as_read_by_proxy::<_, AttachAuth>(&attach), attach);

    let full = instance(Status::AuthExpiring);
    let config = SetConfig {
        values: full.config_values.clone(),
    };
    assert_eq!(as_read_by_proxy::<_, SetConfig>(&config), config);
    let upgrade = UpgradeInstance {
        auth_values: full.auth_values,
        config_values: full.config_values,
    };
    assert_eq!(as_read_by_proxy::<_, UpgradeInstance>(&upgrade), upgrade);
}
