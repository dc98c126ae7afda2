//! Helpers shared by the in-browser test files.
// Each file uses some of them.
#![allow(dead_code)]

use wasm_bindgen::JsValue;

/// A few rendering steps of the browser: what a re-render left for an animation frame
/// (focus put back, say) is done by then.
pub async fn next_frames() {
    for _ in 0..3 {
        let frame = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .request_animation_frame(&resolve)
                .unwrap();
        });
        wasm_bindgen_futures::JsFuture::from(frame).await.unwrap();
    }
}

/// Whether leaving the page (its `pagehide`) closes `popup`, whose `close` is spied on.
pub fn leaving_the_page_closes(popup: &web_sys::Window) -> bool {
    js_sys::Function::new_with_args(
        "w",
        "w.__closedByPage = false; w.close = () => { w.__closedByPage = true; };",
    )
    .call1(&JsValue::NULL, popup)
    .unwrap();
    let pagehide = web_sys::Event::new("pagehide").unwrap();
    web_sys::window()
        .unwrap()
        .dispatch_event(&pagehide)
        .unwrap();
    js_sys::Reflect::get(popup, &"__closedByPage".into()).unwrap() == JsValue::TRUE
}
