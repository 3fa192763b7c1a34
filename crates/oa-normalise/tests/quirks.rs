//! Every data-quality oddity of the OpenActive samples' cheat-sheet (INDEX.md section 10), one row each, held to the result a link worker can trust: the right value, or an honest problem code.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Duration, Utc};
use oa_geo::Gazetteer;
use oa_model::{
    ActivityMatch, GenderRestriction, GeoPrecision, ItemRole, ItemState, Normalised, Opportunity,
    OpportunityKind, Price, QualityProblem, RpdePage, parse_page,
};
use oa_normalise::{
    ActivityList, TagRules, Vocabulary, audience, dates, fields, normalise_with, offers, place,
    prepare, quality, schedule,
};
use serde_json::Value;

macro_rules! sample {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/samples/",
            $file
        ))
    };
}

/// One oddity: where it occurs, what is asserted, and the assertion.
struct Quirk {
    case: &'static str,
    sample: &'static str,
    asserts: &'static str,
    check: fn(),
}

// ---------------------------------------------------------------------------------------
// Reading the samples
// ---------------------------------------------------------------------------------------

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

/// A whole RPDE page fixture.
fn page(text: &str) -> RpdePage {
    parse_page(text.as_bytes()).expect("page parses")
}

/// A single RPDE item fixture, parsed as the harvester would (wrapped in a page).
fn single(text: &str) -> RpdePage {
    page(&format!(
        r#"{{"next":"https://x.example/next","items":[{text}]}}"#
    ))
}

/// The (kind, data) of the page's n-th valid item.
fn item(page: &RpdePage, n: usize) -> (String, Value) {
    let raw = page.valid_items().nth(n).expect("the item is valid RPDE");
    let data = raw
        .data
        .as_ref()
        .map(|d| json(d.get()))
        .unwrap_or(Value::Null);
    (raw.kind.clone(), data)
}

/// The data of a fixture holding `{"data": ...}` only (the conformance-services DB rows).
fn data_only(text: &str) -> Value {
    json(text)["data"].take()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test instant")
        .with_timezone(&Utc)
}

/// The shipped normaliser with "now" fixed (schedules expand from it).
fn normalise_at(now: &str, kind: &str, data: &Value, parent: Option<&Value>) -> Normalised {
    let vocabulary = Vocabulary {
        tags: TagRules::shipped(),
        activities: ActivityList::shipped(),
        places: Gazetteer::bundled(),
        bounds: &place::UK_BOUNDS,
        now: at(now),
        horizon: Duration::days(28),
        areas: &[],
    };
    normalise_with(&vocabulary, kind, data, parent)
}

/// Samples are years old; "now" only matters for schedule expansion.
const NOW: &str = "2026-01-01T00:00:00Z";

fn found(normalised: Normalised) -> Vec<Opportunity> {
    match normalised {
        Normalised::Opportunities(found) => found,
        other => panic!("expected opportunities, got {other:?}"),
    }
}

fn only(normalised: Normalised) -> Opportunity {
    let mut all = found(normalised);
    assert_eq!(all.len(), 1, "one opportunity: {all:?}");
    all.remove(0)
}

fn codes(o: &Opportunity) -> Vec<&str> {
    o.problems.iter().map(|p| p.code.as_str()).collect()
}

fn starts(all: &[Opportunity]) -> Vec<String> {
    all.iter().map(|o| o.start.to_rfc3339()).collect()
}

fn price(p: &Price) -> (Option<f64>, Option<f64>, Option<&str>) {
    (p.min, p.max, p.currency.as_deref())
}

fn prepared_role(page: &RpdePage, n: usize) -> ItemRole {
    prepare(page.valid_items().nth(n).expect("valid item")).role
}

// ---------------------------------------------------------------------------------------
// The samples, by publisher
// ---------------------------------------------------------------------------------------

fn legend_slot() -> RpdePage {
    single(sample!("legend-slot.json"))
}
fn legend_facility() -> RpdePage {
    single(sample!("legend-facilityuse.json"))
}
fn england_netball() -> RpdePage {
    page(sample!("englandnetball-session-embedded-series.json"))
}
fn opensessions_compound() -> RpdePage {
    page(sample!("opensessions-series-compound-type.json"))
}
fn active_newham() -> RpdePage {
    page(sample!("activenewham-legacy-session.json"))
}
fn lets_ride() -> RpdePage {
    page(sample!("letsride-2018-page.json"))
}
fn lets_ride_staging() -> RpdePage {
    page(sample!("letsride-staging-page.json"))
}
fn emd_2018() -> RpdePage {
    page(sample!("emd-classfinder-2018-page.json"))
}
fn views() -> RpdePage {
    page(sample!("views-series-page.json"))
}
fn clubspark() -> RpdePage {
    page(sample!("clubspark-series-with-subevent.json"))
}
fn everyone_active_legacy() -> RpdePage {
    page(sample!("everyoneactive-legacy-session.json"))
}
fn deleted_walk_items() -> Vec<RpdePage> {
    json(sample!("feed-walk-deleted-items.json"))
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| single(&entry["item"].to_string()))
        .collect()
}

/// The Playwaze session joined to its series (location named by coordinates, free offer).
fn playwaze_session() -> Opportunity {
    let (kind, session) = item(&single(sample!("playwaze-scheduledsession.json")), 0);
    let (_, series) = item(&single(sample!("playwaze-sessionseries.json")), 0);
    only(normalise_at(NOW, &kind, &session, Some(&series)))
}

/// The Gladstone (Nottingham) session joined to its series by URL.
fn gladstone_session() -> Opportunity {
    let session = data_only(sample!("gladstone-scheduledsession.json"));
    let series = data_only(sample!("gladstone-sessionseries.json"));
    only(normalise_at(
        NOW,
        "ScheduledSession",
        &session,
        Some(&series),
    ))
}

/// EMD's 2018 classes: untyped, undated; their fields are read by the field readers the
/// normaliser uses for every item.
fn emd_class(id: &str) -> Value {
    let page = emd_2018();
    let raw = page
        .valid_items()
        .find(|i| i.id == id)
        .expect("the EMD class is in the fixture");
    json(raw.data.as_ref().expect("has data").get())
}

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

const QUIRKS: &[Quirk] = &[
    // --- kind with a dot -----------------------------------------------------------------
    Quirk {
        case: "kind with a dot: FacilityUse.Slot",
        sample: "legend-slot.json (cs/slot-referenced-facilityuse-2)",
        asserts: "a child; joined to its FacilityUse it is a facility slot at 09:20 UTC, £6.10",
        check: || {
            let slot = legend_slot();
            assert_eq!(prepared_role(&slot, 0), ItemRole::Child);
            let (kind, data) = item(&slot, 0);
            let (_, facility) = item(&legend_facility(), 0);
            let o = only(normalise_at(NOW, &kind, &data, Some(&facility)));
            assert_eq!(o.kind, OpportunityKind::FacilitySlot);
            assert_eq!(o.start.to_rfc3339(), "2020-06-25T09:20:00+00:00");
            assert_eq!(price(&o.price), (Some(6.1), Some(6.1), Some("GBP")));
        },
    },
    Quirk {
        case: "kind with a dot: ScheduledSession.SessionSeries on a session",
        sample: "englandnetball-session-embedded-series.json (dl/6021)",
        asserts: "a child that inherits place, price and level from its embedded series",
        check: || {
            let (kind, data) = item(&england_netball(), 0);
            assert_eq!(prepared_role(&england_netball(), 0), ItemRole::Child);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.kind, OpportunityKind::Session);
            assert_eq!(price(&o.price), (Some(2.0), Some(2.0), Some("GBP")));
            assert_eq!(
                o.location.and_then(|l| l.address.postcode).as_deref(),
                Some("HU17 7SD")
            );
            assert_eq!(o.level, ["Beginner"]);
        },
    },
    Quirk {
        case: "kind with a dot: Legend's ScheduledSession.SessionSeries series feed, deleted",
        sample: "feed-walk-deleted-items.json (ts/jubileehall SessionSeries, Slot)",
        asserts: "without data the kind's last part decides: series feed item a parent, FacilityUse.Slot a child",
        check: || {
            let items = deleted_walk_items();
            assert_eq!(
                items[0].valid_items().next().map(|i| i.kind.as_str()),
                Some("ScheduledSession.SessionSeries")
            );
            assert_eq!(prepared_role(&items[0], 0), ItemRole::Parent);
            assert_eq!(prepared_role(&items[1], 0), ItemRole::Child);
        },
    },
    Quirk {
        case: "kind and data type SessionSeries.ScheduledSession",
        sample: "opensessions-series-compound-type.json (dl/5016, subEvent trimmed to 2)",
        asserts: "a parent (no startDate of its own) yielding its 2 embedded sessions, its Schedule not expanded on top",
        check: || {
            let p = opensessions_compound();
            assert_eq!(prepared_role(&p, 0), ItemRole::Parent);
            let (kind, data) = item(&p, 0);
            let all = found(normalise_at("2019-09-10T00:00:00Z", &kind, &data, None));
            assert_eq!(
                starts(&all),
                ["2019-09-18T13:30:00+00:00", "2019-09-25T13:30:00+00:00"]
            );
            assert!(
                all.iter()
                    .all(|o| !o.from_schedule && o.kind == OpportunityKind::Session)
            );
            assert_eq!(all[0].name.as_deref(), Some("Art Club"));
        },
    },
    // --- kind with a slash ---------------------------------------------------------------
    Quirk {
        case: "kind with a slash: FacilityUse/Slot",
        sample: "everyoneactive-slot-page.json (OpenActive.NET jsonRpdeSlotEveryoneActive)",
        asserts: "a child pointing at its FacilityUse URL, awaiting it",
        check: || {
            let p = page(sample!("everyoneactive-slot-page.json"));
            let prepared = prepare(p.valid_items().next().expect("item"));
            assert_eq!(prepared.role, ItemRole::Child);
            assert_eq!(
                prepared.parent_ref.as_deref(),
                Some("https://tst.myeveryoneactive.com/OpenActive/api/facility-uses/161ASTRO001")
            );
            let (kind, data) = item(&p, 0);
            assert_eq!(
                normalise_at(NOW, &kind, &data, None),
                Normalised::AwaitingParent
            );
        },
    },
    Quirk {
        case: "kind with a slash: IndividualFacilityUse/Slot",
        sample: "feed-walk-deleted-items.json (ts/localhost IndividualFacilityUseSlot)",
        asserts: "a deleted slot is a child",
        check: || {
            let items = deleted_walk_items();
            let raw = items[2].valid_items().next().expect("item");
            assert_eq!(
                (raw.kind.as_str(), raw.state),
                ("IndividualFacilityUse/Slot", ItemState::Deleted)
            );
            assert_eq!(prepared_role(&items[2], 0), ItemRole::Child);
        },
    },
    // --- legacy / wrong kind -------------------------------------------------------------
    Quirk {
        case: "legacy kind \"session\" holding an Event",
        sample: "activenewham-legacy-session.json (dl/6018)",
        asserts: "standalone; its one subEvent is an event at 18:00 UTC",
        check: || {
            let p = active_newham();
            assert_eq!(prepared_role(&p, 0), ItemRole::Standalone);
            let (kind, data) = item(&p, 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.kind, OpportunityKind::Event);
            assert_eq!(o.start.to_rfc3339(), "2019-09-25T18:00:00+00:00");
            assert_eq!(o.duration_minutes, Some(60));
        },
    },
    Quirk {
        case: "legacy kind \"event\"",
        sample: "letsride-2018-page.json (vtj/britishcycling-1)",
        asserts: "an event",
        check: || {
            let (kind, data) = item(&lets_ride(), 0);
            assert_eq!(kind, "event");
            assert_eq!(
                only(normalise_at(NOW, &kind, &data, None)).kind,
                OpportunityKind::Event
            );
        },
    },
    Quirk {
        case: "legacy kind \"Session\" on an Event",
        sample: "goodgym-legacy-event.json (cs/event-not-normalised)",
        asserts: "an event at 17:45 UTC (18:45 BST), free",
        check: || {
            let (kind, data) = item(&single(sample!("goodgym-legacy-event.json")), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.kind, OpportunityKind::Event);
            assert_eq!(o.start.to_rfc3339(), "2014-09-23T17:45:00+00:00");
            assert_eq!(o.price.min, Some(0.0));
        },
    },
    Quirk {
        case: "activity category as kind (\"Holistic\"), no @type",
        sample: "emd-classfinder-2018-page.json (vtj/emd-1)",
        asserts: "unusable, saying which kind it could not read (it has no date either)",
        check: || {
            let (kind, data) = item(&emd_2018(), 0);
            assert_eq!(kind, "Holistic");
            match normalise_at(NOW, &kind, &data, None) {
                Normalised::Unusable(reason) => assert!(reason.contains("Holistic"), "{reason}"),
                other => panic!("{other:?}"),
            }
        },
    },
    Quirk {
        case: "kind \"Course\" for a CourseInstance",
        sample: "cotech-course-with-schedule.json (cs/course-with-schedule)",
        asserts: "a course, £0 GBP",
        check: || {
            let (kind, data) = item(&single(sample!("cotech-course-with-schedule.json")), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.kind, OpportunityKind::Course);
            assert_eq!(price(&o.price), (Some(0.0), Some(0.0), Some("GBP")));
        },
    },
    Quirk {
        case: "kind \"Event\" for a HeadlineEvent with subEvents",
        sample: "britishtriathlon-headline-event.json (cs/headline-event-with-subevents)",
        asserts: "one event on its own date; undated subEvents are not extra occurrences",
        check: || {
            let (kind, data) = item(&single(sample!("britishtriathlon-headline-event.json")), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.kind, OpportunityKind::Event);
            assert_eq!(o.name.as_deref(), Some("Hebridean Cycle Challenge"));
            assert_eq!(o.duration_minutes, Some(24 * 60));
        },
    },
    Quirk {
        case: "kind \"Event\" for an OnDemandEvent",
        sample: "playwaze-on-demand-event.json (cs/on-demand-event)",
        asserts: "unusable: on-demand content has no startDate to show",
        check: || {
            let (kind, data) = item(&single(sample!("playwaze-on-demand-event.json")), 0);
            assert_eq!(
                normalise_at(NOW, &kind, &data, None),
                Normalised::Unusable("missing `startDate`".into())
            );
        },
    },
    Quirk {
        case: "kind \"Slot\" on a FacilityUse with Slots in `event`",
        sample: "example-facilityuse-embedded-slots.json (cs/facilityuse-embedded-slot)",
        asserts: "a parent whose 2 embedded slots are facility slots, the second at its own £15",
        check: || {
            let p = single(sample!("example-facilityuse-embedded-slots.json"));
            assert_eq!(prepared_role(&p, 0), ItemRole::Parent);
            let (kind, data) = item(&p, 0);
            let all = found(normalise_at(NOW, &kind, &data, None));
            assert_eq!(
                starts(&all),
                ["2018-03-01T10:00:00+00:00", "2018-03-01T11:00:00+00:00"]
            );
            assert!(all.iter().all(|o| o.kind == OpportunityKind::FacilitySlot));
            assert_eq!(
                (all[0].price.min, all[1].price.min),
                (Some(10.0), Some(15.0))
            );
        },
    },
    Quirk {
        case: "kind \"unknown_kind\" (deleted)",
        sample: "openactive-net-unknown-kind-page.json (OpenActive.NET RPDETest jsonRpde)",
        asserts: "a valid deleted item, standalone",
        check: || {
            let p = page(sample!("openactive-net-unknown-kind-page.json"));
            let raw = p.valid_items().nth(1).expect("the deleted item is valid");
            assert_eq!(
                (raw.kind.as_str(), raw.state),
                ("unknown_kind", ItemState::Deleted)
            );
            assert_eq!(prepared_role(&p, 1), ItemRole::Standalone);
        },
    },
    Quirk {
        case: "no kind, state or modified at all (pre-RPDE)",
        sample: "teamup-pre-rpde-page.json (vtj/teamup-1)",
        asserts: "each item is an item error naming what is missing; none becomes a wrong opportunity",
        check: || {
            let p = page(sample!("teamup-pre-rpde-page.json"));
            assert_eq!(p.items.len(), 2);
            for result in &p.items {
                let error = result.as_ref().expect_err("not an RPDE item");
                assert!(error.reason.contains("state"), "{error}");
            }
        },
    },
    // --- modified ------------------------------------------------------------------------
    Quirk {
        case: "modified: epoch milliseconds",
        sample: "playwaze-sessionseries.json (cs/sessionseries)",
        asserts: "1574378246837 exactly",
        check: || {
            let p = single(sample!("playwaze-sessionseries.json"));
            assert_eq!(
                p.valid_items().next().map(|i| i.modified),
                Some(1_574_378_246_837)
            );
        },
    },
    Quirk {
        case: "modified: small change numbers",
        sample: "legend-facilityuse.json (cs/facilityuse-2)",
        asserts: "247302",
        check: || {
            assert_eq!(
                legend_facility().valid_items().next().map(|i| i.modified),
                Some(247_302)
            );
        },
    },
    Quirk {
        case: "modified: .NET ticks beyond 2^53",
        sample: "feed-walk-deleted-items.json (ts/localhost)",
        asserts: "638760826150501900 to the last digit (an f64 would round it)",
        check: || {
            let items = deleted_walk_items();
            assert_eq!(
                items[2].valid_items().next().map(|i| i.modified),
                Some(638_760_826_150_501_900)
            );
        },
    },
    Quirk {
        case: "modified: float 1520343434.0",
        sample: "opensessions-series-float-modified.json (dl/8018, subEvent trimmed to 1)",
        asserts: "1520343434",
        check: || {
            let p = page(sample!("opensessions-series-float-modified.json"));
            assert_eq!(
                p.valid_items().next().map(|i| i.modified),
                Some(1_520_343_434)
            );
        },
    },
    Quirk {
        case: "modified: numeric string",
        sample: "emd-classfinder-2018-page.json (vtj/emd-1)",
        asserts: "\"1521565719\" read as 1521565719",
        check: || {
            assert_eq!(
                emd_2018().valid_items().next().map(|i| i.modified),
                Some(1_521_565_719)
            );
        },
    },
    Quirk {
        case: "modified: date-time string without offset \"2018-01-01 09:24:38\"",
        sample: "letsride-2018-page.json (vtj/britishcycling-1)",
        asserts: "the item is kept (not an item error), ordered by its instant read as UTC, in ms",
        check: || {
            let p = lets_ride();
            assert!(p.items.iter().all(Result::is_ok), "{:?}", p.items);
            assert_eq!(
                p.valid_items().next().map(|i| i.modified),
                Some(1_514_798_678_000)
            );
        },
    },
    Quirk {
        case: "modified: ISO date-time string",
        sample: "goodgym-legacy-event.json (cs/event-not-normalised)",
        asserts: "its instant in ms",
        check: || {
            let p = single(sample!("goodgym-legacy-event.json"));
            assert_eq!(
                p.valid_items().next().map(|i| i.modified),
                Some(1_410_768_771_706)
            );
        },
    },
    // --- id ------------------------------------------------------------------------------
    Quirk {
        case: "id forms: integer, zero-padded string, bare UUID, base64 with ~",
        sample: "englandnetball-session-embedded-series.json, fusion-scheduledsession.json, views-series-page.json, emd-classfinder-2019-series.json",
        asserts: "each kept as the text published (a zero-padded id is not a number)",
        check: || {
            let id = |p: RpdePage| p.valid_items().next().map(|i| i.id.clone()).expect("item");
            assert_eq!(id(england_netball()), "31");
            assert_eq!(
                id(page(sample!("fusion-scheduledsession.json"))),
                "00000000000850160944"
            );
            assert_eq!(id(views()), "0a326335-3933-6436-3039-313734346634");
            assert_eq!(
                id(page(sample!("emd-classfinder-2019-series.json"))),
                "eNortjKxUko2MjNWsgZcMBEOApk~"
            );
            let series = prepare(views().valid_items().next().expect("item"));
            assert_eq!(
                series.data_id.as_deref(),
                Some("0a326335-3933-6436-3039-313734346634")
            );
        },
    },
    // --- next ----------------------------------------------------------------------------
    Quirk {
        case: "next forms: relative, ?from=, localhost, afterId first, afterChangeNumber, empty last page",
        sample: "emd-classfinder-2018-page.json, letsride-2018-page.json, teamup-pre-rpde-page.json, activenewham-legacy-session.json, everyoneactive-legacy-session.json, openactive-rb-last-page.json",
        asserts: "next is kept verbatim as the cursor; the empty page naming itself is the last",
        check: || {
            assert_eq!(
                emd_2018().next,
                "openactive/classes/public?afterTimestamp=1521640430&afterId=58845"
            );
            assert_eq!(
                lets_ride().next,
                "http://api.letsride.co.uk/public/v1/rides?from=2018-01-02+14%3A24%3A11"
            );
            assert!(
                page(sample!("teamup-pre-rpde-page.json"))
                    .next
                    .starts_with("http://localhost:8080/")
            );
            assert!(
                active_newham()
                    .next
                    .contains("?afterId=E5CLFBD13000919&afterTimestamp=")
            );
            assert!(
                everyone_active_legacy()
                    .next
                    .ends_with("?afterChangeNumber=284462206")
            );
            let last = page(sample!("openactive-rb-last-page.json"));
            assert!(last.is_last_page("http://www.example.com/last"));
        },
    },
    // --- joins ---------------------------------------------------------------------------
    Quirk {
        case: "superEvent by URL string (Gladstone)",
        sample: "gladstone-scheduledsession.json + gladstone-sessionseries.json (cs/scheduledsession-referenced-superevent-2, sessionseries-2)",
        asserts: "awaits its series; joined, it takes the series' name and £6.90 GBP",
        check: || {
            let session = data_only(sample!("gladstone-scheduledsession.json"));
            assert_eq!(
                normalise_at(NOW, "ScheduledSession", &session, None),
                Normalised::AwaitingParent
            );
            let o = gladstone_session();
            assert_eq!(o.name.as_deref(), Some("Shadow Box Fit"));
            assert_eq!(o.start.to_rfc3339(), "2020-07-27T08:15:00+00:00");
            assert_eq!(price(&o.price), (Some(6.9), Some(6.9), Some("GBP")));
        },
    },
    Quirk {
        case: "superEvent by URL string (Fusion, minimal session)",
        sample: "fusion-scheduledsession.json (dl/6020)",
        asserts: "its parent reference is the series URL; it awaits it",
        check: || {
            let p = page(sample!("fusion-scheduledsession.json"));
            let prepared = prepare(p.valid_items().next().expect("item"));
            assert_eq!(
                prepared.parent_ref.as_deref(),
                Some(
                    "https://fusionopendata.fusion-lifestyle.com/OpenActive/api/session-series/WT5SWLS09150518"
                )
            );
            let (kind, data) = item(&p, 0);
            assert_eq!(
                normalise_at(NOW, &kind, &data, None),
                Normalised::AwaitingParent
            );
        },
    },
    // --- embedded ------------------------------------------------------------------------
    Quirk {
        case: "embedded superEvent without @id",
        sample: "englandnetball-session-bare.json (vtj/england-netball-2)",
        asserts: "a session inheriting £3.50 GBP and the series' place",
        check: || {
            let data = json(sample!("englandnetball-session-bare.json"));
            let o = only(normalise_at(NOW, "", &data, None));
            assert_eq!(o.kind, OpportunityKind::Session);
            assert_eq!(o.start.to_rfc3339(), "2018-09-11T11:00:00+00:00");
            assert_eq!(price(&o.price), (Some(3.5), Some(3.5), Some("GBP")));
            assert_eq!(o.location.map(|l| l.precision), Some(GeoPrecision::Exact));
        },
    },
    Quirk {
        case: "subEvent inside a SessionSeries (Views)",
        sample: "views-series-page.json (vtj/views-1)",
        asserts: "one session at 12:01 UTC, its occurrence its own id, its series the bare UUID",
        check: || {
            let (kind, data) = item(&views(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.start.to_rfc3339(), "2015-12-11T12:01:00+00:00");
            assert_eq!(
                o.occurrence.as_deref(),
                Some("bafed2cd-2f4e-4589-a263-f60fe4601a60")
            );
            assert_eq!(
                o.series_id.as_deref(),
                Some("0a326335-3933-6436-3039-313734346634")
            );
        },
    },
    Quirk {
        case: "subEvent inside a SessionSeries with a PartialSchedule (ClubSpark)",
        sample: "clubspark-series-with-subevent.json (dl/5017, subEvent trimmed to 1)",
        asserts: "the one embedded session; the PartialSchedule generates nothing",
        check: || {
            let (kind, data) = item(&clubspark(), 0);
            let o = only(normalise_at("2017-06-01T00:00:00Z", &kind, &data, None));
            assert!(!o.from_schedule);
            assert_eq!(o.kind, OpportunityKind::Session);
        },
    },
    Quirk {
        case: "subEvent inside an Event (Everyone Active legacy)",
        sample: "everyoneactive-legacy-session.json (dl/7017)",
        asserts: "one event at 17:30 UTC; the Event's own ageRange (0-15), not its offers'",
        check: || {
            let (kind, data) = item(&everyone_active_legacy(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.start.to_rfc3339(), "2019-09-24T17:30:00+00:00");
            let age = o.age_range.expect("age range");
            assert_eq!((age.min, age.max), (Some(0), Some(15)));
        },
    },
    Quirk {
        case: "FacilityUse -> individualFacilityUse -> event nesting",
        sample: "example-facilityuse-ifu-slots.json (cs/facilityuse-ifu-slots)",
        asserts: "3 facility slots, each inheriting the facility's name, the FacilityUse as their parent",
        check: || {
            let data = data_only(sample!("example-facilityuse-ifu-slots.json"));
            let all = found(normalise_at(NOW, "FacilityUse", &data, None));
            let ids: Vec<_> = all.iter().filter_map(|o| o.occurrence.as_deref()).collect();
            assert_eq!(
                ids,
                [
                    "https://example.org/slot/x",
                    "https://example.org/slot/y",
                    "https://example.org/slot/z"
                ]
            );
            assert!(all.iter().all(|o| o.name.as_deref() == Some("Area51")
                && o.kind == OpportunityKind::FacilitySlot
                && o.series_id.as_deref() == Some("https://example.org/facilityuse/1")));
            assert_eq!(all[2].duration_minutes, Some(180));
        },
    },
    // --- keywords and context ------------------------------------------------------------
    Quirk {
        case: "type/id instead of @type/@id",
        sample: "everyoneactive-slot-page.json, legend-facilityuse.json",
        asserts: "the data's own id and type are read",
        check: || {
            let p = page(sample!("everyoneactive-slot-page.json"));
            let prepared = prepare(p.valid_items().next().expect("item"));
            assert_eq!(
                prepared.data_id.as_deref(),
                Some(
                    "https://tst.myeveryoneactive.com/OpenActive/api/slots/161ASTRO001_2020-03-04T16-00-00"
                )
            );
            assert_eq!(prepared_role(&legend_facility(), 0), ItemRole::Parent);
        },
    },
    Quirk {
        case: "@context variants: last key, legacy oa.jsonld, extra publisher context",
        sample: "clubspark-series-with-subevent.json (dl/5017), activenewham-legacy-session.json (dl/6018), emd-classfinder-2019-series.json (dl/6019)",
        asserts: "none of them stops normalising; EMD's PartialSchedule-only series yields no sessions (display-only)",
        check: || {
            let (kind, data) = item(&clubspark(), 0);
            assert_eq!(found(normalise_at(NOW, &kind, &data, None)).len(), 1);
            let (kind, data) = item(&active_newham(), 0);
            assert_eq!(found(normalise_at(NOW, &kind, &data, None)).len(), 1);
            let emd = page(sample!("emd-classfinder-2019-series.json"));
            let (kind, data) = item(&emd, 0);
            assert_eq!(prepared_role(&emd, 0), ItemRole::Parent);
            assert_eq!(
                normalise_at(NOW, &kind, &data, None),
                Normalised::Opportunities(vec![])
            );
        },
    },
    // --- geo -----------------------------------------------------------------------------
    Quirk {
        case: "missing geo",
        sample: "example-facilityuse-embedded-slots.json (cs/facilityuse-embedded-slot)",
        asserts: "located at BS1 4SD's sector centroid, precision sector, problems missing_geo + geo_from_postcode",
        check: || {
            let (kind, data) = item(
                &single(sample!("example-facilityuse-embedded-slots.json")),
                0,
            );
            let o = found(normalise_at(NOW, &kind, &data, None)).remove(0);
            let location = o.location.clone().expect("location");
            assert_eq!(location.precision, GeoPrecision::Sector);
            assert!(location.lat.is_some());
            let c = codes(&o);
            assert!(
                c.contains(&"missing_geo") && c.contains(&"geo_from_postcode"),
                "{c:?}"
            );
        },
    },
    Quirk {
        case: "lat/long as strings",
        sample: "letsride-2018-page.json (vtj/britishcycling-1)",
        asserts: "exact point 53.39895949, -1.51343513",
        check: || {
            let (kind, data) = item(&lets_ride(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.point(), Some((53.39895949, -1.51343513)));
            assert_eq!(o.location.map(|l| l.precision), Some(GeoPrecision::Exact));
        },
    },
    Quirk {
        case: "place name is \"lat, long\"",
        sample: "playwaze-scheduledsession.json + playwaze-sessionseries.json (cs/sessionseries)",
        asserts: "no venue name shown, problem place_name_is_coordinates; the point is kept exact",
        check: || {
            let o = playwaze_session();
            let location = o.location.clone().expect("location");
            assert_eq!(location.name, None);
            assert_eq!(location.precision, GeoPrecision::Exact);
            assert!(codes(&o).contains(&"place_name_is_coordinates"));
        },
    },
    Quirk {
        case: "junk Place (@type Ocean, Indian address, London geo), £500",
        sample: "opensessions-junk-place.json (dl/2008)",
        asserts: "its Schedule's Sunday 12:00 BST sessions, exact London point, bad_postcode for \"394105\", implausible_price",
        check: || {
            let (kind, data) = item(&page(sample!("opensessions-junk-place.json")), 0);
            let all = found(normalise_at("2019-05-18T00:00:00Z", &kind, &data, None));
            assert_eq!(all[0].start.to_rfc3339(), "2019-05-19T11:00:00+00:00");
            let o = &all[0];
            assert_eq!(
                o.location.as_ref().map(|l| l.precision),
                Some(GeoPrecision::Exact)
            );
            assert_eq!(price(&o.price), (Some(500.0), Some(500.0), Some("GBP")));
            let c = codes(o);
            assert!(
                c.contains(&"bad_postcode") && c.contains(&"implausible_price"),
                "{c:?}"
            );
        },
    },
    // --- address -------------------------------------------------------------------------
    Quirk {
        case: "address as one string",
        sample: "activenewham-legacy-session.json (dl/6018)",
        asserts: "the line kept as the street, postcode E13 8SD found in it",
        check: || {
            let (kind, data) = item(&active_newham(), 0);
            let address = only(normalise_at(NOW, &kind, &data, None))
                .location
                .expect("location")
                .address;
            assert_eq!(address.postcode.as_deref(), Some("E13 8SD"));
            assert!(
                address
                    .street
                    .is_some_and(|s| s.starts_with("Newham Leisure Centre, 281"))
            );
        },
    },
    Quirk {
        case: "empty PostalAddress",
        sample: "gladstone-sessionseries.json (cs/sessionseries-2)",
        asserts: "the session is kept with its venue name, not located (precision none), problem missing_geo, no bad_postcode",
        check: || {
            let o = gladstone_session();
            let location = o.location.clone().expect("location");
            assert_eq!(location.name.as_deref(), Some("Harvey Hadden Sports Vill"));
            assert_eq!(
                (location.precision, location.address.postcode),
                (GeoPrecision::None, None)
            );
            let c = codes(&o);
            assert!(
                c.contains(&"missing_geo") && !c.contains(&"bad_postcode"),
                "{c:?}"
            );
        },
    },
    Quirk {
        case: "HTML <br /> inside an address",
        sample: "emd-classfinder-2018-page.json (vtj/emd-1, class 61655)",
        asserts: "street \"76 Shacklewell Lane, Hackney, Dalston\", venue \"The Bath House\" (trailing comma gone)",
        check: || {
            let location = fields::location(&emd_class("61655")).expect("location");
            assert_eq!(
                location.address.street.as_deref(),
                Some("76 Shacklewell Lane, Hackney, Dalston")
            );
            assert_eq!(location.name.as_deref(), Some("The Bath House"));
            assert_eq!(
                (location.lat, location.lng),
                (Some(51.552079), Some(-0.071399))
            );
        },
    },
    Quirk {
        case: "placeholder address parts (\"unknown\", \" \")",
        sample: "letsride-2018-page.json (vtj/britishcycling-1), views-series-page.json (vtj/views-1, 2nd item)",
        asserts: "no region, street or locality shown; M15FW normalised to M1 5FW",
        check: || {
            let (kind, data) = item(&lets_ride(), 0);
            let address = only(normalise_at(NOW, &kind, &data, None))
                .location
                .expect("location")
                .address;
            assert_eq!((address.region, address.street), (None, None));
            let (kind, data) = item(&views(), 1);
            let all = found(normalise_at(NOW, &kind, &data, None));
            let address = all[0].location.clone().expect("location").address;
            assert_eq!((address.street, address.locality), (None, None));
            assert_eq!(address.region.as_deref(), Some("Greater Manchester"));
            assert_eq!(address.postcode.as_deref(), Some("M1 5FW"));
        },
    },
    Quirk {
        case: "inconsistent town / county / postcode",
        sample: "views-series-page.json (vtj/views-1: Sunderland, Devon, PL9 0AU)",
        asserts: "the point is the publisher's (it agrees with PL9 0AU: no geo_postcode_mismatch); the town text is shown as published",
        check: || {
            let (kind, data) = item(&views(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            let location = o.location.clone().expect("location");
            assert_eq!(location.precision, GeoPrecision::Exact);
            assert_eq!(location.address.postcode.as_deref(), Some("PL9 0AU"));
            assert!(!codes(&o).contains(&"geo_postcode_mismatch"));
        },
    },
    // --- price ---------------------------------------------------------------------------
    Quirk {
        case: "price as a string (\"7.60\", \"0\")",
        sample: "activenewham-legacy-session.json (dl/6018), letsride-2018-page.json",
        asserts: "£7.60 GBP; £0, with no price problem",
        check: || {
            let (kind, data) = item(&active_newham(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(price(&o.price), (Some(7.6), Some(7.6), Some("GBP")));
            assert!(!codes(&o).iter().any(|c| c.starts_with("price")));
            let (kind, data) = item(&lets_ride(), 0);
            assert_eq!(
                only(normalise_at(NOW, &kind, &data, None)).price.min,
                Some(0.0)
            );
        },
    },
    Quirk {
        case: "free-text price \"£7-10\" (and \"£25+\")",
        sample: "emd-classfinder-2018-page.json (vtj/emd-1, classes 61655, 61663)",
        asserts: "min 7 max 10 GBP from the £ sign; \"£25+\" from £25 with no maximum; problem price_as_text",
        check: || {
            let class = emd_class("61655");
            assert_eq!(
                price(&offers::price(&class)),
                (Some(7.0), Some(10.0), Some("GBP"))
            );
            assert_eq!(
                price(&offers::price(&emd_class("61663"))),
                (Some(25.0), None, Some("GBP"))
            );
            // The problem is recorded from the offer itself, whatever the opportunity.
            let mut problems: Vec<QualityProblem> = Vec::new();
            quality::problems(&class, &playwaze_session(), &mut problems);
            let text = problems
                .iter()
                .find(|p| p.code == "price_as_text")
                .expect("price_as_text");
            assert!(text.detail.contains("7.00 to 10.00"), "{}", text.detail);
        },
    },
    Quirk {
        case: "singular `offer` object",
        sample: "letsride-2018-page.json (vtj/britishcycling-1), activenewham-legacy-session.json",
        asserts: "its price is read",
        check: || {
            let (_, data) = item(&lets_ride(), 1);
            assert!(data.get("offers").is_none() && data.get("offer").is_some());
            assert_eq!(offers::price(&data).min, Some(0.0));
        },
    },
    Quirk {
        case: "no priceCurrency",
        sample: "letsride-staging-page.json (vtj/britishcycling-3), letsride-2018-page.json",
        asserts: "no currency invented; a £0 offer needs none (no price_without_currency)",
        check: || {
            for p in [lets_ride_staging(), lets_ride()] {
                let (kind, data) = item(&p, 0);
                let o = only(normalise_at(NOW, &kind, &data, None));
                assert_eq!(price(&o.price), (Some(0.0), Some(0.0), None));
                assert!(!codes(&o).contains(&"price_without_currency"));
            }
        },
    },
    Quirk {
        case: "beta:IndicativeOffer",
        sample: "fusion-facilityuse-indicative-offers.json (cs/facilityuse)",
        asserts: "its bands are the facility's prices: £3.15 to £5.75 GBP",
        check: || {
            let data = data_only(sample!("fusion-facilityuse-indicative-offers.json"));
            assert_eq!(
                price(&offers::price(&data)),
                (Some(3.15), Some(5.75), Some("GBP"))
            );
        },
    },
    Quirk {
        case: "offers with ageRange",
        sample: "views-series-page.json (vtj/views-1)",
        asserts: "the session's ages are its own (10-29); its £0 offer for those ages makes it free",
        check: || {
            let (kind, data) = item(&views(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            let age = o.age_range.expect("age range");
            assert_eq!((age.min, age.max), (Some(10), Some(29)));
            assert!(o.has_tag("free"));
        },
    },
    Quirk {
        case: "free (0) and isAccessibleForFree",
        sample: "playwaze-sessionseries.json (cs/sessionseries)",
        asserts: "£0 GBP, accessible_for_free, tagged free",
        check: || {
            let o = playwaze_session();
            assert_eq!(price(&o.price), (Some(0.0), Some(0.0), Some("GBP")));
            assert_eq!(o.price.accessible_for_free, Some(true));
            assert!(o.has_tag("free"));
        },
    },
    // --- level ---------------------------------------------------------------------------
    Quirk {
        case: "level: array, plain string, empty string, free-text list, [\"All\"]",
        sample: "englandnetball (dl/6021), letsride-2018 (bc-1), letsride-staging (bc-3), emd-1, clubspark (dl/5017)",
        asserts: "[Beginner]; [Steady]; []; [Beginners, Intermediate, Advanced]; [All]",
        check: || {
            let (kind, data) = item(&england_netball(), 0);
            assert_eq!(
                only(normalise_at(NOW, &kind, &data, None)).level,
                ["Beginner"]
            );
            assert_eq!(audience::levels(&item(&lets_ride(), 0).1), ["Steady"]);
            assert!(audience::levels(&item(&lets_ride_staging(), 0).1).is_empty());
            assert_eq!(
                audience::levels(&emd_class("61655")),
                ["Beginners", "Intermediate", "Advanced"]
            );
            assert_eq!(audience::levels(&item(&clubspark(), 0).1), ["All"]);
        },
    },
    // --- accessibility -------------------------------------------------------------------
    Quirk {
        case: "accessibilitySupport as Concepts",
        sample: "opensessions-series-compound-type.json (dl/5016)",
        asserts: "their labels, on each session",
        check: || {
            let (kind, data) = item(&opensessions_compound(), 0);
            let all = found(normalise_at(NOW, &kind, &data, None));
            assert!(
                all[0]
                    .accessibility
                    .iter()
                    .any(|a| a == "Learning impairment")
            );
            assert!(
                all[0]
                    .accessibility
                    .iter()
                    .any(|a| a == "Hearing impairment")
            );
        },
    },
    Quirk {
        case: "accessibilitySupport as free-text strings",
        sample: "emd-classfinder-2018-page.json (vtj/emd-1)",
        asserts: "the strings as labels",
        check: || {
            assert_eq!(
                audience::accessibility(&emd_class("61655")),
                [
                    "Visual impairment",
                    "Hearing impairment",
                    "Physical impairment"
                ]
            );
        },
    },
    // --- gender --------------------------------------------------------------------------
    Quirk {
        case: "genderRestriction: mixed, female, ns#Female, FemaleOnly, oa:MaleOnly",
        sample: "activenewham (dl/6018), letsride-2018 (bc-1), letsride-staging (bc-3), clubspark (dl/5017), imin-event-series-extract.json",
        asserts: "none; female; female; female; male",
        check: || {
            let g = |data: &Value| audience::gender_restriction(data);
            assert_eq!(g(&item(&active_newham(), 0).1), None);
            assert_eq!(g(&item(&lets_ride(), 0).1), Some(GenderRestriction::Female));
            assert_eq!(
                g(&item(&lets_ride_staging(), 0).1),
                Some(GenderRestriction::Female)
            );
            assert_eq!(g(&item(&clubspark(), 0).1), Some(GenderRestriction::Female));
            assert_eq!(
                g(&json(sample!("imin-event-series-extract.json"))),
                Some(GenderRestriction::Male)
            );
        },
    },
    // --- activity ------------------------------------------------------------------------
    Quirk {
        case: "activity as plain strings",
        sample: "activenewham-legacy-session.json (dl/6018)",
        asserts: "\"Swimming\" matched to the Activity List by its preferred label",
        check: || {
            let (kind, data) = item(&active_newham(), 0);
            let a = only(normalise_at(NOW, &kind, &data, None)).activities;
            assert_eq!(
                (a[0].label.as_str(), a[0].matched),
                ("Swimming", Some(ActivityMatch::PrefLabel))
            );
            assert!(a[0].id.is_some());
        },
    },
    Quirk {
        case: "activity as one object with @type Event and a legacy id",
        sample: "letsride-2018-page.json (vtj/britishcycling-1)",
        asserts: "Road Cycling, matched by the id's UUID",
        check: || {
            let (kind, data) = item(&lets_ride(), 0);
            let a = only(normalise_at(NOW, &kind, &data, None)).activities;
            assert_eq!((a.len(), a[0].matched), (1, Some(ActivityMatch::Id)));
            assert_eq!(
                a[0].id.as_deref(),
                Some("https://openactive.io/activity-list#2a41c553-84be-4970-b3d0-42f9ef6bd9a4")
            );
        },
    },
    Quirk {
        case: "Concept without @id, label not in the list",
        sample: "legend-facilityuse.json (cs/facilityuse-2: \"Squash Activities ST\")",
        asserts: "kept as the publisher's label, matched unknown, problem unknown_activity",
        check: || {
            let (kind, data) = item(&legend_slot(), 0);
            let (_, facility) = item(&legend_facility(), 0);
            let o = only(normalise_at(NOW, &kind, &data, Some(&facility)));
            assert_eq!(o.activities[0].label, "Squash Activities ST");
            assert_eq!(o.activities[0].matched, Some(ActivityMatch::Unknown));
            assert!(codes(&o).contains(&"unknown_activity"));
        },
    },
    Quirk {
        case: "legacy activity ids http://openactive.io/activity-list/#…",
        sample: "everyoneactive-legacy-session.json (dl/7017), letsride-staging-page.json (bc-3)",
        asserts: "Climbing and Road Cycling matched by id, current ids",
        check: || {
            let (kind, data) = item(&everyone_active_legacy(), 0);
            let a = only(normalise_at(NOW, &kind, &data, None)).activities;
            assert_eq!(
                (a[0].label.as_str(), a[0].matched),
                ("Climbing", Some(ActivityMatch::Id))
            );
            assert!(
                a[0].id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("https://openactive.io/activity-list#"))
            );
            let (kind, data) = item(&lets_ride_staging(), 0);
            let a = only(normalise_at(NOW, &kind, &data, None)).activities;
            assert_eq!(a[0].matched, Some(ActivityMatch::Id));
        },
    },
    // --- dates and times -----------------------------------------------------------------
    Quirk {
        case: "startDate without offset \"YYYY-MM-DD HH:MM:SS\"",
        sample: "letsride-2018-page.json (vtj/britishcycling-1)",
        asserts: "10:00 UK time in January = 10:00 UTC, end 13:00 UTC, problem no_timezone",
        check: || {
            let (kind, data) = item(&lets_ride(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.start.to_rfc3339(), "2018-01-14T10:00:00+00:00");
            assert_eq!(
                o.end.map(|e| e.to_rfc3339()).as_deref(),
                Some("2018-01-14T13:00:00+00:00")
            );
            assert!(codes(&o).contains(&"no_timezone"));
        },
    },
    Quirk {
        case: "+05:30 offset on UK sessions",
        sample: "englandnetball-session-embedded-series.json (dl/6021), clubspark (dl/5017)",
        asserts: "the instant the offset names: 18:00 UTC for 23:30+05:30; 08:30 UTC (09:30 BST, its schedule's time) for 14:00+05:30",
        check: || {
            let (kind, data) = item(&england_netball(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.start.to_rfc3339(), "2016-01-05T18:00:00+00:00");
            assert!(!codes(&o).contains(&"no_timezone"));
            let (kind, data) = item(&clubspark(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            assert_eq!(o.start.to_rfc3339(), "2017-07-11T08:30:00+00:00");
        },
    },
    Quirk {
        case: "implausible duration PT15H30M",
        sample: "opensessions-series-compound-type.json (dl/5016)",
        asserts: "shown as published (930 minutes) with problem implausible_duration",
        check: || {
            let (kind, data) = item(&opensessions_compound(), 0);
            let all = found(normalise_at(NOW, &kind, &data, None));
            assert_eq!(all[0].duration_minutes, Some(930));
            assert!(codes(&all[0]).contains(&"implausible_duration"));
        },
    },
    Quirk {
        case: "byDay with the http:// scheme",
        sample: "cotech-course-schedule-httpday.json (cs/course-schedule-httpday)",
        asserts: "Fridays at 09:00 BST (08:00 UTC) from 31 July 2020; its beta:timeZone is read, nothing assumed",
        check: || {
            let (_, data) = item(&single(sample!("cotech-course-schedule-httpday.json")), 0);
            let mut problems = Vec::new();
            let found = schedule::expand(
                &data["eventSchedule"][0],
                at("2020-07-30T00:00:00Z"),
                Duration::days(14),
                &mut problems,
            );
            let starts: Vec<String> = found.iter().map(|o| o.start.to_rfc3339()).collect();
            assert_eq!(
                starts,
                ["2020-07-31T08:00:00+00:00", "2020-08-07T08:00:00+00:00"]
            );
            assert_eq!(problems, []);
        },
    },
    Quirk {
        case: "\"7:00pm\" times",
        sample: "emd-classfinder-2018-page.json (vtj/emd-1, classes 61655, 60937)",
        asserts: "7:00pm-9:00pm is 19:00-21:00, 11:30am-12:30pm is 11:30-12:30; the schedule then fails only for its missing startDate",
        check: || {
            let time = |class: &Value, key: &str| {
                let published = class["eventSchedule"][key].as_str().expect("a time");
                dates::parse_local_time(published).map(|t| t.to_string())
            };
            let (evening, morning) = (emd_class("61655"), emd_class("60937"));
            assert_eq!(time(&evening, "startTime").as_deref(), Some("19:00:00"));
            assert_eq!(time(&evening, "endTime").as_deref(), Some("21:00:00"));
            assert_eq!(time(&morning, "startTime").as_deref(), Some("11:30:00"));
            assert_eq!(time(&morning, "endTime").as_deref(), Some("12:30:00"));
            let mut problems = Vec::new();
            schedule::expand(
                &evening["eventSchedule"],
                at(NOW),
                Duration::days(28),
                &mut problems,
            );
            let c: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
            assert!(
                c.contains(&"schedule_without_start_date")
                    && !c.contains(&"schedule_without_start_time"),
                "{c:?}"
            );
        },
    },
    Quirk {
        case: "exceptDate",
        sample: "playwaze-sessionseries-with-exdates.json (cs/sessionseries-with-schedule-exdates)",
        asserts: "Thursdays 11:00 BST with 23 July 2020 left out",
        check: || {
            let (kind, data) = item(
                &single(sample!("playwaze-sessionseries-with-exdates.json")),
                0,
            );
            let all = found(normalise_at("2020-07-10T00:00:00Z", &kind, &data, None));
            assert_eq!(
                starts(&all),
                [
                    "2020-07-16T10:00:00+00:00",
                    "2020-07-30T10:00:00+00:00",
                    "2020-08-06T10:00:00+00:00"
                ]
            );
            assert!(all.iter().all(|o| o.from_schedule));
        },
    },
    // --- personal data -------------------------------------------------------------------
    Quirk {
        case: "personal data: a leader's name, phone and email",
        sample: "englandnetball-session-embedded-series.json (dl/6021; values redacted in the fixture)",
        asserts: "no leader detail reaches the opportunity; the organisation is the contact",
        check: || {
            let (kind, data) = item(&england_netball(), 0);
            let o = only(normalise_at(NOW, &kind, &data, None));
            let published = serde_json::to_string(&o).expect("serialises");
            for leader in [
                "Redacted Person",
                "redacted@example.invalid",
                "00000 000000",
            ] {
                assert!(!published.contains(leader), "{leader} leaked");
            }
            assert_eq!(
                o.organizer.and_then(|org| org.name).as_deref(),
                Some("England Netball")
            );
        },
    },
];

#[test]
fn every_quirk_of_the_cheat_sheet_is_handled() {
    let failed: Vec<String> = QUIRKS
        .iter()
        .filter(|q| catch_unwind(AssertUnwindSafe(q.check)).is_err())
        .map(|q| format!("{} [{}]: {}", q.case, q.sample, q.asserts))
        .collect();
    assert!(
        failed.is_empty(),
        "quirks mishandled:\n{}",
        failed.join("\n")
    );
}

#[test]
fn the_table_names_each_quirk_once() {
    let mut cases: Vec<&str> = QUIRKS.iter().map(|q| q.case).collect();
    cases.sort_unstable();
    let before = cases.len();
    cases.dedup();
    assert_eq!(before, cases.len(), "a quirk is listed twice");
    assert!(
        QUIRKS
            .iter()
            .all(|q| !q.sample.is_empty() && !q.asserts.is_empty())
    );
}
