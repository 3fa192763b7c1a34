//! Fuzzes the item normaliser deep down: the bytes are placed as strings into a plausible
//! OpenActive item (dates, durations, schedules, offers, geo, postcodes, activities, HTML
//! text), which is then normalised as each kind with a fixed clock.
//!
//! Input: the first byte picks the item's `@type` (and, with its top bit, embedded
//! `subEvent`s, which stop a series' schedule being expanded); the rest is split on `0xFF`
//! into chunks, each chunk's first byte choosing the field and the remaining bytes (lossy
//! UTF-8) its value, an empty value removing the field.
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use oa_geo::{Gazetteer, Ics};
use oa_normalise::{ActivityList, TagRules, Vocabulary, normalise_with, place};
use serde_json::{Value, json};

const TYPES: &[&str] = &[
    "SessionSeries",
    "ScheduledSession",
    "Event",
    "Slot",
    "FacilityUse",
    "CourseInstance",
];

/// Where each chunk's value goes: a JSON pointer into the skeleton.
const FIELDS: &[&str] = &[
    "/startDate",
    "/endDate",
    "/duration",
    "/eventSchedule/0/byDay/0",
    "/eventSchedule/0/startDate",
    "/eventSchedule/0/endDate",
    "/eventSchedule/0/repeatFrequency",
    "/eventSchedule/0/startTime",
    "/eventSchedule/0/endTime",
    "/eventSchedule/0/duration",
    "/eventSchedule/0/scheduleTimezone",
    "/eventSchedule/0/exceptDate/0",
    "/eventSchedule/0/repeatCount",
    "/eventSchedule/0/idTemplate",
    "/offers/0/price",
    "/offers/0/priceCurrency",
    "/location/geo/latitude",
    "/location/geo/longitude",
    "/location/address/postalCode",
    "/location/name",
    "/activity/0/prefLabel",
    "/activity/0/@id",
    "/description",
    "/name",
    "/ageRange/minValue",
    "/ageRange/maxValue",
    "/genderRestriction",
    "/level/0",
    "/organizer/url",
    "/eventStatus",
    "/accessibilitySupport/0/prefLabel",
    "/category/0",
    "/amenityFeature/0/@type",
    "/isAccessibleForFree",
    "/subEvent/0/startDate",
    "/subEvent/0/@id",
    "/superEvent/name",
    "/superEvent/description",
];

static NOW: LazyLock<DateTime<Utc>> = LazyLock::new(|| {
    DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .expect("a valid instant")
});
static AREAS: LazyLock<Vec<&'static Ics>> =
    LazyLock::new(|| Ics::lancashire_south_cumbria().into_iter().collect());

fn skeleton(kind: &str) -> Value {
    json!({
        "@context": "https://openactive.io/",
        "@type": kind,
        "@id": "https://publisher.example/items/1",
        "name": "Walking Football",
        "description": "<p>Gentle &amp; friendly, beginners welcome</p>",
        "startDate": "2026-07-02T10:00:00+01:00",
        "endDate": "2026-07-02T11:00:00+01:00",
        "duration": "PT1H",
        "eventSchedule": [{
            "@type": "Schedule",
            "byDay": ["https://schema.org/Thursday"],
            "startDate": "2026-06-01",
            "endDate": "2026-12-31",
            "repeatFrequency": "P1W",
            "startTime": "10:00",
            "endTime": "11:00",
            "duration": "PT1H",
            "scheduleTimezone": "Europe/London",
            "exceptDate": ["2026-07-09"],
            "repeatCount": 10,
            "idTemplate": "https://publisher.example/sessions/{startDate}"
        }],
        "offers": [{"@type": "Offer", "price": 3.5, "priceCurrency": "GBP"}],
        "location": {
            "@type": "Place",
            "name": "Fulwood Leisure Centre",
            "address": {"@type": "PostalAddress", "postalCode": "PR2 0DA"},
            "geo": {"@type": "GeoCoordinates", "latitude": 53.75425, "longitude": -2.70837}
        },
        "activity": [{
            "@id": "https://openactive.io/activity-list#c07d63a0",
            "prefLabel": "Walking Football"
        }],
        "ageRange": {"minValue": 50, "maxValue": 99},
        "genderRestriction": "https://openactive.io/NoRestriction",
        "level": ["Beginner"],
        "organizer": {"@type": "Organization", "name": "Club", "url": "https://club.example"},
        "eventStatus": "https://schema.org/EventScheduled",
        "accessibilitySupport": [{"prefLabel": "Physical impairment"}],
        "category": ["Older adults"],
        "amenityFeature": [{"@type": "Parking", "value": true}],
        "isAccessibleForFree": false,
        "superEvent": {"@type": "SessionSeries", "@id": "https://publisher.example/series/1", "name": "Series"}
    })
}

/// Removes the field a JSON pointer names, if it is there.
fn remove(item: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    match item.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(key);
        }
        Some(Value::Array(list)) => {
            if let Ok(index) = key.parse::<usize>()
                && index < list.len()
            {
                list.remove(index);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let kind = TYPES[usize::from(selector & 0x7F) % TYPES.len()];
    let mut item = skeleton(kind);
    if selector & 0x80 != 0 {
        item["subEvent"] = json!([{
            "@type": "ScheduledSession",
            "@id": "https://publisher.example/sessions/1",
            "startDate": "2026-07-03T10:00:00Z"
        }]);
    }
    for chunk in rest.split(|b| *b == 0xFF) {
        let Some((&field, value)) = chunk.split_first() else {
            continue;
        };
        let pointer = FIELDS[usize::from(field) % FIELDS.len()];
        if value.is_empty() {
            remove(&mut item, pointer);
        } else if let Some(slot) = item.pointer_mut(pointer) {
            *slot = Value::String(String::from_utf8_lossy(value).into_owned());
        }
    }
    let vocabulary = Vocabulary {
        tags: TagRules::shipped(),
        activities: ActivityList::shipped(),
        places: Gazetteer::bundled(),
        bounds: &place::UK_BOUNDS,
        now: *NOW,
        horizon: Duration::days(oa_normalise::DEFAULT_HORIZON_DAYS),
        areas: &AREAS,
    };
    let parent = item.get("superEvent").cloned();
    let _ = normalise_with(&vocabulary, kind, &item, None);
    let _ = normalise_with(&vocabulary, kind, &item, parent.as_ref());
    // The item as its own parent: a child inheriting every field set above.
    let _ = normalise_with(&vocabulary, kind, &item, Some(&item));
});
