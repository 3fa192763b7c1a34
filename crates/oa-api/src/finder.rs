//! `GET /`: the finder for people without an app. A plain GET form whose fields are the
//! API's own parameters, answered with readable cards (what, when, where, how far, price,
//! the tags in plain words with why, how to book) and a print stylesheet, so a link worker
//! can hand a client a sheet. Server-rendered; works without JavaScript.

use std::fmt::Write;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use chrono_tz::Europe::London;
use oa_model::{Evidence, Opportunity, TagReason};
use oa_store::search::{SearchHit, search};

use crate::explain::explain_hits;
use crate::params::{self, Context, SessionQuery};
use crate::problem::ApiError;
use crate::routes::AppState;

const KM_PER_MILE: f64 = 1.609_344;
const STYLE: &str = include_str!("finder.css");

pub async fn finder(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = query.filter(|q| !q.is_empty());
    let form = Form::from_query(query.as_deref());
    let Some(raw) = query else {
        return page(&form, "").into_response();
    };
    let context = Context {
        now: Utc::now(),
        places: &state.places,
        pathways: &state.pathways,
    };
    let parsed = params::session_query(Some(&with_limit(&raw)), context);
    let SessionQuery { request, .. } = match parsed {
        Ok(query) => query,
        Err(error) => {
            let status = match &error {
                ApiError::UnknownPostcode(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            return (status, page(&form, &errors(&error))).into_response();
        }
    };
    let found = match search(state.store.as_ref(), &state.index, &request).await {
        Ok(found) => explain_hits(state.store.as_ref(), state.normaliser.as_ref(), &found.hits)
            .await
            .map(|explained| (found, explained)),
        Err(e) => Err(e),
    };
    match found {
        Ok((found, explained)) => {
            page(&form, &results(&found.hits, &explained, found.total)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "finder search failed: {e}");
            let body = "<p class=\"error\" role=\"alert\">Sorry, searching failed. Please try again in a minute.</p>";
            (StatusCode::SERVICE_UNAVAILABLE, page(&form, body)).into_response()
        }
    }
}

/// The form's own values, to show them back.
#[derive(Debug, Default)]
struct Form {
    postcode: String,
    miles: String,
    activity: String,
    max_price: String,
    days: Vec<String>,
    times: Vec<String>,
    tags: Vec<String>,
    free: bool,
}

impl Form {
    fn from_query(query: Option<&str>) -> Form {
        let mut form = Form {
            miles: "3".into(),
            ..Form::default()
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let value = value.into_owned();
            match name.as_ref() {
                "postcode" => form.postcode = value,
                "radius_miles" => form.miles = value,
                "activity" => form.activity = value,
                "max_price" => form.max_price = value,
                "days" => form.days.push(value),
                "time_of_day" => form.times.push(value),
                "tags" => form.tags.push(value),
                "free" => form.free = value == "true",
                _ => {}
            }
        }
        form
    }
}

/// The finder shows up to 50 cards; a printed sheet longer than that helps nobody.
fn with_limit(raw: &str) -> String {
    if raw.split('&').any(|p| p.starts_with("limit=")) {
        raw.to_owned()
    } else {
        format!("{raw}&limit=50")
    }
}

fn page(form: &Form, body: &str) -> Html<String> {
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Find an activity near you</title><style>{STYLE}</style></head><body>\
         <header><h1>Find an activity near you</h1>\
         <p>Sessions from local providers' open data. Check with the organiser before you go.</p></header>\
         <main>{form}<section aria-labelledby=\"results-heading\">{body}</section></main>\
         <footer><p><a href=\"/about\">Data sources and licences</a></p></footer></body></html>",
        form = form_html(form),
    );
    Html(html)
}

fn form_html(form: &Form) -> String {
    let checked = |on: bool| if on { " checked" } else { "" };
    let mut html = String::from("<form method=\"get\" action=\"/\" class=\"search\">");
    let _ = write!(
        html,
        "<p><label for=\"postcode\">Postcode</label>\
         <input id=\"postcode\" name=\"postcode\" required autocomplete=\"postal-code\" value=\"{}\"></p>\
         <p><label for=\"radius_miles\">Distance</label><select id=\"radius_miles\" name=\"radius_miles\">",
        escape(&form.postcode)
    );
    for miles in ["1", "2", "3", "5", "10", "20"] {
        let selected = if form.miles == miles { " selected" } else { "" };
        let unit = if miles == "1" { "mile" } else { "miles" };
        let _ = write!(
            html,
            "<option value=\"{miles}\"{selected}>within {miles} {unit}</option>"
        );
    }
    html.push_str("</select></p><fieldset><legend>Days</legend>");
    for (value, label) in [
        ("mon", "Mon"),
        ("tue", "Tue"),
        ("wed", "Wed"),
        ("thu", "Thu"),
        ("fri", "Fri"),
        ("sat", "Sat"),
        ("sun", "Sun"),
    ] {
        let on = form.days.iter().any(|d| d == value);
        let _ = write!(
            html,
            "<label><input type=\"checkbox\" name=\"days\" value=\"{value}\"{}> {label}</label> ",
            checked(on)
        );
    }
    html.push_str("</fieldset><fieldset><legend>Time of day</legend>");
    for (value, label) in [
        ("morning", "Morning"),
        ("afternoon", "Afternoon"),
        ("evening", "Evening"),
    ] {
        let on = form.times.iter().any(|t| t == value);
        let _ = write!(
            html,
            "<label><input type=\"checkbox\" name=\"time_of_day\" value=\"{value}\"{}> {label}</label> ",
            checked(on)
        );
    }
    let _ = write!(
        html,
        "</fieldset><p><label for=\"activity\">Activity (optional)</label>\
         <input id=\"activity\" name=\"activity\" placeholder=\"e.g. walking, yoga, swimming\" value=\"{}\"></p>\
         <fieldset><legend>Suits someone who wants</legend>\
         <label><input type=\"checkbox\" name=\"tags\" value=\"social\"{}> company and a chat</label> \
         <label><input type=\"checkbox\" name=\"tags\" value=\"beginner_friendly\"{}> a gentle start, beginners welcome</label> \
         <label><input type=\"checkbox\" name=\"tags\" value=\"wheelchair_accessible\"{}> wheelchair access</label>\
         </fieldset><fieldset><legend>Cost</legend>\
         <label><input type=\"checkbox\" name=\"free\" value=\"true\"{}> free only</label> \
         <label for=\"max_price\">or up to £</label><input id=\"max_price\" name=\"max_price\" inputmode=\"decimal\" size=\"4\" value=\"{}\">\
         </fieldset><p><button type=\"submit\">Search</button></p></form>",
        escape(&form.activity),
        checked(form.tags.iter().any(|t| t == "social")),
        checked(form.tags.iter().any(|t| t == "beginner_friendly")),
        checked(form.tags.iter().any(|t| t == "wheelchair_accessible")),
        checked(form.free),
        escape(&form.max_price),
    );
    html
}

fn errors(error: &ApiError) -> String {
    let mut html = String::from(
        "<div class=\"error\" role=\"alert\"><h2 id=\"results-heading\">Please check the search</h2><ul>",
    );
    match error {
        ApiError::InvalidParameters(problems) => {
            for (parameter, problem) in problems {
                let _ = write!(
                    html,
                    "<li>{}: {}</li>",
                    escape(&field_name(parameter)),
                    escape(problem)
                );
            }
        }
        other => {
            let _ = write!(html, "<li>{}</li>", escape(&other.to_string()));
        }
    }
    html.push_str("</ul></div>");
    html
}

fn field_name(parameter: &str) -> String {
    match parameter {
        "postcode" => "Postcode".into(),
        "radius_miles" => "Distance".into(),
        "max_price" => "Cost".into(),
        "activity" => "Activity".into(),
        other => other.replace('_', " "),
    }
}

/// `explained` holds each hit's opportunity, in the hits' order.
fn results(hits: &[SearchHit], explained: &[Opportunity], total: usize) -> String {
    let mut html = String::new();
    let shown = hits.len();
    let _ = write!(
        html,
        "<h2 id=\"results-heading\">{total} session{} found{}</h2>",
        if total == 1 { "" } else { "s" },
        if shown < total {
            format!(", the first {shown} shown")
        } else {
            String::new()
        }
    );
    if hits.is_empty() {
        html.push_str(
            "<p>Nothing matches yet. Try a longer distance, more days, or fewer choices.</p>",
        );
        return html;
    }
    html.push_str("<ol class=\"cards\">");
    for (hit, opportunity) in hits.iter().zip(explained) {
        card(&mut html, opportunity, hit.distance_km);
    }
    html.push_str("</ol>");
    html
}

fn card(html: &mut String, o: &Opportunity, distance_km: f64) {
    let start = o.start.with_timezone(&London);
    let when = match o.end {
        Some(end) => format!(
            "{}–{}",
            start.format("%a %-d %b, %H:%M"),
            end.with_timezone(&London).format("%H:%M")
        ),
        None => start.format("%a %-d %b, %H:%M").to_string(),
    };
    let _ = write!(
        html,
        "<li class=\"card\"><h3>{}</h3><dl>",
        escape(o.name.as_deref().unwrap_or("Session"))
    );
    let _ = write!(html, "<dt>When</dt><dd>{}</dd>", escape(&when));
    if let Some(place) = &o.location {
        let mut where_ = Vec::new();
        where_.extend(place.name.clone());
        where_.extend(place.address.street.clone());
        where_.extend(place.address.locality.clone());
        where_.extend(place.address.postcode.clone());
        let _ = write!(
            html,
            "<dt>Where</dt><dd>{} <span class=\"far\">({:.1} miles away)</span></dd>",
            escape(&where_.join(", ")),
            distance_km / KM_PER_MILE
        );
    }
    let _ = write!(html, "<dt>Cost</dt><dd>{}</dd>", escape(&price_text(o)));
    if !o.tags.is_empty() {
        html.push_str("<dt>Good to know</dt><dd><ul class=\"tags\">");
        for tag in o.tags.iter() {
            let why = tag.reasons.first().map(why).unwrap_or_default();
            let _ = write!(
                html,
                "<li>{}<span class=\"why\">{}</span></li>",
                escape(plain_tag(&tag.name)),
                escape(&why)
            );
        }
        html.push_str("</ul></dd>");
    }
    if let Some(description) = &o.description {
        let _ = write!(
            html,
            "<dt>About</dt><dd>{}</dd>",
            escape(&plain_text(description))
        );
    }
    let organiser = o.organizer.as_ref();
    let mut contact = Vec::new();
    contact.extend(organiser.and_then(|x| x.name.clone()));
    contact.extend(organiser.and_then(|x| x.telephone.clone()));
    contact.extend(organiser.and_then(|x| x.email.clone()));
    if !contact.is_empty() {
        let _ = write!(
            html,
            "<dt>Run by</dt><dd>{}</dd>",
            escape(&contact.join(", "))
        );
    }
    // Only web links: a publisher's `javascript:` URL must never become a clickable link.
    let web = |u: &&str| u.starts_with("https://") || u.starts_with("http://");
    let booking = o.url.as_deref().filter(web);
    if let Some(url) = booking.or(organiser.and_then(|x| x.url.as_deref()).filter(web)) {
        let _ = write!(
            html,
            "<dt>How to book</dt><dd><a href=\"{}\">{}</a></dd>",
            escape(url),
            escape(url)
        );
    }
    html.push_str("</dl></li>");
}

/// A reason in plain words: what the listing says, or which detail it gives.
fn why(reason: &TagReason) -> String {
    match reason.evidence {
        Evidence::Text => format!(" (the listing says “{}”)", reason.value),
        Evidence::Structured => format!(" ({}: {})", reason.field, reason.value),
    }
}

fn price_text(o: &Opportunity) -> String {
    let mut text = if o.has_tag("free") {
        "Free".to_owned()
    } else {
        match (o.price.min, o.price.max) {
            (Some(min), Some(max)) if (max - min).abs() > 0.005 => {
                format!("£{min:.2} to £{max:.2}")
            }
            (Some(min), Some(_)) => format!("£{min:.2}"),
            // An open-ended price as published ("£25+").
            (Some(min), None) => format!("from £{min:.2}"),
            _ => "Ask the organiser".to_owned(),
        }
    };
    if o.has_tag("first_session_free") {
        text.push_str(" (first session free)");
    }
    text
}

fn plain_tag(name: &str) -> &str {
    match name {
        "social" => "Sociable: a chance to chat and meet people",
        "beginner_friendly" => "Beginners welcome",
        "free" => "Free",
        "low_cost" => "Low cost",
        "first_session_free" => "First session free",
        "wheelchair_accessible" => "Wheelchair accessible",
        "women_only" => "Women only",
        "older_adults" => "For older adults",
        other => other,
    }
}

/// Descriptions often carry HTML; the card shows their text.
fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&nbsp;", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_a_person_would_say_them() {
        let event = serde_json::json!({"@type": "Event", "name": "Walk", "startDate": "2030-01-07T10:00:00Z"});
        let oa_model::Normalised::Opportunities(mut found) =
            oa_normalise::normalise("Event", &event, None)
        else {
            panic!("an event normalises");
        };
        let mut o = found.remove(0);
        assert_eq!(price_text(&o), "Ask the organiser");
        o.price.min = Some(4.5);
        o.price.max = Some(4.5);
        assert_eq!(price_text(&o), "£4.50");
        o.price.max = Some(10.0);
        assert_eq!(price_text(&o), "£4.50 to £10.00");
        o.price.max = None;
        assert_eq!(
            price_text(&o),
            "from £4.50",
            "an open-ended price such as £25+"
        );
    }
}
