//! `/v1/sessions` parameters: parsed by hand so every error names its parameter and says
//! what was wrong, all errors at once, and unknown parameters (typos such as `radius=`) are
//! refused, not ignored. The normalised filters are echoed back with the results.

use chrono::{DateTime, Utc};
use oa_geo::Gazetteer;
use oa_model::OpportunityKind;
use oa_store::search::{ClientGender, Filters, SearchRequest, SortOrder, TimeOfDay};

use crate::cursor;

mod applied;
mod reader;
mod values;

use crate::pathways::Pathways;
use crate::problem::ApiError;
pub use applied::{Applied, AppliedActivity, Centre};
use reader::Reader;
pub(crate) use values::activity_filter;
use values::{centre, instant, parse_day, weekday_name};

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
    "age",
    "gender",
    "wheelchair",
    "accessibility",
];
/// Parameters that may be given more than once (their values add up).
const REPEATABLE: &[&str] = &[
    "activity",
    "tags",
    "not_tags",
    "days",
    "time_of_day",
    "kind",
    "accessibility",
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

    if let Some(age) = r.one("age").map(str::to_owned) {
        match age.parse::<u32>() {
            Ok(n) if n <= 120 => filters.age = Some(n),
            _ => r.fail("age", format!("{age:?} is not an age in years (0 to 120)")),
        }
    }
    applied.age = filters.age;
    filters.gender = match r.one("gender").map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("female" | "f" | "woman") => Some(ClientGender::Female),
        Some("male" | "m" | "man") => Some(ClientGender::Male),
        Some("other" | "non-binary" | "nonbinary") => Some(ClientGender::Other),
        Some(other) => {
            let other = other.to_owned();
            r.fail("gender", format!("{other:?} is not female, male or other"));
            None
        }
    };
    applied.gender = r
        .one("gender")
        .filter(|_| filters.gender.is_some())
        .map(str::to_lowercase);
    filters.wheelchair = r.flag("wheelchair");
    applied.wheelchair = filters.wheelchair;
    filters.accessibility = r.list("accessibility");
    applied.accessibility = filters.accessibility.clone();

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

#[cfg(test)]
mod tests;
