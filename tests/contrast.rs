//! WCAG AA for the widget's default colours, in the light and the dark theme: every
//! text/background pair the stylesheet uses reaches 4.5:1 (all of the widget's text is
//! normal-sized, so the large-text 3:1 allowance never applies), and form fields'
//! outlines 3:1.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

const CSS: &str = include_str!("../style/widget.css");

/// (text, background) custom properties, as `style/widget.css` pairs them.
const PAIRS: &[(&str, &str)] = &[
    ("fg", "bg"),            // body text, dialog
    ("fg", "surface"),       // card titles
    ("muted", "bg"),         // empty state, inactive badges in the dialog
    ("muted", "surface"),    // card descriptions, tag chips, badges on cards
    ("warn", "bg"),          // update hint, "setting up" badge in the dialog
    ("warn", "surface"),     // "setting up" / "needs update" badges on cards
    ("ok", "bg"),            // completed steps, "connected" badge
    ("ok", "surface"),       //
    ("danger", "bg"),        // errors, ghost delete button
    ("danger", "surface"),   // "reconnect needed" badge on cards
    ("accent", "bg"),        // ghost buttons
    ("accent", "surface"),   //
    ("accent-fg", "accent"), // primary buttons
    ("bg", "danger"),        // the confirm-delete button
];

/// The `--_name: var(--tm-…, #rrggbb)` defaults declared in the block after `selector`.
fn theme(selector: &str) -> HashMap<String, (u8, u8, u8)> {
    let start = CSS
        .find(selector)
        .unwrap_or_else(|| panic!("{selector} not in widget.css"));
    let block = &CSS[start..];
    let block =
        &block[block.find('{').expect("block opens") + 1..block.find('}').expect("block ends")];
    block
        .split(';')
        .filter_map(|declaration| {
            let (name, value) = declaration.split_once(':')?;
            let name = name.trim().strip_prefix("--_")?;
            let hex = value.split('#').nth(1)?.trim_end_matches(')').trim();
            Some((name.to_owned(), parse_hex(hex)?))
        })
        .collect()
}

fn parse_hex(hex: &str) -> Option<(u8, u8, u8)> {
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    (hex.len() == 6).then_some((channel(0)?, channel(2)?, channel(4)?))
}

/// WCAG 2 relative luminance.
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// (component, background) pairs that need 3:1 (WCAG 1.4.11, non-text contrast): the
/// outline that shows where a text field is.
const CONTROL_PAIRS: &[(&str, &str)] = &[("field-border", "bg")];

fn failing_pairs(colours: &HashMap<String, (u8, u8, u8)>) -> Vec<String> {
    let text = PAIRS.iter().map(|pair| (pair, 4.5));
    let controls = CONTROL_PAIRS.iter().map(|pair| (pair, 3.0));
    text.chain(controls)
        .filter_map(|((fore, background), needed)| {
            let ratio = contrast(colours[*fore], colours[*background]);
            (ratio < needed).then(|| format!("{fore} on {background}: {ratio:.2}:1"))
        })
        .collect()
}

#[test]
fn the_contrast_formula_matches_wcag() {
    assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 0.01);
    // #767676 on white is the well-known 4.54:1 threshold grey.
    assert!((contrast((0x76, 0x76, 0x76), (255, 255, 255)) - 4.54).abs() < 0.01);
}

#[test]
fn light_theme_text_passes_wcag_aa() {
    let light = theme(":host {");
    assert_eq!(light.len(), 11, "{light:?}");
    assert_eq!(failing_pairs(&light), Vec::<String>::new());
}

#[test]
fn dark_theme_text_passes_wcag_aa() {
    let dark = theme(":host([data-tm-theme=\"dark\"])");
    assert_eq!(dark.len(), 11, "{dark:?}");
    assert_eq!(failing_pairs(&dark), Vec::<String>::new());
}

#[test]
fn the_system_theme_uses_the_dark_colours_when_the_os_is_dark() {
    assert_eq!(
        theme(":host([data-tm-theme=\"system\"])"),
        theme(":host([data-tm-theme=\"dark\"])")
    );
}
