use chrono::Weekday;

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .expect("date")
}

fn parse(query: &str) -> Result<SessionQuery, ApiError> {
    let pathways = Pathways::shipped();
    let context = Context {
        now: now(),
        places: Gazetteer::bundled(),
        pathways: &pathways,
    };
    session_query(Some(query), context)
}

fn problem(query: &str) -> String {
    parse(query).expect_err(query).to_string()
}

#[test]
fn defaults_are_five_km_from_now_for_fourteen_days_twenty_results() {
    let request = parse("lat=53.76&lng=-2.70").expect("valid").request;
    assert_eq!(request.radius_km, 5.0);
    assert_eq!(request.from, now().timestamp());
    assert_eq!(request.to - request.from, 14 * 86_400);
    assert_eq!(request.limit, 20);
    assert_eq!(request.sort, SortOrder::Start);
    assert!(request.after.is_none() && request.filters.activities.is_empty());
}

#[test]
fn a_date_means_uk_midnight() {
    let request = parse("lat=53&lng=-2&from=2026-07-02&to=2026-07-03")
        .expect("ok")
        .request;
    assert_eq!(request.from, 1_782_946_800, "2026-07-01T23:00:00Z (BST)");
    assert_eq!(request.to - request.from, 86_400);
}

#[test]
fn every_bad_parameter_is_named_with_what_was_wrong() {
    assert_eq!(
        problem("lng=-2"),
        "parameter `lat`: required (or give a postcode)"
    );
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
        problem("lat=53&lng=-2&limit=101"),
        "parameter `limit`: \"101\" is not a whole number from 1 to 100"
    );
    assert!(problem("lat=53&lng=-2&from=tomorrow").starts_with("parameter `from`: \"tomorrow\""));
    assert_eq!(
        problem("lat=53&lng=-2&from=2026-07-05&to=2026-07-04"),
        "parameter `to`: must be after `from`"
    );
    assert!(problem("lat=53&lng=-2&to=2028-01-01").starts_with("parameter `to`: the window"));
    assert_eq!(
        problem("lat=53&lng=-2&radius=3"),
        "unknown parameter `radius`"
    );
    assert_eq!(
        problem("lat=53&lat=54&lng=-2"),
        "parameter `lat`: given more than once"
    );
    assert!(problem("lat=53&lng=-2&cursor=%%%").starts_with("parameter `cursor`: malformed"));
    assert_eq!(
        problem("lat=53&lng=-2&days=funday&time_of_day=noon&kind=party&free=maybe"),
        "parameter `days`: \"funday\" is not a day (mon, tue, ... or monday, ...); \
         parameter `time_of_day`: \"noon\" is not one of morning, afternoon, evening; \
         parameter `free`: \"maybe\" is not true or false; \
         parameter `kind`: \"party\" is not one of session, event, course, facility_slot",
        "all problems at once"
    );
    assert!(
        problem("lat=53&lng=-2&pathway=boredom")
            .starts_with("parameter `pathway`: \"boredom\" is not a pathway")
    );
}

#[test]
fn a_postcode_is_a_centre_with_its_precision_and_an_unknown_one_is_named() {
    let query = parse("postcode=pr1%202xx&radius_miles=2").expect("valid");
    assert_eq!(query.applied.centre.postcode.as_deref(), Some("PR1 2XX"));
    assert_eq!(query.applied.centre.precision, "sector");
    assert!(
        (query.request.radius_km - 3.218_688).abs() < 1e-9,
        "2 miles"
    );
    assert!(
        matches!(parse("postcode=ZZ9%209ZZ"), Err(ApiError::UnknownPostcode(p)) if p == "ZZ9 9ZZ")
    );
    assert_eq!(
        problem("postcode=hello"),
        "parameter `postcode`: \"hello\" is not a UK postcode"
    );
    assert_eq!(
        problem("postcode=PR1%202XX&lat=53&lng=-2"),
        "parameter `postcode`: give a postcode or lat and lng, not both"
    );
}

#[test]
fn filters_are_normalised_and_a_pathway_expands_into_them() {
    let query = parse(
        "lat=53&lng=-2&days=Mon,wednesday&days=mon&time_of_day=evening&tags=social&not_tags=women_only\
         &max_price=3&kind=session&q=Tai%20Chi&pathway=falls_prevention&activity=Football",
    )
    .expect("valid");
    let filters = &query.request.filters;
    assert_eq!(filters.days, [Weekday::Mon, Weekday::Wed]);
    assert_eq!(filters.times_of_day, [TimeOfDay::Evening]);
    assert_eq!(filters.tags, ["social"]);
    assert_eq!(filters.not_tags, ["women_only"]);
    assert_eq!(filters.max_price, Some(3.0));
    assert_eq!(filters.kinds, [OpportunityKind::Session]);
    assert_eq!(filters.words, ["tai", "chi"]);
    assert_eq!(query.applied.pathway.as_deref(), Some("falls_prevention"));
    let labels: Vec<&str> = query
        .applied
        .activities
        .iter()
        .filter_map(|a| a.label.as_deref())
        .collect();
    assert!(
        labels.contains(&"Football") && labels.contains(&"Tai Chi"),
        "{labels:?}"
    );
    let football = &query.applied.activities[0];
    assert!(
        football.concepts_included > 1,
        "Football includes what is beneath it"
    );
}

#[test]
fn client_parameters_are_validated() {
    let query = parse(
        "lat=53&lng=-2&age=67&gender=Female&wheelchair=true&accessibility=Physical%20impairment",
    )
    .expect("valid");
    assert_eq!(query.request.filters.age, Some(67));
    assert_eq!(query.request.filters.gender, Some(ClientGender::Female));
    assert!(query.request.filters.wheelchair);
    assert_eq!(query.applied.gender.as_deref(), Some("female"));
    assert_eq!(
        problem("lat=53&lng=-2&age=old&gender=x"),
        "parameter `age`: \"old\" is not an age in years (0 to 120); parameter `gender`: \"x\" is not female, male or other"
    );
}
