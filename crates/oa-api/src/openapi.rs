//! The OpenAPI 3.1 document, generated from the handlers' annotations (`utoipa`), served at
//! `/openapi.json`, with an interactive reference at `/docs`.

use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "oa-aggregator",
        description = "OpenActive physical-activity sessions for social prescribing, aggregated per area: \
                       search near a postcode or point with the filters a link worker needs, each session \
                       with explainable tags, plus the harvest's state and data-quality per feed.",
        license(name = "MIT")
    ),
    tags(
        (name = "sessions", description = "Finding sessions"),
        (name = "feeds", description = "The harvest: feeds, their state and data quality"),
        (name = "coverage", description = "For ICS managers: what is on where, and who lives too far from it"),
        (name = "service", description = "Health, data sources")
    )
)]
pub struct ApiDoc;

/// `/v1/sessions` query parameters, documented (parsing is by hand, in `params`, so every
/// error names its parameter).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documentation only.
pub struct SessionParams {
    /// UK postcode of the centre (instead of lat/lng); located from the full postcode, its sector or district.
    #[param(example = "PR1 2XX")]
    postcode: Option<String>,
    /// Latitude of the centre, -90..90 (with `lng`).
    #[param(example = 53.7632)]
    lat: Option<f64>,
    /// Longitude of the centre, -180..180 (with `lat`).
    #[param(example = -2.7031)]
    lng: Option<f64>,
    /// Radius in km, (0, 50]; default 5.
    radius_km: Option<f64>,
    /// Radius in miles, instead of `radius_km`.
    radius_miles: Option<f64>,
    /// Start of the window: a date (UK midnight) or RFC 3339 date-time; default now.
    from: Option<String>,
    /// End of the window; default `from` + 14 days; at most 366 days after `from`.
    to: Option<String>,
    /// Days of the week (UK local), e.g. `mon,wed`; repeatable.
    days: Option<String>,
    /// `morning`, `afternoon`, `evening`; combinable.
    time_of_day: Option<String>,
    /// Activity List id or label, repeatable (any of); includes narrower concepts.
    activity: Option<String>,
    /// Tags all required, e.g. `social,beginner_friendly`.
    tags: Option<String>,
    /// Tags excluded.
    not_tags: Option<String>,
    /// Free sessions only.
    free: Option<bool>,
    /// Lowest price at most this (GBP).
    max_price: Option<f64>,
    /// With `max_price`, also sessions whose price is not published.
    include_unknown_price: Option<bool>,
    /// `session`, `event`, `course`, `facility_slot`.
    kind: Option<String>,
    /// Organiser name or URL.
    organizer: Option<String>,
    /// Words that must all appear in the name, description, organiser or venue.
    q: Option<String>,
    /// A pathway's name (see `/v1/pathways`).
    pathway: Option<String>,
    /// `start` (default) or `distance`.
    sort: Option<String>,
    /// 1 to 100; default 20.
    limit: Option<u32>,
    /// The previous response's `next_cursor`.
    cursor: Option<String>,
    /// Include each tag's reasons.
    explain: Option<bool>,
    /// `series`: one result per series with its next occurrences (`occurrences`).
    group: Option<String>,
    /// With `group=series`: occurrences per series, 1 to 20; default 5.
    group_size: Option<u32>,
    /// The client's age in years: only sessions whose age range admits it.
    age: Option<u32>,
    /// The client's gender (`female`, `male`, `other`): sessions restricted to another are left out.
    gender: Option<String>,
    /// Wheelchair accessible sessions only.
    wheelchair: Option<bool>,
    /// Accessibility support labels or ids (any of), e.g. `Physical impairment`; repeatable.
    accessibility: Option<String>,
}

/// An RFC 9457 problem: every error, a bad parameter naming it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documentation only; `problem::Problem` is what is sent.
pub struct ProblemDoc {
    /// Always `about:blank`.
    r#type: String,
    title: String,
    status: u16,
    detail: String,
    /// The (first) parameter at fault.
    parameter: Option<String>,
    /// Every bad parameter, when several were.
    errors: Option<Vec<ParameterProblemDoc>>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documentation only.
pub struct ParameterProblemDoc {
    parameter: String,
    problem: String,
}

/// The paths the router serves that this document must list.
pub const DOCUMENTED: &[&str] = &[
    "/v1/sessions",
    "/v1/sessions/{id}",
    "/v1/pathways",
    "/v1/feeds",
    "/v1/feeds/{id}/problems",
    "/health",
    "/about",
    "/v1/coverage",
    "/v1/coverage/access",
    "/v1/coverage/providers",
    "/metrics",
];
