//! Single values: the centre (lat/lng or postcode), activities, days and instants.

use chrono::{DateTime, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::London;
use oa_geo::{Gazetteer, Point, Postcode};
use oa_normalise::ActivityList;
use oa_store::search::ActivityFilter;

use super::reader::Reader;
use super::{Applied, AppliedActivity, Centre};
use crate::problem::ApiError;

/// `lat`+`lng`, or a `postcode` located like a session's (full, sector, district).
pub(super) fn centre(
    r: &mut Reader,
    places: &Gazetteer,
    applied: &mut Applied,
) -> Result<Point, ApiError> {
    let (lat, lng) = (r.number("lat"), r.number("lng"));
    if let Some(text) = r.one("postcode").map(str::to_owned) {
        if lat.is_some() || lng.is_some() {
            r.fail("postcode", "give a postcode or lat and lng, not both");
        }
        let Some(postcode) = Postcode::parse(&text) else {
            r.fail("postcode", format!("{text:?} is not a UK postcode"));
            return Ok(Point::new(0.0, 0.0));
        };
        let Some((point, precision)) = places.locate(&postcode) else {
            return Err(ApiError::UnknownPostcode(postcode.as_str().to_owned()));
        };
        applied.centre = Centre {
            lat: point.lat,
            lng: point.lng,
            postcode: Some(postcode.as_str().to_owned()),
            precision: precision.as_str(),
        };
        return Ok(point);
    }
    match (lat, lng) {
        (Some(lat), Some(lng)) => {
            if !(-90.0..=90.0).contains(&lat) {
                r.fail("lat", format!("{lat} is outside -90..90"));
            }
            if !(-180.0..=180.0).contains(&lng) {
                r.fail("lng", format!("{lng} is outside -180..180"));
            }
            applied.centre = Centre {
                lat,
                lng,
                postcode: None,
                precision: "exact",
            };
            Ok(Point::new(lat, lng))
        }
        (lat, lng) => {
            if lat.is_none() && r.one("lat").is_none() {
                r.fail("lat", "required (or give a postcode)");
            }
            if lng.is_none() && r.one("lng").is_none() {
                r.fail("lng", "required (or give a postcode)");
            }
            Ok(Point::new(0.0, 0.0))
        }
    }
}

/// A concept (by id or label) with everything beneath it; otherwise the label as free text.
pub(crate) fn activity_filter(wanted: &str) -> (ActivityFilter, AppliedActivity) {
    let list = ActivityList::shipped();
    let concept = list.resolve(wanted);
    let ids: std::collections::HashSet<String> = match concept {
        Some(c) => list
            .with_narrower(&c.id)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        None => std::iter::once(wanted.to_owned()).collect(),
    };
    let echo = AppliedActivity {
        query: wanted.to_owned(),
        concept: concept.map(|c| c.id.clone()),
        label: concept.map(|c| c.pref_label.clone()),
        concepts_included: if concept.is_some() { ids.len() } else { 0 },
    };
    (
        ActivityFilter {
            ids,
            label: wanted.to_owned(),
        },
        echo,
    )
}

/// `mon` or `monday`, any case.
pub(super) fn parse_day(text: &str) -> Option<Weekday> {
    let lower = text.to_ascii_lowercase();
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|d| lower == weekday_name(*d) || lower == weekday_name(*d)[..3])
}

pub(super) fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// An RFC 3339 instant, or a date meaning its start in UK local time.
pub(super) fn instant(r: &mut Reader, parameter: &str, value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|midnight| London.from_local_datetime(&midnight).earliest());
    if parsed.is_none() {
        r.fail(
            parameter,
            format!(
                "{value:?} is neither a date (2026-05-01) nor a date-time (2026-05-01T09:00:00Z)"
            ),
        );
    }
    parsed.map(|at| at.with_timezone(&Utc))
}
