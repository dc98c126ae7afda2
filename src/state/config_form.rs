//! Config slots as form fields: the kind comes from the slot's default value, and
//! every input is validated and JSON-encoded before it is saved (Tray stores JSON text).

use marketplace_wire::{ConfigSlot, ConfigValue};

use crate::strings::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Number,
    Checkbox,
    Json,
}

/// `"\"x\""` is text, `true`/`false` a checkbox, a JSON number a number, anything else JSON.
pub fn kind_of(default_value: &str) -> FieldKind {
    let value = default_value.trim();
    if value.starts_with('"') {
        FieldKind::Text
    } else if value == "true" || value == "false" {
        FieldKind::Checkbox
    } else if is_json_number(value) {
        FieldKind::Number
    } else {
        FieldKind::Json
    }
}

/// What the input shows for a stored JSON value: text unquoted, a number with the
/// user's `decimal` separator (what `encode` reads back), everything else as is.
pub fn input_text(kind: FieldKind, json: &str, decimal: char) -> String {
    match kind {
        FieldKind::Text => js_sys::JSON::parse(json)
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        FieldKind::Number => json
            .trim()
            .replacen('.', decimal.encode_utf8(&mut [0; 4]), 1),
        _ => json.trim().to_owned(),
    }
}

/// The input as the JSON text to store, or why it cannot be stored. `decimal` is the
/// user's decimal separator: a keyboard in their language may offer only that one.
pub fn encode(kind: FieldKind, input: &str, decimal: char) -> Result<String, Key> {
    match kind {
        FieldKind::Text => js_sys::JSON::stringify(&input.into())
            .ok()
            .and_then(|s| s.as_string())
            .ok_or(Key::not_json),
        FieldKind::Checkbox => Ok(if input == "true" { "true" } else { "false" }.into()),
        FieldKind::Number => {
            let trimmed = input.trim();
            if trimmed.is_empty() {
                return Err(Key::number_required);
            }
            // Where the comma is the decimal separator, the dot groups thousands:
            // "1.500" means 1500 there, not 1.5. As "1,500" in English, it is refused
            // rather than guessed.
            if decimal == ',' && groups_thousands(trimmed) {
                return Err(Key::not_a_number);
            }
            // "1,5" is 1.5 in German; with a dot in it as well, the intent is unclear.
            // (Byte scans and slices: a char-by-char rebuild cost the wasm 0.5 KB.)
            let separator = (!trimmed.bytes().any(|b| b == b'.'))
                .then(|| trimmed.bytes().position(|b| char::from(b) == decimal))
                .flatten();
            let number = match separator {
                Some(at) => [&trimmed[..at], ".", &trimmed[at + 1..]].concat(),
                None => trimmed.to_owned(),
            };
            if !is_json_number(&number) {
                Err(Key::not_a_number)
            } else if too_large(&number) {
                Err(Key::number_too_large)
            } else {
                Ok(number)
            }
        }
        FieldKind::Json => {
            let trimmed = input.trim();
            js_sys::JSON::parse(trimmed).map_err(|_| Key::not_json)?;
            if holds_too_large_number(trimmed) {
                return Err(Key::number_too_large);
            }
            Ok(trimmed.to_owned())
        }
    }
}

/// A setting whose default is a JSON object takes an object, and one whose default is a
/// list takes a list: the workflows reading it expect that shape.
fn same_shape(default_value: &str, value: String) -> Result<String, Key> {
    // JSON's whitespace is ASCII.
    let opener = |json: &str| json.bytes().find(|b| !b.is_ascii_whitespace());
    match (opener(default_value), opener(&value)) {
        (Some(b'{'), Some(b'{')) | (Some(b'['), Some(b'[')) => Ok(value),
        (Some(b'{'), _) => Err(Key::not_json_object),
        (Some(b'['), _) => Err(Key::not_json_list),
        _ => Ok(value),
    }
}

/// "1.500", "-12.000": a dot followed by exactly three digits that end the number.
fn groups_thousands(number: &str) -> bool {
    number
        .rfind('.')
        .map(|dot| &number.as_bytes()[dot + 1..])
        .is_some_and(|after| after.len() == 3 && after.iter().all(u8::is_ascii_digit))
}

/// 1e400 is JSON, but no program reads it into a number (a double ends near 1.8e308):
/// anything from 1e308 up is refused. Counted on the digits of a valid JSON number (by
/// bytes: str's patterns cost the wasm a kilobyte).
fn too_large(number: &str) -> bool {
    let bytes = number.as_bytes();
    let digit_at = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| b - b'0')
    };
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    // The mantissa's digits, the point left out: how many stand before the point, and
    // which is the first that is not 0 (none: the number is zero).
    let (mut digits, mut whole_digits, mut first_nonzero) = (0_i64, None, None);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                if b != b'0' && first_nonzero.is_none() {
                    first_nonzero = Some(digits);
                }
                digits += 1;
            }
            b'.' => whole_digits = Some(digits),
            _ => break,
        }
        i += 1;
    }
    let Some(first_nonzero) = first_nonzero else {
        return false;
    };
    // The power of ten of that digit: 2 for "123", 0 for "1.5", -3 for "0.001".
    let place = whole_digits.unwrap_or(digits) - 1 - first_nonzero;
    let mut exponent = 0_i64;
    let negative = bytes.get(i + 1) == Some(&b'-');
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1 + usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        while let Some(digit) = digit_at(i) {
            exponent = exponent.saturating_mul(10).saturating_add(i64::from(digit));
            i += 1;
        }
    }
    let exponent = if negative { -exponent } else { exponent };
    exponent.saturating_add(place) >= 308
}

/// Whether valid JSON text holds a number `too_large` refuses (outside its strings):
/// `JSON.parse` reads `{"k": 1e400}` as Infinity, which Tray cannot store.
fn holds_too_large_number(json: &str) -> bool {
    let bytes = json.as_bytes();
    let number_byte = |b: u8| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9');
    let (mut i, mut in_string) = (0, false);
    while let Some(&b) = bytes.get(i) {
        match (in_string, b) {
            (true, b'\\') => i += 1,
            (_, b'"') => in_string = !in_string,
            (false, b'-' | b'0'..=b'9') => {
                let start = i;
                while bytes.get(i).copied().is_some_and(number_byte) {
                    i += 1;
                }
                if too_large(&json[start..i]) {
                    return true;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// JSON's number grammar: `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`.
pub fn is_json_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    if !digits(&mut i) || (bytes[int_start] == b'0' && i - int_start > 1) {
        return false;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == bytes.len()
}

/// The value a slot's field starts with: the saved value, else the default.
pub fn current_value(slot: &ConfigSlot, saved: &[ConfigValue]) -> String {
    saved
        .iter()
        .find(|v| v.external_id == slot.external_id)
        .and_then(|v| v.value.clone())
        .unwrap_or_else(|| slot.default_value.clone())
}

/// Validates every field; `Err` lists `(external_id, problem)` for each bad one.
pub fn validate(
    slots: &[ConfigSlot],
    inputs: &[String],
    decimal: char,
) -> Result<Vec<ConfigValue>, Vec<(String, Key)>> {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for (slot, input) in slots.iter().zip(inputs) {
        let encoded = encode(kind_of(&slot.default_value), input, decimal)
            .and_then(|value| same_shape(&slot.default_value, value));
        match encoded {
            Ok(value) => values.push(ConfigValue {
                external_id: slot.external_id.clone(),
                value: Some(value),
            }),
            Err(key) => errors.push((slot.external_id.clone(), key)),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_kinds_follow_the_default_value() {
        assert_eq!(kind_of("\"#general\""), FieldKind::Text);
        assert_eq!(kind_of("15"), FieldKind::Number);
        assert_eq!(kind_of("false"), FieldKind::Checkbox);
        assert_eq!(kind_of("{\"email\":\"email\"}"), FieldKind::Json);
    }

    #[test]
    fn a_decimal_comma_is_read_only_where_it_is_the_separator() {
        assert_eq!(encode(FieldKind::Number, " 1,5 ", ','), Ok("1.5".into()));
        assert_eq!(encode(FieldKind::Number, "1.5", ','), Ok("1.5".into()));
        assert_eq!(
            encode(FieldKind::Number, "-2,25e3", ','),
            Ok("-2.25e3".into())
        );
        for unclear in ["1.000,5", "1,5,6", ","] {
            assert_eq!(
                encode(FieldKind::Number, unclear, ','),
                Err(Key::not_a_number),
                "{unclear}"
            );
        }
        // In English "1,500" is fifteen hundred: not silently 1.5.
        assert_eq!(
            encode(FieldKind::Number, "1,500", '.'),
            Err(Key::not_a_number)
        );
        // In German "1.500" is fifteen hundred: not silently 1.5 either.
        for thousands in ["1.500", "-12.000"] {
            assert_eq!(
                encode(FieldKind::Number, thousands, ','),
                Err(Key::not_a_number),
                "{thousands}"
            );
        }
        assert_eq!(encode(FieldKind::Number, "1.500", '.'), Ok("1.500".into()));
        assert_eq!(encode(FieldKind::Number, "1.25", ','), Ok("1.25".into()));
    }

    #[test]
    fn a_number_no_program_can_hold_is_refused() {
        for huge in [
            "1e400",
            "-1e308",
            "1E+999999999999999999999",
            &"9".repeat(309),
        ] {
            assert_eq!(
                encode(FieldKind::Number, huge, '.'),
                Err(Key::number_too_large),
                "{huge}"
            );
        }
        for fine in [
            "1e307",
            "9.99e307",
            "0.5e308",
            "1e-400",
            "0.001e310",
            "0e400",
            "-0.0",
            &"9".repeat(308),
        ] {
            assert!(encode(FieldKind::Number, fine, '.').is_ok(), "{fine}");
        }
    }

    #[test]
    fn a_number_too_large_inside_json_is_found_outside_its_strings() {
        assert!(holds_too_large_number(r#"{"k": 1e400}"#));
        assert!(holds_too_large_number("[1, -2e999]"));
        assert!(!holds_too_large_number(r#"{"k": "1e400", "n": 12}"#));
        assert!(
            !holds_too_large_number(r#"{"k\"1e400": 0.5}"#),
            "an escaped quote"
        );
        assert!(!holds_too_large_number("[1e307, 0e999]"));
    }

    #[test]
    fn a_setting_takes_the_shape_of_its_default() {
        let check = |default: &str, input: &str| same_shape(default, input.to_owned()).map(|_| ());
        assert_eq!(check("{\"a\":1}", "{\"b\": 2}"), Ok(()));
        assert_eq!(check("{\"a\":1}", "[1,2]"), Err(Key::not_json_object));
        assert_eq!(check("{\"a\":1}", "\"email\""), Err(Key::not_json_object));
        assert_eq!(check(" [1]", " [] "), Ok(()));
        assert_eq!(check("[1]", "{}"), Err(Key::not_json_list));
        assert_eq!(
            check("null", "[1]"),
            Ok(()),
            "a default of no shape takes any"
        );
    }

    #[test]
    fn numbers_follow_json_grammar() {
        for ok in ["0", "-7", "1.5", "2e10", "3.0E-2"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "+5", "NaN", "inf", "1e", "12abc"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
