//! Normalising real publishers' items (fixtures/samples) and hand-made edge cases.

use super::*;
use oa_geo::Point;
use oa_model::{EventStatus, OpportunityKind, rpde::parse_page};
use serde_json::json;

macro_rules! sample {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/samples/",
            $file
        ))
    };
}

/// An RPDE item fixture's (kind, data).
fn item(json: &str) -> (String, Value) {
    let mut item: Value = serde_json::from_str(json).expect("fixture is JSON");
    let kind = item["kind"].as_str().unwrap_or_default().to_owned();
    (kind, item["data"].take())
}

fn only(normalised: Normalised) -> Opportunity {
    match normalised {
        Normalised::Opportunities(mut found) if found.len() == 1 => found.remove(0),
        other => panic!("expected one opportunity, got {other:?}"),
    }
}

#[test]
fn playwaze_session_inherits_place_price_and_activity_from_its_series() {
    let (kind, session) = item(sample!("playwaze-scheduledsession.json"));
    let (_, series) = item(sample!("playwaze-sessionseries.json"));
    assert_eq!(normalise(&kind, &session, None), Normalised::AwaitingParent);
    let found = only(normalise(&kind, &session, Some(&series)));
    assert_eq!(found.kind, OpportunityKind::Session);
    assert_eq!(
        found.series_id.as_deref(),
        Some("https://playwaze.com/SessionSeries/jifgh8dinma")
    );
    assert_eq!(found.start.to_rfc3339(), "2019-11-28T19:00:00+00:00");
    assert!(found.point().is_some(), "geo comes from the series");
    assert_eq!(found.price.min, Some(0.0));
    // The session names its own activity, which wins over the series' "General".
    assert_eq!(found.activities[0].label, "Badminton");
    // The series' own @id and url never overwrite the session's.
    assert_eq!(
        found.data_id.as_deref(),
        Some("https://playwaze.com/SessionSeries/jifgh8dinma/ScheduledSession/bzncxfzk8oe")
    );
}

#[test]
fn legend_slot_with_type_and_id_without_at_inherits_from_its_facility_use() {
    let (kind, slot) = item(sample!("legend-slot.json"));
    let (_, facility) = item(sample!("legend-facilityuse.json"));
    let found = only(normalise(&kind, &slot, Some(&facility)));
    assert_eq!(found.kind, OpportunityKind::FacilitySlot);
    assert_eq!(found.start.to_rfc3339(), "2020-06-25T09:20:00+00:00");
    assert_eq!(found.price.min, Some(6.1));
    assert_eq!(found.price.currency.as_deref(), Some("GBP"));
    assert!(
        found.organizer.and_then(|o| o.name).is_some(),
        "provider becomes the organizer"
    );
    assert!(found.location.is_some());
}

#[test]
fn teamup_event_with_embedded_super_event_and_price_as_string() {
    let (kind, event) = item(sample!("teamup-event-with-superevent.json"));
    let found = only(normalise(&kind, &event, None));
    assert_eq!(found.kind, OpportunityKind::Event);
    assert_eq!(found.price.min, Some(5.0));
    assert_eq!(found.duration_minutes, Some(60));
    assert_eq!(
        found.location.and_then(|l| l.address.postcode).as_deref(),
        Some("CW12 1QU")
    );
}

#[test]
fn legacy_session_kind_holding_an_event_with_sub_events() {
    let page = parse_page(sample!("colchester-legacy-page.json").as_bytes()).expect("page parses");
    let raw = page.valid_items().next().expect("one item");
    let prepared = prepare(raw);
    assert_eq!(
        prepared.role,
        ItemRole::Standalone,
        "data @type Event wins over kind `session`"
    );
    let data = prepared.data.expect("has data");
    let Normalised::Opportunities(found) = normalise(&prepared.kind, &data, None) else {
        panic!("legacy event normalises");
    };
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|o| o.price.min == Some(5.0)),
        "price \"5.00\" from a singular `offer`"
    );
    assert!(found.iter().all(|o| {
        o.location
            .as_ref()
            .is_some_and(|l| l.address.postcode.is_some())
    }));
}

#[test]
fn series_with_embedded_sub_events_yields_them() {
    let (kind, series) = item(sample!("sessionseries-with-subevent.json"));
    let Normalised::Opportunities(found) = normalise(&kind, &series, None) else {
        panic!("series normalises");
    };
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].name.as_deref(),
        Some("Wednesday Yoga"),
        "inherited from the series"
    );
    assert_eq!(found[0].start.to_rfc3339(), "2018-09-05T23:00:00+00:00");
    assert!(found[0].occurrence.is_some());
}

#[test]
fn cancelled_and_postponed_are_recorded() {
    let event = json!({"@type": "Event", "startDate": "2026-05-01T10:00:00Z", "eventStatus": "https://schema.org/EventCancelled"});
    assert_eq!(
        only(normalise("Event", &event, None)).status,
        EventStatus::Cancelled
    );
}

#[test]
fn unusable_items_say_why() {
    let no_start = json!({"@type": "Event", "name": "x"});
    assert_eq!(
        normalise("Event", &no_start, None),
        Normalised::Unusable("missing `startDate`".into())
    );
    let bad_start = json!({"@type": "Event", "startDate": "soon"});
    assert!(
        matches!(normalise("Event", &bad_start, None), Normalised::Unusable(r) if r.contains("soon"))
    );
    let unknown = json!({"@type": "Lesson", "startDate": "2026-05-01"});
    assert!(
        matches!(normalise("Lesson", &unknown, None), Normalised::Unusable(r) if r.contains("Lesson"))
    );
}

#[test]
fn end_before_start_is_not_trusted_and_duration_fills_in() {
    let event = json!({"@type": "Event", "startDate": "2026-05-01T10:00:00Z", "endDate": "2026-05-01T09:00:00Z", "duration": "PT45M"});
    let found = only(normalise("Event", &event, None));
    assert_eq!(
        found.end.map(|e| e.to_rfc3339()).as_deref(),
        Some("2026-05-01T10:45:00+00:00")
    );
    assert_eq!(found.duration_minutes, Some(45));
}

#[test]
fn prepare_records_role_and_links_for_the_store() {
    let page = parse_page(
        br#"{"next":"x","items":[
        {"state":"updated","kind":"ScheduledSession","id":"s1","modified":1,"data":{"@type":"ScheduledSession","@id":"https://p/s1","superEvent":"https://p/series/1","startDate":"2026-05-01T10:00:00Z"}},
        {"state":"deleted","kind":"SessionSeries","id":"ss1","modified":2}]}"#,
    )
    .expect("parses");
    let items: Vec<PreparedItem> = page.valid_items().map(prepare).collect();
    assert_eq!(items[0].role, ItemRole::Child);
    assert_eq!(items[0].data_id.as_deref(), Some("https://p/s1"));
    assert_eq!(items[0].parent_ref.as_deref(), Some("https://p/series/1"));
    assert!(items[0].data_json.is_some());
    assert_eq!(
        items[1].role,
        ItemRole::Parent,
        "a deleted item's role comes from its kind"
    );
    assert!(items[1].data_json.is_none());
}

#[test]
fn a_series_with_a_full_schedule_becomes_sessions_up_to_the_horizon() {
    let (kind, series) = item(sample!("playwaze-sessionseries-with-schedule.json"));
    fn march_2020() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2020-03-20T00:00:00Z")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_default()
    }
    let normaliser = OpenActiveNormaliser::default().with_clock(march_2020);
    let Normalised::Opportunities(found) = normaliser.normalise(&kind, &series, None) else {
        panic!("a series with a schedule yields sessions");
    };
    let starts: Vec<String> = found.iter().map(|o| o.start.to_rfc3339()).collect();
    assert_eq!(
        starts,
        [
            "2020-03-26T11:00:00+00:00",
            "2020-04-02T10:00:00+00:00",
            "2020-04-09T10:00:00+00:00",
            "2020-04-16T10:00:00+00:00",
        ]
    );
    let first = &found[0];
    assert!(first.from_schedule);
    assert_eq!(first.kind, OpportunityKind::Session);
    assert_eq!(
        first.name.as_deref(),
        Some("No Strings Badminton - Thursday daytime")
    );
    assert_eq!(first.duration_minutes, Some(180));
    assert_eq!(
        first.series_id.as_deref(),
        Some("https://playwaze.com/SessionSeries/tlqi1kkclv66")
    );
    assert!(
        first.location.is_some(),
        "the series' place is the session's"
    );
    assert_ne!(
        found[0].occurrence, found[1].occurrence,
        "each occurrence keeps its own id"
    );
}

#[test]
fn locations_are_assigned_to_the_configured_areas_small_areas() {
    let lsc = Ics::lancashire_south_cumbria().expect("bundled");
    let normaliser = OpenActiveNormaliser::default().with_areas(vec![lsc]);
    let event = |lat: f64, lng: f64| {
        json!({"@type": "Event", "name": "Walk", "startDate": "2030-01-07T10:00:00Z",
               "location": {"geo": {"latitude": lat, "longitude": lng}}})
    };
    // Preston city centre: inside; its LSOA is the one the polygons say.
    let preston = only(normaliser.normalise("Event", &event(53.7590, -2.7035), None));
    let expected = lsc
        .small_area(Point::new(53.7590, -2.7035))
        .expect("in an LSOA");
    assert_eq!(
        preston.areas,
        [oa_model::SmallAreaRef {
            area: "lancashire-south-cumbria".into(),
            small_area: expected.code.clone(),
        }]
    );
    // Manchester: outside every configured area; and no areas configured, none assigned.
    let manchester = only(normaliser.normalise("Event", &event(53.4808, -2.2426), None));
    assert!(manchester.areas.is_empty());
    let unconfigured =
        only(OpenActiveNormaliser::default().normalise("Event", &event(53.7590, -2.7035), None));
    assert!(unconfigured.areas.is_empty());
}
