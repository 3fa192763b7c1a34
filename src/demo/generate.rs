//! Turns the seed into RPDE items dated from now: each weekly series becomes a SessionSeries
//! and its ScheduledSessions over the next four weeks (one cancelled where the seed says);
//! an events publisher's entries become one-off Events.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::London;
use oa_model::rpde_publish::FeedOrdering;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::seed::{Seed, SeedPublisher, SeedSeries, SeedVenue};

/// How far ahead weekly series are generated.
const WEEKS_AHEAD: i64 = 4;

/// The seed cannot be turned into feeds.
#[derive(Debug, thiserror::Error)]
#[error("demo seed: publisher {publisher:?}: {problem}")]
pub struct SeedError {
    publisher: String,
    problem: String,
}

/// One item as published.
#[derive(Debug, Clone)]
pub struct OwnedItem {
    pub id: String,
    pub kind: &'static str,
    pub modified: i64,
    pub data: Option<Box<RawValue>>,
}

#[derive(Debug, Clone)]
pub struct DemoFeed {
    /// Path under the demo server, e.g. `/ribble-valley/feeds/session-series`.
    pub path: String,
    /// The OpenActive type it carries, e.g. `SessionSeries`.
    pub kind: &'static str,
    pub ordering: FeedOrdering,
    /// Sorted by the feed's ordering.
    pub items: Vec<OwnedItem>,
}

#[derive(Debug, Clone)]
pub struct DemoPublisher {
    pub key: String,
    pub name: String,
    pub url: String,
    pub via_dataset_site: bool,
    pub feeds: Vec<DemoFeed>,
}

pub fn generate(
    seed: &Seed,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DemoPublisher>, SeedError> {
    seed.publishers
        .iter()
        .map(|publisher| publish(publisher, base_url, now))
        .collect()
}

fn publish(
    p: &SeedPublisher,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<DemoPublisher, SeedError> {
    let fail = |problem: String| SeedError {
        publisher: p.key.clone(),
        problem,
    };
    let ordering = match p.ordering.as_str() {
        "modified_id" => FeedOrdering::ModifiedId,
        "change_number" => FeedOrdering::ChangeNumber,
        other => {
            return Err(fail(format!(
                "ordering {other:?} is not modified_id or change_number"
            )));
        }
    };
    let ids = format!("{base_url}/{}", p.key);
    let mut series_items = Vec::new();
    let mut child_items = Vec::new();
    for series in &p.series {
        let venue = p
            .venues
            .iter()
            .find(|v| v.key == series.venue)
            .ok_or_else(|| {
                fail(format!(
                    "series {:?} names unknown venue {:?}",
                    series.key, series.venue
                ))
            })?;
        let start_time = NaiveTime::parse_from_str(&series.start_time, "%H:%M")
            .map_err(|e| fail(format!("series {:?}: start_time: {e}", series.key)))?;
        let description = describe(p, series, venue, &ids);
        match p.kind.as_str() {
            "series" => {
                let series_id = format!("{ids}/session-series/{}", series.key);
                let mut data = description;
                data["@type"] = json!("SessionSeries");
                data["@id"] = json!(series_id);
                series_items.push((series.key.clone(), data));
                let weekdays = series
                    .weekdays
                    .iter()
                    .map(|d| {
                        d.parse::<Weekday>()
                            .map_err(|_| fail(format!("series {:?}: weekday {d:?}", series.key)))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let starts = weekly_starts(now, &weekdays, start_time);
                for (n, start) in starts.into_iter().enumerate() {
                    let cancelled = series.cancel_occurrence == Some(n);
                    let id = format!("{}-{}", series.key, start.format("%Y%m%d"));
                    let end = start + Duration::minutes(series.duration_minutes);
                    child_items.push((id.clone(), json!({
                        "@context": "https://openactive.io/",
                        "@type": "ScheduledSession",
                        "@id": format!("{ids}/scheduled-sessions/{id}"),
                        "superEvent": series_id,
                        "startDate": start.to_rfc3339(),
                        "endDate": end.to_rfc3339(),
                        "duration": format!("PT{}M", series.duration_minutes),
                        "eventStatus": if cancelled { "https://schema.org/EventCancelled" } else { "https://schema.org/EventScheduled" },
                    })));
                }
            }
            "events" => {
                for days in &series.days_ahead {
                    let Some(start) = local_start(today(now) + Duration::days(*days), start_time)
                    else {
                        continue;
                    };
                    let id = format!("{}-{}", series.key, start.format("%Y%m%d"));
                    let mut data = description.clone();
                    data["@type"] = json!("Event");
                    data["@id"] = json!(format!("{ids}/events/{id}"));
                    data["startDate"] = json!(start.to_rfc3339());
                    data["endDate"] =
                        json!((start + Duration::minutes(series.duration_minutes)).to_rfc3339());
                    data["duration"] = json!(format!("PT{}M", series.duration_minutes));
                    data["eventStatus"] = json!("https://schema.org/EventScheduled");
                    series_items.push((id, data));
                }
            }
            other => return Err(fail(format!("kind {other:?} is not series or events"))),
        }
    }
    let feed = |name: &str, kind: &'static str, items: Vec<(String, Value)>| DemoFeed {
        path: format!("/{}/feeds/{name}", p.key),
        kind,
        ordering,
        items: numbered(items, kind, ordering, now),
    };
    let feeds = if p.kind == "series" {
        vec![
            feed("session-series", "SessionSeries", series_items),
            feed("scheduled-sessions", "ScheduledSession", child_items),
        ]
    } else {
        vec![feed("events", "Event", series_items)]
    };
    Ok(DemoPublisher {
        key: p.key.clone(),
        name: p.name.clone(),
        url: p.url.clone(),
        via_dataset_site: p.via == "dataset_site",
        feeds,
    })
}

/// Everything a series (or one-off event) says about itself, in OpenActive terms.
fn describe(p: &SeedPublisher, s: &SeedSeries, v: &SeedVenue, ids: &str) -> Value {
    let mut offers = vec![json!({
        "@type": "Offer",
        "@id": format!("{ids}/offers/{}", s.key),
        "name": "Drop-in",
        "price": s.price_gbp,
        "priceCurrency": "GBP",
    })];
    if s.first_session_free {
        offers.push(json!({
            "@type": "Offer",
            "@id": format!("{ids}/offers/{}-first", s.key),
            "name": "First session free",
            "price": 0,
            "priceCurrency": "GBP",
        }));
    }
    let mut data = json!({
        "@context": "https://openactive.io/",
        "name": s.name,
        "description": s.description,
        "activity": [{
            "@type": "Concept",
            "@id": s.activity.id,
            "prefLabel": s.activity.label,
            "inScheme": "https://openactive.io/activity-list",
        }],
        "location": {
            "@type": "Place",
            "@id": format!("{ids}/places/{}", v.key),
            "name": v.name,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": v.street,
                "addressLocality": v.locality,
                "postalCode": v.postcode,
                "addressCountry": "GB",
            },
            "geo": {"@type": "GeoCoordinates", "latitude": v.lat, "longitude": v.lng},
        },
        "organizer": {"@type": "Organization", "name": p.name, "url": p.url},
        "offers": offers,
        "url": format!("{}/sessions/{}", p.url, s.key),
    });
    if !s.level.is_empty() {
        data["level"] = json!(s.level);
    }
    if s.age_min.is_some() || s.age_max.is_some() {
        let mut range = json!({"@type": "QuantitativeValue"});
        if let Some(min) = s.age_min {
            range["minValue"] = json!(min);
        }
        if let Some(max) = s.age_max {
            range["maxValue"] = json!(max);
        }
        data["ageRange"] = range;
    }
    if let Some(gender) = &s.gender {
        let restriction = match gender.as_str() {
            "Female" => "https://openactive.io/FemaleOnly",
            "Male" => "https://openactive.io/MaleOnly",
            _ => "https://openactive.io/NoRestriction",
        };
        data["genderRestriction"] = json!(restriction);
    }
    if !s.accessibility_support.is_empty() {
        data["accessibilitySupport"] = s
            .accessibility_support
            .iter()
            .map(|id| {
                let mut concept = json!({"@type": "Concept", "@id": id, "inScheme": "https://openactive.io/accessibility-support"});
                if let Some(label) = accessibility_label(id) {
                    concept["prefLabel"] = json!(label);
                }
                concept
            })
            .collect();
    }
    if let Some(instructions) = &s.attendee_instructions {
        data["attendeeInstructions"] = json!(instructions);
    }
    data
}

fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&London).date_naive()
}

fn local_start(date: NaiveDate, time: NaiveTime) -> Option<DateTime<chrono_tz::Tz>> {
    London.from_local_datetime(&date.and_time(time)).earliest()
}

/// The series' starts on its weekdays from now for [`WEEKS_AHEAD`] weeks.
fn weekly_starts(
    now: DateTime<Utc>,
    weekdays: &[Weekday],
    time: NaiveTime,
) -> Vec<DateTime<chrono_tz::Tz>> {
    let first = today(now);
    (0..WEEKS_AHEAD * 7)
        .map(|d| first + Duration::days(d))
        .filter(|date| weekdays.contains(&date.weekday()))
        .filter_map(|date| local_start(date, time))
        .filter(|start| start.with_timezone(&Utc) > now)
        .collect()
}

/// Gives items their `modified` in feed order: a change number, or a millisecond timestamp.
fn numbered(
    items: Vec<(String, Value)>,
    kind: &'static str,
    ordering: FeedOrdering,
    now: DateTime<Utc>,
) -> Vec<OwnedItem> {
    let base = match ordering {
        FeedOrdering::ChangeNumber => 0,
        FeedOrdering::ModifiedId => now.timestamp_millis(),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(n, (id, data))| OwnedItem {
            id,
            kind,
            modified: base + n as i64 + 1,
            data: RawValue::from_string(data.to_string()).ok(),
        })
        .collect()
}

/// The Accessibility Support list's label for a concept id.
fn accessibility_label(id: &str) -> Option<String> {
    const LIST: &str = include_str!("../../fixtures/openactive/accessibility-support.jsonld");
    let list: Value = serde_json::from_str(LIST).ok()?;
    list.get("concept")?
        .as_array()?
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|c| c.get("prefLabel")?.as_str().map(str::to_owned))
}
