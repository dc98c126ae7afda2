//! Widget tests in headless Chromium (wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

mod common;

use common::sleep;
use integrations_widget::mount;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> web_sys::Element {
    common::new_host().into()
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

/// `rgb(r, g, b)` / `rgba(r, g, b, a)` as computed styles give them.
fn rgba(css: &str) -> (f64, f64, f64, f64) {
    let inner = css[css.find('(').unwrap() + 1..css.find(')').unwrap()].to_owned();
    let parts: Vec<f64> = inner
        .split([',', ' ', '/'])
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().unwrap())
        .collect();
    (
        parts[0],
        parts[1],
        parts[2],
        parts.get(3).copied().unwrap_or(1.0),
    )
}

fn luminance((r, g, b, _): (f64, f64, f64, f64)) -> f64 {
    let channel = |c: f64| {
        let c = c / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

/// Text colour against the first opaque background at or above the element, as the
/// browser computed both: what a user sees, whatever the stylesheet's cascade did.
fn rendered_contrast(element: &web_sys::Element) -> f64 {
    let window = web_sys::window().unwrap();
    let style = |e: &web_sys::Element| window.get_computed_style(e).unwrap().unwrap();
    let text = rgba(&style(element).get_property_value("color").unwrap());
    let mut at = Some(element.clone());
    let background = loop {
        let current = at.expect("an opaque background above the element");
        let background = rgba(
            &style(&current)
                .get_property_value("background-color")
                .unwrap(),
        );
        if background.3 > 0.0 {
            break background;
        }
        at = current.parent_element().or_else(|| {
            current
                .parent_node()?
                .dyn_into::<web_sys::ShadowRoot>()
                .ok()?
                .host()
                .into()
        });
    };
    let (light, dark) = {
        let (a, b) = (luminance(text), luminance(background));
        (a.max(b), a.min(b))
    };
    (light + 0.05) / (dark + 0.05)
}

/// Every button's label, in both themes, with the catalog shown and with the error
/// (and its Try again) shown: at least WCAG AA's 4.5:1. And headings in order.
#[wasm_bindgen_test]
async fn buttons_are_legible_in_both_themes_as_rendered() {
    let catalog = js_sys::JSON::parse(
        r#"{"dialogOrigin": "http://127.0.0.1:9", "integrations": [
            {"solutionId": "s1", "title": "Stripe", "description": "Payments", "tags": ["Billing"],
             "authSlots": [{"externalId": "a", "title": "Stripe"}], "instances": []}]}"#,
    )
    .unwrap();
    for theme in ["light", "dark"] {
        for loaded in [true, false] {
            let element = container();
            let options = js_sys::Object::new();
            let set = |key: &str, value: JsValue| {
                js_sys::Reflect::set(&options, &key.into(), &value).unwrap();
            };
            // Nothing listens there: without a prefetched catalog the load fails.
            set("proxyUrl", "http://127.0.0.1:9".into());
            set("token", "t".into());
            set("theme", theme.into());
            if loaded {
                set("catalog", js_sys::Promise::resolve(&catalog).into());
            }
            let mut handle = mount(element.clone(), options.into()).expect("mounts");
            let shadow = element.shadow_root().unwrap();
            let wanted = if loaded {
                ".tm-card-action"
            } else {
                ".tm-retry"
            };
            for _ in 0..100 {
                if shadow.query_selector(wanted).unwrap().is_some() {
                    break;
                }
                sleep(20).await;
            }
            assert!(
                shadow.query_selector(wanted).unwrap().is_some(),
                "{theme}: {wanted} rendered"
            );
            let buttons = shadow.query_selector_all("button").unwrap();
            // The cards' <h3> titles sit under the widget's own (visually hidden) <h2>,
            // which names its region.
            let first_heading = shadow.query_selector("h1, h2, h3").unwrap().unwrap();
            assert_eq!(first_heading.tag_name(), "H2");
            assert_eq!(first_heading.text_content().unwrap(), "Integrations");
            let region = shadow.query_selector(".tm-root").unwrap().unwrap();
            assert_eq!(
                region.get_attribute("aria-labelledby"),
                Some(first_heading.id())
            );
            for i in 0..buttons.length() {
                let button: web_sys::Element = buttons.item(i).unwrap().dyn_into().unwrap();
                let ratio = rendered_contrast(&button);
                assert!(
                    ratio >= 4.5,
                    "{theme}: {} reads at {ratio:.2}:1",
                    button.outer_html()
                );
            }
            handle.unmount();
            let _ = element
                .dyn_into::<web_sys::HtmlElement>()
                .map(|e| e.remove());
        }
    }
}

/// Mount options handing `catalog` over (already fetched), plus `more`; nothing listens
/// at their proxy URL.
fn handing_over(catalog: JsValue, more: &[(&str, JsValue)]) -> JsValue {
    let options = js_sys::Object::new();
    let base = [
        ("proxyUrl", JsValue::from("http://127.0.0.1:9")),
        ("token", "t".into()),
        ("catalog", catalog),
    ];
    for (key, value) in base.iter().chain(more) {
        js_sys::Reflect::set(&options, &(*key).into(), value).unwrap();
    }
    options.into()
}

/// A catalog handed over already fetched (embed.js does when it is there before the
/// wasm): mount returns with the cards on screen, no loading state first, and the
/// widget says it is ready without asking the proxy (nothing listens at its URL here).
#[wasm_bindgen_test]
async fn a_catalog_handed_over_is_on_screen_when_mount_returns() {
    let catalog = js_sys::JSON::parse(
        r#"{"dialogOrigin": "http://127.0.0.1:9", "integrations": [
            {"solutionId": "s1", "title": "Stripe", "description": "Payments", "tags": [],
             "authSlots": [], "instances": []},
            {"solutionId": "s2", "title": "Slack", "description": "Chat", "tags": [],
             "authSlots": [], "instances": []}]}"#,
    )
    .unwrap();
    let element = container();
    let events = js_sys::Array::new();
    let on_event = {
        let events = events.clone();
        wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            events.push(&js_sys::Reflect::get(&event, &"type".into()).unwrap());
        })
    };
    let options = handing_over(catalog, &[("onEvent", on_event.as_ref().clone())]);
    let mut handle = mount(element.clone(), options).expect("mounts");
    let shadow = element.shadow_root().unwrap();
    let titles = shadow.query_selector_all(".tm-title").unwrap();
    assert_eq!(titles.length(), 2, "both cards, at once");
    assert!(shadow.query_selector(".tm-skeleton").unwrap().is_none());
    sleep(50).await;
    // Ready, with no failed load of its own (nothing answers at the proxy URL).
    assert_eq!(events.to_vec(), vec![JsValue::from("ready")]);
    handle.unmount();
    let _ = element
        .dyn_into::<web_sys::HtmlElement>()
        .map(|e| e.remove());
}

/// A connection's name may be long and unbroken (200 characters): it wraps, and the
/// status badge keeps its words on one line, as on the catalog's card.
#[wasm_bindgen_test]
async fn a_long_name_wraps_and_its_badge_stays_whole() {
    let name = "W".repeat(200);
    let catalog = js_sys::JSON::parse(&format!(
        r#"{{"dialogOrigin": "http://127.0.0.1:9", "integrations": [
            {{"solutionId": "s1", "title": "Stripe", "description": "Payments", "tags": [],
             "authSlots": [], "instances": [
                {{"id": "i1", "solutionId": "s1", "name": "{name}", "enabled": true,
                  "status": "connected", "authValues": [], "configValues": [],
                  "createdAt": 1}}]}}]}}"#
    ))
    .unwrap();
    let element = container();
    let mut handle = mount(element.clone(), handing_over(catalog, &[])).expect("mounts");
    let shadow = element.shadow_root().unwrap();
    let find = |selector: &str| shadow.query_selector(selector).unwrap().expect(selector);
    find(".tm-card-action")
        .dyn_into::<web_sys::HtmlElement>()
        .unwrap()
        .click();
    for _ in 0..50 {
        if shadow
            .query_selector(".tm-instance .tm-badge")
            .unwrap()
            .is_some()
        {
            break;
        }
        sleep(20).await;
    }
    let size = |selector: &str| {
        let element: web_sys::HtmlElement = find(selector).unchecked_into();
        (element.offset_width(), element.offset_height())
    };
    assert_eq!(
        size(".tm-instance .tm-badge"),
        size(".tm-card .tm-badge"),
        "one line, its words whole, as on the card"
    );
    let (badge, name): (web_sys::HtmlElement, web_sys::HtmlElement) = (
        find(".tm-instance .tm-badge").unchecked_into(),
        find(".tm-instance-name").unchecked_into(),
    );
    // Beside the name or, as here, on the line below it: whole either way.
    assert!(badge.offset_width() > 0 && name.offset_width() > 0);
    let dialog = find(".tm-dialog");
    assert!(
        dialog.scroll_width() <= dialog.client_width(),
        "the name wraps within the dialog"
    );
    handle.unmount();
    let _ = element
        .dyn_into::<web_sys::HtmlElement>()
        .map(|e| e.remove());
}

/// Beside a long badge (German's "Aktualisierung nötig"), a name's words stay whole:
/// the badge goes below rather than the name breaking mid-word ("notification/s").
#[wasm_bindgen_test]
async fn a_name_keeps_its_words_whole_beside_a_long_badge() {
    let word = "Vertriebsbenachrichtigungsweiterleitungskanal";
    let catalog = js_sys::JSON::parse(&format!(
        r#"{{"dialogOrigin": "http://127.0.0.1:9", "integrations": [
            {{"solutionId": "s1", "title": "Stripe", "description": "Zahlungen", "tags": [],
             "authSlots": [], "instances": [
                {{"id": "i1", "solutionId": "s1", "name": "Kanal {word}", "enabled": true,
                  "status": "needs_update", "authValues": [], "configValues": [],
                  "createdAt": 1}}]}}]}}"#
    ))
    .unwrap();
    let element = container();
    let mut handle = mount(
        element.clone(),
        handing_over(catalog, &[("locale", "de".into())]),
    )
    .expect("mounts");
    let shadow = element.shadow_root().unwrap();
    let find = |selector: &str| -> web_sys::HtmlElement {
        shadow
            .query_selector(selector)
            .unwrap()
            .expect(selector)
            .unchecked_into()
    };
    find(".tm-card-action").click();
    for _ in 0..50 {
        if shadow
            .query_selector(".tm-instance-name")
            .unwrap()
            .is_some()
        {
            break;
        }
        sleep(20).await;
    }
    let (row, name, badge) = (
        find(".tm-instance-head"),
        find(".tm-instance-name"),
        find(".tm-instance .tm-badge"),
    );
    // The word's own width, in the name's font.
    let probe = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("strong")
        .unwrap();
    probe.set_class_name("tm-instance-name");
    probe
        .set_attribute(
            "style",
            "position: absolute; white-space: nowrap; visibility: hidden",
        )
        .unwrap();
    probe.set_text_content(Some(word));
    row.append_child(&probe).unwrap();
    let word_width = probe.unchecked_ref::<web_sys::HtmlElement>().offset_width();
    probe.remove();
    assert!(
        word_width > row.offset_width() - badge.offset_width(),
        "the case: beside the badge the word would not fit ({word_width} px, row {}, badge {})",
        row.offset_width(),
        badge.offset_width()
    );
    assert!(
        name.offset_width() >= word_width,
        "the word is whole: the name is {} px wide, the word {word_width}",
        name.offset_width()
    );
    handle.unmount();
    let _ = element
        .dyn_into::<web_sys::HtmlElement>()
        .map(|e| e.remove());
}

/// A description may hold a long unbroken word (a URL) or run to many lines: the URL
/// wraps within its card (on a phone the host page must not scroll sideways), a long
/// text stops at a few lines so its row's other cards keep their height, and the
/// integration's dialog shows the whole of it.
#[wasm_bindgen_test]
async fn long_descriptions_stay_within_their_cards() {
    let url = format!("https://hooks.example.com/services/{}", "X".repeat(120));
    let long = "Sync every record both ways, on a schedule you choose. ".repeat(25);
    let catalog = js_sys::JSON::parse(&format!(
        r#"{{"dialogOrigin": "http://127.0.0.1:9", "integrations": [
            {{"solutionId": "s1", "title": "Hooks", "description": "Posts to {url}", "tags": [],
             "authSlots": [], "instances": []}},
            {{"solutionId": "s2", "title": "Sync", "description": "{long}", "tags": [],
             "authSlots": [], "instances": [
                {{"id": "i1", "solutionId": "s2", "name": "Sync", "enabled": true,
                  "status": "connected", "authValues": [], "configValues": [],
                  "createdAt": 1}}]}},
            {{"solutionId": "s3", "title": "Chat", "description": "Chat.", "tags": [],
             "authSlots": [], "instances": []}}]}}"#
    ))
    .unwrap();
    let element: web_sys::HtmlElement = container().unchecked_into();
    for width in ["360px", "1000px"] {
        element.style().set_property("width", width).unwrap();
        let mut handle =
            mount(element.clone().into(), handing_over(catalog.clone(), &[])).expect("mounts");
        let shadow = element.shadow_root().unwrap();
        let cards = shadow.query_selector_all(".tm-card").unwrap();
        let card = |i: u32| -> web_sys::HtmlElement { cards.item(i).unwrap().unchecked_into() };
        for i in 0..cards.length() {
            assert!(
                card(i).scroll_width() <= card(i).client_width(),
                "{width}: card {i} is wider inside than out"
            );
        }
        assert!(
            element.scroll_width() <= element.client_width(),
            "{width}: the widget is wider than its container"
        );
        assert!(
            card(1).offset_height() < 300,
            "{width}: the long text is cut short"
        );
        if width == "1000px" {
            // Side by side: the short card is not stretched to the long one's text.
            assert!(
                card(2).offset_height() < 300,
                "{width}: the row kept its height"
            );
        }
        // Connected: its card's action opens the dialog.
        card(1)
            .query_selector(".tm-card-action")
            .unwrap()
            .unwrap()
            .unchecked_into::<web_sys::HtmlElement>()
            .click();
        let mut shown = String::new();
        for _ in 0..50 {
            if let Some(p) = shadow.query_selector(".tm-dialog-description").unwrap() {
                shown = p.text_content().unwrap_or_default();
                break;
            }
            sleep(20).await;
        }
        assert_eq!(
            shown, long,
            "{width}: the dialog shows the whole description"
        );
        handle.unmount();
    }
    element.remove();
}

/// A card's description stops at four lines, and what follows them is not drawn: the
/// clamped box was stretched to its row's height (a neighbour with a long title), and
/// Chromium drew the lines past the ellipsis into the stretch.
#[wasm_bindgen_test]
fn a_clamped_description_shows_no_line_past_its_fourth() {
    let long = "Each deal is assigned to an owner by territory and stage. ".repeat(6);
    let tall_title = "Salesforce Sales Cloud Enterprise ".repeat(6);
    let catalog = js_sys::JSON::parse(&format!(
        r#"{{"dialogOrigin": "http://127.0.0.1:9", "integrations": [
            {{"solutionId": "s1", "title": "Deals", "description": "{long}", "tags": [],
             "authSlots": [], "instances": []}},
            {{"solutionId": "s2", "title": "{tall_title}", "description": "Short.",
             "tags": [], "authSlots": [], "instances": []}}]}}"#
    ))
    .unwrap();
    let element: web_sys::HtmlElement = container().unchecked_into();
    element.style().set_property("width", "560px").unwrap();
    let mut handle = mount(element.clone().into(), handing_over(catalog, &[])).expect("mounts");
    let shadow = element.shadow_root().unwrap();
    let description: web_sys::HtmlElement = shadow
        .query_selector(".tm-card .tm-description")
        .unwrap()
        .unwrap()
        .unchecked_into();
    let line_height: f64 = web_sys::window()
        .unwrap()
        .get_computed_style(&description)
        .unwrap()
        .unwrap()
        .get_property_value("line-height")
        .unwrap()
        .trim_end_matches("px")
        .parse()
        .unwrap();
    let cards = shadow.query_selector_all(".tm-card").unwrap();
    let height = |i: u32| {
        cards
            .item(i)
            .unwrap()
            .unchecked_into::<web_sys::HtmlElement>()
            .offset_height()
    };
    assert_eq!(height(0), height(1), "the two cards share a row");
    assert!(
        f64::from(description.offset_height()) <= 4.0 * line_height + 1.0,
        "the description's box is {} px high, past four lines of {line_height} px",
        description.offset_height()
    );
    handle.unmount();
    element.remove();
}
