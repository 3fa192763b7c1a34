//! Tags' reasons, worked out when asked: the store keeps each session's tag names only, and
//! `/v1/sessions/{id}`, `explain=true` and the finder's cards explain them from the stored
//! item with the rules in force.

use std::sync::Arc;

use axum::http::StatusCode;
use oa_normalise::{OpenActiveNormaliser, TagRules};
use oa_store::{DiscoveredFeed, SqliteStore, Store};
use serde_json::Value;

mod support;

const FEED: &str = "https://publisher.example/feeds/events";
const WINDOW: &str = "lat=53.759&lng=-2.699&from=2030-01-01&to=2030-01-20";

/// A store holding one advanced session that says beginners are welcome (structured
/// evidence withholds `beginner_friendly`), with tea and a chat (`social`) at £2.50
/// (`low_cost` under the shipped £3.00).
async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("explain.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    let item = r#"{"id":"e1","kind":"Event","state":"updated","modified":1,"data":{
        "@type":"Event","@id":"https://publisher.example/events/e1","name":"Club Badminton",
        "description":"<p>Beginners welcome! Tea and a chat afterwards.</p>","level":["Advanced"],
        "startDate":"2030-01-08T10:00:00Z","duration":"PT1H",
        "offers":[{"price":2.5,"priceCurrency":"GBP"}],
        "activity":[{"prefLabel":"Badminton"}],
        "location":{"name":"Hall","geo":{"latitude":53.76,"longitude":-2.699}}}}"#;
    let feed = DiscoveredFeed {
        url: FEED.into(),
        kind: Some("Event".into()),
        publisher: None,
        dataset_site: None,
    };
    let next = format!("{FEED}?afterChangeNumber=1");
    support::apply_items(store.as_ref(), feed, &[item.to_owned()], &next).await;
    (store, dir)
}

async fn json(app: &axum::Router, uri: &str) -> Value {
    let (status, body) = support::get_text(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).expect("json")
}

fn tag<'a>(tags: &'a Value, name: &str) -> &'a Value {
    tags.as_array()
        .and_then(|tags| tags.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no tag {name} in {tags}"))
}

async fn session_id(app: &axum::Router) -> String {
    let list = json(app, &format!("/v1/sessions?{WINDOW}")).await;
    list["items"][0]["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn the_store_keeps_tag_names_and_every_view_explains_them() {
    let (store, _dir) = store().await;
    let dump = store.dump().await.expect("dump");
    let doc: Value = serde_json::from_str(&dump.opportunities[0].2).expect("stored document");
    assert_eq!(
        doc["tags"],
        serde_json::json!(["social", "low_cost"]),
        "stored by name: {doc}"
    );
    assert!(doc.get("withheld_tags").is_none(), "{doc}");

    let app = oa_api::router(store);
    let id = session_id(&app).await;
    let detail = json(&app, &format!("/v1/sessions/{id}")).await;
    let social = tag(&detail["tags"], "social");
    assert_eq!(social["reasons"][0]["evidence"], "text", "{detail}");
    assert_eq!(social["reasons"][0]["field"], "description", "{detail}");
    let low_cost = tag(&detail["tags"], "low_cost");
    assert_eq!(low_cost["reasons"][0]["field"], "offers", "{detail}");
    let withheld = tag(&detail["withheld_tags"], "beginner_friendly");
    let fields: Vec<&Value> = withheld["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| &r["field"])
        .collect();
    assert!(
        fields.contains(&&Value::from("level")),
        "the level that withholds it: {detail}"
    );

    let explained = json(&app, &format!("/v1/sessions?{WINDOW}&explain=true")).await;
    let item = &explained["items"][0];
    assert_eq!(tag(&item["tags"], "social"), social, "{explained}");
    assert!(item["withheld_tags"].is_array(), "{explained}");
    let brief = json(&app, &format!("/v1/sessions?{WINDOW}")).await;
    assert_eq!(
        brief["items"][0]["tags"],
        serde_json::json!(["social", "low_cost"])
    );

    let (status, finder) = support::get_text(&app, &format!("/?{WINDOW}")).await;
    assert_eq!(status, StatusCode::OK, "{finder}");
    assert!(
        finder.contains("the listing says"),
        "the card says why it is social: {finder}"
    );
}

#[tokio::test]
async fn a_tag_the_rules_in_force_no_longer_give_stays_with_a_note_until_renormalised() {
    let (store, _dir) = store().await;
    let mut state = oa_api::AppState::new(store);
    let lowered =
        oa_normalise::tags::DEFAULT_RULES.replace("low_cost_max = 3.00", "low_cost_max = 2.00");
    state.normaliser = Arc::new(
        OpenActiveNormaliser::default().with_rules(TagRules::from_toml(&lowered).expect("rules")),
    );
    let app = oa_api::router_with(state);
    let id = session_id(&app).await;
    let detail = json(&app, &format!("/v1/sessions/{id}")).await;
    let low_cost = tag(&detail["tags"], "low_cost");
    let note = low_cost["reasons"][0]["note"].as_str().unwrap_or_default();
    assert!(note.contains("renormalise"), "{detail}");
    assert_eq!(
        tag(&detail["tags"], "social")["reasons"][0]["field"],
        "description"
    );
}
