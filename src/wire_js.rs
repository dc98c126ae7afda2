//! The wire types read from and written to JS values (the `JSON.parse` result of a
//! response, the object given to `JSON.stringify` for a request).
//!
//! Why not serde: serde plus `serde-wasm-bindgen` (and the float printing serde's error
//! messages pull in) cost about 24 KB gzip, an eighth of the widget. The shapes stay
//! defined once, in `marketplace_wire`: `tests/wire_js.rs` round-trips every type through
//! serde's JSON and this module, so the two cannot drift apart.

use std::cell::RefCell;

use js_sys::{Array, Object, Reflect};
use marketplace_wire::{
    AttachAuth, AuthDialog, AuthDialogRequest, AuthSlot, AuthValue, Catalog, ConfigSlot,
    ConfigValue, CreateInstance, ErrorDetail, Instance, Integration, SetConfig, Status,
    UpdateInstance, UpgradeInstance,
};
use wasm_bindgen::{JsCast, JsValue};

/// A field that is missing or of the wrong kind: `"integrations.title: expected a string"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Decoded<T> = Result<T, DecodeError>;

/// Read from a parsed JSON value.
pub trait FromJs: Sized {
    fn from_js(value: &JsValue) -> Decoded<Self>;
}

/// Written as a plain object, ready for `JSON.stringify`.
pub trait ToJs {
    fn to_js(&self) -> JsValue;
}

/// One JSON object being read; errors name the type and the field.
///
/// A wrong field is noted (the first one is reported) and reading goes on with an empty
/// value, so each decoder is one struct literal. Returning at each field instead makes
/// the compiler emit, at every field, code that drops the fields read before it: about
/// 4 KB of wasm for the catalog alone.
struct Fields<'a> {
    object: &'a JsValue,
    type_name: &'static str,
    problem: RefCell<Option<DecodeError>>,
}

impl<'a> Fields<'a> {
    fn of(value: &'a JsValue, type_name: &'static str) -> Decoded<Self> {
        if value.is_object() && !Array::is_array(value) {
            Ok(Fields {
                object: value,
                type_name,
                problem: RefCell::new(None),
            })
        } else {
            Err(DecodeError(format!("{type_name}: expected an object")))
        }
    }

    /// The decoded value, or the first problem found while reading it.
    fn done<T>(self, value: T) -> Decoded<T> {
        match self.problem.into_inner() {
            Some(problem) => Err(problem),
            None => Ok(value),
        }
    }

    fn get(&self, name: &str) -> JsValue {
        Reflect::get(self.object, &name.into()).unwrap_or(JsValue::UNDEFINED)
    }

    fn note(&self, problem: DecodeError) {
        self.problem.borrow_mut().get_or_insert(problem);
    }

    fn wrong(&self, name: &str, expected: &str) {
        self.note(DecodeError(format!(
            "{}.{name}: expected {expected}",
            self.type_name
        )));
    }

    fn string(&self, name: &str) -> String {
        self.get(name).as_string().unwrap_or_else(|| {
            self.wrong(name, "a string");
            String::new()
        })
    }

    /// Missing and `null` are `None`, like `#[serde(default)]` on an `Option`.
    fn optional_string(&self, name: &str) -> Option<String> {
        let value = self.get(name);
        if value.is_null() || value.is_undefined() {
            return None;
        }
        let text = value.as_string();
        if text.is_none() {
            self.wrong(name, "a string or null");
        }
        text
    }

    fn bool(&self, name: &str) -> bool {
        self.get(name).as_bool().unwrap_or_else(|| {
            self.wrong(name, "true or false");
            false
        })
    }

    fn bool_or(&self, name: &str, default: bool) -> bool {
        if self.get(name).is_undefined() {
            default
        } else {
            self.bool(name)
        }
    }

    /// A whole number (timestamps); JSON numbers are f64, exact up to 2^53.
    fn whole_number(&self, name: &str) -> i64 {
        match self.get(name).as_f64() {
            Some(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 => n as i64,
            _ => {
                self.wrong(name, "a whole number");
                0
            }
        }
    }

    /// The list's items; missing is empty, like `#[serde(default)]` on a `Vec`.
    fn array(&self, name: &str) -> Option<Array> {
        let value = self.get(name);
        if value.is_undefined() {
            return None;
        }
        let array = value.dyn_into().ok();
        if array.is_none() {
            self.wrong(name, "a list");
        }
        array
    }

    fn list<T: FromJs>(&self, name: &str) -> Vec<T> {
        let Some(array) = self.array(name) else {
            return Vec::new();
        };
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            match T::from_js(&item) {
                Ok(decoded) => items.push(decoded),
                Err(problem) => self.note(problem),
            }
        }
        items
    }

    fn strings(&self, name: &str) -> Vec<String> {
        let Some(array) = self.array(name) else {
            return Vec::new();
        };
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            match item.as_string() {
                Some(text) => items.push(text),
                None => self.wrong(name, "strings"),
            }
        }
        items
    }
}

impl FromJs for Catalog {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "Catalog")?;
        let catalog = Catalog {
            integrations: f.list("integrations"),
            dialog_origin: f.string("dialogOrigin"),
        };
        f.done(catalog)
    }
}

impl FromJs for Integration {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "Integration")?;
        let integration = Integration {
            solution_id: f.string("solutionId"),
            title: f.string("title"),
            description: f.optional_string("description"),
            tags: f.strings("tags"),
            icon_url: f.optional_string("iconUrl"),
            force_unique: f.bool_or("forceUnique", false),
            auto_enable: f.bool_or("autoEnable", true),
            auth_slots: f.list("authSlots"),
            config_slots: f.list("configSlots"),
            instances: f.list("instances"),
        };
        f.done(integration)
    }
}

impl FromJs for AuthSlot {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "AuthSlot")?;
        let slot = AuthSlot {
            external_id: f.string("externalId"),
            title: f.string("title"),
        };
        f.done(slot)
    }
}

impl FromJs for ConfigSlot {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "ConfigSlot")?;
        let slot = ConfigSlot {
            external_id: f.string("externalId"),
            title: f.string("title"),
            default_value: f.string("defaultValue"),
        };
        f.done(slot)
    }
}

impl FromJs for Instance {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "Instance")?;
        let instance = Instance {
            id: f.string("id"),
            solution_id: f.string("solutionId"),
            name: f.string("name"),
            enabled: f.bool("enabled"),
            status: status_from_wire(&f.string("status")).unwrap_or_else(|| {
                f.wrong("status", "a status");
                Status::NotConnected
            }),
            auth_values: f.list("authValues"),
            config_values: f.list("configValues"),
            created_at: f.whole_number("createdAt"),
            settings_confirmed: f.bool_or("settingsConfirmed", false),
        };
        f.done(instance)
    }
}

impl FromJs for AuthValue {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "AuthValue")?;
        let auth = AuthValue {
            external_id: f.string("externalId"),
            auth_id: f.string("authId"),
            expiring: f.bool_or("expiring", false),
        };
        f.done(auth)
    }
}

impl FromJs for ConfigValue {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "ConfigValue")?;
        let config = ConfigValue {
            external_id: f.string("externalId"),
            value: f.optional_string("value"),
        };
        f.done(config)
    }
}

impl FromJs for AuthDialog {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "AuthDialog")?;
        let dialog = AuthDialog {
            url: f.string("url"),
            origin: f.string("origin"),
        };
        f.done(dialog)
    }
}

/// The `error` member of the proxy's `ErrorBody`.
impl FromJs for ErrorDetail {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let error = Fields::of(value, "ErrorBody")?.get("error");
        let f = Fields::of(&error, "ErrorBody.error")?;
        let detail = ErrorDetail {
            code: f.string("code"),
            message: f.string("message"),
        };
        f.done(detail)
    }
}

/// `Status` as serde spells it (`snake_case`).
pub fn status_from_wire(text: &str) -> Option<Status> {
    Some(match text {
        "not_connected" => Status::NotConnected,
        "setting_up" => Status::SettingUp,
        "connected" => Status::Connected,
        "disabled" => Status::Disabled,
        "needs_update" => Status::NeedsUpdate,
        "auth_expiring" => Status::AuthExpiring,
        _ => return None,
    })
}

/// Builds a plain object; `None` fields are left out (the proxy reads them as absent).
struct ObjectBuilder(Object);

impl ObjectBuilder {
    fn new() -> Self {
        ObjectBuilder(Object::new())
    }

    fn set(self, name: &str, value: impl Into<JsValue>) -> Self {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&self.0, &name.into(), &value.into());
        self
    }

    fn set_some<T: Into<JsValue>>(self, name: &str, value: Option<T>) -> Self {
        match value {
            Some(value) => self.set(name, value),
            None => self,
        }
    }

    fn set_list<T: ToJs>(self, name: &str, items: &[T]) -> Self {
        let array: Array = items.iter().map(ToJs::to_js).collect();
        self.set(name, array)
    }

    fn build(self) -> JsValue {
        self.0.into()
    }
}

impl ToJs for CreateInstance {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set("solutionId", self.solution_id.as_str())
            .set_some("name", self.name.as_deref())
            .set("idempotencyKey", self.idempotency_key.as_str())
            .build()
    }
}

impl ToJs for UpdateInstance {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set_some("name", self.name.as_deref())
            .set_some("enabled", self.enabled)
            .build()
    }
}

impl ToJs for AuthDialogRequest {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set_some("slot", self.slot.as_deref())
            .set_some("authId", self.auth_id.as_deref())
            .build()
    }
}

impl ToJs for AttachAuth {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set("authId", self.auth_id.as_str())
            .build()
    }
}

impl ToJs for AuthValue {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set("externalId", self.external_id.as_str())
            .set("authId", self.auth_id.as_str())
            .set("expiring", self.expiring)
            .build()
    }
}

impl ToJs for ConfigValue {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set("externalId", self.external_id.as_str())
            .set_some("value", self.value.as_deref())
            .build()
    }
}

impl ToJs for SetConfig {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set_list("values", &self.values)
            .build()
    }
}

impl ToJs for UpgradeInstance {
    fn to_js(&self) -> JsValue {
        ObjectBuilder::new()
            .set_list("authValues", &self.auth_values)
            .set_list("configValues", &self.config_values)
            .build()
    }
}
