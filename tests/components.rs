//! Component and logic tests in headless Chromium (wasm-bindgen-test), no proxy needed:
//! fake catalogs, a fake popup (an iframe's window) and synthetic messages.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{next_frames, run_js, until};
use integrations_widget::{
    api::ApiClient,
    components::{CatalogView, ConfigForm, IntegrationCard, IntegrationDialog, Toolbar},
    context::{Ctx, OpenPanel},
    events::Emitter,
    popup::{read_message, DialogMessage, PopupEvent, PopupWatch},
    state::{
        all_tags,
        config_form::{encode, kind_of, validate, FieldKind},
        next_setup_step, own_config_slots, CatalogState, Filter, SetupStep,
    },
    strings::{Key, Locale, Strings},
};
use leptos::prelude::*;
use marketplace_wire::{
    AuthSlot, AuthValue, Catalog, ConfigSlot, ConfigValue, Instance, Integration, Status,
    UpdateInstance,
};
use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, MessageEvent, MessageEventInit};

wasm_bindgen_test_configure!(run_in_browser);

const DIALOG_ORIGIN: &str = "http://dialog.example";

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn container() -> HtmlElement {
    common::new_host()
}

/// Lets Leptos run its effects (they are scheduled on the microtask queue).
async fn tick() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn integration(title: &str, tags: &[&str], statuses: &[Status]) -> Integration {
    Integration {
        solution_id: format!("sol-{title}"),
        title: title.into(),
        description: Some(format!("{title} description")),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        icon_url: None,
        force_unique: false,
        auto_enable: true,
        auth_slots: vec![AuthSlot {
            external_id: "auth".into(),
            title: title.into(),
        }],
        config_slots: vec![],
        instances: statuses
            .iter()
            .enumerate()
            .map(|(n, status)| instance(&format!("{title}-{n}"), *status))
            .collect(),
    }
}

fn instance(id: &str, status: Status) -> Instance {
    Instance {
        id: id.into(),
        solution_id: "s".into(),
        name: id.into(),
        enabled: status == Status::Connected,
        status,
        auth_values: vec![],
        config_values: vec![],
        created_at: 0,
        settings_confirmed: false,
    }
}

fn english() -> Strings {
    Strings::new(Locale::En, vec![])
}

/// A Ctx for one mounted test view; the API points nowhere (never called here).
fn test_ctx(host: &Element, catalog: CatalogState) -> Ctx {
    Ctx {
        api: StoredValue::new_local(ApiClient::new("http://127.0.0.1:9")),
        events: StoredValue::new_local(Emitter::new(host.clone(), None)),
        strings: StoredValue::new(english()),
        catalog: RwSignal::new(catalog),
        announcement: RwSignal::new(String::new()),
        notice: RwSignal::new(None),
        connecting: RwSignal::new(Vec::new()),
        open: RwSignal::new(None),
    }
}

fn texts(root: &HtmlElement, selector: &str) -> Vec<String> {
    elements_text(root, selector, |_| true)
}

/// [`texts`] of the elements a search or filter left shown (not within `hidden`).
fn shown_texts(root: &HtmlElement, selector: &str) -> Vec<String> {
    elements_text(root, selector, |element| {
        element.closest("[hidden]").unwrap().is_none()
    })
}

fn elements_text(
    root: &HtmlElement,
    selector: &str,
    keep: impl Fn(&Element) -> bool,
) -> Vec<String> {
    let nodes = root.query_selector_all(selector).unwrap();
    (0..nodes.length())
        .filter_map(|i| nodes.item(i)?.dyn_into::<Element>().ok())
        .filter(|element| keep(element))
        .map(|element| element.text_content().unwrap_or_default().trim().to_owned())
        .collect()
}

#[wasm_bindgen_test]
fn each_status_renders_its_badge_and_action() {
    let cases = [
        (vec![], "Not connected", "Connect"),
        (vec![Status::SettingUp], "Setting up", "Finish setting up"),
        (vec![Status::Connected], "Connected", "Manage"),
        (vec![Status::Disabled], "Disabled", "Manage"),
        (vec![Status::NeedsUpdate], "Update needed", "Manage"),
        (vec![Status::AuthExpiring], "Reconnect needed", "Manage"),
        // The card shows the most urgent instance.
        (
            vec![Status::Connected, Status::AuthExpiring],
            "Reconnect needed",
            "Manage",
        ),
        // An unfinished setup beside a connection: the list, with both in reach.
        (
            vec![Status::Connected, Status::SettingUp],
            "Setting up",
            "Manage",
        ),
    ];
    for (statuses, badge, action) in cases {
        let host = container();
        let item = integration("Slack", &["chat"], &statuses);
        let for_view = host.clone();
        let handle = leptos::mount::mount_to(host.clone(), move || {
            provide_context(test_ctx(&for_view, CatalogState::Loading));
            view! { <IntegrationCard integration=item.clone() filter=RwSignal::new(Filter::default()) /> }
        });
        assert_eq!(
            texts(&host, ".tm-badge"),
            vec![badge.to_owned()],
            "{statuses:?}"
        );
        assert_eq!(
            texts(&host, ".tm-card-action"),
            vec![action.to_owned()],
            "{statuses:?}"
        );
        drop(handle);
        host.remove();
    }
}

fn catalog() -> Vec<Integration> {
    vec![
        integration("Slack", &["messaging"], &[Status::Connected]),
        integration("Salesforce", &["crm", "sync"], &[]),
        integration("HubSpot", &["crm", "marketing"], &[Status::SettingUp]),
    ]
}

/// `catalog()` as the widget holds it once loaded.
fn loaded_catalog() -> CatalogState {
    CatalogState::Loaded(Catalog {
        integrations: catalog(),
        dialog_origin: DIALOG_ORIGIN.into(),
    })
}

/// The titles `filter` lets through, in the catalog's order.
fn shown_titles<'a>(all: &'a [Integration], filter: &Filter) -> Vec<&'a str> {
    all.iter()
        .filter(|i| filter.matches(i))
        .map(|i| i.title.as_str())
        .collect()
}

#[wasm_bindgen_test]
fn search_filters_by_text_tag_and_connection() {
    let all = catalog();
    let by = |filter: Filter| shown_titles(&all, &filter).join(",");
    let query = |q: &str| Filter {
        query: q.into(),
        ..Filter::default()
    };
    assert_eq!(by(Filter::default()), "Slack,Salesforce,HubSpot");
    assert_eq!(by(query("sla")), "Slack");
    assert_eq!(by(query("  HUBSPOT description ")), "HubSpot");
    assert_eq!(by(query("marketing")), "HubSpot", "tags are searched too");
    assert_eq!(by(query("nothing like it")), "");
    // Each word anywhere: a title and a tag, but both in one integration.
    assert_eq!(by(query("salesforce crm")), "Salesforce");
    assert_eq!(by(query("slack  crm")), "");
    let tag = Filter {
        tag: Some("crm".into()),
        ..Filter::default()
    };
    assert_eq!(by(tag), "Salesforce,HubSpot");
    let connected = Filter {
        connected_only: true,
        ..Filter::default()
    };
    // HubSpot's only instance is still being set up: not a connection yet.
    assert_eq!(by(connected), "Slack");
    assert_eq!(
        all_tags(&all),
        vec!["crm", "marketing", "messaging", "sync"]
    );
}

/// Waits until the category list has been drawn (once the browser is idle after the
/// first render).
async fn categories_listed(host: &HtmlElement) {
    for _ in 0..30 {
        next_frames().await;
        tick().await;
        if texts(host, ".tm-tag option").len() > 1 {
            return;
        }
    }
    panic!("no categories listed");
}

/// The category list shows the category the grid is filtered by, whatever the catalog
/// adds or takes away around it; one it takes away stops filtering.
#[wasm_bindgen_test]
async fn the_category_list_follows_the_filter_through_catalog_changes() {
    let host = container();
    let (ctx, handle) = mount_toolbar_and_catalog(&host, loaded_catalog());
    categories_listed(&host).await;
    let chosen = || {
        let select: web_sys::HtmlSelectElement = host
            .query_selector(".tm-tag")
            .unwrap()
            .unwrap()
            .unchecked_into();
        let index = select.selected_index() as u32;
        let option = select.item(index).and_then(|o| o.text_content());
        (select.value(), option.unwrap_or_default())
    };
    // Picked twice, as a user does: the browser then keeps its choice on a place.
    set_control(&host, ".tm-tag", "marketing");
    tick().await;
    set_control(&host, ".tm-tag", "messaging");
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Slack"]);
    assert_eq!(chosen(), ("messaging".into(), "messaging".into()));
    let mut changed = catalog();
    let show = |integrations: &Vec<Integration>| {
        ctx.catalog.set(CatalogState::Loaded(Catalog {
            integrations: integrations.clone(),
            dialog_origin: DIALOG_ORIGIN.into(),
        }))
    };
    // A category sorting before the chosen one comes, and another goes.
    changed[0].tags.push("analytics".into());
    for integration in &mut changed {
        integration.tags.retain(|tag| tag != "crm");
    }
    show(&changed);
    tick().await;
    tick().await;
    assert_eq!(
        texts(&host, ".tm-tag option")[1..],
        ["analytics", "marketing", "messaging", "sync"]
    );
    assert_eq!(chosen(), ("messaging".into(), "messaging".into()));
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Slack"]);
    // The chosen category goes: the grid and the list show every integration again.
    for integration in &mut changed {
        integration.tags.retain(|tag| tag != "messaging");
    }
    show(&changed);
    tick().await;
    tick().await;
    assert_eq!(chosen(), (String::new(), "All categories".into()));
    assert_eq!(shown_texts(&host, ".tm-title").len(), 3);
    assert_eq!(ctx.announcement.get_untracked(), "Integrations shown: 3");
    drop(handle);
    host.remove();
}

/// One category however its tag is spelled: in capitals or not, composed or decomposed,
/// with spaces around it or not; an empty tag is none.
#[wasm_bindgen_test]
async fn tags_spelled_differently_are_one_category() {
    let host = container();
    let mut cafe = integration("Café Tools", &["CRM ", "Caf\u{e9}", ""], &[]);
    cafe.solution_id = "sol-cafe".into();
    let mut bistro = integration("Bistro", &[" crm", "Cafe\u{301}", "  "], &[]);
    bistro.solution_id = "sol-bistro".into();
    let state = CatalogState::Loaded(Catalog {
        integrations: vec![cafe, bistro],
        dialog_origin: DIALOG_ORIGIN.into(),
    });
    let (_ctx, handle) = mount_toolbar_and_catalog(&host, state);
    categories_listed(&host).await;
    assert_eq!(texts(&host, ".tm-tag option")[1..], ["Caf\u{e9}", "CRM"]);
    let options = host.query_selector_all(".tm-tag option").unwrap();
    let values: Vec<String> = (0..options.length())
        .filter_map(|i| {
            options
                .item(i)?
                .dyn_into::<Element>()
                .ok()?
                .get_attribute("value")
        })
        .collect();
    assert_eq!(values, ["", "caf\u{e9}", "crm"], "one option says all");
    // And no empty chip on a card.
    assert_eq!(texts(&host, ".tm-tag-chip").len(), 4);
    for (option, key) in [("Café", "caf\u{e9}"), ("CRM", "crm")] {
        set_control(&host, ".tm-tag", key);
        tick().await;
        assert_eq!(
            shown_texts(&host, ".tm-title"),
            vec!["Café Tools", "Bistro"],
            "{option} shows both"
        );
    }
    drop(handle);
    host.remove();
}

/// Readers type without accents and expect a dictionary's order.
#[wasm_bindgen_test]
fn search_ignores_accents_and_tags_sort_as_a_reader_expects() {
    let mut cafe = integration("Café Tools", &["Übersetzung", "analytics"], &[]);
    // Stored decomposed (e + combining acute), as some sources do.
    cafe.description = Some("Cafe\u{301} orders".into());
    let istanbul = integration("İstanbul sync", &["Datenbank", "Zahlen"], &[]);
    let all = vec![cafe, istanbul];
    let by = |q: &str| {
        let filter = Filter {
            query: q.into(),
            ..Filter::default()
        };
        shown_titles(&all, &filter).join(",")
    };
    assert_eq!(by("cafe"), "Café Tools");
    assert_eq!(by("CAFÉ orders"), "Café Tools");
    assert_eq!(by("istanbul"), "İstanbul sync");
    assert_eq!(
        all_tags(&all),
        vec!["analytics", "Datenbank", "Übersetzung", "Zahlen"]
    );
    // Letters with no accent to take off sort where a reader looks for them.
    let letters = integration(
        "Letters",
        &[
            "Zahlung",
            "Œuvre",
            "Straße",
            "Łódź",
            "Æsthetik",
            "Strategie",
            "messaging",
        ],
        &[],
    );
    assert_eq!(
        all_tags(std::slice::from_ref(&letters)),
        [
            "Æsthetik",
            "Łódź",
            "messaging",
            "Œuvre",
            "Straße",
            "Strategie",
            "Zahlung"
        ]
    );
}

#[wasm_bindgen_test]
async fn catalog_view_renders_the_filtered_list_and_an_empty_state() {
    let host = container();
    let filter = RwSignal::new(Filter::default());
    let state = loaded_catalog();
    let for_view = host.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        provide_context(test_ctx(&for_view, state.clone()));
        view! { <CatalogView filter /> }
    });
    assert_eq!(
        shown_texts(&host, ".tm-title"),
        vec!["Slack", "Salesforce", "HubSpot"]
    );
    filter.set(Filter {
        query: "sales".into(),
        ..Filter::default()
    });
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Salesforce"]);
    filter.set(Filter {
        query: "zzz".into(),
        ..Filter::default()
    });
    tick().await;
    assert!(shown_texts(&host, ".tm-title").is_empty());
    assert_eq!(
        shown_texts(&host, ".tm-empty"),
        vec!["No integrations match your search."]
    );
    drop(handle);
    host.remove();
}

/// The toolbar over the catalog in `host`, showing `state`: their context, and the handle.
fn mount_toolbar_and_catalog(
    host: &HtmlElement,
    state: CatalogState,
) -> (Ctx, leptos::mount::UnmountHandle<impl Mountable>) {
    let filter = RwSignal::new(Filter::default());
    let for_view = host.clone();
    let ctx_out: Rc<RefCell<Option<Ctx>>> = Rc::default();
    let ctx_slot = ctx_out.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        let ctx = test_ctx(&for_view, state.clone());
        *ctx_slot.borrow_mut() = Some(ctx);
        provide_context(ctx);
        view! { <Toolbar filter /> <CatalogView filter /> }
    });
    let ctx = ctx_out.borrow().expect("the view was mounted");
    (ctx, handle)
}

/// "Connected only" with nothing connected yet (a setup under way is no connection):
/// the grid and the live region say there is no connection yet, not that the search
/// matches nothing.
#[wasm_bindgen_test]
async fn connected_only_with_nothing_connected_says_there_is_no_connection_yet() {
    let host = container();
    let state = CatalogState::Loaded(Catalog {
        integrations: vec![
            integration("Slack", &[], &[Status::SettingUp]),
            integration("Jira", &[], &[]),
        ],
        dialog_origin: DIALOG_ORIGIN.into(),
    });
    let (ctx, handle) = mount_toolbar_and_catalog(&host, state);
    tick().await;
    click(&host, ".tm-connected");
    tick().await;
    let said = "No connections yet. Connect an integration to see it here.";
    assert_eq!(texts(&host, ".tm-empty"), vec![said]);
    assert_eq!(ctx.announcement.get_untracked(), said);
    drop(handle);
    host.remove();
}

/// Sets a control's value as a user does, with the events the browser then fires.
fn set_control(root: &HtmlElement, selector: &str, value: &str) {
    let control = root.query_selector(selector).unwrap().unwrap();
    js_sys::Reflect::set(&control, &"value".into(), &value.into()).unwrap();
    for name in ["input", "change"] {
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        let event = web_sys::Event::new_with_event_init_dict(name, &init).unwrap();
        control.dispatch_event(&event).unwrap();
    }
}

#[wasm_bindgen_test]
async fn the_toolbar_controls_filter_the_catalog() {
    let host = container();
    let (ctx, handle) = mount_toolbar_and_catalog(&host, loaded_catalog());
    // The categories come once the cards are on screen.
    assert_eq!(
        texts(&host, ".tm-tag option").len(),
        1,
        "All categories only"
    );
    categories_listed(&host).await;
    assert_eq!(
        texts(&host, ".tm-tag option")[1..],
        ["crm", "marketing", "messaging", "sync"]
    );

    set_control(&host, ".tm-search", "sales");
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Salesforce"]);
    // Screen readers hear what sighted users see change.
    assert_eq!(ctx.announcement.get_untracked(), "Integrations shown: 1");
    // A keystroke that leaves the number as it was says nothing again.
    set_control(&host, ".tm-search", "salesf");
    tick().await;
    assert_eq!(ctx.announcement.get_untracked(), "Integrations shown: 1");
    set_control(&host, ".tm-search", "nothing like it");
    tick().await;
    assert_eq!(
        ctx.announcement.get_untracked(),
        "No integrations match your search."
    );

    set_control(&host, ".tm-search", "");
    set_control(&host, ".tm-tag", "crm");
    tick().await;
    assert_eq!(
        shown_texts(&host, ".tm-title"),
        vec!["Salesforce", "HubSpot"]
    );

    set_control(&host, ".tm-tag", "");
    let connected: HtmlElement = host
        .query_selector(".tm-connected")
        .unwrap()
        .unwrap()
        .unchecked_into();
    connected.click();
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Slack"]);
    connected.click();
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title").len(), 3);
    drop(handle);
    host.remove();
}

/// A search hides and shows the cards; it does not draw them again: what a card shows
/// (a failed Connect, here) stays while the user narrows the list down to it.
#[wasm_bindgen_test]
async fn a_search_keeps_what_a_card_shows() {
    let _fetch = FakeFetch::install(TRAY_DOWN);
    let host = container();
    let (_ctx, handle) = mount_toolbar_and_catalog(&host, loaded_catalog());
    tick().await;
    click(
        &host,
        "[data-solution-id=\"sol-Salesforce\"] .tm-card-action",
    );
    let failure = || {
        texts(
            &host,
            "[data-solution-id=\"sol-Salesforce\"] .tm-field-error",
        )
        .concat()
    };
    for _ in 0..20 {
        tick().await;
        if !failure().is_empty() {
            break;
        }
    }
    assert!(
        failure().contains("not answering right now"),
        "{}",
        failure()
    );
    // Hidden by one search, shown again by the next.
    set_control(&host, ".tm-search", "slack");
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Slack"]);
    set_control(&host, ".tm-search", "sales");
    tick().await;
    assert_eq!(shown_texts(&host, ".tm-title"), vec!["Salesforce"]);
    assert!(
        failure().contains("not answering right now"),
        "{}",
        failure()
    );
    drop(handle);
    host.remove();
}

/// A Connect under way survives a catalog that changed meanwhile (which draws every card
/// anew): the new card shows it busy, and pressing it again sends no second create.
#[wasm_bindgen_test]
async fn a_connect_under_way_outlives_a_new_catalog() {
    let fetch = FakeFetch::install(&format!(
        "if (request.method === 'POST') {{
             await new Promise((resolve) => {{ window.__releaseCreate = resolve; }});
         }}
         {TRAY_DOWN}"
    ));
    let host = container();
    let (ctx, handle) = mount_toolbar_and_catalog(&host, loaded_catalog());
    tick().await;
    let salesforce = "[data-solution-id=\"sol-Salesforce\"] .tm-card-action";
    click(&host, salesforce);
    tick().await;
    // Another tab connected Slack again, say: a new catalog, every card drawn anew.
    let mut changed = catalog();
    changed[0]
        .instances
        .push(instance("Slack-1", Status::Connected));
    ctx.catalog.set(CatalogState::Loaded(Catalog {
        integrations: changed,
        dialog_origin: DIALOG_ORIGIN.into(),
    }));
    tick().await;
    assert_eq!(aria_disabled(&host, salesforce), "true", "still busy");
    click(&host, salesforce);
    for _ in 0..5 {
        tick().await;
    }
    let creates = || {
        fetch
            .requests()
            .iter()
            .filter(|r| r.starts_with("POST"))
            .count()
    };
    assert_eq!(creates(), 1, "{:?}", fetch.requests());
    js_sys::Function::new_no_args("window.__releaseCreate()")
        .call0(&JsValue::NULL)
        .unwrap();
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(aria_disabled(&host, salesforce), "false", "done");
    drop(handle);
    host.remove();
}

/// The catalog view, still loading, in `strings`; its Ctx steers it from the test.
fn mount_loading_catalog(
    strings: Strings,
) -> (
    HtmlElement,
    Ctx,
    leptos::mount::UnmountHandle<impl Mountable>,
) {
    let host = container();
    let for_view = host.clone();
    let ctx_out: Rc<RefCell<Option<Ctx>>> = Rc::default();
    let ctx_slot = ctx_out.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        let ctx = test_ctx(&for_view, CatalogState::Loading);
        ctx.strings.set_value(strings);
        *ctx_slot.borrow_mut() = Some(ctx);
        provide_context(ctx);
        view! { <CatalogView filter=RwSignal::new(Filter::default()) /> }
    });
    let ctx = ctx_out.borrow().expect("the view was mounted");
    (host, ctx, handle)
}

#[wasm_bindgen_test]
async fn loading_shows_skeletons_and_failure_shows_retry() {
    let (host, ctx, handle) = mount_loading_catalog(english());
    assert_eq!(host.query_selector_all(".tm-skeleton").unwrap().length(), 6);
    ctx.catalog.set(CatalogState::Failed(
        integrations_widget::api::ApiError::Network("offline".into()),
    ));
    tick().await;
    assert_eq!(host.query_selector_all(".tm-skeleton").unwrap().length(), 0);
    assert_eq!(texts(&host, ".tm-retry"), vec!["Try again"]);
    assert!(texts(&host, "[role=alert]")[0].contains("The server could not be reached."));
    drop(handle);
    host.remove();
}

/// An outage reads in the user's language, not as the proxy's English diagnosis; a
/// refusal of what the user asked keeps the proxy's reason.
#[wasm_bindgen_test]
async fn a_failed_catalog_says_why_in_the_users_language() {
    use integrations_widget::api::ApiError;
    let (host, ctx, handle) = mount_loading_catalog(Strings::new(Locale::De, vec![]));
    let server = |status, code: &str, message: &str| ApiError::Server {
        status,
        code: code.into(),
        message: message.into(),
    };
    for (failure, expected) in [
        (
            server(503, "tray_unavailable", "Tray is unavailable: HTTP 504"),
            "Der Integrationsdienst antwortet gerade nicht.",
        ),
        (
            server(500, "internal", "internal error"),
            "Der Server konnte das nicht ausführen.",
        ),
        (
            server(401, "unauthenticated", "the token expired"),
            "Ihre Sitzung ist abgelaufen.",
        ),
        // Refused before Tray (a gateway), or a page of something before the proxy.
        (
            server(
                502,
                "tray_error",
                "the way to Tray refused the request: HTTP 403",
            ),
            "Der Server konnte das nicht ausführen.",
        ),
        (
            server(502, "http", "HTTP 502 Bad Gateway"),
            "Der Integrationsdienst antwortet gerade nicht.",
        ),
        (
            server(404, "http", "HTTP 404 Not Found"),
            "Der Server konnte das nicht ausführen.",
        ),
        (
            server(400, "bad_request", "name must be 1 to 200 characters"),
            "name must be 1 to 200 characters",
        ),
        (
            server(
                413,
                "too_large",
                "the request body is larger than this proxy accepts",
            ),
            "Das ist zu viel, um es auf einmal zu speichern.",
        ),
        // The browser's own reason is in its language, not the user's.
        (
            ApiError::Network("Failed to fetch".into()),
            "Der Server ist nicht erreichbar.",
        ),
    ] {
        ctx.catalog.set(CatalogState::Failed(failure));
        tick().await;
        let alert = texts(&host, "[role=alert]").concat();
        assert!(alert.contains(expected), "{alert}");
        assert!(!alert.contains("Tray is unavailable"), "{alert}");
        assert!(!alert.contains("HTTP"), "{alert}");
        assert!(!alert.contains("fetch"), "{alert}");
        // The alert reads its message, not the button after it.
        assert!(!alert.contains("Erneut versuchen"), "{alert}");
    }
    drop(handle);
    host.remove();
}

// ---- the auth dialog's messages ----

fn message_data(pairs: &[(&str, &str)]) -> JsValue {
    let data = js_sys::Object::new();
    for (key, value) in pairs {
        js_sys::Reflect::set(&data, &(*key).into(), &(*value).into()).unwrap();
    }
    data.into()
}

fn post(source: &web_sys::Window, origin: &str, data: &JsValue) {
    let init = MessageEventInit::new();
    init.set_data(data);
    init.set_origin(origin);
    init.set_source(Some(source.unchecked_ref()));
    let event = MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

/// An iframe's window stands in for the popup: a window other than ours.
fn fake_popup() -> (web_sys::HtmlIFrameElement, web_sys::Window) {
    let frame: web_sys::HtmlIFrameElement = document()
        .create_element("iframe")
        .unwrap()
        .unchecked_into();
    document().body().unwrap().append_child(&frame).unwrap();
    let window = frame.content_window().unwrap();
    (frame, window)
}

fn watch(popup: &web_sys::Window) -> (PopupWatch, Rc<RefCell<Vec<PopupEvent>>>) {
    let seen: Rc<RefCell<Vec<PopupEvent>>> = Rc::default();
    let sink = seen.clone();
    let watch = PopupWatch::new(popup.clone(), move |event| sink.borrow_mut().push(event)).unwrap();
    // A fragment: the same document, so the test's stand-in window stays as it is.
    watch.navigate("about:blank#dialog", DIALOG_ORIGIN).unwrap();
    (watch, seen)
}

/// The popup is watched from the click on, blank until the proxy names the dialog.
#[wasm_bindgen_test]
fn no_message_counts_before_the_dialog_is_known() {
    let (frame, popup) = fake_popup();
    let seen: Rc<RefCell<Vec<PopupEvent>>> = Rc::default();
    let sink = seen.clone();
    let watch = PopupWatch::new(popup.clone(), move |event| sink.borrow_mut().push(event)).unwrap();
    let finish = message_data(&[("type", "tray.authpopup.finish"), ("authId", "early")]);
    post(&popup, DIALOG_ORIGIN, &finish);
    post(&popup, "", &finish);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    watch.navigate("about:blank#dialog", DIALOG_ORIGIN).unwrap();
    post(&popup, DIALOG_ORIGIN, &finish);
    assert_eq!(seen.borrow().len(), 1);
    drop(watch);
    frame.remove();
}

#[wasm_bindgen_test]
fn the_three_tray_messages_are_read_with_exact_casing() {
    let finish = message_data(&[
        ("type", "tray.authpopup.finish"),
        ("authType", "oauth"),
        ("authId", "a-1"),
    ]);
    assert_eq!(
        read_message(&finish),
        Some(DialogMessage::Finished {
            auth_id: "a-1".into()
        })
    );
    assert_eq!(
        read_message(&message_data(&[("type", "tray.authpopup.close")])),
        Some(DialogMessage::Closed)
    );
    assert_eq!(
        read_message(&message_data(&[
            ("type", "tray.authPopup.error"),
            ("error", "denied")
        ])),
        Some(DialogMessage::Failed(Some("denied".into())))
    );
    // No message (or a blank one): the widget words the failure itself.
    assert_eq!(
        read_message(&message_data(&[("type", "tray.authPopup.error")])),
        Some(DialogMessage::Failed(None))
    );
    // The error type is spelled with a capital P; anything else is someone else's message.
    assert_eq!(
        read_message(&message_data(&[("type", "tray.authpopup.error")])),
        None
    );
    assert_eq!(
        read_message(&message_data(&[("type", "tray.authpopup.finish")])),
        None
    );
    assert_eq!(
        read_message(&JsValue::from_str("tray.authpopup.close")),
        None
    );
}

#[wasm_bindgen_test]
fn messages_from_another_origin_or_window_are_ignored() {
    let (frame, popup) = fake_popup();
    let (other_frame, other_window) = fake_popup();
    let (watch, seen) = watch(&popup);
    let finish = message_data(&[("type", "tray.authpopup.finish"), ("authId", "forged")]);

    post(&popup, "http://evil.example", &finish);
    post(&other_window, DIALOG_ORIGIN, &finish);
    post(&web_sys::window().unwrap(), DIALOG_ORIGIN, &finish);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());

    post(
        &popup,
        DIALOG_ORIGIN,
        &message_data(&[("type", "tray.authpopup.finish"), ("authId", "real")]),
    );
    post(
        &popup,
        DIALOG_ORIGIN,
        &message_data(&[("type", "tray.authpopup.close")]),
    );
    post(
        &popup,
        DIALOG_ORIGIN,
        &message_data(&[("type", "tray.authPopup.error"), ("error", "nope")]),
    );
    assert_eq!(
        *seen.borrow(),
        vec![
            PopupEvent::Message(DialogMessage::Finished {
                auth_id: "real".into()
            }),
            PopupEvent::Message(DialogMessage::Closed),
            PopupEvent::Message(DialogMessage::Failed(Some("nope".into()))),
        ]
    );

    // Once dropped, the watcher hears nothing.
    drop(watch);
    post(
        &popup,
        DIALOG_ORIGIN,
        &message_data(&[("type", "tray.authpopup.close")]),
    );
    assert_eq!(seen.borrow().len(), 3);
    frame.remove();
    other_frame.remove();
}

// ---- listeners and timers left behind ----

/// Wraps window.add/removeEventListener and set/clearInterval to count what is live.
fn install_counters() {
    js_sys::Function::new_no_args(
        r#"
        if (window.__tmCounts) return;
        const counts = window.__tmCounts = { listeners: 0, intervals: 0 };
        const add = window.addEventListener, remove = window.removeEventListener;
        const live = new Set();
        window.addEventListener = function (type, fn, opts) {
            if (!live.has(fn)) { live.add(fn); counts.listeners++; }
            return add.call(this, type, fn, opts);
        };
        window.removeEventListener = function (type, fn, opts) {
            if (live.delete(fn)) counts.listeners--;
            return remove.call(this, type, fn, opts);
        };
        const setI = window.setInterval, clearI = window.clearInterval;
        const timers = new Set();
        window.setInterval = function (...args) { const id = setI.apply(this, args); timers.add(id); counts.intervals++; return id; };
        window.clearInterval = function (id) { if (timers.delete(id)) counts.intervals--; return clearI.call(this, id); };
        "#,
    )
    .call0(&JsValue::NULL)
    .unwrap();
}

fn count(name: &str) -> i32 {
    let counts = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__tmCounts".into()).unwrap();
    js_sys::Reflect::get(&counts, &name.into())
        .unwrap()
        .as_f64()
        .unwrap() as i32
}

#[wasm_bindgen_test]
fn a_dropped_popup_watch_leaves_no_listener_or_timer() {
    install_counters();
    let (listeners, intervals) = (count("listeners"), count("intervals"));
    let (frame, popup) = fake_popup();
    let (watch, _) = watch(&popup);
    assert_eq!(count("listeners"), listeners + 2, "message and pagehide");
    assert_eq!(count("intervals"), intervals + 1);
    drop(watch);
    assert_eq!(
        (count("listeners"), count("intervals")),
        (listeners, intervals)
    );
    frame.remove();
}

/// A sign-in finished in a window whose page is gone (reloaded) would reach no one.
#[wasm_bindgen_test]
fn leaving_the_page_closes_the_sign_in_window() {
    let (frame, popup) = fake_popup();
    let (watch, _) = watch(&popup);
    assert!(common::leaving_the_page_closes(&popup));
    drop(watch);
    frame.remove();
}

/// `mount` options: a proxy that is never reached, the dark theme.
fn mount_options() -> js_sys::Object {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://127.0.0.1:9".into()).unwrap();
    js_sys::Reflect::set(&options, &"theme".into(), &"dark".into()).unwrap();
    options
}

/// The browser draws checkboxes, selects and scrollbars in the theme's scheme.
#[wasm_bindgen_test]
async fn form_controls_follow_the_dark_theme() {
    let host = container();
    let mut handle =
        integrations_widget::mount(host.clone().into(), mount_options().into()).unwrap();
    tick().await;
    let root = host
        .shadow_root()
        .unwrap()
        .query_selector(".tm-root")
        .unwrap()
        .unwrap();
    let scheme = js_sys::Function::new_with_args("el", "return getComputedStyle(el).colorScheme")
        .call1(&JsValue::NULL, &root)
        .unwrap();
    assert_eq!(scheme.as_string().as_deref(), Some("dark"));
    handle.unmount();
    host.remove();
}

#[wasm_bindgen_test]
async fn mounting_twice_and_unmounting_leaves_nothing_behind() {
    install_counters();
    let (listeners, intervals) = (count("listeners"), count("intervals"));
    let host = container();
    let options = mount_options();
    let mut first =
        integrations_widget::mount(host.clone().into(), options.clone().into()).unwrap();
    first.unmount();
    let mut second = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    let shadow = host.shadow_root().unwrap();
    assert_eq!(shadow.query_selector_all(".tm-root").unwrap().length(), 1);
    assert_eq!(host.get_attribute("data-tm-theme").as_deref(), Some("dark"));
    assert_eq!(host.children().length(), 0, "nothing in the light DOM");
    tick().await;
    second.unmount();
    let only_a_slot = |shadow: &web_sys::ShadowRoot| {
        shadow.child_nodes().length() == 1 && shadow.query_selector("slot").unwrap().is_some()
    };
    assert!(only_a_slot(&shadow), "{}", shadow.inner_html());
    assert!(host.get_attribute("data-tm-theme").is_none());
    // The pending catalog request may finish after unmount: it must change nothing.
    tick().await;
    assert!(only_a_slot(&shadow), "{}", shadow.inner_html());
    // What the host puts in the container afterwards shows.
    let note = document().create_element("p").unwrap();
    note.set_text_content(Some("Integrations are turned off"));
    host.append_child(&note).unwrap();
    assert!(
        note.unchecked_ref::<HtmlElement>().offset_height() > 0,
        "the host's note is drawn"
    );
    assert_eq!(
        (count("listeners"), count("intervals")),
        (listeners, intervals)
    );
    host.remove();
}

#[wasm_bindgen_test]
async fn a_second_mount_replaces_the_first_whose_handle_then_changes_nothing() {
    install_counters();
    let (listeners, intervals) = (count("listeners"), count("intervals"));
    let host = container();
    let options = mount_options();
    let mut first =
        integrations_widget::mount(host.clone().into(), options.clone().into()).unwrap();
    // Mounted again without unmounting: the first widget goes, the second stays.
    js_sys::Reflect::set(&options, &"locale".into(), &"de-AT".into()).unwrap();
    let mut second = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    let shadow = host.shadow_root().unwrap();
    assert_eq!(shadow.query_selector_all(".tm-root").unwrap().length(), 1);
    let lang = shadow
        .query_selector(".tm-host")
        .unwrap()
        .unwrap()
        .get_attribute("lang");
    assert_eq!(
        lang.as_deref(),
        Some("de"),
        "German text is marked as German"
    );
    tick().await;
    first.unmount();
    assert_eq!(
        shadow.query_selector_all(".tm-root").unwrap().length(),
        1,
        "the stale handle left the new widget alone"
    );
    assert_eq!(host.get_attribute("data-tm-theme").as_deref(), Some("dark"));
    second.unmount();
    assert_eq!(
        shadow.inner_html(),
        "<slot></slot>",
        "only the host's own children"
    );
    tick().await;
    assert_eq!(
        (count("listeners"), count("intervals")),
        (listeners, intervals)
    );
    host.remove();
}

#[wasm_bindgen_test]
async fn events_reach_the_container_and_on_event() {
    let host = container();
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = seen.clone();
    let listener = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::CustomEvent)>::new(
        move |event: web_sys::CustomEvent| sink.borrow_mut().push(event.type_()),
    );
    host.add_event_listener_with_callback(
        "tray-marketplace:connected",
        listener.as_ref().unchecked_ref(),
    )
    .unwrap();
    let calls = Rc::new(RefCell::new(Vec::<String>::new()));
    let call_sink = calls.clone();
    let on_event =
        wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |payload: JsValue| {
            let kind = js_sys::Reflect::get(&payload, &"type".into())
                .unwrap()
                .as_string()
                .unwrap();
            call_sink.borrow_mut().push(kind);
        });
    let emitter = Emitter::new(
        host.clone().into(),
        Some(
            on_event
                .as_ref()
                .unchecked_ref::<js_sys::Function>()
                .clone(),
        ),
    );
    emitter.emit("connected", &[("instanceId", "i-1")]);
    assert_eq!(*seen.borrow(), vec!["tray-marketplace:connected"]);
    assert_eq!(*calls.borrow(), vec!["connected"]);
    host.remove();
}

// ---- config form ----

#[wasm_bindgen_test]
fn config_fields_are_validated_and_json_encoded() {
    assert_eq!(
        encode(FieldKind::Text, "say \"hi\"", '.'),
        Ok("\"say \\\"hi\\\"\"".into())
    );
    assert_eq!(encode(FieldKind::Number, " 15 ", '.'), Ok("15".into()));
    assert_eq!(
        encode(FieldKind::Number, "fifteen", '.'),
        Err(Key::not_a_number)
    );
    // Nothing typed is no number with separators in the wrong place.
    assert_eq!(
        encode(FieldKind::Number, "  ", ','),
        Err(Key::number_required)
    );
    assert_eq!(encode(FieldKind::Checkbox, "true", '.'), Ok("true".into()));
    assert_eq!(
        encode(FieldKind::Checkbox, "false", '.'),
        Ok("false".into())
    );
    assert_eq!(
        encode(FieldKind::Json, "{\"k\": 1}", '.'),
        Ok("{\"k\": 1}".into())
    );
    assert_eq!(encode(FieldKind::Json, "{k: 1}", '.'), Err(Key::not_json));

    let slots = vec![
        ConfigSlot {
            external_id: "channel".into(),
            title: "Channel".into(),
            default_value: "\"#general\"".into(),
        },
        ConfigSlot {
            external_id: "interval".into(),
            title: "Interval".into(),
            default_value: "15".into(),
        },
        ConfigSlot {
            external_id: "map".into(),
            title: "Map".into(),
            default_value: "{}".into(),
        },
    ];
    assert_eq!(kind_of(&slots[0].default_value), FieldKind::Text);
    let bad = validate(&slots, &["#ops".into(), "ten".into(), "{".into()], '.');
    assert_eq!(
        bad,
        Err(vec![
            ("interval".into(), Key::not_a_number),
            ("map".into(), Key::not_json)
        ])
    );
    let good = validate(
        &slots,
        &["#ops".into(), "10".into(), "{\"a\":1}".into()],
        '.',
    )
    .unwrap();
    assert_eq!(
        good,
        vec![
            ConfigValue {
                external_id: "channel".into(),
                value: Some("\"#ops\"".into())
            },
            ConfigValue {
                external_id: "interval".into(),
                value: Some("10".into())
            },
            ConfigValue {
                external_id: "map".into(),
                value: Some("{\"a\":1}".into())
            },
        ]
    );
}

fn slot(external_id: &str, default_value: &str) -> ConfigSlot {
    ConfigSlot {
        external_id: external_id.into(),
        title: external_id.into(),
        default_value: default_value.into(),
    }
}

/// Whether the dialog in `host` shows the row of instance `id`.
/// Whether the row of connection `id` shows (a deleted one hides until the dialog closes).
fn has_row(host: &HtmlElement, id: &str) -> bool {
    host.query_selector(&format!("[data-instance-id=\"{id}\"]"))
        .unwrap()
        .is_some_and(|row| !row.unchecked_into::<HtmlElement>().hidden())
}

fn auth_value(external_id: &str, auth_id: &str, expiring: bool) -> AuthValue {
    AuthValue {
        external_id: external_id.into(),
        auth_id: auth_id.into(),
        expiring,
    }
}

fn click(root: &HtmlElement, selector: &str) {
    let element: HtmlElement = root
        .query_selector(selector)
        .unwrap()
        .unwrap()
        .unchecked_into();
    element.click();
}

#[wasm_bindgen_test]
async fn the_config_form_shows_saved_values_and_saves_only_valid_input() {
    let host = container();
    let slots = vec![
        slot("channel", "\"#general\""),
        slot("interval", "15"),
        slot("notify", "false"),
        slot("map", "{}"),
    ];
    // Saved values win over defaults; the map keeps its default.
    let saved = vec![
        ConfigValue {
            external_id: "channel".into(),
            value: Some("\"#ops\"".into()),
        },
        ConfigValue {
            external_id: "notify".into(),
            value: Some("true".into()),
        },
    ];
    let submitted = RwSignal::new(Vec::<Vec<ConfigValue>>::new());
    let on_save = Callback::new(move |values| submitted.update(|all| all.push(values)));
    let for_view = host.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        provide_context(test_ctx(&for_view, CatalogState::Loading));
        view! {
            <ConfigForm slots=slots.clone() saved=saved.clone() submit_label="Save".into() on_save />
        }
    });
    // A control's live DOM property (`value`, `checked`), which is what the user sees.
    let property = |selector: &str, name: &str| {
        js_sys::Reflect::get(
            &host.query_selector(selector).unwrap().unwrap(),
            &name.into(),
        )
        .unwrap()
    };
    assert_eq!(
        property("[name=channel]", "value"),
        "#ops",
        "text shown unquoted"
    );
    assert_eq!(property("[name=interval]", "value"), "15");
    assert_eq!(property("[name=notify]", "checked"), true);
    assert_eq!(property("[name=map]", "value"), "{}");

    // A bad number and bad JSON: nothing is saved, each field says why.
    set_control(&host, "[name=interval]", "soon");
    set_control(&host, "[name=map]", "{k: 1}");
    click(&host, ".tm-save");
    tick().await;
    assert!(submitted.get_untracked().is_empty());
    let focused = document()
        .active_element()
        .and_then(|e| e.get_attribute("name"));
    assert_eq!(
        focused.as_deref(),
        Some("interval"),
        "focus moved to the first field to fix"
    );
    let strings = english();
    assert_eq!(
        texts(&host, ".tm-field-error"),
        vec![
            String::new(),
            strings.get(Key::not_a_number),
            String::new(),
            strings.get(Key::not_json),
        ]
    );

    // Fixed, and the box unticked: every value is saved as JSON text.
    set_control(&host, "[name=interval]", " 30 ");
    set_control(&host, "[name=map]", "{\"k\": 1}");
    click(&host, "[name=notify]");
    click(&host, ".tm-save");
    tick().await;
    let values = |id: &str, value: &str| ConfigValue {
        external_id: id.into(),
        value: Some(value.into()),
    };
    assert_eq!(
        submitted.get_untracked(),
        vec![vec![
            values("channel", "\"#ops\""),
            values("interval", "30"),
            values("notify", "false"),
            values("map", "{\"k\": 1}"),
        ]]
    );
    assert_eq!(texts(&host, ".tm-field-error"), vec![""; 4]);
    drop(handle);
    host.remove();
}

/// A German keyboard's decimal key types a comma: "1,5" is saved as 1.5.
#[wasm_bindgen_test]
async fn the_german_config_form_reads_a_decimal_comma() {
    let host = container();
    let submitted = RwSignal::new(Vec::<Vec<ConfigValue>>::new());
    let on_save = Callback::new(move |values| submitted.update(|all| all.push(values)));
    let for_view = host.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        let ctx = test_ctx(&for_view, CatalogState::Loading);
        ctx.strings.set_value(Strings::new(Locale::De, vec![]));
        provide_context(ctx);
        view! {
            <ConfigForm
                slots=vec![slot("interval", "15")]
                saved=vec![ConfigValue { external_id: "interval".into(), value: Some("2.5".into()) }]
                submit_label="Speichern".into()
                on_save
            />
        }
    });
    let shown = host
        .query_selector("[name=interval]")
        .unwrap()
        .and_then(|input| js_sys::Reflect::get(&input, &"value".into()).ok())
        .and_then(|value| value.as_string());
    assert_eq!(
        shown.as_deref(),
        Some("2,5"),
        "a saved 2.5 as a German writes it"
    );
    set_control(&host, "[name=interval]", "1,5");
    click(&host, ".tm-save");
    tick().await;
    assert_eq!(
        submitted.get_untracked(),
        vec![vec![ConfigValue {
            external_id: "interval".into(),
            value: Some("1.5".into()),
        }]]
    );
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
fn setup_resumes_at_the_first_missing_slot() {
    let mut item = integration("Jira", &[], &[]);
    item.auth_slots.push(AuthSlot {
        external_id: "slack".into(),
        title: "Slack".into(),
    });
    item.config_slots.push(ConfigSlot {
        external_id: "project".into(),
        title: "Project".into(),
        default_value: "\"OPS\"".into(),
    });
    let mut inst = instance("i", Status::SettingUp);
    assert_eq!(
        next_setup_step(&item, &inst, false),
        SetupStep::Authorize(item.auth_slots[0].clone())
    );
    inst.auth_values.push(auth_value("auth", "a1", false));
    assert_eq!(
        next_setup_step(&item, &inst, false),
        SetupStep::Authorize(item.auth_slots[1].clone())
    );
    inst.auth_values.push(auth_value("slack", "a2", false));
    assert_eq!(next_setup_step(&item, &inst, false), SetupStep::Configure);
    inst.config_values.push(ConfigValue {
        external_id: "project".into(),
        value: Some("\"X\"".into()),
    });
    // Values Tray pre-filled from defaults still need the user's look.
    assert_eq!(next_setup_step(&item, &inst, false), SetupStep::Configure);
    assert_eq!(next_setup_step(&item, &inst, true), SetupStep::Enable);
    // Saved before a reload: the resumed setup goes on to enabling.
    inst.settings_confirmed = true;
    assert_eq!(next_setup_step(&item, &inst, false), SetupStep::Enable);
    inst.settings_confirmed = false;
    inst.enabled = true;
    assert_eq!(next_setup_step(&item, &inst, true), SetupStep::Done);
    item.auto_enable = false;
    inst.enabled = false;
    inst.status = Status::Disabled;
    assert_eq!(
        next_setup_step(&item, &inst, true),
        SetupStep::Done,
        "disableAutoEnable"
    );
}

/// An integration that does not switch itself on (disableAutoEnable) ends its setup
/// saying it is off, not that it is connected.
#[wasm_bindgen_test]
async fn a_setup_left_off_by_its_integration_says_it_is_off() {
    let mut item = integration("Zendesk", &[], &[Status::Disabled]);
    item.auto_enable = false;
    item.instances[0].auth_values = vec![auth_value("auth", "a1", false)];
    let host = container();
    let handle = mount_dialog(
        &host,
        showing(&item),
        item.solution_id.clone(),
        Some("Zendesk-0"),
    );
    tick().await;
    assert_eq!(
        texts(&host, ".tm-setup-done p"),
        vec!["Zendesk is set up, and stays off until you enable it."]
    );
    // The dialog's live region says it once; a second region would say it again.
    assert!(
        host.query_selector(".tm-setup-done [role], .tm-setup-done [aria-live]")
            .unwrap()
            .is_none(),
        "shown, not announced a second time"
    );
    drop(handle);
    host.remove();
}

/// A newer version that awaits the host's values (the proxy applies it): the setup asks
/// for the instance's own settings only, then goes on to enabling, instead of a form
/// Tray refuses until the upgrade.
#[wasm_bindgen_test]
fn a_setup_asks_only_for_its_own_versions_settings() {
    let mut item = integration("Stripe", &[], &[Status::SettingUp]);
    item.config_slots = vec![slot("currency", "\"usd\""), slot("mode", "\"live\"")];
    let instance = &mut item.instances[0];
    instance.auth_values.push(auth_value("auth", "a1", false));
    instance.config_values.push(ConfigValue {
        external_id: "currency".into(),
        value: Some("\"usd\"".into()),
    });
    let instance = item.instances[0].clone();
    let own: Vec<String> = own_config_slots(&item.config_slots, &instance)
        .into_iter()
        .map(|slot| slot.external_id)
        .collect();
    assert_eq!(own, ["currency"]);
    assert_eq!(
        next_setup_step(&item, &instance, false),
        SetupStep::Configure
    );
    assert_eq!(next_setup_step(&item, &instance, true), SetupStep::Enable);
}

/// A loaded catalog of `item` alone.
fn showing(item: &Integration) -> RwSignal<CatalogState> {
    RwSignal::new(CatalogState::Loaded(Catalog {
        integrations: vec![item.clone()],
        dialog_origin: DIALOG_ORIGIN.into(),
    }))
}

/// An integration's dialog over `state`: its connections, or the setup of `setup`.
fn mount_dialog(
    host: &HtmlElement,
    state: RwSignal<CatalogState>,
    solution_id: String,
    setup: Option<&str>,
) -> leptos::mount::UnmountHandle<impl Mountable> {
    let for_view = host.clone();
    let setup = setup.map(str::to_owned);
    leptos::mount::mount_to(host.clone(), move || {
        let panel = OpenPanel {
            solution_id: solution_id.clone(),
            setup: setup.clone(),
        };
        let mut ctx = test_ctx(&for_view, CatalogState::Loading);
        ctx.catalog = state;
        // As the widget has it while the dialog shows.
        ctx.open = RwSignal::new(Some(panel.clone()));
        provide_context(ctx);
        view! { <IntegrationDialog panel /> }
    })
}

#[wasm_bindgen_test]
async fn a_refresh_rebuilds_only_the_row_whose_instance_changed() {
    let host = container();
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let solution_id = item.solution_id.clone();
    let state = showing(&item);
    let handle = mount_dialog(&host, state, solution_id, None);
    tick().await;
    // The user starts renaming the second connection...
    click(&host, "[data-instance-id=\"Slack-1\"] .tm-rename-open");
    tick().await;
    assert!(host
        .query_selector("[data-instance-id=\"Slack-1\"] .tm-rename")
        .unwrap()
        .is_some());
    // ...while the first one is disabled (by another tab, or its own button).
    let mut changed = item.clone();
    changed.instances[0].status = Status::Disabled;
    changed.instances[0].enabled = false;
    state.set(CatalogState::Loaded(Catalog {
        integrations: vec![changed],
        dialog_origin: DIALOG_ORIGIN.into(),
    }));
    tick().await;
    assert_eq!(
        texts(&host, "[data-instance-id=\"Slack-0\"] .tm-badge"),
        vec!["Disabled"],
        "the changed row shows its new state"
    );
    assert!(
        host.query_selector("[data-instance-id=\"Slack-1\"] .tm-rename")
            .unwrap()
            .is_some(),
        "the other row's open editor survived the refresh"
    );
    drop(handle);
    host.remove();
}

/// Replaces `fetch` for one test: `answer` is the body of an async JS function of
/// `request`. Dropping it puts the browser's own back.
struct FakeFetch;

impl FakeFetch {
    fn install(answer: &str) -> FakeFetch {
        js_sys::Function::new_no_args(&format!(
            "window.__realFetch ??= window.fetch; window.__fetches = [];
             window.fetch = async (request) => {{
                 window.__fetches.push(request.method + ' ' + new URL(request.url).pathname);
                 {answer}
             }};"
        ))
        .call0(&JsValue::NULL)
        .unwrap();
        FakeFetch
    }

    /// Every request is answered 200 with `value` as JSON.
    fn answering(value: &impl serde::Serialize) -> FakeFetch {
        FakeFetch::install(&format!(
            "return new Response({}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
            json_literal(value)
        ))
    }

    /// `"METHOD /path"` of every request so far.
    fn requests(&self) -> Vec<String> {
        let list = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__fetches".into()).unwrap();
        js_sys::Array::from(&list)
            .iter()
            .filter_map(|r| r.as_string())
            .collect()
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        let _ = js_sys::Function::new_no_args("window.fetch = window.__realFetch;")
            .call0(&JsValue::NULL);
    }
}

/// `value`'s JSON as a JS string literal (a JSON string is one), for a fake's answer.
fn json_literal(value: &impl serde::Serialize) -> String {
    serde_json::to_string(&serde_json::to_string(value).unwrap()).unwrap()
}

/// One Slack instance that has its auth and waits to be enabled.
fn awaiting_enable() -> (Integration, RwSignal<CatalogState>) {
    let mut item = integration("Slack", &[], &[Status::SettingUp]);
    item.instances[0].auth_values = vec![auth_value("auth", "a-1", false)];
    let state = showing(&item);
    (item, state)
}

#[wasm_bindgen_test]
async fn enable_sends_one_request_however_often_it_is_pressed() {
    // The proxy never answers: the setup stays busy enabling.
    let fetch = FakeFetch::install("return new Promise(() => {});");
    let host = container();
    let (item, state) = awaiting_enable();
    let handle = mount_dialog(&host, state, item.solution_id.clone(), Some("Slack-0"));
    tick().await;
    let enable: HtmlElement = host
        .query_selector(".tm-enable")
        .unwrap()
        .expect("on the Enable step")
        .unchecked_into();
    enable.focus().unwrap();
    click(&host, ".tm-enable");
    tick().await;
    click(&host, ".tm-enable");
    tick().await;
    assert_eq!(
        enable.get_attribute("aria-disabled").as_deref(),
        Some("true"),
        "Enable is disabled meanwhile"
    );
    assert_eq!(enable.get_attribute("aria-busy").as_deref(), Some("true"));
    // The browser drops the focus of a disabled button when it next renders.
    next_frames().await;
    assert_eq!(
        focused_class(),
        "tm-button tm-enable",
        "and keeps its focus"
    );
    assert_eq!(
        fetch.requests(),
        vec!["PATCH /api/v1/instances/Slack-0"],
        "the second press sent nothing"
    );
    drop(handle);
    host.remove();
}

/// A fake fetch's answer: the proxy refusing with its error shape.
fn proxy_refusing(status: u16, code: &str, message: &str) -> String {
    format!(
        "return new Response(JSON.stringify({{ error: {{ code: '{code}', message: '{message}' }} }}),
             {{ status: {status}, headers: {{ 'Content-Type': 'application/json' }} }});"
    )
}

/// The proxy's answer while Tray is down.
const TRAY_DOWN: &str = "return new Response(JSON.stringify({ error: { code: 'tray_unavailable',
     message: 'Tray is unavailable: HTTP 503' } }),
     { status: 503, headers: { 'Content-Type': 'application/json' } });";

#[wasm_bindgen_test]
async fn a_failed_connect_is_shown_and_its_button_keeps_focus() {
    // Slow enough for the browser to render while the button is busy.
    let _fetch = FakeFetch::install(&format!(
        "await new Promise((resolve) => setTimeout(resolve, 100)); {TRAY_DOWN}"
    ));
    let host = container();
    let item = integration("Slack", &[], &[]);
    let for_view = host.clone();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        provide_context(test_ctx(&for_view, CatalogState::Loading));
        view! { <ul><IntegrationCard integration=item.clone() filter=RwSignal::new(Filter::default()) /></ul> }
    });
    let connect: HtmlElement = host
        .query_selector(".tm-card-action")
        .unwrap()
        .expect("Connect")
        .unchecked_into();
    connect.focus().unwrap();
    connect.click();
    let mut shown = String::new();
    for _ in 0..20 {
        next_frames().await;
        shown = texts(&host, ".tm-card .tm-field-error").concat();
        if !shown.is_empty() {
            break;
        }
    }
    assert!(shown.contains("not answering right now"), "{shown:?}");
    assert_eq!(focused_class(), "tm-button tm-card-action");
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn with_every_connection_deleted_the_dialog_offers_connect_not_add_another() {
    for (statuses, offered) in [
        (&[][..], "Connect"),
        (&[Status::Connected][..], "Add another"),
    ] {
        let host = container();
        let item = integration("Slack", &[], statuses);
        let state = showing(&item);
        let handle = mount_dialog(&host, state, item.solution_id.clone(), None);
        tick().await;
        assert_eq!(texts(&host, ".tm-add"), vec![offered]);
        drop(handle);
        host.remove();
    }
}

/// The limit is the user's: a refusal under Add another goes once any connection is
/// deleted (here, another integration's, as in another tab), and it is said as it is.
#[wasm_bindgen_test]
async fn a_refusal_at_the_limit_goes_once_a_connection_is_deleted() {
    let _fetch = FakeFetch::install(&proxy_refusing(
        409,
        "limit_reached",
        "you have 3 connections",
    ));
    let host = container();
    let slack = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let hubspot = integration("HubSpot", &[], &[Status::Connected]);
    let listing = |hubspot: &Integration| {
        CatalogState::Loaded(Catalog {
            integrations: vec![slack.clone(), hubspot.clone()],
            dialog_origin: DIALOG_ORIGIN.into(),
        })
    };
    let state = RwSignal::new(listing(&hubspot));
    let handle = mount_dialog(&host, state, slack.solution_id.clone(), None);
    tick().await;
    click(&host, ".tm-add");
    let refusal = || texts(&host, ".tm-add ~ .tm-field-error").concat();
    for _ in 0..20 {
        tick().await;
        if !refusal().is_empty() {
            break;
        }
    }
    let said = "You have as many connections as this app allows. Delete one to add another.";
    assert_eq!(refusal(), said);
    assert_eq!(texts(&host, ".tm-dialog [role=status]"), [said]);
    let mut fewer = hubspot.clone();
    fewer.instances.clear();
    state.set(listing(&fewer));
    tick().await;
    assert_eq!(refusal(), "", "the refusal no longer holds");
    drop(handle);
    host.remove();
}

/// One Slack instance that has its auth, at its settings (a channel).
fn awaiting_settings() -> Integration {
    let (mut item, _) = awaiting_enable();
    item.config_slots = vec![slot("channel", "\"#general\"")];
    item
}

/// What the setup shows under its step.
async fn setup_failure(host: &HtmlElement) -> String {
    for _ in 0..20 {
        tick().await;
        let shown = texts(host, ".tm-setup .tm-field-error").concat();
        if !shown.is_empty() {
            return shown;
        }
    }
    String::new()
}

#[wasm_bindgen_test]
async fn a_failed_enable_is_shown_under_the_step() {
    let _fetch = FakeFetch::install(TRAY_DOWN);
    let host = container();
    let (item, state) = awaiting_enable();
    let handle = mount_dialog(&host, state, item.solution_id.clone(), Some("Slack-0"));
    tick().await;
    click(&host, ".tm-enable");
    let shown = setup_failure(&host).await;
    assert!(shown.contains("not answering right now"), "{shown:?}");
    let enable = host
        .query_selector(".tm-enable")
        .unwrap()
        .expect("Enable offered again");
    assert_eq!(
        enable.get_attribute("aria-disabled").as_deref(),
        Some("false")
    );
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn a_failed_settings_save_is_shown_under_the_step() {
    let _fetch = FakeFetch::install(TRAY_DOWN);
    let host = container();
    let item = awaiting_settings();
    let state = showing(&item);
    let handle = mount_dialog(&host, state, item.solution_id.clone(), Some("Slack-0"));
    tick().await;
    click(&host, ".tm-setup button[type=submit]");
    let shown = setup_failure(&host).await;
    assert!(shown.contains("not answering right now"), "{shown:?}");
    assert!(
        host.query_selector(".tm-setup form").unwrap().is_some(),
        "still at the settings"
    );
    drop(handle);
    host.remove();
}

/// Settings saved after their setup closed (All connections, while the save was on its
/// way) are heard, as the sign-in saved after its step closed is.
#[wasm_bindgen_test]
async fn settings_saved_after_their_setup_closed_are_heard() {
    let item = awaiting_settings();
    let mut saved = item.instances[0].clone();
    saved.settings_confirmed = true;
    let answer = json_literal(&saved);
    let _fetch = FakeFetch::install(&format!(
        "await new Promise(r => {{ window.__answer = r; }});
         return new Response({answer}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});"
    ));
    let host = container();
    let handle = mount_dialog(
        &host,
        showing(&item),
        item.solution_id.clone(),
        Some("Slack-0"),
    );
    tick().await;
    click(&host, ".tm-setup button[type=submit]");
    tick().await;
    click(&host, ".tm-show-all");
    tick().await;
    answer_the_held_request().await;
    let heard = texts(&host, ".tm-dialog .tm-sr").concat();
    assert!(
        heard.contains(&format!("{} updated", saved.name)),
        "{heard:?}"
    );
    drop(handle);
    host.remove();
}

/// Of several unfinished connections of one integration, the setup names the one it
/// sets up; the only one needs no name.
#[wasm_bindgen_test]
async fn a_setup_names_its_connection_when_there_are_several() {
    for statuses in [
        &[Status::SettingUp][..],
        &[Status::SettingUp, Status::SettingUp][..],
    ] {
        let item = integration("Slack", &[], statuses);
        let last = item.instances.last().unwrap().clone();
        let host = container();
        let handle = mount_dialog(
            &host,
            showing(&item),
            item.solution_id.clone(),
            Some(&last.id),
        );
        tick().await;
        let named = texts(&host, ".tm-setup-name");
        let expected = if statuses.len() == 1 {
            vec![]
        } else {
            vec![last.name]
        };
        assert_eq!(named, expected, "{}", host.inner_html());
        drop(handle);
        host.remove();
    }
}

/// A setup whose connection another tab deleted: saving says so by its name, not with
/// the proxy's "no instance <id>"; when the catalog cannot be fetched to confirm it, the
/// setup stays and says why, in the user's words (a 404 alone proves no deletion).
#[wasm_bindgen_test]
async fn saving_the_settings_of_a_connection_deleted_elsewhere_says_it_is_gone() {
    let item = awaiting_settings();
    let mut fresh = item.clone();
    fresh.instances.clear();
    let catalog = Catalog {
        integrations: vec![fresh],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let outage = "return new Response(JSON.stringify({ error: { code: 'tray_unavailable', message: 'Tray is unavailable' } }),
             { status: 503, headers: { 'Content-Type': 'application/json' } });";
    for (catalog_answer, confirmed) in [
        (
            format!(
                "return new Response({}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
                json_literal(&catalog)
            ),
            true,
        ),
        (outage.to_owned(), false),
    ] {
        saving_settings_when_the_connection_is_gone(&item, &catalog_answer, confirmed).await;
    }
}

async fn saving_settings_when_the_connection_is_gone(
    item: &Integration,
    catalog_answer: &str,
    confirmed: bool,
) {
    let host = container();
    let _fetch = FakeFetch::install(&format!(
        "if (request.method === 'GET') {{ {catalog_answer} }}
         return new Response(JSON.stringify({{ error: {{ code: 'not_found', message: 'no instance Slack-0' }} }}),
             {{ status: 404, headers: {{ 'Content-Type': 'application/json' }} }});"
    ));
    let handle = mount_dialog(
        &host,
        showing(item),
        item.solution_id.clone(),
        Some("Slack-0"),
    );
    tick().await;
    click(&host, ".tm-setup button[type=submit]");
    for _ in 0..20 {
        tick().await;
    }
    let heard = texts(&host, ".tm-dialog .tm-sr").concat();
    if confirmed {
        assert!(heard.contains("Slack-0 no longer exists."), "{heard:?}");
        assert!(texts(&host, ".tm-setup").is_empty(), "the setup gave way");
    } else {
        let shown = texts(&host, ".tm-setup .tm-field-error").concat();
        assert!(
            shown.starts_with("The integration service is not answering"),
            "{shown:?}"
        );
        assert!(heard.contains("The integration service"), "{heard:?}");
    }
    assert!(!heard.contains("no instance"), "{heard:?}");
    drop(handle);
    host.remove();
}

/// Each catalog fetch is a Tray request and a round trip: the setup shows the enabled
/// instance the proxy answered with instead of fetching the catalog again.
#[wasm_bindgen_test]
async fn enabling_shows_the_proxys_answer_without_fetching_the_catalog_again() {
    let (item, state) = awaiting_enable();
    let listed = Catalog {
        integrations: vec![item.clone()],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let enabled = Instance {
        solution_id: item.solution_id.clone(),
        enabled: true,
        status: Status::Connected,
        ..item.instances[0].clone()
    };
    // The fake answers GET with the catalog as it was before enabling (what a fetch
    // would show), anything else with the enabled instance.
    let fetch = FakeFetch::install(&format!(
        "const body = request.method === 'GET' ? {} : {};
         return new Response(body, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&listed),
        json_literal(&enabled),
    ));
    let host = container();
    let handle = mount_dialog(&host, state, item.solution_id.clone(), Some("Slack-0"));
    tick().await;
    click(&host, ".tm-enable");
    for _ in 0..20 {
        tick().await;
        if host.query_selector(".tm-setup-done").unwrap().is_some() {
            break;
        }
    }
    assert!(
        host.query_selector(".tm-setup-done").unwrap().is_some(),
        "the setup is done: {:?} {:?}",
        fetch.requests(),
        texts(&host, ".tm-setup")
    );
    assert_eq!(
        fetch.requests(),
        vec!["PATCH /api/v1/instances/Slack-0"],
        "no catalog fetch"
    );
    drop(handle);
    host.remove();
}

/// The widget shows what a change answers instead of fetching the catalog again, so a
/// catalog Tray listed before a rename, arriving after it, would show the old name
/// again: the client fetches once more.
#[wasm_bindgen_test]
async fn a_catalog_fetched_while_a_change_was_answered_is_fetched_again() {
    let (item, _) = awaiting_enable();
    let before = Catalog {
        integrations: vec![item.clone()],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let mut after = before.clone();
    after.integrations[0].instances[0].name = "Renamed".into();
    let renamed = after.integrations[0].instances[0].clone();
    // The first list is held back until the rename has been answered.
    let fetch = FakeFetch::install(&format!(
        "const json = (body) => new Response(body,
             {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});
         if (request.method === 'PATCH') {{ window.__renamed = true; return json({renamed}); }}
         window.__lists = (window.__lists || 0) + 1;
         if (window.__lists > 1) return json({after});
         while (!window.__renamed) await new Promise(r => setTimeout(r, 5));
         return json({before});",
        renamed = json_literal(&renamed),
        after = json_literal(&after),
        before = json_literal(&before),
    ));
    let api = ApiClient::new("http://proxy.test");
    let listed = Rc::new(RefCell::new(None));
    let (client, sink) = (api.clone(), listed.clone());
    wasm_bindgen_futures::spawn_local(async move {
        *sink.borrow_mut() = Some(client.catalog().await);
    });
    tick().await;
    let rename = UpdateInstance {
        name: Some("Renamed".into()),
        enabled: None,
    };
    api.update_instance("Slack-0", &rename).await.unwrap();
    for _ in 0..50 {
        if listed.borrow().is_some() {
            break;
        }
        tick().await;
    }
    let catalog = listed
        .borrow_mut()
        .take()
        .expect("the catalog came")
        .unwrap();
    assert_eq!(catalog.integrations[0].instances[0].name, "Renamed");
    assert_eq!(
        fetch.requests(),
        vec![
            "GET /api/v1/integrations",
            "PATCH /api/v1/instances/Slack-0",
            "GET /api/v1/integrations"
        ],
        "listed, renamed, listed again"
    );
    let _ = js_sys::Function::new_no_args("delete window.__lists; delete window.__renamed;")
        .call0(&JsValue::NULL);
}

#[wasm_bindgen_test]
async fn all_connections_leaves_an_unfinished_setup_for_the_list() {
    let host = container();
    let (item, state) = awaiting_enable();
    let handle = mount_dialog(&host, state, item.solution_id.clone(), Some("Slack-0"));
    tick().await;
    assert!(host.query_selector(".tm-setup").unwrap().is_some());
    click(&host, ".tm-show-all");
    tick().await;
    assert!(host.query_selector(".tm-setup").unwrap().is_none());
    assert!(
        host.query_selector("[data-instance-id=\"Slack-0\"] .tm-delete")
            .unwrap()
            .is_some(),
        "the abandoned instance is listed, with its Delete"
    );
    // Never enabled, it is not offered an Enable Tray would refuse (a value may be
    // missing) but the way back into its setup.
    let row = "[data-instance-id=\"Slack-0\"]";
    assert!(host
        .query_selector(&format!("{row} .tm-toggle"))
        .unwrap()
        .is_none());
    click(&host, &format!("{row} .tm-resume"));
    tick().await;
    assert!(
        host.query_selector(".tm-setup").unwrap().is_some(),
        "back in the setup"
    );
    drop(handle);
    host.remove();
}

/// A widget with Slack's dialog open over one connection, whose proxy answers a
/// `method` with `answer` (a failure that leaves the outcome unknown) after Tray made
/// the change: from then on its catalog lists `after`.
async fn slacks_dialog_losing_an_answer(
    method: &str,
    answer: &str,
    after: impl FnOnce(&mut Catalog),
) -> (MountedWidget, FakeFetch) {
    let before = Catalog {
        integrations: vec![integration("Slack", &[], &[Status::Connected])],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    losing_an_answer(before, method, answer, after).await
}

/// [`slacks_dialog_losing_an_answer`], from the catalog `before`.
async fn losing_an_answer(
    before: Catalog,
    method: &str,
    answer: &str,
    after: impl FnOnce(&mut Catalog),
) -> (MountedWidget, FakeFetch) {
    let mut changed = before.clone();
    after(&mut changed);
    let fetch = FakeFetch::install(&format!(
        "const json = {{ headers: {{ 'Content-Type': 'application/json' }} }};
         if (request.method === '{method}') {{ window.__changed = true; return {answer}; }}
         return new Response(window.__changed ? {} : {}, {{ status: 200, ...json }});",
        json_literal(&changed),
        json_literal(&before)
    ));
    js_sys::Function::new_no_args("window.__changed = false;")
        .call0(&JsValue::NULL)
        .unwrap();
    let widget = MountedWidget::showing_its_catalog().await;
    widget.press(".tm-card-action");
    tick().await;
    (widget, fetch)
}

/// A Disable whose answer was lost (Tray did it and its answer timed out) has disabled
/// the connection all the same: the widget fetches the catalog, which shows it off, and
/// the Disable reads as done, instead of a failure beside a connection shown still on.
#[wasm_bindgen_test]
async fn a_disable_whose_answer_was_lost_is_done_once_the_catalog_says_so() {
    let (widget, fetch) = slacks_dialog_losing_an_answer(
        "PATCH",
        "new Response(JSON.stringify({ error: { code: 'tray_unavailable',
             message: 'Tray is unavailable: HTTP 504' } }), { status: 503, ...json })",
        |catalog| {
            catalog.integrations[0].instances[0] = Instance {
                solution_id: "sol-Slack".into(),
                ..instance("Slack-0", Status::Disabled)
            }
        },
    )
    .await;
    let row = "[data-instance-id=\"Slack-0\"]";
    widget.press(&format!("{row} .tm-toggle"));
    for _ in 0..20 {
        tick().await;
    }
    assert_eq!(
        widget.text_of(&format!("{row} .tm-toggle")),
        "Enable",
        "the row shows the connection off, as Tray holds it"
    );
    assert_eq!(
        fetch.requests(),
        vec![
            "GET /api/v1/integrations",
            "PATCH /api/v1/instances/Slack-0",
            "GET /api/v1/integrations"
        ]
    );
    assert_eq!(widget.text_of(".tm-dialog [aria-live]"), "Slack-0 disabled");
    assert_eq!(widget.text_of(&format!("{row} .tm-field-error")), "");
    widget.remove();
}

/// A rename whose answer was lost, which the fresh catalog shows made, is done: the new
/// name shows, with no failure beside it. After a rate limit nothing was done: no fetch
/// is added to the load, and the failure shows.
#[wasm_bindgen_test]
async fn a_rename_whose_answer_was_lost_is_done_once_the_catalog_says_so() {
    for (answer, made) in [
        ("new Response('', { status: 504 })", true),
        (
            "new Response(JSON.stringify({ error: { code: 'rate_limited',
                 message: 'too many requests' } }), { status: 429, ...json })",
            false,
        ),
    ] {
        let (widget, fetch) = slacks_dialog_losing_an_answer("PATCH", answer, |catalog| {
            catalog.integrations[0].instances[0].name = "Team alerts".into();
            catalog.integrations[0].instances[0].solution_id = "sol-Slack".into();
        })
        .await;
        let row = "[data-instance-id=\"Slack-0\"]";
        widget.press(&format!("{row} .tm-rename-open"));
        tick().await;
        let field: web_sys::HtmlInputElement =
            widget.find(".tm-name").expect("the field").unchecked_into();
        field.set_value("Team alerts");
        widget.press(".tm-rename .tm-save");
        for _ in 0..20 {
            tick().await;
        }
        assert_eq!(
            fetch.requests().len(),
            if made { 3 } else { 2 },
            "{answer}: {:?}",
            fetch.requests()
        );
        let shown = widget.text_of(&format!("{row} .tm-instance-name"));
        // Under the editor the rename was made in, where the user is.
        let failure = widget.text_of(&format!("{row} .tm-editor + .tm-field-error"));
        if made {
            assert_eq!(shown, "Team alerts");
            assert_eq!(failure, "");
            assert_eq!(
                widget.text_of(".tm-dialog [aria-live]"),
                "Team alerts updated"
            );
        } else {
            assert_eq!(shown, "Slack-0");
            assert!(!failure.is_empty());
        }
        widget.remove();
    }
}

/// Slack's dialog over one signed-in connection in `status` (as `prepare` leaves it),
/// whose proxy loses its answer to a `method` (504) after Tray switched it on.
async fn slack_on_after_a_lost_answer(
    method: &str,
    status: Status,
    prepare: impl FnOnce(&mut Integration),
) -> (MountedWidget, FakeFetch) {
    let mut slack = integration("Slack", &[], &[status]);
    slack.instances[0]
        .auth_values
        .push(auth_value("auth", "a1", false));
    prepare(&mut slack);
    let before = Catalog {
        integrations: vec![slack],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    losing_an_answer(
        before,
        method,
        "new Response('', { status: 504 })",
        |catalog| {
            let instance = &mut catalog.integrations[0].instances[0];
            instance.status = Status::Connected;
            instance.enabled = true;
        },
    )
    .await
}

/// An update to the latest version whose answer was lost, which the fresh catalog shows
/// made (no update needed any more), is done: heard as updated, the form closed, no
/// failure beside it.
#[wasm_bindgen_test]
async fn an_update_whose_answer_was_lost_is_done_once_the_catalog_says_so() {
    let (widget, fetch) = slack_on_after_a_lost_answer("POST", Status::NeedsUpdate, |slack| {
        slack.config_slots.push(slot("label", "\"alerts\""))
    })
    .await;
    let row = "[data-instance-id=\"Slack-0\"]";
    widget.press(&format!("{row} .tm-update"));
    tick().await;
    widget.press(&format!("{row} .tm-config .tm-save"));
    for _ in 0..20 {
        tick().await;
    }
    let requests = fetch.requests();
    assert!(
        requests.contains(&"POST /api/v1/instances/Slack-0/upgrade".to_owned()),
        "{requests:?}"
    );
    assert_eq!(
        widget.text_of(&format!("{row} .tm-field-error")),
        "",
        "{requests:?}"
    );
    assert!(
        widget.find(&format!("{row} .tm-config")).is_none(),
        "the form closed"
    );
    assert_eq!(widget.text_of(".tm-dialog [aria-live]"), "Slack-0 updated");
    widget.remove();
}

/// An update of a connection whose setup never finished (signed in, settings never
/// saved, never enabled) finishes that setup: it is enabled, and the host hears
/// `connected`, as at the end of a setup; for an integration that stays off until the
/// user enables it, it is said to stay off, and the host hears `connected` too.
#[wasm_bindgen_test]
async fn updating_an_unfinished_setup_finishes_it() {
    for auto_enable in [true, false] {
        let mut slack = integration("Slack", &[], &[Status::NeedsUpdate]);
        slack.auto_enable = auto_enable;
        slack.config_slots = vec![slot("channel", "\"general\"")];
        let instance = &mut slack.instances[0];
        instance.solution_id = slack.solution_id.clone();
        instance.auth_values = vec![auth_value("auth", "a-1", false)];
        let mut upgraded = instance.clone();
        upgraded.status = Status::SettingUp;
        upgraded.settings_confirmed = true;
        upgraded.config_values = vec![ConfigValue {
            external_id: "channel".into(),
            value: Some("\"general\"".into()),
        }];
        let mut enabled = upgraded.clone();
        enabled.enabled = true;
        enabled.status = Status::Connected;
        let catalog = Catalog {
            integrations: vec![slack],
            dialog_origin: DIALOG_ORIGIN.into(),
        };
        let fetch = FakeFetch::install(&format!(
            "const json = {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }};
             if (request.url.endsWith('/upgrade')) return new Response({}, json);
             if (request.method === 'PATCH') return new Response({}, json);
             return new Response({}, json);",
            json_literal(&upgraded),
            json_literal(&enabled),
            json_literal(&catalog),
        ));
        let widget = MountedWidget::showing_its_catalog().await;
        let connected = Rc::new(Cell::new(0));
        let heard = connected.clone();
        let listener =
            wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || heard.set(heard.get() + 1));
        widget
            .host
            .add_event_listener_with_callback(
                "tray-marketplace:connected",
                listener.as_ref().unchecked_ref(),
            )
            .unwrap();
        widget.press(".tm-card-action");
        for _ in 0..5 {
            tick().await;
        }
        let row = "[data-instance-id=\"Slack-0\"]";
        widget.press(&format!("{row} .tm-update"));
        tick().await;
        widget.press(&format!("{row} .tm-config .tm-save"));
        for _ in 0..30 {
            tick().await;
        }
        let requests = fetch.requests();
        let enables = requests.iter().filter(|r| r.starts_with("PATCH")).count();
        assert_eq!(enables, usize::from(auto_enable), "{requests:?}");
        assert_eq!(connected.get(), 1, "the host hears connected: {requests:?}");
        assert_eq!(
            widget.text_of(".tm-dialog [aria-live]"),
            if auto_enable {
                "Slack connected"
            } else {
                "Slack is set up, and stays off until you enable it."
            }
        );
        widget.remove();
    }
}

/// A setup's last step, Enable, whose answer was lost: the fresh catalog shows the
/// connection on, so the setup is done (announced, `connected` to the host), instead of
/// a failure beside a connection that runs.
#[wasm_bindgen_test]
async fn a_setups_enable_whose_answer_was_lost_is_done_once_the_catalog_says_so() {
    let (widget, fetch) = slack_on_after_a_lost_answer("PATCH", Status::SettingUp, |slack| {
        slack.instances[0].solution_id = slack.solution_id.clone()
    })
    .await;
    let connected = Rc::new(RefCell::new(0));
    let count = connected.clone();
    let listener = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::CustomEvent)>::new(
        move |_: web_sys::CustomEvent| *count.borrow_mut() += 1,
    );
    widget
        .host
        .add_event_listener_with_callback(
            "tray-marketplace:connected",
            listener.as_ref().unchecked_ref(),
        )
        .unwrap();
    // The card opened the setup, or the dialog with the row to resume it from.
    if widget.find(".tm-resume").is_some() {
        widget.press(".tm-resume");
        tick().await;
    }
    widget.press(".tm-enable");
    for _ in 0..30 {
        tick().await;
    }
    let requests = fetch.requests();
    assert!(
        requests.contains(&"PATCH /api/v1/instances/Slack-0".to_owned()),
        "{requests:?}"
    );
    assert_eq!(*connected.borrow(), 1, "{requests:?}");
    let heard = widget.text_of(".tm-dialog [aria-live]");
    assert!(heard.contains("connected"), "{heard:?}");
    assert_eq!(widget.text_of(".tm-setup .tm-field-error"), "");
    widget.remove();
}

/// A deletion whose answer was lost, and that a fresh catalog no longer lists, is done:
/// its row goes and the deletion is heard.
#[wasm_bindgen_test]
async fn a_deletion_whose_answer_was_lost_is_done_once_the_catalog_says_so() {
    let (widget, fetch) =
        slacks_dialog_losing_an_answer("DELETE", "new Response('', { status: 504 })", |catalog| {
            catalog.integrations[0].instances.clear()
        })
        .await;
    widget.press("[data-instance-id=\"Slack-0\"] .tm-delete");
    tick().await;
    widget.press(".tm-confirm-delete");
    for _ in 0..20 {
        tick().await;
    }
    let row = widget
        .find("[data-instance-id=\"Slack-0\"]")
        .expect("its row");
    assert!(
        row.unchecked_into::<HtmlElement>().hidden(),
        "the row is gone: {:?}",
        fetch.requests()
    );
    let heard = widget.text_of(".tm-dialog [aria-live]");
    assert!(
        heard.contains("deleted"),
        "the deletion is heard: {heard:?}"
    );
    widget.remove();
}

#[wasm_bindgen_test]
async fn a_change_the_proxy_refuses_is_shown_in_its_row() {
    let _fetch = FakeFetch::install(&proxy_refusing(
        400,
        "bad_request",
        "name must be 1 to 200 characters",
    ));
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let field = host.query_selector(".tm-name").unwrap().unwrap();
    assert_eq!(
        field.get_attribute("maxlength").as_deref(),
        Some("200"),
        "the browser stops at the proxy's limit"
    );
    js_sys::Reflect::set(&field, &"value".into(), &"Renamed".into()).unwrap();
    click(&host, ".tm-save");
    for _ in 0..20 {
        tick().await;
    }
    let shown = texts(&host, "[data-instance-id=\"Slack-0\"] .tm-field-error");
    assert!(
        shown
            .iter()
            .any(|t| t == "name must be 1 to 200 characters"),
        "the refusal is visible in the row: {shown:?}"
    );
    // Heard by the connection's name, as a success is: among several connections,
    // "something went wrong" would say neither which nor what.
    assert_eq!(
        texts(&host, ".tm-dialog [role=status]"),
        ["Slack-0: your change was not saved. name must be 1 to 200 characters"]
    );
    assert!(
        host.query_selector(".tm-rename").unwrap().is_some(),
        "the editor stays open with what the user typed"
    );
    click(&host, ".tm-rename .tm-ghost");
    tick().await;
    let shown = texts(&host, "[data-instance-id=\"Slack-0\"] .tm-field-error");
    assert!(
        shown.iter().all(|t| t.is_empty()),
        "Cancel clears it: {shown:?}"
    );
    // Refused again, then another editor opened straight away: the refusal does not
    // stand under it, as if that editor's change had failed.
    click(&host, ".tm-rename-open");
    tick().await;
    let field = host.query_selector(".tm-name").unwrap().unwrap();
    js_sys::Reflect::set(&field, &"value".into(), &"Renamed".into()).unwrap();
    click(&host, ".tm-save");
    for _ in 0..20 {
        tick().await;
    }
    assert!(!texts(&host, ".tm-instance .tm-field-error")
        .concat()
        .is_empty());
    click(&host, ".tm-delete");
    tick().await;
    let shown = texts(&host, "[data-instance-id=\"Slack-0\"] .tm-field-error");
    assert!(
        shown.iter().all(|t| t.is_empty()),
        "another editor opens without it: {shown:?}"
    );
    drop(handle);
    host.remove();
}

/// A JSON setting first in its editor: the caret after its value, as in a text field.
#[wasm_bindgen_test]
async fn a_json_setting_opens_with_the_caret_after_its_value() {
    let mut item = integration("HubSpot", &[], &[Status::Connected]);
    item.config_slots
        .push(slot("mapping", r#"{"email":"email"}"#));
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    click(&host, ".tm-settings");
    tick().await;
    let field: web_sys::HtmlTextAreaElement = document()
        .active_element()
        .expect("a focused element")
        .dyn_into()
        .expect("the JSON setting, a text area");
    let length = field.value().encode_utf16().count() as u32;
    assert!(length > 0, "{:?}", field.value());
    assert_eq!(
        (field.selection_start(), field.selection_end()),
        (Ok(Some(length)), Ok(Some(length)))
    );
    drop(handle);
    host.remove();
}

/// A widget whose first catalog load fails and whose next one succeeds.
#[wasm_bindgen_test]
async fn a_successful_retry_tells_the_host_it_is_ready() {
    let _fetch = FakeFetch::install(
        "window.__loads = (window.__loads || 0) + 1;
         if (window.__loads === 1) return new Response('', { status: 502 });
         return new Response(JSON.stringify({ integrations: [], dialogOrigin: 'http://dialog.example' }),
             { status: 200, headers: { 'Content-Type': 'application/json' } });",
    );
    let host = container();
    let readies = Rc::new(RefCell::new(0));
    let sink = readies.clone();
    let listener = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        *sink.borrow_mut() += 1;
    });
    host.add_event_listener_with_callback(
        "tray-marketplace:ready",
        listener.as_ref().unchecked_ref(),
    )
    .unwrap();
    let (mut handle, shadow) = mount_against_fake_fetch(&host);
    let mut retry = None;
    for _ in 0..50 {
        tick().await;
        retry = shadow.query_selector(".tm-retry").unwrap();
        if retry.is_some() {
            break;
        }
    }
    let retry: HtmlElement = retry.expect("the failure offers a retry").unchecked_into();
    assert_eq!(*readies.borrow(), 0, "not ready while the catalog failed");
    retry.focus().unwrap();
    retry.click();
    for _ in 0..20 {
        tick().await;
        if *readies.borrow() > 0 {
            break;
        }
    }
    tick().await;
    // The retry button is gone with the error; focus stayed in the widget's region
    // (named by its heading), not on the page.
    let focused = shadow.active_element().map(|e| e.class_name());
    assert_eq!(focused.as_deref(), Some("tm-root"), "{focused:?}");
    assert_eq!(
        *readies.borrow(),
        1,
        "ready once the retry loaded the catalog"
    );
    handle.unmount();
    host.remove();
}

/// The whole widget in `host`, its requests answered by a `FakeFetch`.
fn mount_against_fake_fetch(
    host: &HtmlElement,
) -> (integrations_widget::MountHandle, web_sys::ShadowRoot) {
    let options = mount_options();
    js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
    let handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    (handle, host.shadow_root().unwrap())
}

/// The host's `getToken` failing is a sign-in problem, not the server's: the user reads
/// that, and the host's `error` event carries the host's own reason. An empty token is no
/// token: sent, the proxy would only say the header is malformed. Nothing is sent
/// without a token: the proxy could only refuse it, a second error for the host.
#[wasm_bindgen_test]
async fn a_failing_get_token_reads_as_a_sign_in_problem() {
    let fetch = FakeFetch::install(&proxy_refusing(401, "unauthenticated", "sign in first"));
    for (answer, reason) in [
        (
            "return Promise.reject(new Error('backend down'));",
            "getToken failed: backend down",
        ),
        ("return '';", "getToken failed: it returned no token"),
        (
            "return Promise.resolve('  ');",
            "getToken failed: it returned no token",
        ),
    ] {
        let host = container();
        let errors = common::HostErrors::on(&host);
        let options = mount_options();
        js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
        let get_token = js_sys::Function::new_no_args(answer);
        js_sys::Reflect::set(&options, &"getToken".into(), &get_token).unwrap();
        let mut handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
        let shadow = host.shadow_root().unwrap();
        let shown = catalog_error(&shadow).await;
        assert!(shown.contains("Your session has expired"), "{shown:?}");
        assert!(
            errors.messages().iter().any(|m| m.contains(reason)),
            "{answer}: {:?}",
            errors.messages()
        );
        assert_eq!(
            fetch.requests(),
            Vec::<String>::new(),
            "sent without a token"
        );
        handle.unmount();
        host.remove();
    }
}

/// A fake proxy for the unmount tests: every request is kept in `__requests` and waits
/// for `__answer()` (a 401), failing as the browser's fetch does once its signal aborts
/// (unless `__abortIgnored`: a browser that cannot abort it).
const ANSWERED_ON_CUE: &str = "(window.__requests ??= []).push(request);
     return new Promise((resolve, reject) => {
         window.__answer = () => resolve(new Response(
             JSON.stringify({ error: { code: 'unauthenticated', message: 'expired' } }),
             { status: 401, headers: { 'Content-Type': 'application/json' } }));
         request.signal.addEventListener('abort', () =>
             window.__abortIgnored || reject(request.signal.reason));
     });";

fn window_field(name: &str) -> JsValue {
    js_sys::Reflect::get(&web_sys::window().unwrap(), &name.into()).unwrap()
}

fn kept_requests() -> js_sys::Array {
    js_sys::Array::from(&window_field("__requests"))
}

/// Whether the `i`th kept request was aborted.
fn aborted(i: u32) -> Option<bool> {
    let signal = js_sys::Reflect::get(&kept_requests().get(i), &"signal".into()).unwrap();
    js_sys::Reflect::get(&signal, &"aborted".into())
        .unwrap()
        .as_bool()
}

/// `unmount()` ends what the widget had under way: a read still running is aborted (left
/// running, it would hold back the next widget's same request), a 401 arriving after it
/// asks the host for nothing, and a token the host's `getToken` hands over afterwards is
/// not used to send anything. Requests go past the browser's cache, where two of one URL
/// would wait for each other.
#[wasm_bindgen_test]
async fn unmounting_ends_the_widgets_requests_and_its_wait_for_the_host() {
    let _fetch = FakeFetch::install(ANSWERED_ON_CUE);
    run_js("window.__requests = []; window.__asked = 0; window.__abortIgnored = true;");
    let host = container();
    let options = mount_options();
    js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
    js_sys::Reflect::set(&options, &"token".into(), &"first-token".into()).unwrap();
    let get_token = js_sys::Function::new_no_args(
        "window.__asked += 1;
         return new Promise((resolve) => (window.__giveToken = () => resolve('late-token')));",
    );
    js_sys::Reflect::set(&options, &"getToken".into(), &get_token).unwrap();
    let mut handle =
        integrations_widget::mount(host.clone().into(), options.clone().into()).unwrap();
    until(|| kept_requests().length() > 0).await;
    let catalog = kept_requests().get(0);
    assert_eq!(
        js_sys::Reflect::get(&catalog, &"cache".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("no-store")
    );
    assert_eq!(aborted(0), Some(false), "running while the widget is shown");
    handle.unmount();
    assert_eq!(aborted(0), Some(true), "aborted by the unmount");
    // Its 401 after all (a browser that could not abort it): the host is not asked.
    run_js("window.__answer();");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(
        window_field("__asked").as_f64(),
        Some(0.0),
        "getToken was asked"
    );

    // Without a token the first request waits for getToken; it answers after the unmount.
    run_js("window.__requests = [];");
    js_sys::Reflect::delete_property(&options, &"token".into()).unwrap();
    let mut handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    until(|| window_field("__giveToken").is_function()).await;
    assert_eq!(
        window_field("__asked").as_f64(),
        Some(1.0),
        "the host was asked"
    );
    handle.unmount();
    run_js("window.__giveToken();");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(
        kept_requests().length(),
        0,
        "a request was sent after the unmount"
    );
    host.remove();
}

/// A change the user asked for runs to its end when the widget ends (cut off, the proxy
/// would stop between Tray's part and its own), while a read is aborted; nothing new is
/// sent afterwards.
#[wasm_bindgen_test]
async fn a_change_under_way_outlives_its_widget_a_read_does_not() {
    let _fetch = FakeFetch::install(ANSWERED_ON_CUE);
    run_js("window.__requests = []; window.__abortIgnored = false;");
    let api = integrations_widget::api::ApiClient::with_token(
        "http://proxy.test",
        Some("token".into()),
        None,
    );
    for call in 0..2 {
        let api = api.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = match call {
                0 => api.delete_instance("i-1").await,
                _ => api.catalog().await.map(drop),
            };
        });
    }
    until(|| kept_requests().length() == 2).await;
    api.end();
    assert_eq!((aborted(0), aborted(1)), (Some(false), Some(true)));
    let after = api.delete_instance("i-2").await;
    assert_eq!(after, Err(integrations_widget::api::ApiError::unmounted()));
    assert_eq!(
        kept_requests().length(),
        2,
        "a request was sent after the end"
    );
}

/// A session the host cannot renew (a token and no getToken) fails the first load for
/// good: the user reads that a reload is needed, and no Try again is offered that would
/// be refused the same way.
#[wasm_bindgen_test]
async fn an_expired_session_without_get_token_offers_no_try_again() {
    let _fetch = FakeFetch::install(&proxy_refusing(
        401,
        "unauthenticated",
        "the user token has expired",
    ));
    let host = container();
    let options = mount_options();
    js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
    js_sys::Reflect::set(&options, &"token".into(), &"expired-jwt".into()).unwrap();
    let mut handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    let shadow = host.shadow_root().unwrap();
    let shown = catalog_error(&shadow).await;
    assert!(shown.contains("Reload the page"), "{shown:?}");
    let retry: HtmlElement = shadow
        .query_selector(".tm-retry")
        .unwrap()
        .expect("the button, hidden")
        .unchecked_into();
    let display = window()
        .get_computed_style(&retry)
        .unwrap()
        .unwrap()
        .get_property_value("display")
        .unwrap();
    assert_eq!(display, "none", "no Try again");
    handle.unmount();
    host.remove();
}

/// The catalog's failure as shown, once it shows (empty if it never does).
async fn catalog_error(shadow: &web_sys::ShadowRoot) -> String {
    for _ in 0..50 {
        tick().await;
        let shown = shadow
            .query_selector(".tm-error")
            .unwrap()
            .and_then(|e| e.text_content())
            .unwrap_or_default();
        if !shown.is_empty() {
            return shown;
        }
    }
    String::new()
}

/// Makes the widget's long waits (tens of seconds) last a few milliseconds.
struct ShortWaits;

impl ShortWaits {
    fn install() -> ShortWaits {
        js_sys::Function::new_no_args(
            "const real = window.setTimeout; window.__realSetTimeout = real;
             window.setTimeout = (fn, ms, ...args) => real(fn, ms >= 10000 ? 5 : ms, ...args);
             const realAbortAfter = AbortSignal.timeout; window.__realAbortAfter = realAbortAfter;
             AbortSignal.timeout = (ms) => realAbortAfter.call(AbortSignal, ms >= 10000 ? 5 : ms);",
        )
        .call0(&JsValue::NULL)
        .unwrap();
        ShortWaits
    }
}

impl Drop for ShortWaits {
    fn drop(&mut self) {
        let _ = js_sys::Function::new_no_args(
            "window.setTimeout = window.__realSetTimeout;
             AbortSignal.timeout = window.__realAbortAfter;",
        )
        .call0(&JsValue::NULL);
    }
}

/// A host's `getToken` or a request that never settles ends in a failure the user can
/// retry, instead of a widget waiting for good; so does an answer whose body stalls. The
/// request is aborted (as a real `fetch` honours its signal), so that it does not hold
/// one of the browser's few connections to the proxy.
#[wasm_bindgen_test]
async fn a_get_token_or_a_request_that_never_answers_ends_in_a_failure() {
    let _waits = ShortWaits::install();
    js_sys::Function::new_no_args(
        "window.__tokenAsks = 0; window.__aborted = 0;
         window.__onAbort = (request, then) => request.signal.addEventListener('abort', () => {
             window.__aborted += 1;
             then(request.signal.reason);
         });",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    for (get_token, fetch, expected) in [
        (
            // Asked once for the request (not again after its 401): one wait, not two.
            "window.__tokenAsks += 1; return new Promise(() => {});",
            "return new Response('{}', { status: 401 });",
            "Your session has expired",
        ),
        (
            "return 'a-token';",
            "return new Promise((_, reject) => window.__onAbort(request, reject));",
            "The server could not be reached.",
        ),
        (
            // The headers arrive, the body never ends.
            "return 'a-token';",
            "return new Response(new ReadableStream({
                 start(body) { window.__onAbort(request, (reason) => body.error(reason)); },
             }), { status: 200, headers: { 'Content-Type': 'application/json' } });",
            "The server could not be reached.",
        ),
    ] {
        let _fetch = FakeFetch::install(fetch);
        let host = container();
        let options = mount_options();
        js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
        let get_token = js_sys::Function::new_no_args(get_token);
        js_sys::Reflect::set(&options, &"getToken".into(), &get_token).unwrap();
        let mut handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
        let shadow = host.shadow_root().unwrap();
        let shown = catalog_error(&shadow).await;
        assert!(shown.contains(expected), "{shown:?}");
        handle.unmount();
        host.remove();
    }
    let window = web_sys::window().unwrap();
    let asks = js_sys::Reflect::get(&window, &"__tokenAsks".into()).unwrap();
    assert_eq!(asks.as_f64(), Some(1.0), "getToken asked once");
    let aborted = js_sys::Reflect::get(&window, &"__aborted".into()).unwrap();
    assert_eq!(aborted.as_f64(), Some(2.0), "both stalled requests aborted");
}

/// `ready` means the catalog is on screen: a host's `onEvent` for it finds every card,
/// not the loading placeholders.
#[wasm_bindgen_test]
async fn ready_is_heard_with_the_cards_on_screen() {
    let _fetch = FakeFetch::answering(&Catalog {
        integrations: catalog(),
        dialog_origin: DIALOG_ORIGIN.into(),
    });
    let host = container();
    let seen = js_sys::Array::new();
    let on_event = {
        let (seen, host) = (seen.clone(), host.clone());
        wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let kind = js_sys::Reflect::get(&event, &"type".into()).unwrap();
            if kind == "ready" {
                let shadow = host.shadow_root().unwrap();
                seen.push(
                    &shadow
                        .query_selector_all(".tm-title")
                        .unwrap()
                        .length()
                        .into(),
                );
            }
        })
    };
    let options = mount_options();
    js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
    js_sys::Reflect::set(&options, &"onEvent".into(), on_event.as_ref()).unwrap();
    let mut handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    for _ in 0..100 {
        tick().await;
        if seen.length() > 0 {
            break;
        }
    }
    assert_eq!(seen.to_vec(), vec![JsValue::from(catalog().len() as u32)]);
    handle.unmount();
    host.remove();
}

/// A catalog the host hands over that never arrives (the host's own request stalled) is
/// asked for anew once a request of the widget's own would have given up: the cards show,
/// instead of a loading state for good.
#[wasm_bindgen_test]
async fn a_hosts_catalog_that_never_arrives_is_asked_for_anew() {
    let _waits = ShortWaits::install();
    let fetch = FakeFetch::answering(&Catalog {
        integrations: catalog(),
        dialog_origin: DIALOG_ORIGIN.into(),
    });
    let host = container();
    let options = mount_options();
    js_sys::Reflect::set(&options, &"proxyUrl".into(), &"http://proxy.test".into()).unwrap();
    let never = js_sys::Promise::new(&mut |_, _| {});
    js_sys::Reflect::set(&options, &"catalog".into(), &never).unwrap();
    let mut handle = integrations_widget::mount(host.clone().into(), options.into()).unwrap();
    let shadow = host.shadow_root().unwrap();
    let mut shown = 0;
    for _ in 0..100 {
        tick().await;
        shown = shadow.query_selector_all(".tm-title").unwrap().length();
        if shown > 0 {
            break;
        }
    }
    assert_eq!(shown as usize, catalog().len());
    assert_eq!(fetch.requests(), vec!["GET /api/v1/integrations"]);
    handle.unmount();
    host.remove();
}

/// The whole widget against a `FakeFetch`, once its catalog shows.
struct MountedWidget {
    host: HtmlElement,
    shadow: web_sys::ShadowRoot,
    handle: integrations_widget::MountHandle,
}

impl MountedWidget {
    async fn showing_its_catalog() -> MountedWidget {
        let host = container();
        let (handle, shadow) = mount_against_fake_fetch(&host);
        let widget = MountedWidget {
            host,
            shadow,
            handle,
        };
        for _ in 0..50 {
            tick().await;
            if widget.find(".tm-card-action").is_some() {
                break;
            }
        }
        widget
    }

    fn find(&self, selector: &str) -> Option<Element> {
        self.shadow.query_selector(selector).unwrap()
    }

    /// The text of the first element `selector` finds; empty if none.
    fn text_of(&self, selector: &str) -> String {
        self.find(selector)
            .and_then(|element| element.text_content())
            .unwrap_or_default()
    }

    /// Clicks the first element `selector` finds, which must be shown: a user cannot
    /// press what a search hid.
    fn press(&self, selector: &str) {
        let element = self
            .find(selector)
            .unwrap_or_else(|| panic!("no {selector}"));
        assert!(
            element.closest("[hidden]").unwrap().is_none(),
            "{selector} is hidden"
        );
        element.unchecked_into::<HtmlElement>().click()
    }

    /// `display` as the widget's stylesheet makes it, of the first `selector`.
    fn display_of(&self, selector: &str) -> String {
        let element = self
            .find(selector)
            .unwrap_or_else(|| panic!("no {selector}"));
        web_sys::window()
            .unwrap()
            .get_computed_style(&element)
            .unwrap()
            .unwrap()
            .get_property_value("display")
            .unwrap()
    }

    fn search(&self, query: &str) {
        let field = self.find(".tm-search").expect("the search");
        js_sys::Reflect::set(&field, &"value".into(), &query.into()).unwrap();
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        let event = web_sys::Event::new_with_event_init_dict("input", &init).unwrap();
        field.dispatch_event(&event).unwrap();
    }

    fn remove(mut self) {
        self.handle.unmount();
        self.host.remove();
    }
}

/// What a search leaves out is gone from the screen, the keyboard and screen readers
/// (the widget's stylesheet gives cards and the grid a `display`, which would override
/// the browser's own `[hidden]` rule), and with nothing left the grid goes for the
/// empty state.
#[wasm_bindgen_test]
async fn a_search_takes_what_it_leaves_out_off_the_screen() {
    let catalog = Catalog {
        integrations: vec![
            integration("Slack", &[], &[]),
            integration("Salesforce", &[], &[]),
        ],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let _fetch = FakeFetch::answering(&catalog);
    let widget = MountedWidget::showing_its_catalog().await;
    let slack = "[data-solution-id=\"sol-Slack\"]";
    let salesforce = "[data-solution-id=\"sol-Salesforce\"]";
    widget.search("sales");
    tick().await;
    assert_eq!(widget.display_of(slack), "none");
    assert_ne!(widget.display_of(salesforce), "none");
    widget.search("nothing like it");
    tick().await;
    assert_eq!(widget.display_of(".tm-grid"), "none");
    assert_eq!(
        widget.text_of(".tm-empty"),
        "No integrations match your search."
    );
    widget.search("");
    tick().await;
    assert_ne!(widget.display_of(".tm-grid"), "none");
    assert_ne!(widget.display_of(slack), "none");
    assert!(widget.find(".tm-empty").is_none());
    widget.remove();
}

/// A Connect sent again with the key of one whose answer was lost, after that
/// connection was deleted: the proxy refuses the spent key, and the widget makes the
/// connection the user asked for with a new one.
#[wasm_bindgen_test]
async fn a_connect_whose_kept_key_is_spent_is_made_with_a_new_key() {
    let (before, _) = salesforce_connected_elsewhere(false);
    let mut made = instance("Salesforce-0", Status::SettingUp);
    made.solution_id = before.integrations[0].solution_id.clone();
    let fetch = FakeFetch::install(&format!(
        "if (request.method === 'POST') {{
             const {{ idempotencyKey }} = await request.clone().json();
             window.__keys = [...(window.__keys || []), idempotencyKey];
             const error = (status, code) => new Response(
                 JSON.stringify({{ error: {{ code, message: code }} }}),
                 {{ status, headers: {{ 'Content-Type': 'application/json' }} }});
             if (window.__keys.length === 1) return error(504, 'tray_unavailable');
             if (window.__keys.length === 2) return error(409, 'key_spent');
             return new Response({}, {{ status: 201, headers: {{ 'Content-Type': 'application/json' }} }});
         }}
         return new Response({}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&made),
        json_literal(&before),
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    widget.press(".tm-card-action");
    for _ in 0..30 {
        tick().await;
    }
    assert!(
        !widget.text_of(".tm-card .tm-field-error").is_empty(),
        "the first Connect failed"
    );
    widget.press(".tm-card-action");
    for _ in 0..30 {
        tick().await;
    }
    let keys = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__keys".into()).unwrap();
    let keys: Vec<String> = js_sys::Array::from(&keys)
        .iter()
        .filter_map(|k| k.as_string())
        .collect();
    assert_eq!(keys.len(), 3, "{:?}", fetch.requests());
    assert_eq!(keys[0], keys[1], "the kept create is sent again as it was");
    assert_ne!(keys[1], keys[2], "then a new one");
    assert!(
        widget.find(".tm-dialog .tm-setup").is_some(),
        "the new connection's setup opens"
    );
    js_sys::Reflect::delete_property(&web_sys::window().unwrap(), &"__keys".into()).unwrap();
    widget.remove();
}

/// Manage on an integration with an unfinished setup beside a connection: the dialog
/// lists both, and focus is on the unfinished one's Finish setting up, where the user
/// goes on.
#[wasm_bindgen_test]
async fn manage_leads_to_the_unfinished_setup_beside_other_connections() {
    let catalog = Catalog {
        integrations: vec![integration(
            "Slack",
            &[],
            &[Status::Connected, Status::SettingUp],
        )],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let _fetch = FakeFetch::answering(&catalog);
    let widget = MountedWidget::showing_its_catalog().await;
    assert_eq!(widget.text_of(".tm-card-action"), "Manage");
    widget.press(".tm-card-action");
    let focused = || {
        widget.shadow.active_element().map(|e| {
            (
                e.class_name(),
                e.closest(".tm-instance")
                    .unwrap()
                    .map(|r| r.get_attribute("data-instance-id")),
            )
        })
    };
    for _ in 0..5 {
        next_frames().await;
        if focused().is_some_and(|(class, _)| class.contains("tm-resume")) {
            break;
        }
    }
    assert_eq!(
        focused(),
        Some((
            "tm-button tm-resume".to_owned(),
            Some(Some("Slack-1".to_owned()))
        ))
    );
    widget.remove();
}

/// A retry that fails again leaves focus on the new Try again, not on the region.
#[wasm_bindgen_test]
async fn a_failed_retry_returns_focus_to_try_again() {
    let _fetch = FakeFetch::install("return new Response('', { status: 502 });");
    let host = container();
    let (mut handle, shadow) = mount_against_fake_fetch(&host);
    let retry_button = || shadow.query_selector(".tm-retry").unwrap();
    for _ in 0..50 {
        tick().await;
        if retry_button().is_some() {
            break;
        }
    }
    let first: HtmlElement = retry_button().expect("a retry").unchecked_into();
    first.focus().unwrap();
    first.click();
    let mut focused = None;
    for _ in 0..50 {
        tick().await;
        focused = shadow.active_element().map(|e| e.class_name());
        if focused.as_deref().is_some_and(|c| c.contains("tm-retry")) {
            break;
        }
    }
    assert_eq!(focused.as_deref(), Some("tm-button tm-retry"));
    let second = retry_button().expect("a retry again");
    assert!(!second.is_same_node(Some(&first)), "a new button, focused");
    handle.unmount();
    host.remove();
}

/// Deleting the last connection while "Connected only" is ticked hides its card: closing
/// the dialog then puts focus on the search, not on the page.
#[wasm_bindgen_test]
async fn closing_a_dialog_whose_card_a_filter_hid_puts_focus_on_the_search() {
    let catalog = Catalog {
        integrations: vec![integration("Slack", &[], &[Status::Connected])],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let _fetch = FakeFetch::install(&format!(
        "if (request.method === 'DELETE') return new Response(null, {{ status: 204 }});
         return new Response({}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&catalog)
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    let (find, press) = (|s: &str| widget.find(s), |s: &str| widget.press(s));
    press(".tm-connected");
    tick().await;
    press(".tm-card-action");
    for _ in 0..5 {
        tick().await;
    }
    press(".tm-delete");
    tick().await;
    press(".tm-confirm-delete");
    for _ in 0..10 {
        tick().await;
    }
    assert!(
        find(".tm-card:not([hidden])").is_none(),
        "the filter hides the card now"
    );
    press(".tm-close");
    for _ in 0..5 {
        tick().await;
    }
    let focused = widget.shadow.active_element().map(|e| e.class_name());
    assert_eq!(focused.as_deref(), Some("tm-search"), "{focused:?}");
    widget.remove();
}

/// The whole widget over a proxy that lists one connected Slack and answers a `method`
/// request with `answer` (201 for a POST), its Slack dialog open.
async fn slacks_dialog_in_a_widget(
    method: &str,
    answer: &impl serde::Serialize,
) -> (MountedWidget, FakeFetch) {
    let catalog = Catalog {
        integrations: vec![integration("Slack", &[], &[Status::Connected])],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let fetch = FakeFetch::install(&format!(
        "const json = {{ headers: {{ 'Content-Type': 'application/json' }} }};
         if (request.method === '{method}') {{
             const status = request.method === 'POST' ? 201 : 200;
             return new Response({}, {{ status, ...json }});
         }}
         return new Response({}, {{ status: 200, ...json }});",
        json_literal(answer),
        json_literal(&catalog)
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    widget.press(".tm-card-action");
    for _ in 0..5 {
        tick().await;
    }
    (widget, fetch)
}

/// "Add another" in a dialog opens the new connection's setup in that same dialog (it
/// is not closed and opened again, which would lose focus and the dialog's announcements),
/// with focus on the setup's first step.
#[wasm_bindgen_test]
async fn add_another_sets_up_the_new_connection_in_the_same_dialog() {
    let created = Instance {
        solution_id: "sol-Slack".into(),
        ..instance("Slack-1", Status::SettingUp)
    };
    let (widget, _fetch) = slacks_dialog_in_a_widget("POST", &created).await;
    let dialog = widget.find(".tm-dialog").expect("the dialog");
    let closed = Rc::new(RefCell::new(0));
    let count = closed.clone();
    let on_close = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        *count.borrow_mut() += 1;
    });
    dialog
        .add_event_listener_with_callback("close", on_close.as_ref().unchecked_ref())
        .unwrap();
    // Pressed as a user does: the press focuses it.
    let add: HtmlElement = widget
        .find(".tm-add")
        .expect("Add another")
        .unchecked_into();
    add.focus().unwrap();
    add.click();
    for _ in 0..20 {
        tick().await;
        if widget.find(".tm-authorize").is_some() {
            break;
        }
    }
    next_frames().await;
    assert!(
        widget.find(".tm-authorize").is_some(),
        "the new setup shows"
    );
    assert_eq!(*closed.borrow(), 0, "the dialog stayed open");
    let focused = widget.shadow.active_element().map(|e| e.class_name());
    assert_eq!(focused.as_deref(), Some("tm-button tm-authorize"));
    widget.remove();
}

/// A setup whose connection was deleted elsewhere: the same dialog (not one closed and
/// opened again, which cleared its live region and put focus on the dialog itself) says
/// so, and focus goes to where the user can go on.
#[wasm_bindgen_test]
async fn a_setup_whose_connection_is_gone_says_so_in_the_same_dialog() {
    let item = awaiting_settings();
    let mut fresh = item.clone();
    fresh.instances.clear();
    let catalog = |item: Integration| Catalog {
        integrations: vec![item],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    js_sys::Function::new_no_args("window.__catalogs = 0;")
        .call0(&JsValue::NULL)
        .unwrap();
    let _fetch = FakeFetch::install(&format!(
        "const json = {{ headers: {{ 'Content-Type': 'application/json' }} }};
         if (request.method === 'GET') {{
             window.__catalogs += 1;
             return new Response(window.__catalogs === 1 ? {} : {}, {{ status: 200, ...json }});
         }}
         return new Response(JSON.stringify({{ error: {{ code: 'not_found', message: 'no instance Slack-0' }} }}),
             {{ status: 404, ...json }});",
        json_literal(&catalog(item)),
        json_literal(&catalog(fresh))
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    widget.press(".tm-card-action");
    for _ in 0..5 {
        tick().await;
    }
    let dialog = widget.find(".tm-dialog").expect("the dialog");
    widget.press(".tm-setup button[type=submit]");
    for _ in 0..20 {
        tick().await;
    }
    next_frames().await;
    let still = widget.find(".tm-dialog").expect("a dialog");
    assert!(still.is_same_node(Some(&dialog)), "the same dialog");
    let heard: Vec<String> = (0..)
        .map_while(|i| {
            widget
                .shadow
                .query_selector_all(".tm-dialog .tm-sr")
                .unwrap()
                .item(i)
        })
        .filter_map(|node| node.text_content())
        .collect();
    assert!(
        heard.iter().any(|t| t == "Slack-0 no longer exists."),
        "{heard:?}"
    );
    let focused = widget
        .shadow
        .active_element()
        .map(|e| e.class_name())
        .unwrap_or_default();
    assert!(
        focused.contains("tm-add") || focused.contains("tm-close"),
        "focus on Connect or Close, not {focused:?}"
    );
    widget.remove();
}

/// A change that fails after its dialog was closed: nothing on screen shows it, so the
/// widget's live region names the connection whose change was not saved.
#[wasm_bindgen_test]
async fn a_change_failing_after_its_dialog_closed_is_heard_by_name() {
    let setup = awaiting_settings();
    let connected = integration("Slack", &[], &[Status::Connected]);
    for (item, make_the_change) in [
        (setup, ".tm-setup button[type=submit]"),
        (connected, ".tm-rename button[type=submit]"),
    ] {
        let catalog = Catalog {
            integrations: vec![item.clone()],
            dialog_origin: DIALOG_ORIGIN.into(),
        };
        let _fetch = FakeFetch::install(&format!(
            "if (request.method === 'GET') return new Response({},
                 {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});
             await new Promise(r => {{ window.__answer = r; }});
             return new Response(JSON.stringify({{ error: {{ code: 'tray_unavailable', message: 'Tray is unavailable' }} }}),
                 {{ status: 503, headers: {{ 'Content-Type': 'application/json' }} }});",
            json_literal(&catalog)
        ));
        let widget = MountedWidget::showing_its_catalog().await;
        widget.press(".tm-card-action");
        for _ in 0..5 {
            tick().await;
        }
        if widget.find(".tm-rename-open").is_some() {
            widget.press(".tm-rename-open");
            tick().await;
            widget
                .find(".tm-name")
                .expect("the rename field")
                .unchecked_into::<web_sys::HtmlInputElement>()
                .set_value("Renamed");
        }
        widget.press(make_the_change);
        tick().await;
        widget.press(".tm-close");
        tick().await;
        assert!(widget.find(".tm-dialog").is_none(), "closed");
        answer_the_held_request().await;
        let heard = widget.text_of(".tm-sr[role=status]");
        assert!(
            heard.starts_with("Slack-0: your change was not saved. The integration service"),
            "{make_the_change}: {heard:?}"
        );
        widget.remove();
    }
}

/// The hints and notices the dialog in `host` shows.
fn notices(host: &HtmlElement) -> Vec<String> {
    texts(host, ".tm-dialog .tm-hint")
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect()
}

/// The proxy's fake for a change to Slack-1 that is not found: the catalog as `fresh`,
/// and 404 for everything else.
fn not_found_for_slack_1(fresh: &Integration) -> FakeFetch {
    let catalog = Catalog {
        integrations: vec![fresh.clone()],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    FakeFetch::install(&format!(
        "if (request.method === 'GET') return new Response({},
             {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});
         return new Response(JSON.stringify({{ error: {{ code: 'not_found', message: 'no instance Slack-1' }} }}),
             {{ status: 404, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&catalog)
    ))
}

/// A connection deleted in another tab: a change to it takes its row away and says
/// so, with focus left in the dialog; deleting it counts as done.
#[wasm_bindgen_test]
async fn a_connection_gone_elsewhere_leaves_the_list_on_any_change() {
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let mut fresh = item.clone();
    fresh.instances.truncate(1);
    let _fetch = not_found_for_slack_1(&fresh);
    for (presses, heard, seen) in [
        (
            &[".tm-toggle"][..],
            "Slack-1 no longer exists.",
            vec!["Slack-1 no longer exists."],
        ),
        (
            &[".tm-delete", ".tm-confirm-delete"][..],
            "Slack-1 deleted",
            vec![],
        ),
    ] {
        let host = container();
        let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
        tick().await;
        for press in presses {
            click(&host, &format!("[data-instance-id=\"Slack-1\"] {press}"));
            tick().await;
        }
        for _ in 0..10 {
            tick().await;
        }
        next_frames().await;
        assert!(!has_row(&host, "Slack-1"), "{presses:?}: the row is gone");
        assert!(host
            .query_selector("[data-instance-id=\"Slack-0\"]")
            .unwrap()
            .is_some());
        let said = texts(&host, ".tm-dialog .tm-sr");
        assert!(said.iter().any(|t| t == heard), "{presses:?}: {said:?}");
        assert_eq!(notices(&host), seen, "{presses:?}: what the dialog shows");
        assert!(
            focused_class().contains("tm-add"),
            "{presses:?}: focus is on Add another, not on {:?}",
            focused_class()
        );
        drop(handle);
        host.remove();
    }
}

/// A 404 a fresh catalog contradicts (the proxy did not know the connection yet): the
/// row stays, with the proxy's answer.
#[wasm_bindgen_test]
async fn a_not_found_the_fresh_catalog_contradicts_keeps_the_row() {
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let _fetch = not_found_for_slack_1(&item);
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    click(&host, "[data-instance-id=\"Slack-1\"] .tm-toggle");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(
        texts(&host, "[data-instance-id=\"Slack-1\"] .tm-field-error"),
        vec!["no instance Slack-1"]
    );
    drop(handle);
    host.remove();
}

/// Salesforce's catalog with no connection, and with the one made elsewhere meanwhile.
fn salesforce_connected_elsewhere(force_unique: bool) -> (Catalog, Catalog) {
    let mut salesforce = integration("Salesforce", &[], &[]);
    salesforce.force_unique = force_unique;
    let before = Catalog {
        integrations: vec![salesforce],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let mut after = before.clone();
    after.integrations[0]
        .instances
        .push(instance("Salesforce-0", Status::SettingUp));
    (before, after)
}

/// Connect on an integration another tab connected meanwhile (one per user), or that
/// this page was connecting before a reload (one create of a name at a time): the proxy
/// refuses, and the widget shows the connection made. When the fresh catalog lists none
/// (still being made, say), it says the connection is under way elsewhere.
#[wasm_bindgen_test]
async fn a_connect_refused_as_under_way_elsewhere_opens_the_connection_made() {
    for (run, listed_after, force_unique) in [
        (1, true, true),
        (2, false, true),
        (3, true, false),
        (4, false, false),
    ] {
        let (before, after) = salesforce_connected_elsewhere(force_unique);
        let fresh = if listed_after { &after } else { &before };
        let fetch = FakeFetch::install(&format!(
            "if (request.method === 'POST') return new Response(
                 JSON.stringify({{ error: {{ code: 'conflict', message: 'one connection per user' }} }}),
                 {{ status: 409, headers: {{ 'Content-Type': 'application/json' }} }});
             window.__uniqueLoads{run} = (window.__uniqueLoads{run} || 0) + 1;
             return new Response(window.__uniqueLoads{run} === 1 ? {} : {},
                 {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
            json_literal(&before),
            json_literal(fresh),
        ));
        let host = container();
        let (mut handle, shadow) = mount_against_fake_fetch(&host);
        let find = |selector: &str| shadow.query_selector(selector).unwrap();
        let card_error = || {
            find(".tm-card .tm-field-error")
                .and_then(|e| e.text_content())
                .unwrap_or_default()
        };
        for _ in 0..50 {
            tick().await;
            if find(".tm-card-action").is_some() {
                break;
            }
        }
        find(".tm-card-action")
            .expect("Connect")
            .unchecked_into::<HtmlElement>()
            .click();
        for _ in 0..50 {
            tick().await;
            if find(".tm-dialog").is_some() || !card_error().is_empty() {
                break;
            }
        }
        let requests = fetch.requests();
        if listed_after {
            // Still being set up: its setup carries on, as if this Connect had made it.
            assert!(
                find(".tm-dialog .tm-setup .tm-step").is_some(),
                "the connection made elsewhere opens: {requests:?}"
            );
            assert_eq!(card_error(), "");
        } else {
            assert!(
                find(".tm-dialog").is_none(),
                "no empty dialog: {requests:?}"
            );
            // In the user's words, not the proxy's.
            assert_eq!(
                card_error(),
                "This is being set up elsewhere already. Try again in a moment."
            );
        }
        handle.unmount();
        host.remove();
    }
}

/// After a reload, the first Connect was refused as under way (the page's connect from
/// before the reload was still being made), and the catalog listed nothing new yet. The
/// next Connect looks again first: the connection made by then opens, and no second
/// one is asked for.
#[wasm_bindgen_test]
async fn a_connect_after_one_refused_as_under_way_opens_what_was_made_meanwhile() {
    let (before, after) = salesforce_connected_elsewhere(false);
    let fetch = FakeFetch::install(&format!(
        "if (request.method === 'POST') return new Response(
             JSON.stringify({{ error: {{ code: 'conflict', message: 'being created' }} }}),
             {{ status: 409, headers: {{ 'Content-Type': 'application/json' }} }});
         window.__madeLoads = (window.__madeLoads || 0) + 1;
         return new Response(window.__madeLoads <= 2 ? {} : {},
             {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&before),
        json_literal(&after),
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    widget.press(".tm-card-action");
    for _ in 0..30 {
        tick().await;
    }
    assert_eq!(
        widget.text_of(".tm-card .tm-field-error"),
        "This is being set up elsewhere already. Try again in a moment."
    );
    widget.press(".tm-card-action");
    for _ in 0..30 {
        tick().await;
    }
    let requests = fetch.requests();
    assert!(
        widget.find(".tm-dialog .tm-setup .tm-step").is_some(),
        "the connection made opens: {requests:?}"
    );
    assert_eq!(
        requests.iter().filter(|r| r.starts_with("POST")).count(),
        1,
        "{requests:?}"
    );
    widget.remove();
}

/// A slow Connect that answers while the user has another integration's dialog open
/// leaves that dialog (and what is typed in it) alone; the card offers the setup.
#[wasm_bindgen_test]
async fn a_slow_connect_does_not_take_over_another_open_dialog() {
    let slack = integration("Slack", &[], &[]);
    let hubspot = integration("HubSpot", &[], &[Status::Connected]);
    let mut made = instance("Slack-0", Status::SettingUp);
    made.solution_id = slack.solution_id.clone();
    let catalog = Catalog {
        integrations: vec![slack, hubspot],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let _fetch = FakeFetch::install(&format!(
        "if (request.method === 'POST') {{
             await new Promise((resolve) => setTimeout(resolve, 200));
             return new Response({}, {{ status: 201, headers: {{ 'Content-Type': 'application/json' }} }});
         }}
         return new Response({}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&made),
        json_literal(&catalog)
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    let (find, press) = (|s: &str| widget.find(s), |s: &str| widget.press(s));
    press("[data-solution-id=\"sol-Slack\"] .tm-card-action");
    tick().await;
    press("[data-solution-id=\"sol-HubSpot\"] .tm-card-action");
    let mut slack_card = String::new();
    for _ in 0..50 {
        tick().await;
        slack_card = find("[data-solution-id=\"sol-Slack\"] .tm-card-action")
            .and_then(|e| e.text_content())
            .unwrap_or_default();
        if slack_card == "Finish setting up" {
            break;
        }
    }
    assert_eq!(slack_card, "Finish setting up");
    let title = find(".tm-dialog h2").and_then(|e| e.text_content());
    assert_eq!(
        title.as_deref(),
        Some("HubSpot"),
        "the dialog the user opened"
    );
    widget.remove();
}

/// A signed-in GitHub connection awaiting an update.
fn awaiting_an_update() -> Integration {
    let mut item = integration("GitHub", &[], &[Status::NeedsUpdate]);
    item.instances[0]
        .auth_values
        .push(auth_value("auth", "a1", false));
    item
}

/// An instance awaiting an update whose own version had no settings: Settings would
/// offer the new version's, which Tray refuses outside an upgrade. Update has them.
#[wasm_bindgen_test]
async fn a_connection_awaiting_an_update_offers_the_new_settings_only_through_update() {
    let mut item = awaiting_an_update();
    item.config_slots.push(slot("label", "\"roadmap\""));
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    assert!(host.query_selector(".tm-settings").unwrap().is_none());
    click(&host, ".tm-update");
    tick().await;
    assert_eq!(config_field_names(&host), vec!["label"]);
    // The row's Update stays beside its form: the form's own button says what it does
    // apart, so a screen reader's list of buttons has one "Update".
    let buttons = host.query_selector_all(".tm-instance button").unwrap();
    let labels: Vec<String> = (0..buttons.length())
        .filter_map(|i| buttons.item(i)?.text_content())
        .collect();
    for label in &labels {
        let same = labels.iter().filter(|other| *other == label).count();
        assert_eq!(same, 1, "two buttons of the row say {label:?}: {labels:?}");
    }
    assert!(labels.iter().any(|l| l == "Update now"), "{labels:?}");
    drop(handle);
    host.remove();
}

/// Two rows' settings open at once: every id in the dialog is its own, so a field's
/// `aria-describedby` names its own error, not the other form's.
#[wasm_bindgen_test]
async fn two_open_settings_forms_share_no_element_id() {
    let mut item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    item.config_slots.push(slot("channel", "\"#general\""));
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    for row in ["Slack-0", "Slack-1"] {
        click(&host, &format!("[data-instance-id=\"{row}\"] .tm-settings"));
        tick().await;
    }
    assert_eq!(host.query_selector_all(".tm-config").unwrap().length(), 2);
    let with_id = host.query_selector_all("[id]").unwrap();
    let ids: Vec<String> = (0..with_id.length())
        .filter_map(|i| with_id.item(i)?.dyn_into::<Element>().ok())
        .map(|e| e.id())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    drop(handle);
    host.remove();
}

/// "Reconnect needed" with two services: the button of the one whose sign-in expires
/// says so.
#[wasm_bindgen_test]
async fn reconnect_needed_names_the_service_whose_sign_in_expires() {
    let mut item = integration("Slack", &[], &[Status::AuthExpiring]);
    item.auth_slots.push(AuthSlot {
        external_id: "jira".into(),
        title: "Jira".into(),
    });
    item.instances[0].auth_values = vec![
        auth_value("auth", "a1", false),
        auth_value("jira", "a2", true),
    ];
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    assert_eq!(
        texts(&host, ".tm-reauth .tm-authorize"),
        vec![
            "Reconnect Slack",
            "Reconnect Jira: its sign-in expires soon"
        ]
    );
    drop(handle);
    host.remove();
}

fn focused_class() -> String {
    document()
        .active_element()
        .map(|e| e.class_name())
        .unwrap_or_default()
}

/// The `aria-disabled` of the element `selector` in `host` ("" when it has none).
fn aria_disabled(host: &HtmlElement, selector: &str) -> String {
    host.query_selector(selector)
        .unwrap()
        .expect(selector)
        .get_attribute("aria-disabled")
        .unwrap_or_default()
}

/// The open rename's name field.
fn rename_field(host: &HtmlElement) -> web_sys::HtmlInputElement {
    host.query_selector(".tm-name")
        .unwrap()
        .expect("the rename field")
        .unchecked_into()
}

/// The dialog of a connected Slack, with its row's rename editor opened.
async fn rename_in_a_slack_dialog(
    host: &HtmlElement,
) -> leptos::mount::UnmountHandle<impl Mountable> {
    let item = integration("Slack", &[], &[Status::Connected]);
    let solution_id = item.solution_id.clone();
    let state = showing(&item);
    let handle = mount_dialog(host, state, solution_id, None);
    tick().await;
    click(host, ".tm-rename-open");
    tick().await;
    handle
}

#[wasm_bindgen_test]
async fn an_editor_that_opens_takes_focus() {
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    assert_eq!(focused_class(), "tm-name", "the rename field has focus");
    let field: web_sys::HtmlInputElement = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .active_element()
        .unwrap()
        .unchecked_into();
    let length = field.value().len() as u32;
    assert!(length > 0);
    assert_eq!(
        (field.selection_start(), field.selection_end()),
        (Ok(Some(0)), Ok(Some(length))),
        "the name selected: typing replaces it"
    );
    click(&host, ".tm-rename .tm-ghost");
    tick().await;
    assert!(
        focused_class().contains("tm-rename-open"),
        "Cancel returns focus to Rename, not {:?}",
        focused_class()
    );
    click(&host, ".tm-delete");
    tick().await;
    // The confirmation takes focus on its harmless choice: an Enter does not delete.
    assert!(
        focused_class().contains("tm-cancel-delete"),
        "the delete confirmation's Cancel has focus, not {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// The text of the element `host` holds with id `id`.
fn text_of_id(host: &HtmlElement, id: &str) -> String {
    host.query_selector(&format!("[id=\"{id}\"]"))
        .unwrap()
        .and_then(|e| e.text_content())
        .unwrap_or_default()
}

/// With several connections of one integration, each row's controls are labelled by its
/// own name (a screen reader says whose Delete it is), and the delete confirmation
/// describes itself by its question.
#[wasm_bindgen_test]
async fn each_rows_controls_are_named_after_its_connection() {
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    for instance in &item.instances {
        let row = format!("[data-instance-id=\"{}\"]", instance.id);
        for group in [".tm-actions", ".tm-reauth", ".tm-editor"] {
            let labelled = host
                .query_selector(&format!("{row} {group}"))
                .unwrap()
                .expect(group);
            assert_eq!(labelled.get_attribute("role").as_deref(), Some("group"));
            let label = labelled
                .get_attribute("aria-labelledby")
                .unwrap_or_default();
            assert_eq!(text_of_id(&host, &label), instance.name, "{row} {group}");
        }
    }
    let second = &item.instances[1];
    click(
        &host,
        &format!("[data-instance-id=\"{}\"] .tm-delete", second.id),
    );
    tick().await;
    let confirm = host.query_selector(".tm-confirm").unwrap().unwrap();
    let described = confirm
        .get_attribute("aria-describedby")
        .unwrap_or_default();
    let question = text_of_id(&host, &described);
    assert!(question.contains(&second.name), "{question:?}");
    drop(handle);
    host.remove();
}

/// A saved rename puts focus back on Rename, and on nothing else on its way there: a
/// screen reader would say "Disable" for a moment, and a fast Space would press it.
#[wasm_bindgen_test]
async fn a_saved_rename_moves_focus_straight_back_to_rename() {
    let renamed = Instance {
        solution_id: "sol-Slack".into(),
        name: "Team alerts".into(),
        ..instance("Slack-0", Status::Connected)
    };
    let (widget, _fetch) = slacks_dialog_in_a_widget("PATCH", &renamed).await;
    widget.press(".tm-rename-open");
    tick().await;
    let stops = Rc::new(RefCell::new(Vec::<String>::new()));
    let record = stops.clone();
    let on_focus = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::FocusEvent)>::new(
        move |event: web_sys::FocusEvent| {
            let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
            record
                .borrow_mut()
                .push(target.map(|e| e.class_name()).unwrap_or_default());
        },
    );
    widget
        .shadow
        .add_event_listener_with_callback("focusin", on_focus.as_ref().unchecked_ref())
        .unwrap();
    let save: HtmlElement = widget.find(".tm-save").expect("Save").unchecked_into();
    save.focus().unwrap();
    save.click();
    for _ in 0..10 {
        tick().await;
    }
    next_frames().await;
    let name = widget
        .find(".tm-instance-name")
        .and_then(|e| e.text_content());
    assert_eq!(name.as_deref(), Some("Team alerts"));
    let stops = stops.borrow();
    assert_eq!(
        stops.last().map(String::as_str),
        Some("tm-button tm-ghost tm-rename-open"),
        "{stops:?}"
    );
    assert!(
        stops.iter().all(|c| !c.contains("tm-toggle")),
        "focus passed through Disable: {stops:?}"
    );
    drop(stops);
    widget.remove();
}

/// Enable/Disable under way is no editor's change: the editor open meanwhile still
/// closes on Cancel.
#[wasm_bindgen_test]
async fn an_editor_still_closes_while_a_toggle_is_under_way() {
    // The proxy never answers: the toggle stays under way.
    let _fetch = FakeFetch::install("return new Promise(() => {});");
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    press(&host, ".tm-toggle");
    tick().await;
    assert_eq!(aria_disabled(&host, ".tm-rename .tm-ghost"), "false");
    click(&host, ".tm-rename .tm-ghost");
    tick().await;
    assert!(
        host.query_selector(".tm-rename").unwrap().is_none(),
        "closed"
    );
    drop(handle);
    host.remove();
}

/// Lets a fake request held back with `window.__answer` be answered, and the widget
/// show its outcome.
async fn answer_the_held_request() {
    js_sys::Function::new_no_args("window.__answer()")
        .call0(&JsValue::NULL)
        .unwrap();
    for _ in 0..10 {
        tick().await;
    }
}

/// Whether a keydown has reached an element (kept listening while this lives).
struct KeydownWatch {
    seen: Rc<Cell<bool>>,
    _listener: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

impl KeydownWatch {
    fn on(host: &HtmlElement, selector: &str) -> KeydownWatch {
        let seen = Rc::new(Cell::new(false));
        let noticed = seen.clone();
        let listener =
            wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || noticed.set(true));
        host.query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector}"))
            .add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref())
            .unwrap();
        KeydownWatch {
            seen,
            _listener: listener,
        }
    }

    fn seen(&self) -> bool {
        self.seen.get()
    }
}

/// A press of Escape, as a keyboard makes it (it bubbles, and may be cancelled).
fn escape_key() -> web_sys::KeyboardEvent {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    init.set_cancelable(true);
    web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap()
}

/// A confirmed deletion cannot be called back: while it is under way, Cancel and Escape
/// leave the confirmation where it is (Cancel is marked unavailable), rather than look
/// as if they had undone it.
#[wasm_bindgen_test]
async fn a_deletion_under_way_is_not_cancelled_by_cancel_or_escape() {
    // The proxy never answers: the deletion stays under way.
    let _fetch = FakeFetch::install("return new Promise(() => {});");
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    click(&host, ".tm-delete");
    tick().await;
    click(&host, ".tm-confirm-delete");
    tick().await;
    let cancel = host.query_selector(".tm-cancel-delete").unwrap().unwrap();
    assert_eq!(
        cancel.get_attribute("aria-disabled").as_deref(),
        Some("true")
    );
    click(&host, ".tm-cancel-delete");
    cancel.dispatch_event(&escape_key()).unwrap();
    tick().await;
    assert!(
        host.query_selector(".tm-confirm").unwrap().is_some(),
        "the confirmation stays while the deletion is under way"
    );
    drop(handle);
    host.remove();
}

/// A rename under way keeps its editor (it cannot be called back), but Escape still
/// closes the dialog, as × does: the keyboard has the same way out as the mouse. The
/// rename's outcome is then heard by the connection's name.
#[wasm_bindgen_test]
async fn escape_closes_the_dialog_while_a_rename_saves() {
    let catalog = Catalog {
        integrations: vec![integration("Slack", &[], &[Status::Connected])],
        dialog_origin: DIALOG_ORIGIN.into(),
    };
    let renamed = Instance {
        name: "Team alerts".into(),
        solution_id: "sol-Slack".into(),
        ..instance("Slack-0", Status::Connected)
    };
    // The rename is answered once the test says so.
    let _fetch = FakeFetch::install(&format!(
        "const json = {{ headers: {{ 'Content-Type': 'application/json' }} }};
         if (request.method === 'PATCH') {{
             await new Promise((resolve) => {{ window.__answer = resolve; }});
             return new Response({}, {{ status: 200, ...json }});
         }}
         return new Response({}, {{ status: 200, ...json }});",
        json_literal(&renamed),
        json_literal(&catalog)
    ));
    let widget = MountedWidget::showing_its_catalog().await;
    widget.press(".tm-card-action");
    tick().await;
    widget.press("[data-instance-id=\"Slack-0\"] .tm-rename-open");
    tick().await;
    let field: web_sys::HtmlInputElement =
        widget.find(".tm-name").expect("the field").unchecked_into();
    field.set_value("Team alerts");
    widget.press(".tm-rename .tm-save");
    tick().await;
    field.dispatch_event(&escape_key()).unwrap();
    tick().await;
    assert!(widget.find(".tm-dialog").is_none(), "the dialog closed");
    answer_the_held_request().await;
    assert_eq!(widget.text_of(".tm-sr[role=status]"), "Team alerts updated");
    widget.remove();
}

#[wasm_bindgen_test]
async fn escape_in_an_editor_closes_the_editor_and_returns_to_its_button() {
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let field = host.query_selector(".tm-name").unwrap().unwrap();
    let error = host
        .query_selector(".tm-rename .tm-field-error")
        .unwrap()
        .unwrap();
    assert_eq!(
        field.get_attribute("aria-describedby"),
        Some(error.id()),
        "the rename field names its error message"
    );
    // The dialog closes on an Escape that reaches it: this one must not.
    let dialog_keys = KeydownWatch::on(&host, ".tm-dialog");
    field.dispatch_event(&escape_key()).unwrap();
    tick().await;
    assert!(
        host.query_selector(".tm-rename").unwrap().is_none(),
        "the editor closed"
    );
    assert!(!dialog_keys.seen(), "the dialog around it stays open");
    assert!(
        focused_class().contains("tm-rename-open"),
        "focus is back on Rename, not {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
fn the_same_announcement_twice_is_still_a_change_for_screen_readers() {
    let host = container();
    let owner = Owner::new();
    owner.with(|| {
        let ctx = test_ctx(&host, CatalogState::Loading);
        ctx.announce("Slack updated".into());
        let first = ctx.announcement.get_untracked();
        ctx.announce("Slack updated".into());
        let second = ctx.announcement.get_untracked();
        assert_ne!(first, second, "an unchanged live region is not read again");
        assert_eq!(second.trim_end_matches('\u{200b}'), "Slack updated");
        ctx.announce("Slack updated".into());
        assert_eq!(ctx.announcement.get_untracked(), "Slack updated");
    });
    host.remove();
}

/// Whether focus is on `class` in the row of instance `id`.
fn focus_is_in_row(id: &str, class: &str) -> bool {
    document().active_element().is_some_and(|e| {
        e.class_list().contains(class)
            && e.closest(".tm-instance")
                .ok()
                .flatten()
                .and_then(|row| row.get_attribute("data-instance-id"))
                .as_deref()
                == Some(id)
    })
}

#[wasm_bindgen_test]
async fn a_rename_is_sent_once_then_focus_returns_to_rename_and_the_new_name_is_heard() {
    let mut renamed = instance("Slack-0", Status::Connected);
    renamed.solution_id = "sol-Slack".into();
    renamed.name = "Renamed".into();
    // Answered only when the test says so: meanwhile the save is under way.
    let fetch = FakeFetch::install(&format!(
        "await new Promise((resolve) => window.__answer = resolve);
         return new Response({}, {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }});",
        json_literal(&renamed)
    ));
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let field = host.query_selector(".tm-name").unwrap().unwrap();
    js_sys::Reflect::set(&field, &"value".into(), &"Renamed".into()).unwrap();
    click(&host, ".tm-save");
    tick().await;
    click(&host, ".tm-save");
    tick().await;
    let save = host.query_selector(".tm-save").unwrap().unwrap();
    assert_eq!(
        save.get_attribute("aria-disabled").as_deref(),
        Some("true"),
        "Save says it is busy"
    );
    assert_eq!(
        fetch.requests(),
        vec!["PATCH /api/v1/instances/Slack-0"],
        "the second press sent nothing"
    );
    answer_the_held_request().await;
    next_frames().await;
    assert!(
        focus_is_in_row("Slack-0", "tm-rename-open"),
        "focus is back on Rename, not on {:?}",
        focused_class()
    );
    let heard = texts(&host, ".tm-dialog .tm-sr");
    assert!(
        heard.iter().any(|t| t.contains("Renamed")),
        "the rename is heard by the new name: {heard:?}"
    );
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn after_a_deletion_focus_goes_to_add_another_not_to_another_rows_toggle() {
    let _fetch = FakeFetch::install("return new Response(null, { status: 204 });");
    let host = container();
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let solution_id = item.solution_id.clone();
    let state = showing(&item);
    let handle = mount_dialog(&host, state, solution_id, None);
    tick().await;
    click(&host, "[data-instance-id=\"Slack-1\"] .tm-delete");
    tick().await;
    click(&host, ".tm-confirm-delete");
    for _ in 0..10 {
        tick().await;
    }
    next_frames().await;
    assert!(!has_row(&host, "Slack-1"), "the row is gone");
    assert!(
        focused_class().contains("tm-add"),
        "focus is on Add another, not on {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// Two connected Slack rows in their dialog, the first row's Disable pressed and on its
/// way until [`answer_the_disable`].
async fn disable_on_cue(
    host: &HtmlElement,
) -> (FakeFetch, leptos::mount::UnmountHandle<impl Mountable>) {
    let fetch = FakeFetch::install(&format!(
        "return new Promise((resolve) => window.__answer = () => resolve(new Response({},
             {{ status: 200, headers: {{ 'Content-Type': 'application/json' }} }})));",
        json_literal(&disabled_slack())
    ));
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let handle = mount_dialog(host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    press(host, "[data-instance-id=\"Slack-0\"] .tm-toggle");
    tick().await;
    (fetch, handle)
}

async fn answer_the_disable(host: &HtmlElement) {
    run_js("window.__answer()");
    for _ in 0..10 {
        tick().await;
    }
    next_frames().await;
    assert_eq!(
        texts(host, "[data-instance-id=\"Slack-0\"] .tm-toggle"),
        vec!["Enable"],
        "answered"
    );
}

/// Moved on to another row while a Disable was on its way: its answer leaves focus
/// there. Taken back to the Enable button, the Enter meant for the other row's rename
/// would enable this connection again.
#[wasm_bindgen_test]
async fn a_change_answered_after_the_user_moved_to_another_row_leaves_focus_there() {
    let host = container();
    let (_fetch, handle) = disable_on_cue(&host).await;
    type_a_new_name(&host, "Slack-1", "Team alerts").await;
    answer_the_disable(&host).await;
    assert!(
        focus_is_in_row("Slack-1", "tm-name"),
        "focus stayed in the other row's rename, not on {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// The same within the row: moved on to its sign-in button, the user stays there.
#[wasm_bindgen_test]
async fn a_change_answered_after_the_user_moved_on_in_its_row_leaves_focus_there() {
    let host = container();
    let (_fetch, handle) = disable_on_cue(&host).await;
    let sign_in: HtmlElement = host
        .query_selector("[data-instance-id=\"Slack-0\"] .tm-reauth button")
        .unwrap()
        .expect("the row's sign-in")
        .unchecked_into();
    sign_in.focus().unwrap();
    answer_the_disable(&host).await;
    let focused = document().active_element();
    assert_eq!(
        focused.as_ref(),
        Some(sign_in.unchecked_ref()),
        "focus stayed on the sign-in, not on {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// The rename of row `instance_id` is still open, holding `typed`, with focus in it.
fn assert_the_rename_stays(host: &HtmlElement, instance_id: &str, typed: &str) {
    assert_eq!(
        field_value(
            host,
            &format!("[data-instance-id=\"{instance_id}\"] .tm-name")
        ),
        typed,
        "the rename and what was typed stay"
    );
    assert_eq!(focused_class(), "tm-name", "focus stays in the rename");
}

/// Opens the rename of row `instance_id` and types `name`, unsaved.
async fn type_a_new_name(host: &HtmlElement, instance_id: &str, name: &str) {
    click(
        host,
        &format!("[data-instance-id=\"{instance_id}\"] .tm-rename-open"),
    );
    tick().await;
    let field: web_sys::HtmlInputElement = host
        .query_selector(&format!("[data-instance-id=\"{instance_id}\"] .tm-name"))
        .unwrap()
        .expect("the rename field")
        .unchecked_into();
    field.set_value(name);
}

/// Delete one connection, then rename another while the deletion is answered: the rename
/// and what was typed stay, and so does focus (an Enter then saves the name; it used to
/// land on Add another and make a new connection).
#[wasm_bindgen_test]
async fn a_deletion_answered_while_another_row_is_renamed_leaves_that_rename_alone() {
    let _fetch = FakeFetch::install(
        "await new Promise(r => setTimeout(r, 30)); return new Response(null, { status: 204 });",
    );
    let host = container();
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    click(&host, "[data-instance-id=\"Slack-0\"] .tm-delete");
    tick().await;
    click(&host, ".tm-confirm-delete");
    tick().await;
    type_a_new_name(&host, "Slack-1", "Marketing alerts").await;
    for _ in 0..200 {
        tick().await;
        if !has_row(&host, "Slack-0") {
            break;
        }
    }
    next_frames().await;
    assert!(!has_row(&host, "Slack-0"), "the deleted row is gone");
    assert_the_rename_stays(&host, "Slack-1", "Marketing alerts");
    drop(handle);
    host.remove();
}

/// A connection made elsewhere, listed by a fresh catalog while the dialog is open, joins
/// the list; the rows already there are not redrawn, so a rename open in one keeps what
/// was typed (it used to be closed and lost).
#[wasm_bindgen_test]
async fn a_connection_listed_meanwhile_joins_the_list_and_leaves_a_rename_alone() {
    let host = container();
    let item = integration("Slack", &[], &[Status::Connected, Status::Connected]);
    let state = showing(&item);
    let handle = mount_dialog(&host, state, item.solution_id.clone(), None);
    tick().await;
    type_a_new_name(&host, "Slack-1", "Marketing alerts").await;
    let more = integration(
        "Slack",
        &[],
        &[Status::Connected, Status::Connected, Status::Connected],
    );
    state.set(CatalogState::Loaded(Catalog {
        integrations: vec![more],
        dialog_origin: DIALOG_ORIGIN.into(),
    }));
    tick().await;
    next_frames().await;
    assert!(has_row(&host, "Slack-2"), "the new connection is listed");
    assert!(has_row(&host, "Slack-0") && has_row(&host, "Slack-1"));
    assert_the_rename_stays(&host, "Slack-1", "Marketing alerts");
    drop(handle);
    host.remove();
}

/// A tab pasted into a name (which the proxy would refuse, in English) is sent as a
/// space; an invisible bidi override is dropped.
#[wasm_bindgen_test]
async fn a_name_is_sent_without_control_characters() {
    let _fetch = FakeFetch::install(
        "if (request.method === 'PATCH') window.__body = await request.text();
         return new Response(null, { status: 503 });",
    );
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let field = rename_field(&host);
    field.set_value("Sales\tTeam\u{202e}");
    click(&host, ".tm-rename .tm-save");
    for _ in 0..10 {
        tick().await;
    }
    let body = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__body".into())
        .unwrap()
        .as_string()
        .unwrap_or_default();
    assert_eq!(body, r#"{"name":"Sales Team"}"#);
    drop(handle);
    host.remove();
}

/// While a rename is saved, the row's other editors stay shut (said by
/// `aria-disabled`): the rename and what was typed in it stay, should it be refused.
#[wasm_bindgen_test]
async fn no_other_editor_opens_while_a_rename_is_saved() {
    let _fetch = FakeFetch::install("return new Promise(() => {});");
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    rename_field(&host).set_value("Sales team");
    click(&host, ".tm-rename .tm-save");
    tick().await;
    assert_eq!(aria_disabled(&host, ".tm-delete"), "true");
    click(&host, ".tm-delete");
    tick().await;
    assert!(
        host.query_selector(".tm-confirm-delete").unwrap().is_none(),
        "no delete confirmation over the rename"
    );
    assert_eq!(rename_field(&host).value(), "Sales team");
    drop(handle);
    host.remove();
}

/// Update too says it is shut while a rename of its row is saved: pressed, it did
/// nothing and said nothing.
#[wasm_bindgen_test]
async fn update_says_it_waits_while_a_rename_is_saved() {
    let _fetch = FakeFetch::install("return new Promise(() => {});");
    let item = awaiting_an_update();
    let host = container();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    assert_eq!(aria_disabled(&host, ".tm-update"), "false");
    click(&host, ".tm-rename-open");
    tick().await;
    rename_field(&host).set_value("Roadmap");
    click(&host, ".tm-rename .tm-save");
    tick().await;
    assert_eq!(aria_disabled(&host, ".tm-update"), "true");
    drop(handle);
    host.remove();
}

/// A name written right to left keeps its punctuation at its own end (on the left),
/// in its row and inside the English sentence of its delete confirmation, instead of
/// the "!" jumping to the right as the sentence around it runs left to right.
#[wasm_bindgen_test]
async fn a_name_written_right_to_left_keeps_its_punctuation_on_its_side() {
    let host = container();
    let mut item = integration("Slack", &[], &[Status::Connected]);
    item.instances[0].name = "إشعارات سلاك!".into();
    let solution_id = item.solution_id.clone();
    let handle = mount_dialog(&host, showing(&item), solution_id, None);
    tick().await;
    click(&host, ".tm-delete");
    tick().await;
    // Where the "!" and the name's first letter are drawn.
    let bang_is_left_of_the_name = js_sys::Function::new_with_args(
        "element",
        "const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
         const at = (text, index) => {
             const range = document.createRange();
             range.setStart(text, index);
             range.setEnd(text, index + 1);
             return range.getBoundingClientRect().left;
         };
         let bang, first;
         for (let text = walker.nextNode(); text; text = walker.nextNode()) {
             const value = text.nodeValue;
             if (value.includes('!')) bang = at(text, value.indexOf('!'));
             if (value.includes('إ')) first = at(text, value.indexOf('إ'));
         }
         return bang < first;",
    );
    let reads_right = |host: &HtmlElement, selector: &str| {
        let element = host.query_selector(selector).unwrap().expect(selector);
        let left = bang_is_left_of_the_name
            .call1(&JsValue::NULL, &element)
            .unwrap();
        assert_eq!(left.as_bool(), Some(true), "{selector}");
    };
    reads_right(&host, ".tm-confirm p");
    reads_right(&host, ".tm-instance-name");
    drop(handle);
    host.remove();
    // A setup names its connection among several: that name too.
    let host = container();
    item.instances.push(instance("Slack-1", Status::Connected));
    let solution_id = item.solution_id.clone();
    let handle = mount_dialog(&host, showing(&item), solution_id, Some("Slack-0"));
    tick().await;
    reads_right(&host, ".tm-setup-name");
    drop(handle);
    host.remove();
}

/// A rename refused for a blank name (spaces and characters no one sees: a zero-width
/// space, a Hangul filler), cancelled and opened again, starts clean.
#[wasm_bindgen_test]
async fn a_rename_opened_again_does_not_show_the_last_ones_complaint() {
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let field = rename_field(&host);
    field.set_value(" \u{200b}\u{3164} ");
    click(&host, ".tm-rename .tm-save");
    tick().await;
    assert_eq!(
        texts(&host, ".tm-rename .tm-field-error"),
        ["Enter a name."]
    );
    click(&host, ".tm-rename .tm-ghost");
    tick().await;
    click(&host, ".tm-rename-open");
    tick().await;
    assert_eq!(texts(&host, ".tm-rename .tm-field-error"), [""]);
    let field = host.query_selector(".tm-name").unwrap().unwrap();
    assert_eq!(
        field.get_attribute("aria-invalid").as_deref(),
        Some("false")
    );
    drop(handle);
    host.remove();
}

/// A setup never finished that a new version awaits: its row offers the Update (then
/// Finish setting up), not an Enable Tray would refuse for the values its own version
/// still misses. One set up before (its settings saved) and switched off offers Enable,
/// unless a service is still to be signed in to (its sign-in comes first).
#[wasm_bindgen_test]
async fn an_unfinished_setup_a_new_version_awaits_offers_the_update_not_enable() {
    for (confirmed, signed_in, offered) in [
        (false, true, "tm-update"),
        (true, true, "tm-toggle"),
        (true, false, "tm-authorize"),
    ] {
        let mut item = integration("Slack", &[], &[Status::NeedsUpdate]);
        item.instances[0].settings_confirmed = confirmed;
        // Signed in to every service: the Update itself is offered.
        if signed_in {
            item.instances[0].auth_values = item
                .auth_slots
                .iter()
                .map(|slot| auth_value(&slot.external_id, "a-1", false))
                .collect();
        }
        let host = container();
        let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
        tick().await;
        let offers = |class: &str| {
            host.query_selector(&format!(".tm-instance .{class}"))
                .unwrap()
                .is_some()
        };
        let case = format!("confirmed {confirmed}, signed in {signed_in}");
        assert!(offers(offered), "{case}: {offered}");
        assert!(!offers("tm-resume"), "{case}: no Finish setting up");
        if !confirmed || !signed_in {
            assert!(!offers("tm-toggle"), "{case}: no Enable Tray would refuse");
        }
        drop(handle);
        host.remove();
    }
}

#[wasm_bindgen_test]
async fn all_connections_puts_focus_on_the_row_of_the_connection_being_set_up() {
    let host = container();
    let (item, state) = awaiting_enable();
    let handle = mount_dialog(&host, state, item.solution_id.clone(), Some("Slack-0"));
    tick().await;
    click(&host, ".tm-show-all");
    tick().await;
    next_frames().await;
    assert!(
        focus_is_in_row("Slack-0", "tm-rename-open"),
        "focus is on its row, not on {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// A Slack connection still on the version before "region" was added: it holds a value
/// for its own "channel" only.
fn slack_on_an_older_version(status: Status) -> Integration {
    let mut item = integration("Slack", &[], &[status]);
    item.config_slots = vec![slot("channel", "\"general\""), slot("region", "\"eu\"")];
    item.instances[0].config_values = vec![ConfigValue {
        external_id: "channel".into(),
        value: Some("\"sales\"".into()),
    }];
    item
}

/// The names of the fields of the open settings form.
fn config_field_names(host: &HtmlElement) -> Vec<String> {
    let inputs = host.query_selector_all(".tm-config input").unwrap();
    (0..inputs.length())
        .filter_map(|i| inputs.item(i)?.dyn_into::<Element>().ok())
        .filter_map(|e| e.get_attribute("name"))
        .collect()
}

#[wasm_bindgen_test]
async fn settings_of_a_connection_awaiting_an_update_show_only_its_own_versions() {
    let host = container();
    let mut item = slack_on_an_older_version(Status::NeedsUpdate);
    item.instances[0].auth_values = vec![auth_value("auth", "a-1", false)];
    let solution_id = item.solution_id.clone();
    let state = showing(&item);
    let handle = mount_dialog(&host, state, solution_id, None);
    tick().await;
    click(&host, ".tm-settings");
    tick().await;
    assert_eq!(
        config_field_names(&host),
        vec!["channel"],
        "Settings: the current version's"
    );
    click(&host, ".tm-config .tm-ghost");
    tick().await;
    click(&host, ".tm-update");
    tick().await;
    assert_eq!(
        config_field_names(&host),
        vec!["channel", "region"],
        "Update: the new version's"
    );
    drop(handle);
    host.remove();
}

/// What the proxy answers to disabling the Slack of `rename_in_a_slack_dialog`.
fn disabled_slack() -> Instance {
    Instance {
        solution_id: "sol-Slack".into(),
        ..instance("Slack-0", Status::Disabled)
    }
}

/// Focuses the button matching `selector` in `root`, then clicks it: a user's press.
fn press(root: &HtmlElement, selector: &str) {
    let button: HtmlElement = root
        .query_selector(selector)
        .unwrap()
        .expect(selector)
        .unchecked_into();
    button.focus().unwrap();
    button.click();
}

/// Back in the rename editor while Disable is on its way: its answer leaves focus there.
#[wasm_bindgen_test]
async fn typing_in_an_editor_while_a_toggle_is_answered_keeps_focus_in_the_editor() {
    let _fetch = FakeFetch::answering(&disabled_slack());
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    press(&host, ".tm-toggle");
    let field: HtmlElement = host
        .query_selector(".tm-rename .tm-name")
        .unwrap()
        .unwrap()
        .unchecked_into();
    field.focus().unwrap();
    for _ in 0..10 {
        tick().await;
    }
    next_frames().await;
    assert_eq!(texts(&host, ".tm-toggle"), vec!["Enable"], "answered");
    assert!(
        focused_class().contains("tm-name"),
        "focus stayed in the editor, not on {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// Disable leaves the row's sign-in buttons as they are: a sign-in under way in one (its
/// popup watched by that button) goes on.
#[wasm_bindgen_test]
async fn disabling_a_connection_leaves_its_sign_in_buttons_alone() {
    let _fetch = FakeFetch::answering(&disabled_slack());
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let sign_in = host.query_selector(".tm-reauth button").unwrap().unwrap();
    press(&host, ".tm-toggle");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(texts(&host, ".tm-toggle"), vec!["Enable"], "answered");
    assert!(sign_in.is_connected(), "the same button, not a new one");
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn a_toggle_pressed_with_an_editor_open_keeps_focus_on_the_toggle() {
    let _fetch = FakeFetch::answering(&disabled_slack());
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    // Pressed as a user does: the press focuses it.
    press(&host, ".tm-toggle");
    for _ in 0..10 {
        tick().await;
    }
    next_frames().await;
    assert!(
        focus_is_in_row("Slack-0", "tm-toggle"),
        "focus is on the toggle, not on {:?}",
        focused_class()
    );
    drop(handle);
    host.remove();
}

/// The value of the control matching `selector` in `host`.
fn field_value(host: &HtmlElement, selector: &str) -> String {
    let field = host.query_selector(selector).unwrap().expect(selector);
    js_sys::Reflect::get(&field, &"value".into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

/// Disable says what the connection is now, not only that it changed; the host hears
/// `updated`.
#[wasm_bindgen_test]
async fn disabling_a_connection_is_heard_as_disabled() {
    let _fetch = FakeFetch::answering(&disabled_slack());
    let host = container();
    let item = integration("Slack", &[], &[Status::Connected]);
    let events = Rc::new(RefCell::new(0));
    let counter = events.clone();
    let on_updated = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        *counter.borrow_mut() += 1;
    });
    host.add_event_listener_with_callback(
        "tray-marketplace:updated",
        on_updated.as_ref().unchecked_ref(),
    )
    .unwrap();
    let handle = mount_dialog(&host, showing(&item), item.solution_id.clone(), None);
    tick().await;
    click(&host, ".tm-toggle");
    for _ in 0..10 {
        tick().await;
    }
    let heard = texts(&host, ".tm-dialog .tm-sr");
    assert!(
        heard
            .iter()
            .any(|t| t.trim_end_matches('\u{200b}') == "Slack-0 disabled"),
        "{heard:?}"
    );
    assert_eq!(*events.borrow(), 1, "the host heard `updated`");
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn disabling_a_connection_keeps_its_open_editor_and_what_was_typed() {
    let _fetch = FakeFetch::answering(&disabled_slack());
    let host = container();
    let handle = rename_in_a_slack_dialog(&host).await;
    let field = host.query_selector(".tm-name").unwrap().unwrap();
    js_sys::Reflect::set(&field, &"value".into(), &"Team alerts".into()).unwrap();
    click(&host, ".tm-toggle");
    for _ in 0..10 {
        tick().await;
    }
    assert_eq!(
        texts(&host, ".tm-badge"),
        vec!["Disabled"],
        "the change shows"
    );
    assert_eq!(texts(&host, ".tm-toggle"), vec!["Enable"]);
    assert_eq!(
        field_value(&host, ".tm-rename .tm-name"),
        "Team alerts",
        "the rename the user was typing is still there"
    );
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn a_refresh_of_a_connection_keeps_the_settings_being_edited_in_its_row() {
    let mut item = integration("Slack", &[], &[Status::Connected]);
    item.config_slots.push(slot("channel", "\"#general\""));
    let state = showing(&item);
    let host = container();
    let handle = mount_dialog(&host, state, item.solution_id.clone(), None);
    tick().await;
    click(&host, ".tm-settings");
    tick().await;
    let field = host.query_selector(".tm-config input").unwrap().unwrap();
    js_sys::Reflect::set(&field, &"value".into(), &"#alerts".into()).unwrap();
    // Its sign-in starts to expire (the catalog fetched again, another tab...).
    let mut changed = item.clone();
    changed.instances[0].status = Status::AuthExpiring;
    state.set(CatalogState::Loaded(Catalog {
        integrations: vec![changed],
        dialog_origin: DIALOG_ORIGIN.into(),
    }));
    tick().await;
    assert_eq!(texts(&host, ".tm-badge"), vec!["Reconnect needed"]);
    assert_eq!(field_value(&host, ".tm-config input"), "#alerts");
    drop(handle);
    host.remove();
}

#[wasm_bindgen_test]
async fn settings_show_the_instances_own_settings_whatever_its_status() {
    let host = container();
    // Awaiting an update and with an expiring sign-in: the badge says the latter.
    let item = slack_on_an_older_version(Status::AuthExpiring);
    let solution_id = item.solution_id.clone();
    let state = showing(&item);
    let handle = mount_dialog(&host, state, solution_id, None);
    tick().await;
    click(&host, ".tm-settings");
    tick().await;
    assert_eq!(config_field_names(&host), vec!["channel"]);
    // The first setting takes focus, its value unselected: a keystroke edits it.
    let field: web_sys::HtmlInputElement = document()
        .active_element()
        .expect("a focused element")
        .unchecked_into();
    assert_eq!(field.name(), "channel", "the first setting has focus");
    let length = field.value().len() as u32;
    assert!(length > 0, "the field shows the connection's channel");
    assert_eq!(
        (field.selection_start(), field.selection_end()),
        (Ok(Some(length)), Ok(Some(length))),
        "the channel opens unselected, the caret after it"
    );
    drop(handle);
    host.remove();
}
