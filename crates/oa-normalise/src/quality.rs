//! Data-quality problems in an item that can still be shown: each a stable code and a
//! detail, so publishers can be told precisely what to fix and managers can count them.

use chrono::{DateTime, Utc};
use oa_model::{
    Activity, ActivityMatch, Opportunity, OpportunityKind, Organizer, Price, QualityProblem,
};
use serde_json::Value;

use crate::jsonld::text;
use crate::offers::{self, PriceReading};

/// Above this (GBP) one session's price is flagged: community sessions cost a few pounds;
/// courses and facility hire, which can cost more, are not checked.
const SESSION_PRICE_MAX: f64 = 100.0;

/// Longer than this (minutes) a session is flagged: OpenSessions publishes a two-hour art
/// club as 15h30 (its endTime 05:00 after a 13:30 start). Events and courses may be days long.
const SESSION_MINUTES_MAX: i64 = 12 * 60;

/// Problems in dates, activities, prices, text and organiser (location ones come from
/// [`crate::place`]): those of its occurrence, then those of its description.
pub fn problems(data: &Value, opportunity: &Opportunity, into: &mut Vec<QualityProblem>) {
    occurrence_problems(
        text(data.get("startDate")).as_deref(),
        text(data.get("endDate")).as_deref(),
        opportunity.kind,
        opportunity.start,
        opportunity.duration_minutes,
        into,
    );
    description_problems(
        data,
        opportunity.kind,
        &opportunity.activities,
        &opportunity.price,
        opportunity.organizer.as_ref(),
        into,
    );
}

/// Problems in when it happens: its dates (as published) and duration.
pub fn occurrence_problems(
    start_text: Option<&str>,
    end_text: Option<&str>,
    kind: OpportunityKind,
    start: DateTime<Utc>,
    duration_minutes: Option<i64>,
    into: &mut Vec<QualityProblem>,
) {
    if let Some(start) = start_text
        && !has_offset(start)
    {
        into.push(QualityProblem::new(
            "no_timezone",
            format!("startDate {start:?} has no offset; read as UK local time"),
        ));
    }
    if let Some(end) = end_text
        && let Some(end_at) = crate::dates::parse_instant(end)
        && end_at < start
    {
        into.push(QualityProblem::new(
            "end_before_start",
            format!("endDate {end:?} is before startDate; ignored"),
        ));
    }
    if duration_minutes == Some(0) {
        into.push(QualityProblem::new(
            "zero_duration",
            "the session lasts 0 minutes",
        ));
    }
    if kind == OpportunityKind::Session
        && let Some(minutes) = duration_minutes.filter(|m| *m > SESSION_MINUTES_MAX)
    {
        into.push(QualityProblem::new(
            "implausible_duration",
            format!(
                "a session of {}h{:02}; the end or duration may be wrong",
                minutes / 60,
                minutes % 60
            ),
        ));
    }
}

/// Problems in what it is: activities, prices, text and organiser.
pub fn description_problems(
    data: &Value,
    kind: OpportunityKind,
    activities: &[Activity],
    price: &Price,
    organizer: Option<&Organizer>,
    into: &mut Vec<QualityProblem>,
) {
    for activity in activities {
        if activity.matched == Some(ActivityMatch::Unknown) {
            into.push(QualityProblem::new(
                "unknown_activity",
                format!(
                    "{:?} is not in the OpenActive Activity List",
                    activity.label
                ),
            ));
        }
    }
    if activities.is_empty() {
        into.push(QualityProblem::new("missing_activity", "no activity given"));
    }
    if price.max.or(price.min).is_some_and(|p| p > 0.0) && price.currency.is_none() {
        into.push(QualityProblem::new(
            "price_without_currency",
            "a priced offer has no priceCurrency",
        ));
    }
    for offer in offers::offers(data) {
        match offers::read_price(offer.get("price")) {
            PriceReading::Text { low, high, .. } => into.push(QualityProblem::new(
                "price_as_text",
                format!(
                    "price {} is text, read as {}",
                    offer["price"],
                    match high {
                        Some(high) if high > low => format!("{low:.2} to {high:.2}"),
                        Some(_) => format!("{low:.2}"),
                        None => format!("from {low:.2}"),
                    }
                ),
            )),
            PriceReading::Unreadable(published) => into.push(QualityProblem::new(
                "price_unreadable",
                format!("price {published:?} is not a price; ignored"),
            )),
            PriceReading::Absent | PriceReading::Number(_) => {}
        }
    }
    // Shown as published, but a link worker should not meet it unwarned (OpenSessions' test
    // tenant sells a half-hour session for £500).
    let highest = price.max.or(price.min);
    if kind == OpportunityKind::Session
        && price.currency.as_deref().is_none_or(|c| c == "GBP")
        && let Some(highest) = highest.filter(|p| *p > SESSION_PRICE_MAX)
    {
        into.push(QualityProblem::new(
            "implausible_price",
            format!("£{highest:.2} for one session; the offer may be wrong"),
        ));
    }
    for field in ["name", "description"] {
        if text(data.get(field)).is_some_and(|t| has_html(&t)) {
            into.push(QualityProblem::new(
                "html_in_text",
                format!("{field} contains HTML markup"),
            ));
        }
    }
    let reachable =
        organizer.is_some_and(|o| o.url.is_some() || o.email.is_some() || o.telephone.is_some());
    if !reachable {
        into.push(QualityProblem::new(
            "missing_organizer_contact",
            "no organizer url, email or telephone",
        ));
    }
}

/// `Z` or `±hh:mm` after the time.
fn has_offset(date: &str) -> bool {
    let Some((_, time)) = date.split_once('T') else {
        return false;
    };
    time.ends_with('Z') || time.ends_with('z') || time.contains('+') || time.contains('-')
}

fn has_html(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "<p>", "<p ", "</", "<br", "<li", "<ul", "<strong", "<b>", "<i>", "<div", "<span", "<a ",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
        || ["&amp;", "&nbsp;", "&lt;", "&gt;", "&#"]
            .iter()
            .any(|e| lower.contains(e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn codes(item: serde_json::Value) -> Vec<String> {
        let crate::Normalised::Opportunities(found) = crate::normalise("Event", &item, None) else {
            panic!("usable");
        };
        found[0].problems.iter().map(|p| p.code.clone()).collect()
    }

    #[test]
    fn a_clean_item_has_no_problems() {
        let clean = json!({
            "@type": "Event", "name": "Tai Chi", "startDate": "2030-01-07T10:00:00Z", "duration": "PT1H",
            "activity": [{"prefLabel": "Tai Chi"}],
            "location": {"geo": {"latitude": 53.76, "longitude": -2.70}, "address": {"postalCode": "PR1 2XX"}},
            "organizer": {"name": "Club", "url": "https://club.example"},
            "offers": [{"price": 3, "priceCurrency": "GBP"}],
        });
        assert_eq!(codes(clean), Vec::<String>::new());
    }

    #[test]
    fn each_problem_is_recorded_with_its_code() {
        let messy = json!({
            "@type": "Event", "name": "Session", "description": "<p>Fun &amp; games</p>",
            "startDate": "2030-01-07T10:00:00", "endDate": "2030-01-07T09:00:00Z",
            "activity": [{"prefLabel": "Underwater hockey-ish"}],
            "organizer": {"name": "Club"},
            "offers": [{"price": 3}],
        });
        assert_eq!(
            codes(messy),
            [
                "no_timezone",
                "end_before_start",
                "missing_location",
                "unknown_activity",
                "price_without_currency",
                "html_in_text",
                "missing_organizer_contact",
            ]
        );
        let zero = json!({"@type": "Event", "startDate": "2030-01-07T10:00:00Z", "duration": "PT0M",
            "activity": ["Yoga"], "organizer": {"email": "a@b.example"}, "location": {"geo": {"latitude": 53.7, "longitude": -2.7}}});
        assert_eq!(codes(zero), ["zero_duration"]);
    }
}
