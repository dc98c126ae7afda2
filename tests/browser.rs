//! Widget tests in headless Chromium (wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

use integrations_widget::mount;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let element = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&element).unwrap();
    element
}

#[wasm_bindgen_test]
fn mount_renders_into_a_shadow_root_and_unmount_clears_it() {
    let element = container();
    let mut handle = mount(element.clone(), js_sys::Object::new().into()).expect("mounts");
    let shadow = element.shadow_root().expect("shadow root attached");
    assert!(shadow.query_selector(".tm-root").unwrap().is_some());
    // Nothing of the widget is in the light DOM, where host CSS could reach it.
    assert_eq!(element.children().length(), 0);
    // Its stylesheet is adopted (no <style> element, so no CSP 'unsafe-inline').
    assert_eq!(shadow.adopted_style_sheets().length(), 1);
    assert!(shadow.query_selector("style").unwrap().is_none());

    handle.unmount();
    assert!(shadow.query_selector(".tm-root").unwrap().is_none());
    assert_eq!(shadow.adopted_style_sheets().length(), 0);
    let _ = element
        .dyn_into::<web_sys::HtmlElement>()
        .map(|e| e.remove());
}

/// The browser's own reading of a stylesheet: every rule as it serialises it.
fn parsed_rules(css: &str) -> Vec<String> {
    let sheet = web_sys::CssStyleSheet::new().unwrap();
    sheet.replace_sync(css).unwrap();
    let rules = js_sys::Reflect::get(&sheet, &"cssRules".into()).unwrap();
    js_sys::Array::from(&rules)
        .iter()
        .map(|rule| {
            js_sys::Reflect::get(&rule, &"cssText".into())
                .unwrap()
                .as_string()
                .unwrap()
        })
        .collect()
}

#[wasm_bindgen_test]
fn the_shipped_stylesheet_means_what_the_source_says() {
    let source = include_str!("../style/widget.css");
    let shipped = include_str!(concat!(env!("OUT_DIR"), "/widget.css"));
    assert!(
        shipped.len() < source.len() * 9 / 10,
        "build.rs minifies it"
    );
    let rules = parsed_rules(source);
    assert!(rules.len() > 50, "the source parses: {} rules", rules.len());
    assert_eq!(parsed_rules(shipped), rules);
}
