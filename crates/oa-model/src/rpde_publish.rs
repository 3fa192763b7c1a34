//! Serving RPDE pages: the publisher's half of the protocol, for the demo publisher and for
//! republishing. Both orderings are supported; `next` is built so that the URL requested for
//! the last page comes back verbatim, which is how consumers detect the end of the feed.

use serde_json::value::RawValue;

/// How a feed orders its items and so which parameters its `next` URLs carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOrdering {
    /// `afterTimestamp` + `afterId`, items sorted by (modified, id).
    ModifiedId,
    /// `afterChangeNumber`, items sorted by modified (a unique change number).
    ChangeNumber,
}

/// Where a consumer is in the feed, decoded from the query string it sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum After {
    #[default]
    Start,
    Timestamp {
        modified: i64,
        id: String,
    },
    ChangeNumber(i64),
}

/// One item to publish. Items passed to [`build_page`] must be sorted by the feed's ordering.
#[derive(Debug, Clone)]
pub struct PublishedItem<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub modified: i64,
    /// `None` publishes the item as deleted.
    pub data: Option<&'a RawValue>,
}

/// Reads `afterTimestamp`/`afterId` or `afterChangeNumber` from a raw query string.
pub fn parse_after(query: Option<&str>) -> Result<After, String> {
    let mut timestamp = None;
    let mut id = None;
    let mut change = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        let number = || {
            value
                .parse::<i64>()
                .map_err(|_| format!("`{key}` must be an integer, got {value:?}"))
        };
        match key {
            "afterTimestamp" => timestamp = Some(number()?),
            "afterChangeNumber" => change = Some(number()?),
            "afterId" => id = Some(value),
            _ => {}
        }
    }
    match (timestamp, id, change) {
        (None, None, None) => Ok(After::Start),
        (Some(modified), Some(id), None) => Ok(After::Timestamp { modified, id }),
        (None, None, Some(n)) => Ok(After::ChangeNumber(n)),
        _ => Err("use either afterTimestamp with afterId, or afterChangeNumber".into()),
    }
}

/// Builds one page (`{"next", "items", "license"}`) of at most `limit` items after `after`.
pub fn build_page(
    base_url: &str,
    ordering: FeedOrdering,
    items: &[PublishedItem<'_>],
    after: &After,
    limit: usize,
    license: &str,
) -> String {
    let start = items.partition_point(|item| is_at_or_before(item, after));
    let page = &items[start..items.len().min(start + limit)];
    let next = match page.last() {
        Some(last) => cursor_url(base_url, ordering, last),
        None => after_url(base_url, after),
    };
    let mut body = String::with_capacity(256 + page.len() * 1024);
    body.push_str("{\"next\":");
    push_json_string(&mut body, &next);
    body.push_str(",\"items\":[");
    for (i, item) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"state\":");
        body.push_str(if item.data.is_some() {
            "\"updated\""
        } else {
            "\"deleted\""
        });
        body.push_str(",\"kind\":");
        push_json_string(&mut body, item.kind);
        body.push_str(",\"id\":");
        push_json_string(&mut body, item.id);
        body.push_str(",\"modified\":");
        body.push_str(&item.modified.to_string());
        if let Some(data) = item.data {
            body.push_str(",\"data\":");
            body.push_str(data.get());
        }
        body.push('}');
    }
    body.push_str("],\"license\":");
    push_json_string(&mut body, license);
    body.push('}');
    body
}

fn is_at_or_before(item: &PublishedItem<'_>, after: &After) -> bool {
    match after {
        After::Start => false,
        After::Timestamp { modified, id } => (item.modified, item.id) <= (*modified, id.as_str()),
        After::ChangeNumber(n) => item.modified <= *n,
    }
}

fn cursor_url(base_url: &str, ordering: FeedOrdering, last: &PublishedItem<'_>) -> String {
    let after = match ordering {
        FeedOrdering::ModifiedId => After::Timestamp {
            modified: last.modified,
            id: last.id.to_owned(),
        },
        FeedOrdering::ChangeNumber => After::ChangeNumber(last.modified),
    };
    after_url(base_url, &after)
}

fn after_url(base_url: &str, after: &After) -> String {
    match after {
        After::Start => base_url.to_owned(),
        After::Timestamp { modified, id } => {
            format!(
                "{base_url}?afterTimestamp={modified}&afterId={}",
                percent_encode(id)
            )
        }
        After::ChangeNumber(n) => format!("{base_url}?afterChangeNumber={n}"),
    }
}

fn push_json_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::Value::from(text).to_string());
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpde::parse_page;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).expect("valid json")
    }

    #[test]
    fn walking_every_page_returns_every_item_once_and_ends_on_the_requested_url() {
        let data = raw(r#"{"@type":"Event"}"#);
        let ids: Vec<String> = (0..7).map(|i| format!("id {i}/x")).collect();
        for ordering in [FeedOrdering::ModifiedId, FeedOrdering::ChangeNumber] {
            let items: Vec<PublishedItem<'_>> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| PublishedItem {
                    id,
                    kind: "Event",
                    // Two items share a timestamp so the id tie-break is exercised.
                    modified: if ordering == FeedOrdering::ModifiedId {
                        (i as i64) / 2
                    } else {
                        i as i64 + 10
                    },
                    data: (i != 3).then_some(&*data),
                })
                .collect();
            let mut url = "https://p.example/feed".to_owned();
            let mut seen = Vec::new();
            loop {
                let query = url.split_once('?').map(|(_, q)| q);
                let after = parse_after(query).expect("our own cursor parses");
                let body = build_page("https://p.example/feed", ordering, &items, &after, 3, "L");
                let page = parse_page(body.as_bytes()).expect("our own page parses");
                if page.is_last_page(&url) {
                    break;
                }
                seen.extend(page.valid_items().map(|i| i.id.clone()));
                url = page.next;
            }
            assert_eq!(seen, ids, "{ordering:?}");
        }
    }

    #[test]
    fn mixed_cursor_parameters_are_rejected() {
        assert!(parse_after(Some("afterTimestamp=1&afterChangeNumber=2")).is_err());
        assert!(parse_after(Some("afterTimestamp=x&afterId=1")).is_err());
        assert_eq!(
            parse_after(Some("afterChangeNumber=5")),
            Ok(After::ChangeNumber(5))
        );
    }
}
