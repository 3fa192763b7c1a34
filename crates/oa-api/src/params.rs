//! `/v1/sessions` parameters: parsed by hand so every error names its parameter and says
//! what was wrong, all errors at once, and unknown parameters (typos such as `radius=`) are
//! refused, not ignored. The normalised filters are echoed back with the results.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::London;
use oa_geo::{Gazetteer, Point, Postcode};
use oa_model::OpportunityKind;
use oa_normalise::ActivityList;
use oa_store::search::{ActivityFilter, Filters, SearchRequest, SortOrder, TimeOfDay};
use serde::Serialize;

use crate::cursor;
use crate::pathways::Pathways;
use crate::problem::ApiError;

pub const DEFAULT_RADIUS_KM: f64 = 5.0;
pub const MAX_RADIUS_KM: f64 = 50.0;
const KM_PER_MILE: f64 = 1.609_344;
pub const DEFAULT_WINDOW_DAYS: i64 = 14;
/// A wider window is never what a link worker means and would make every search a scan.
pub const MAX_WINDOW_DAYS: i64 = 366;
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
pub const DEFAULT_GROUP_SIZE: usize = 5;
pub const MAX_GROUP_SIZE: usize = 20;

/// Every parameter `/v1/sessions` accepts (the OpenAPI test checks each is documented).
pub const KNOWN: &[&str] = &[
    "lat",
    "lng",
    "postcode",
    "radius_km",
    "radius_miles",
    "from",
    "to",
    "days",
    "time_of_day",
    "activity",
    "tags",
    "not_tags",
    "free",
    "max_price",
    "include_unknown_price",
    "kind",
    "organizer",
    "q",
    "pathway",
    "sort",
    "limit",
    "cursor",
    "explain",
    "group",
    "group_size",
];
/// Parameters that may be given more than once (their values add up).
const REPEATABLE: &[&str] = &[
    "activity",
    "tags",
    "not_tags",
    "days",
    "time_of_day",
    "kind",
];

/// What the search needs besides the query string.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now: DateTime<Utc>,
    pub places: &'a Gazetteer,
    pub pathways: &'a Pathways,
}

/// A validated search, the filters as applied (echoed to the client) and presentation flags.
#[derive(Debug)]
pub struct SessionQuery {
    pub request: SearchRequest,
    pub applied: Applied,
    pub explain: bool,
}

/// The filters in force, normalised, so a client sees exactly what was searched.
#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Applied {
    pub centre: Centre,
    pub radius_km: f64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_of_day: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<AppliedActivity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_tags: Vec<String>,
    pub free: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
    pub include_unknown_price: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathway: Option<String>,
    pub sort: &'static str,
    pub limit: usize,
    /// With `group=series`: occurrences shown per series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_size: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Centre {
    pub lat: f64,
    pub lng: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// `exact` for lat/lng, else how the postcode was located.
    pub precision: &'static str,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppliedActivity {
    pub query: String,
    /// The Activity List concept it resolved to, if any (else matched as free text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concept: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How many concepts the search accepts (the concept and everything beneath it).
    pub concepts_included: usize,
}

/// Collects values and every problem, so one response can name all bad parameters.
struct Reader {
    values: BTreeMap<&'static str, Vec<String>>,
    problems: Vec<(String, String)>,
}

impl Reader {
    fn new(query: Option<&str>) -> Reader {
        let mut reader = Reader {
            values: BTreeMap::new(),
            problems: Vec::new(),
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let Some(known) = KNOWN.iter().find(|k| **k == name) else {
                reader
                    .problems
                    .push((name.into_owned(), "unknown parameter".into()));
                continue;
            };
            let values = reader.values.entry(known).or_default();
            if !values.is_empty() && !REPEATABLE.contains(known) {
                reader
                    .problems
                    .push(((*known).into(), "given more than once".into()));
                continue;
            }
            values.push(value.trim().to_owned());
        }
        reader
    }

    fn fail(&mut self, parameter: &str, problem: impl Into<String>) {
        self.problems.push((parameter.into(), problem.into()));
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every value, comma lists split.
    fn list(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn number(&mut self, name: &str) -> Option<f64> {
        let value = self.one(name)?.to_owned();
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                self.fail(name, format!("{value:?} is not a number"));
                None
            }
        }
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.one(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(other) => {
                let other = other.to_owned();
                self.fail(name, format!("{other:?} is not true or false"));
                false
            }
        }
    }
}

/// Turns the raw query string into a validated search.
pub fn session_query(query: Option<&str>, cx: Context<'_>) -> Result<SessionQuery, ApiError> {
    let mut r = Reader::new(query);
    let mut applied = Applied::default();

    let centre = centre(&mut r, cx.places, &mut applied)?;
    let in_range = |km: f64| km > 0.0 && km <= MAX_RADIUS_KM;
    let radius_km = match (r.number("radius_km"), r.number("radius_miles")) {
        (Some(_), Some(_)) => {
            r.fail("radius_miles", "give radius_km or radius_miles, not both");
            DEFAULT_RADIUS_KM
        }
        (Some(km), None) if !in_range(km) => {
            r.fail(
                "radius_km",
                format!("{km} is not in (0, {MAX_RADIUS_KM}] km"),
            );
            DEFAULT_RADIUS_KM
        }
        (None, Some(miles)) if !in_range(miles * KM_PER_MILE) => {
            let max = MAX_RADIUS_KM / KM_PER_MILE;
            r.fail(
                "radius_miles",
                format!("{miles} is not in (0, {max:.1}] miles"),
            );
            DEFAULT_RADIUS_KM
        }
        (Some(km), None) => km,
        (None, Some(miles)) => miles * KM_PER_MILE,
        (None, None) => DEFAULT_RADIUS_KM,
    };
    applied.radius_km = radius_km;

    let from = r
        .one("from")
        .map(str::to_owned)
        .and_then(|v| instant(&mut r, "from", &v))
        .unwrap_or(cx.now);
    let to = match r.one("to").map(str::to_owned) {
        Some(v) => instant(&mut r, "to", &v).unwrap_or(from),
        None => from + chrono::Duration::days(DEFAULT_WINDOW_DAYS),
    };
    if r.one("to").is_some()
        && to <= from
        && !r.problems.iter().any(|(p, _)| p == "to" || p == "from")
    {
        r.fail("to", "must be after `from`");
    }
    if to - from > chrono::Duration::days(MAX_WINDOW_DAYS) {
        r.fail(
            "to",
            format!("the window from `from` is longer than {MAX_WINDOW_DAYS} days"),
        );
    }
    (applied.from, applied.to) = (from, to);

    let mut filters = Filters::default();
    for day in r.list("days") {
        match parse_day(&day) {
            Some(d) if !filters.days.contains(&d) => filters.days.push(d),
            Some(_) => {}
            None => r.fail(
                "days",
                format!("{day:?} is not a day (mon, tue, ... or monday, ...)"),
            ),
        }
    }
    applied.days = filters
        .days
        .iter()
        .map(|d| weekday_name(*d)[..3].to_owned())
        .collect();
    for part in r.list("time_of_day") {
        let (time, name) = match part.to_ascii_lowercase().as_str() {
            "morning" => (TimeOfDay::Morning, "morning"),
            "afternoon" => (TimeOfDay::Afternoon, "afternoon"),
            "evening" => (TimeOfDay::Evening, "evening"),
            _ => {
                r.fail(
                    "time_of_day",
                    format!("{part:?} is not one of morning, afternoon, evening"),
                );
                continue;
            }
        };
        if !filters.times_of_day.contains(&time) {
            filters.times_of_day.push(time);
            applied.time_of_day.push(name);
        }
    }

    let mut activities = r.list("activity");
    let mut tags = r.list("tags");
    if let Some(name) = r.one("pathway").map(str::to_owned) {
        match cx.pathways.get(&name) {
            Some(pathway) => {
                activities.extend(pathway.activities.iter().cloned());
                tags.extend(pathway.tags.iter().cloned());
                applied.pathway = Some(name);
            }
            None => {
                let known: Vec<&str> = cx
                    .pathways
                    .pathways
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                r.fail(
                    "pathway",
                    format!(
                        "{name:?} is not a pathway (see /v1/pathways: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    for wanted in activities {
        let (filter, echo) = activity_filter(&wanted);
        filters.activities.push(filter);
        applied.activities.push(echo);
    }
    tags.sort();
    tags.dedup();
    filters.tags = tags.clone();
    applied.tags = tags;
    filters.not_tags = r.list("not_tags");
    applied.not_tags = filters.not_tags.clone();
    filters.free = r.flag("free");
    applied.free = filters.free;
    filters.max_price = r.number("max_price");
    if filters.max_price.is_some_and(|p| p < 0.0) {
        r.fail("max_price", "must not be negative");
    }
    applied.max_price = filters.max_price;
    filters.include_unknown_price = r.flag("include_unknown_price");
    applied.include_unknown_price = filters.include_unknown_price;
    for kind in r.list("kind") {
        let parsed = match kind.to_ascii_lowercase().as_str() {
            "session" => OpportunityKind::Session,
            "event" => OpportunityKind::Event,
            "course" => OpportunityKind::Course,
            "facility_slot" | "facility" | "slot" => OpportunityKind::FacilitySlot,
            _ => {
                r.fail(
                    "kind",
                    format!("{kind:?} is not one of session, event, course, facility_slot"),
                );
                continue;
            }
        };
        if !filters.kinds.contains(&parsed) {
            filters.kinds.push(parsed);
            applied.kind.push(parsed.as_str());
        }
    }
    filters.organizer = r.one("organizer").map(str::to_owned);
    applied.organizer = filters.organizer.clone();
    if let Some(q) = r.one("q").map(str::to_owned) {
        filters.words = q.split_whitespace().map(str::to_lowercase).collect();
        applied.q = Some(q);
    }

    let sort = match r.one("sort") {
        None | Some("start") => SortOrder::Start,
        Some("distance") => SortOrder::Distance,
        Some(other) => {
            let other = other.to_owned();
            r.fail("sort", format!("{other:?} is not one of start, distance"));
            SortOrder::Start
        }
    };
    applied.sort = if sort == SortOrder::Distance {
        "distance"
    } else {
        "start"
    };
    let limit = match r.one("limit").map(str::to_owned) {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                r.fail(
                    "limit",
                    format!("{v:?} is not a whole number from 1 to {MAX_LIMIT}"),
                );
                DEFAULT_LIMIT
            }
        },
    };
    applied.limit = limit;
    let after = match r.one("cursor").map(str::to_owned) {
        None => None,
        Some(text) => match cursor::decode(&text) {
            Ok(after) if after.sort() == sort => Some(after),
            Ok(_) => {
                r.fail(
                    "cursor",
                    "was made for a different `sort`; keep the other parameters as they were",
                );
                None
            }
            Err(problem) => {
                r.fail("cursor", problem);
                None
            }
        },
    };
    let explain = r.flag("explain");
    let group = match r.one("group") {
        None => None,
        Some("series") => Some(match r.one("group_size").map(str::to_owned) {
            None => DEFAULT_GROUP_SIZE,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_GROUP_SIZE).contains(&n) => n,
                _ => {
                    r.fail(
                        "group_size",
                        format!("{v:?} is not a whole number from 1 to {MAX_GROUP_SIZE}"),
                    );
                    DEFAULT_GROUP_SIZE
                }
            },
        }),
        Some(other) => {
            let other = other.to_owned();
            r.fail("group", format!("{other:?} is not `series`"));
            None
        }
    };
    if group.is_none() && r.one("group_size").is_some() {
        r.fail("group_size", "only with group=series");
    }
    applied.group_size = group;
    if !r.problems.is_empty() {
        return Err(ApiError::InvalidParameters(r.problems));
    }
    Ok(SessionQuery {
        request: SearchRequest {
            centre,
            radius_km,
            from: from.timestamp(),
            to: to.timestamp(),
            filters,
            sort,
            limit,
            after,
            group,
        },
        applied,
        explain,
    })
}

/// `lat`+`lng`, or a `postcode` located like a session's (full, sector, district).
fn centre(r: &mut Reader, places: &Gazetteer, applied: &mut Applied) -> Result<Point, ApiError> {
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
fn parse_day(text: &str) -> Option<Weekday> {
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

fn weekday_name(day: Weekday) -> &'static str {
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
fn instant(r: &mut Reader, parameter: &str, value: &str) -> Option<DateTime<Utc>> {
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

#[cfg(test)]
mod tests;
