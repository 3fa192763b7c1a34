//! Reading the fields of an (already inherited) item into the opportunity's parts.

use oa_model::{Activity, Address, EventStatus, GeoPrecision, Location, Organizer};
use serde_json::Value;

use crate::jsonld::{id_of, list, local_name, number, text};

pub fn activities(data: &Value) -> Vec<Activity> {
    list(data.get("activity"))
        .into_iter()
        .filter_map(|concept| match concept {
            Value::String(label) => Some(Activity::published(None, label.trim().to_owned()))
                .filter(|a| !a.label.is_empty()),
            Value::Object(_) => {
                let id = id_of(concept).map(str::to_owned);
                let label = text(concept.get("prefLabel")).or_else(|| text(concept.get("name")));
                match (id, label) {
                    (id, Some(label)) => Some(Activity::published(id, label)),
                    (Some(id), None) => Some(Activity::published(
                        Some(id.clone()),
                        local_name(&id).to_owned(),
                    )),
                    (None, None) => None,
                }
            }
            _ => None,
        })
        .collect()
}

pub fn location(data: &Value) -> Option<Location> {
    let place = data.get("location")?;
    if let Value::String(name) = place {
        return Some(Location {
            name: display_line(name),
            address: Address {
                postcode: find_postcode(name),
                ..Address::default()
            },
            ..Location::default()
        });
    }
    let address = match place.get("address") {
        Some(Value::String(line)) => Address {
            street: display_line(line),
            postcode: find_postcode(line),
            ..Address::default()
        },
        Some(address @ Value::Object(_)) => {
            let part = |key: &str| text(address.get(key)).and_then(|t| display_line(&t));
            Address {
                street: part("streetAddress"),
                locality: part("addressLocality"),
                region: part("addressRegion"),
                postcode: part("postalCode"),
                country: part("addressCountry"),
            }
        }
        _ => Address::default(),
    };
    let geo = place.get("geo");
    let (lat, lng) = match geo {
        Some(geo) => (number(geo.get("latitude")), number(geo.get("longitude"))),
        None => (None, None),
    };
    let (lat, lng) = match (lat, lng) {
        (Some(lat), Some(lng)) if valid_point(lat, lng) => (Some(lat), Some(lng)),
        _ => (None, None),
    };
    Some(Location {
        name: text(place.get("name")).and_then(|t| display_line(&t)),
        address,
        lat,
        lng,
        precision: if lat.is_some() {
            GeoPrecision::Exact
        } else {
            GeoPrecision::None
        },
    })
}

/// Values that stand for "no value" in real feeds (Let's Ride's `addressRegion: "unknown"`,
/// Views' `streetAddress: "unknown"`): shown, they would look like a place.
const PLACEHOLDERS: &[&str] = &[
    "unknown", "n/a", "na", "none", "null", "tbc", "tba", "-", ".",
];

/// An address line or place name for display: HTML line breaks (EMD's `<br />`) become
/// commas, other tags go, spaces collapse, stray commas are trimmed; placeholders are `None`.
pub fn display_line(raw: &str) -> Option<String> {
    let mut line = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('<') {
        line.push_str(&rest[..at]);
        let tail = &rest[at..];
        let is_tag = tail[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
        match tail.find('>').filter(|_| is_tag) {
            Some(end) => {
                let name = tail[1..end].trim_start_matches('/').to_ascii_lowercase();
                let breaks = ["br", "p", "div", "li"].iter().any(|b| {
                    name == *b
                        || name.starts_with(&format!("{b} "))
                        || name.starts_with(&format!("{b}/"))
                });
                line.push_str(if breaks { ", " } else { " " });
                rest = &tail[end + 1..];
            }
            None => {
                line.push('<');
                rest = &tail[1..];
            }
        }
    }
    line.push_str(rest);
    let mut line = line
        .replace("&amp;", "&")
        .replace("&nbsp;", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    while line.contains(" ,") || line.contains(",,") {
        line = line.replace(" ,", ",").replace(",,", ",");
    }
    let line = line.trim_matches(|c: char| c == ',' || c.is_whitespace());
    let placeholder = PLACEHOLDERS.contains(&line.to_ascii_lowercase().as_str());
    (!line.is_empty() && !placeholder).then(|| line.to_owned())
}

/// In range and not the (0, 0) "null island" that broken exports produce.
fn valid_point(lat: f64, lng: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng) && (lat, lng) != (0.0, 0.0)
}

/// A UK postcode inside free text ("12 Mill Lane, Preston PR1 5EP"), normalised to
/// upper case with one space.
pub fn find_postcode(text: &str) -> Option<String> {
    let tokens: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    tokens.windows(2).rev().find_map(|pair| {
        (is_outward(&pair[0]) && is_inward(&pair[1])).then(|| format!("{} {}", pair[0], pair[1]))
    })
}

fn is_outward(token: &str) -> bool {
    let bytes = token.as_bytes();
    (2..=4).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes.iter().all(u8::is_ascii_alphanumeric)
        && bytes.iter().any(u8::is_ascii_digit)
}

fn is_inward(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() == 3
        && bytes[0].is_ascii_digit()
        && bytes[1].is_ascii_alphabetic()
        && bytes[2].is_ascii_alphabetic()
}

pub fn organizer(data: &Value) -> Option<Organizer> {
    let who = data.get("organizer").or_else(|| data.get("provider"))?;
    let who = list(Some(who)).into_iter().next()?;
    if let Value::String(name) = who {
        return Some(Organizer {
            name: Some(name.trim().to_owned()),
            ..Organizer::default()
        });
    }
    let organizer = Organizer {
        name: text(who.get("name")),
        url: text(who.get("url")),
        email: text(who.get("email")),
        telephone: text(who.get("telephone")),
    };
    (organizer != Organizer::default()).then_some(organizer)
}

pub fn status(data: &Value) -> EventStatus {
    status_of(data.get("eventStatus"))
}

/// The status an `eventStatus` value names (scheduled when absent or unknown).
pub fn status_of(event_status: Option<&Value>) -> EventStatus {
    let Some(status) = text(event_status) else {
        return EventStatus::Scheduled;
    };
    match local_name(&status).to_ascii_lowercase().as_str() {
        "eventcancelled" | "cancelled" => EventStatus::Cancelled,
        "eventpostponed" | "postponed" => EventStatus::Postponed,
        "eventrescheduled" | "rescheduled" => EventStatus::Rescheduled,
        "eventmovedonline" => EventStatus::MovedOnline,
        _ => EventStatus::Scheduled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn location_with_geo_as_strings_and_address_object() {
        let data = json!({"location": {"name": "Hall", "address": {"postalCode": "PR1 5EP", "addressLocality": "Preston"},
            "geo": {"latitude": "53.76", "longitude": -2.68}}});
        let place = location(&data).expect("has a location");
        assert_eq!((place.lat, place.lng), (Some(53.76), Some(-2.68)));
        assert_eq!(place.address.postcode.as_deref(), Some("PR1 5EP"));
    }

    #[test]
    fn address_lines_lose_html_placeholders_and_stray_commas() {
        assert_eq!(
            display_line("76 Shacklewell Lane<br />Hackney, Dalston").as_deref(),
            Some("76 Shacklewell Lane, Hackney, Dalston")
        );
        assert_eq!(
            display_line("The Bath House, ").as_deref(),
            Some("The Bath House")
        );
        assert_eq!(
            display_line("<p>Mill <b>Lane</b></p>").as_deref(),
            Some("Mill Lane")
        );
        assert_eq!(display_line("1 < 2 Court").as_deref(), Some("1 < 2 Court"));
        assert_eq!(display_line(" unknown "), None);
        assert_eq!(display_line(" "), None);
    }

    #[test]
    fn null_island_and_out_of_range_geo_are_dropped() {
        for geo in [
            json!({"latitude": 0, "longitude": 0}),
            json!({"latitude": 95, "longitude": 1}),
        ] {
            let place = location(&json!({"location": {"geo": geo}})).expect("has a location");
            assert_eq!((place.lat, place.lng), (None, None));
        }
    }

    #[test]
    fn postcode_from_a_one_line_address() {
        assert_eq!(
            find_postcode("Leisure World, Cowdray Avenue, Colchester, CO1 1YH").as_deref(),
            Some("CO1 1YH")
        );
        assert_eq!(
            find_postcode("12 mill lane preston pr1 5ep").as_deref(),
            Some("PR1 5EP")
        );
        assert_eq!(find_postcode("Town Hall, Preston"), None);
    }

    #[test]
    fn activities_as_concepts_labels_or_ids() {
        let a = activities(&json!({"activity": [
            {"@id": "https://openactive.io/activity-list#c07d63a0", "prefLabel": "Yoga"},
            "Walking Football",
            {"prefLabel": "Squash Activities ST"}
        ]}));
        assert_eq!(a.len(), 3);
        assert_eq!(
            a[0].id.as_deref(),
            Some("https://openactive.io/activity-list#c07d63a0")
        );
        assert_eq!(a[1].label, "Walking Football");
        assert_eq!(a[2].id, None);
    }

    #[test]
    fn status_from_urls_or_names() {
        assert_eq!(
            status(&json!({"eventStatus": "https://schema.org/EventCancelled"})),
            EventStatus::Cancelled
        );
        assert_eq!(
            status(&json!({"eventStatus": "EventPostponed"})),
            EventStatus::Postponed
        );
        assert_eq!(status(&json!({})), EventStatus::Scheduled);
    }
}
