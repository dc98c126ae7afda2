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
