//! `GET /coverage`: a page for ICS managers. Headline numbers, bar charts of sessions by tag
//! and activity, and a map of small areas coloured by distance to the nearest suitable
//! session, drawn as inline SVG from the polygons (no tiles, no CDN: works offline), each
//! chart with a table as its text alternative.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, Utc};
use oa_geo::{Ics, NearestIndex, district_of};

use super::export::band;
use super::{KM_PER_MILE, Query, WINDOW_DAYS, parse, sessions_in};
use crate::routes::AppState;

const MAP_WIDTH: f64 = 640.0;
const BANDS: [(&str, &str); 5] = [
    ("up to 1 mile", "#1a9850"),
    ("1 to 3 miles", "#91cf60"),
    ("3 to 5 miles", "#fee08b"),
    ("over 5 miles", "#fc8d59"),
    ("none within 28 days", "#d73027"),
];

pub async fn dashboard(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let Query { ics, filters, .. } =
        match parse(&state.areas, raw.as_deref(), true, super::Format::Json) {
            Ok(query) => query,
            Err(error) => {
                return (
                    StatusCode::BAD_REQUEST,
                    page(
                        "Coverage",
                        &format!("<p role=\"alert\">{}</p>", escape(&error.to_string())),
                    ),
                )
                    .into_response();
            }
        };
    let now = Utc::now();
    let sessions = match sessions_in(
        &state,
        ics,
        &filters,
        now,
        now + Duration::days(WINDOW_DAYS),
    )
    .await
    {
        Ok(sessions) => sessions,
        Err(e) => {
            tracing::error!(error = %e, "coverage page failed: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, page("Coverage", "<p role=\"alert\">Sorry, the data is unavailable. Please try again shortly.</p>")).into_response();
        }
    };
    let mut by_tag: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_activity: BTreeMap<String, usize> = BTreeMap::new();
    let mut top_levels = super::TopLevels::default();
    let mut providers: BTreeMap<String, usize> = BTreeMap::new();
    for (session, _) in sessions.iter() {
        for tag in session.tags() {
            *by_tag.entry(tag.to_owned()).or_default() += 1;
        }
        for group in top_levels.of(&session) {
            *by_activity.entry(group).or_default() += 1;
        }
        if let Some(name) = session.organizer().and_then(|org| org.name.clone()) {
            *providers.entry(name).or_default() += 1;
        }
    }
    let centre_lat = ics
        .small_areas
        .iter()
        .next()
        .map_or(54.0, |r| r.centroid.lat);
    let index = NearestIndex::new(
        sessions.iter().map(|(session, _)| session.point()),
        centre_lat,
    );
    let distances: Vec<Option<f64>> = ics
        .small_areas
        .iter()
        .map(|r| index.nearest_km(r.centroid))
        .collect();
    let beyond_3 = distances
        .iter()
        .filter(|d| d.is_none_or(|km| km > 3.0 * KM_PER_MILE))
        .count();

    // The form shows the filters the page was asked for, so a manager can refine them.
    let asked = |name: &str| {
        url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/coverage\" class=\"filters\"><input type=\"hidden\" name=\"area\" value=\"{key}\">\
         <label for=\"tags\">Tags</label><input id=\"tags\" name=\"tags\" placeholder=\"social,beginner_friendly\" value=\"{tags}\">\
         <label for=\"activity\">Activity</label><input id=\"activity\" name=\"activity\" placeholder=\"walking\" value=\"{activity}\">\
         <label for=\"max_price\">Up to £</label><input id=\"max_price\" name=\"max_price\" size=\"4\" value=\"{max_price}\">\
         <button type=\"submit\">Update</button></form>\
         <section aria-labelledby=\"headline\"><h2 id=\"headline\">In the next 28 days</h2><ul class=\"headline\">\
         <li><strong>{sessions}</strong> sessions</li><li><strong>{providers}</strong> providers publishing</li>\
         <li><strong>{share:.0}%</strong> of small areas are more than 3 miles from a suitable session</li></ul></section>",
        key = escape(&ics.key),
        tags = escape(&asked("tags")),
        activity = escape(&asked("activity")),
        max_price = escape(&asked("max_price")),
        sessions = sessions.len(),
        providers = providers.len(),
        share = beyond_3 as f64 / distances.len().max(1) as f64 * 100.0,
    );
    body.push_str(&bar_chart("Sessions by tag", &by_tag, 10));
    body.push_str(&bar_chart(
        "Sessions by activity (top 12)",
        &by_activity,
        12,
    ));
    body.push_str(&map(ics, &distances));
    if let Ok(known) = super::providers::provider_coverage(&state, ics).await {
        let _ = write!(
            body,
            "<section aria-labelledby=\"known\"><h2 id=\"known\">Known providers: {} of {} publishing</h2>\
             <table><thead><tr><th scope=\"col\">Not yet publishing</th><th scope=\"col\">Contact</th></tr></thead><tbody>",
            known.publishing, known.known
        );
        for p in known
            .providers
            .iter()
            .filter(|p| p.status == "not_publishing")
        {
            let contact = [&p.email, &p.website]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                escape(&contact)
            );
        }
        body.push_str("</tbody></table></section>");
    }
    body.push_str("<section aria-labelledby=\"providers\"><h2 id=\"providers\">Providers publishing</h2><table><thead><tr><th scope=\"col\">Provider</th><th scope=\"col\">Sessions</th></tr></thead><tbody>");
    let mut rows: Vec<(&String, &usize)> = providers.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (name, count) in rows {
        let _ = write!(body, "<tr><td>{}</td><td>{count}</td></tr>", escape(name));
    }
    body.push_str("</tbody></table></section>");
    page(&format!("Coverage: {}", ics.name), &body).into_response()
}

fn bar_chart(title: &str, counts: &BTreeMap<String, usize>, top: usize) -> String {
    let mut rows: Vec<(&String, &usize)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    rows.truncate(top);
    let max = rows.first().map_or(1, |r| *r.1).max(1) as f64;
    let id = title
        .to_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let height = rows.len() as f64 * 24.0 + 8.0;
    let mut svg = format!(
        "<section aria-labelledby=\"{id}\"><h2 id=\"{id}\">{}</h2>\
         <svg role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 640 {height}\" width=\"100%\">",
        escape(title)
    );
    for (i, (label, count)) in rows.iter().enumerate() {
        let y = i as f64 * 24.0 + 4.0;
        let width = **count as f64 / max * 330.0;
        let _ = write!(
            svg,
            "<text x=\"250\" y=\"{ty}\" text-anchor=\"end\" font-size=\"13\">{}</text>\
             <rect x=\"258\" y=\"{y}\" width=\"{width:.1}\" height=\"18\" fill=\"#1d70b8\"></rect>\
             <text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"13\">{count}</text>",
            escape(label),
            ty = y + 14.0,
            tx = 264.0 + width,
        );
    }
    svg.push_str("</svg><details><summary>As a table</summary><table><tbody>");
    for (label, count) in rows {
        let _ = write!(
            svg,
            "<tr><th scope=\"row\">{}</th><td>{count}</td></tr>",
            escape(label)
        );
    }
    svg.push_str("</tbody></table></details></section>");
    svg
}

fn map(ics: &Ics, distances: &[Option<f64>]) -> String {
    let (mut min_lng, mut max_lng, mut min_lat, mut max_lat) =
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for region in ics.small_areas.iter() {
        for c in region.shape.0.iter().flat_map(|p| p.exterior().0.iter()) {
            (min_lng, max_lng) = (min_lng.min(c.x), max_lng.max(c.x));
            (min_lat, max_lat) = (min_lat.min(c.y), max_lat.max(c.y));
        }
    }
    let aspect = ((max_lat + min_lat) / 2.0).to_radians().cos();
    let scale = MAP_WIDTH / ((max_lng - min_lng) * aspect);
    let height = (max_lat - min_lat) * scale;
    let mut svg = format!(
        "<section aria-labelledby=\"map-title\"><h2 id=\"map-title\">Distance to the nearest suitable session</h2>\
         <svg role=\"img\" aria-labelledby=\"map-title map-desc\" viewBox=\"0 0 {MAP_WIDTH} {height:.0}\" width=\"100%\" class=\"map\">\
         <desc id=\"map-desc\">Each small area (LSOA) coloured by the distance from its centre to the nearest session in the next 28 days; the table below gives the same by district.</desc>"
    );
    let mut by_district: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (region, distance) in ics.small_areas.iter().zip(distances) {
        let label = band(*distance);
        let colour = BANDS
            .iter()
            .find(|(name, _)| *name == label)
            .map_or("#999", |(_, c)| c);
        let mut d = String::new();
        for polygon in &region.shape.0 {
            for (i, c) in polygon.exterior().0.iter().enumerate() {
                let x = (c.x - min_lng) * aspect * scale;
                let y = (max_lat - c.y) * scale;
                let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
            }
            d.push('Z');
        }
        let miles = distance.map_or("no session within 28 days".to_owned(), |km| {
            format!("{:.1} miles", km / KM_PER_MILE)
        });
        let _ = write!(
            svg,
            "<path d=\"{d}\" fill=\"{colour}\"><title>{}: {miles}</title></path>",
            escape(&region.name)
        );
        let entry = by_district.entry(district_of(region)).or_default();
        entry.0 += 1;
        if distance.is_none_or(|km| km > 3.0 * KM_PER_MILE) {
            entry.1 += 1;
        }
    }
    svg.push_str("</svg><ul class=\"legend\" aria-label=\"Legend\">");
    for (name, colour) in BANDS {
        let _ = write!(
            svg,
            "<li><span class=\"swatch\" style=\"background:{colour}\"></span>{name}</li>"
        );
    }
    svg.push_str("</ul><table><thead><tr><th scope=\"col\">District</th><th scope=\"col\">Small areas</th><th scope=\"col\">More than 3 miles from a session</th></tr></thead><tbody>");
    for (district, (areas, far)) in by_district {
        let _ = write!(
            svg,
            "<tr><td>{}</td><td>{areas}</td><td>{far}</td></tr>",
            escape(district)
        );
    }
    svg.push_str("</tbody></table></section>");
    svg
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title><style>\
         body{{font-family:system-ui,Arial,sans-serif;max-width:52rem;margin:0 auto;padding:1rem;color:#0b0c0c}}\
         .headline{{display:flex;gap:1.5rem;list-style:none;padding:0;flex-wrap:wrap}}.headline strong{{font-size:1.6rem;display:block}}\
         table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border-bottom:1px solid #b1b4b6;padding:.2rem .6rem;text-align:left}}\
         .legend{{list-style:none;display:flex;gap:1rem;flex-wrap:wrap;padding:0}}.swatch{{display:inline-block;width:1rem;height:1rem;margin-right:.3rem;vertical-align:middle;border:1px solid #505a5f}}\
         .map path{{stroke:#fff;stroke-width:.3}}form.filters{{background:#f3f2f1;padding:.6rem}}form.filters input{{margin:0 .8rem 0 .3rem}}\
         </style></head><body><h1>{t}</h1>{body}\
         <footer><p><a href=\"/about\">Data sources and licences</a> · Contains OS data © Crown copyright and database right 2025 · \
         Source: Office for National Statistics licensed under the Open Government Licence v.3.0</p></footer></body></html>",
        t = escape(title)
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
