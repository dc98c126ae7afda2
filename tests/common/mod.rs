//! Helpers shared by the in-browser test files.

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
