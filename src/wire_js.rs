//! The wire types read from and written to JS values (the `JSON.parse` result of a
//! response, the object given to `JSON.stringify` for a request).
//!
//! Why not serde: serde plus `serde-wasm-bindgen` (and the float printing serde's error
//! messages pull in) cost about 24 KB gzip, an eighth of the widget. The shapes stay
//! defined once, in `marketplace_wire`: `tests/wire_js.rs` round-trips every type through
//! serde's JSON and this module, so the two cannot drift apart.

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
struct Fields<'a> {
    object: &'a JsValue,
    type_name: &'static str,
}

impl<'a> Fields<'a> {
    fn of(value: &'a JsValue, type_name: &'static str) -> Decoded<Self> {
        if value.is_object() && !Array::is_array(value) {
            Ok(Fields {
                object: value,
                type_name,
            })
        } else {
            Err(DecodeError(format!("{type_name}: expected an object")))
        }
    }

    fn get(&self, name: &str) -> JsValue {
        Reflect::get(self.object, &name.into()).unwrap_or(JsValue::UNDEFINED)
    }

    fn wrong(&self, name: &str, expected: &str) -> DecodeError {
        DecodeError(format!("{}.{name}: expected {expected}", self.type_name))
    }

    fn string(&self, name: &str) -> Decoded<String> {
        self.get(name)
            .as_string()
            .ok_or_else(|| self.wrong(name, "a string"))
    }

    /// Missing and `null` are `None`, like `#[serde(default)]` on an `Option`.
    fn optional_string(&self, name: &str) -> Decoded<Option<String>> {
        let value = self.get(name);
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        value
            .as_string()
            .map(Some)
            .ok_or_else(|| self.wrong(name, "a string or null"))
    }

    fn bool(&self, name: &str) -> Decoded<bool> {
        self.get(name)
            .as_bool()
            .ok_or_else(|| self.wrong(name, "true or false"))
    }

    fn bool_or(&self, name: &str, default: bool) -> Decoded<bool> {
        if self.get(name).is_undefined() {
            Ok(default)
        } else {
            self.bool(name)
        }
    }

    /// A whole number (timestamps); JSON numbers are f64, exact up to 2^53.
    fn whole_number(&self, name: &str) -> Decoded<i64> {
        match self.get(name).as_f64() {
            Some(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 => Ok(n as i64),
            _ => Err(self.wrong(name, "a whole number")),
        }
    }

    /// Missing is empty, like `#[serde(default)]` on a `Vec`.
    fn list<T: FromJs>(&self, name: &str) -> Decoded<Vec<T>> {
        let value = self.get(name);
        if value.is_undefined() {
            return Ok(Vec::new());
        }
        let array: &Array = value.dyn_ref().ok_or_else(|| self.wrong(name, "a list"))?;
        // A plain loop: `collect::<Result<Vec<_>, _>>()` costs ~1 KB of wasm per type.
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            items.push(T::from_js(&item)?);
        }
        Ok(items)
    }

    fn strings(&self, name: &str) -> Decoded<Vec<String>> {
        let value = self.get(name);
        if value.is_undefined() {
            return Ok(Vec::new());
        }
        let array: &Array = value.dyn_ref().ok_or_else(|| self.wrong(name, "a list"))?;
        array
            .iter()
            .map(|item| item.as_string().ok_or_else(|| self.wrong(name, "strings")))
            .collect()
    }
}

impl FromJs for Catalog {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "Catalog")?;
        Ok(Catalog {
            integrations: f.list("integrations")?,
            dialog_origin: f.string("dialogOrigin")?,
        })
    }
}

impl FromJs for Integration {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "Integration")?;
        Ok(Integration {
            solution_id: f.string("solutionId")?,
            title: f.string("title")?,
            description: f.optional_string("description")?,
            tags: f.strings("tags")?,
            icon_url: f.optional_string("iconUrl")?,
            force_unique: f.bool_or("forceUnique", false)?,
            auto_enable: f.bool_or("autoEnable", true)?,
            auth_slots: f.list("authSlots")?,
            config_slots: f.list("configSlots")?,
            instances: f.list("instances")?,
        })
    }
}

impl FromJs for AuthSlot {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "AuthSlot")?;
        Ok(AuthSlot {
            external_id: f.string("externalId")?,
            title: f.string("title")?,
        })
    }
}

impl FromJs for ConfigSlot {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "ConfigSlot")?;
        Ok(ConfigSlot {
            external_id: f.string("externalId")?,
            title: f.string("title")?,
            default_value: f.string("defaultValue")?,
        })
    }
}

impl FromJs for Instance {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "Instance")?;
        let status = f.string("status")?;
        Ok(Instance {
            id: f.string("id")?,
            solution_id: f.string("solutionId")?,
            name: f.string("name")?,
            enabled: f.bool("enabled")?,
            status: status_from_wire(&status).ok_or_else(|| f.wrong("status", "a status"))?,
            auth_values: f.list("authValues")?,
            config_values: f.list("configValues")?,
            created_at: f.whole_number("createdAt")?,
        })
    }
}

impl FromJs for AuthValue {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "AuthValue")?;
        Ok(AuthValue {
            external_id: f.string("externalId")?,
            auth_id: f.string("authId")?,
            expiring: f.bool_or("expiring", false)?,
        })
    }
}

impl FromJs for ConfigValue {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "ConfigValue")?;
        Ok(ConfigValue {
            external_id: f.string("externalId")?,
            value: f.optional_string("value")?,
        })
    }
}

impl FromJs for AuthDialog {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let f = Fields::of(value, "AuthDialog")?;
        Ok(AuthDialog {
            url: f.string("url")?,
            origin: f.string("origin")?,
        })
    }
}

/// The `error` member of the proxy's `ErrorBody`.
impl FromJs for ErrorDetail {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let error = Fields::of(value, "ErrorBody")?.get("error");
        let f = Fields::of(&error, "ErrorBody.error")?;
        Ok(ErrorDetail {
            code: f.string("code")?,
            message: f.string("message")?,
        })
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
