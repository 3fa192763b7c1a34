//! `/v1/sessions` parameters: parsed by hand so every error names its parameter and says
//! what was wrong, and unknown parameters (typos such as `radius=`) are refused, not ignored.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use oa_geo::Point;
use oa_normalise::ActivityList;
use oa_store::search::{ActivityFilter, SearchRequest, SortOrder};

use crate::cursor;
use crate::problem::ApiError;

pub const DEFAULT_RADIUS_KM: f64 = 5.0;
pub const MAX_RADIUS_KM: f64 = 50.0;
pub const DEFAULT_WINDOW_DAYS: i64 = 14;
/// A wider window is never what a link worker means and would make every search a scan.
pub const MAX_WINDOW_DAYS: i64 = 366;
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

const KNOWN: [&str; 9] = [
    "lat",
    "lng",
    "radius_km",
    "from",
    "to",
    "activity",
    "sort",
    "limit",
    "cursor",
];

/// Turns the raw query string into a validated search; `now` is when "from now" is.
pub fn search_request(query: Option<&str>, now: DateTime<Utc>) -> Result<SearchRequest, ApiError> {
    let mut values: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let Some(known) = KNOWN.iter().find(|k| **k == name) else {
            return Err(ApiError::UnknownParameter(name.into_owned()));
        };
        if values.iter().any(|(n, _)| n == known) {
            return Err(ApiError::invalid(known, "given more than once"));
        }
        values.push((known, value.into_owned()));
    }
    let get = |name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };

    let lat = number(get("lat"), "lat")?.ok_or_else(|| ApiError::invalid("lat", "required"))?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::invalid(
            "lat",
            format!("{lat} is outside -90..90"),
        ));
    }
    let lng = number(get("lng"), "lng")?.ok_or_else(|| ApiError::invalid("lng", "required"))?;
    if !(-180.0..=180.0).contains(&lng) {
        return Err(ApiError::invalid(
            "lng",
            format!("{lng} is outside -180..180"),
        ));
    }
    let radius_km = number(get("radius_km"), "radius_km")?.unwrap_or(DEFAULT_RADIUS_KM);
    if radius_km <= 0.0 || radius_km > MAX_RADIUS_KM {
        return Err(ApiError::invalid(
            "radius_km",
            format!("{radius_km} is not in (0, {MAX_RADIUS_KM}] km"),
        ));
    }

    let from = get("from")
        .map(|v| instant(v, "from"))
        .transpose()?
        .unwrap_or(now);
    let to = match get("to") {
        Some(v) => instant(v, "to")?,
        None => from + chrono::Duration::days(DEFAULT_WINDOW_DAYS),
    };
    if to <= from {
        return Err(ApiError::invalid("to", "must be after `from`"));
    }
    if to - from > chrono::Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::invalid(
            "to",
            format!("the window from `from` is longer than {MAX_WINDOW_DAYS} days"),
        ));
    }

    let sort = match get("sort") {
        None | Some("start") => SortOrder::Start,
        Some("distance") => SortOrder::Distance,
        Some(other) => {
            return Err(ApiError::invalid(
                "sort",
                format!("{other:?} is not one of start, distance"),
            ));
        }
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(
                    "limit",
                    format!("{v:?} is not a whole number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    let after = get("cursor").map(cursor::decode).transpose()?;
    if let Some(after) = &after
        && after.sort() != sort
    {
        return Err(ApiError::invalid(
            "cursor",
            "was made for a different `sort`; keep the other parameters as they were",
        ));
    }
    Ok(SearchRequest {
        centre: Point::new(lat, lng),
        radius_km,
        from: from.timestamp(),
        to: to.timestamp(),
        activity: get("activity").map(activity_filter),
        sort,
        limit,
        after,
    })
}

/// A concept (by id or label) with everything beneath it; otherwise the label as free text.
fn activity_filter(wanted: &str) -> ActivityFilter {
    let list = ActivityList::shipped();
    let ids = list
        .resolve(wanted)
        .map(|concept| {
            list.with_narrower(&concept.id)
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| std::iter::once(wanted.to_owned()).collect());
    ActivityFilter {
        ids,
        label: wanted.to_owned(),
    }
}

fn number(value: Option<&str>, parameter: &'static str) -> Result<Option<f64>, ApiError> {
    value
        .map(|v| match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(n),
            _ => Err(ApiError::invalid(
                parameter,
                format!("{v:?} is not a number"),
            )),
        })
        .transpose()
}

/// An RFC 3339 instant, or a date meaning its start in UK local time.
fn instant(value: &str, parameter: &'static str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            parameter,
            format!(
                "{value:?} is neither a date (2026-05-01) nor a date-time (2026-05-01T09:00:00Z)"
            ),
        )
    })?;
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    London
        .from_local_datetime(&midnight)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| ApiError::invalid(parameter, format!("{value:?} has no midnight in the UK")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("date")
    }

    fn problem(query: &str) -> String {
        search_request(Some(query), now())
            .expect_err(query)
            .to_string()
    }

    #[test]
    fn defaults_are_five_km_from_now_for_fourteen_days_twenty_results() {
        let request = search_request(Some("lat=53.76&lng=-2.70"), now()).expect("valid");
        assert_eq!(request.radius_km, 5.0);
        assert_eq!(request.from, now().timestamp());
        assert_eq!(request.to - request.from, 14 * 86_400);
        assert_eq!(request.limit, 20);
        assert_eq!(request.sort, SortOrder::Start);
        assert!(request.after.is_none() && request.activity.is_none());
    }

    #[test]
    fn a_date_means_uk_midnight() {
        let request =
            search_request(Some("lat=53&lng=-2&from=2026-07-02&to=2026-07-03"), now()).expect("ok");
        assert_eq!(request.from, 1_782_946_800, "2026-07-01T23:00:00Z (BST)");
        assert_eq!(request.to - request.from, 86_400);
    }

    #[test]
    fn every_bad_parameter_is_named_with_what_was_wrong() {
        assert_eq!(problem("lng=-2"), "parameter `lat`: required");
        assert_eq!(
            problem("lat=91&lng=-2"),
            "parameter `lat`: 91 is outside -90..90"
        );
        assert_eq!(
            problem("lat=north&lng=-2"),
            "parameter `lat`: \"north\" is not a number"
        );
        assert_eq!(
            problem("lat=NaN&lng=-2"),
            "parameter `lat`: \"NaN\" is not a number"
        );
        assert_eq!(
            problem("lat=53&lng=181"),
            "parameter `lng`: 181 is outside -180..180"
        );
        assert_eq!(
            problem("lat=53&lng=-2&radius_km=51"),
            "parameter `radius_km`: 51 is not in (0, 50] km"
        );
        assert_eq!(
            problem("lat=53&lng=-2&radius_km=0"),
            "parameter `radius_km`: 0 is not in (0, 50] km"
        );
        assert_eq!(
            problem("lat=53&lng=-2&limit=101"),
            "parameter `limit`: \"101\" is not a whole number from 1 to 100"
        );
        assert!(
            problem("lat=53&lng=-2&from=tomorrow").starts_with("parameter `from`: \"tomorrow\"")
        );
        assert_eq!(
            problem("lat=53&lng=-2&from=2026-07-05&to=2026-07-04"),
            "parameter `to`: must be after `from`"
        );
        assert!(problem("lat=53&lng=-2&to=2028-01-01").starts_with("parameter `to`: the window"));
        assert_eq!(
            problem("lat=53&lng=-2&sort=price"),
            "parameter `sort`: \"price\" is not one of start, distance"
        );
        assert_eq!(
            problem("lat=53&lng=-2&radius=3"),
            "unknown parameter `radius`"
        );
        assert_eq!(
            problem("lat=53&lat=54&lng=-2"),
            "parameter `lat`: given more than once"
        );
        assert!(problem("lat=53&lng=-2&cursor=%%%").starts_with("parameter `cursor`:"));
    }
}
