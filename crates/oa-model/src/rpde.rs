//! Parsing RPDE 1.0 pages: the envelope strictly, each item tolerantly.
//!
//! A page whose envelope is broken (not JSON, no `next`, `items` not a list) is a
//! [`PageError`]. An item that lacks `id`, `state` or `modified` is an [`ItemError`] kept in
//! the page's list, so one bad item never hides the others.

use serde::Deserialize;
use serde_json::value::RawValue;

/// An RPDE item's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Updated,
    Deleted,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Updated => "updated",
            ItemState::Deleted => "deleted",
        }
    }
}

/// One valid RPDE item. `data` is kept as the publisher's own JSON text.
#[derive(Debug, Clone)]
pub struct RpdeItem {
    pub id: String,
    pub kind: String,
    pub state: ItemState,
    /// Always an integer here; strings of digits and ISO date-times are converted.
    pub modified: i64,
    pub data: Option<Box<RawValue>>,
}

/// Why one item of a page could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {position} (id {id}): {reason}")]
pub struct ItemError {
    /// Zero-based position of the item in the page.
    pub position: usize,
    /// The item's id when it had a usable one, otherwise `?`.
    pub id: String,
    pub reason: String,
}

/// Why a whole page could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("page is not valid JSON: {0}")]
    Json(String),
    #[error("page has no `next` URL")]
    MissingNext,
}

/// A parsed page: the envelope plus each item or the reason it was unusable.
#[derive(Debug)]
pub struct RpdePage {
    pub next: String,
    pub license: Option<String>,
    pub items: Vec<Result<RpdeItem, ItemError>>,
}

impl RpdePage {
    /// The RPDE end-of-feed rule: no items and `next` pointing back at the page just requested.
    /// An empty page whose `next` moves on is a filtered page mid-feed, not the end.
    pub fn is_last_page(&self, requested_url: &str) -> bool {
        self.items.is_empty() && self.next == requested_url
    }

    pub fn valid_items(&self) -> impl Iterator<Item = &RpdeItem> {
        self.items.iter().filter_map(|i| i.as_ref().ok())
    }
}

#[derive(Deserialize)]
struct WirePage<'a> {
    next: Option<String>,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
    license: Option<String>,
}

#[derive(Deserialize)]
struct WireItem<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    state: Option<String>,
    kind: Option<String>,
    #[serde(borrow)]
    modified: Option<&'a RawValue>,
    data: Option<Box<RawValue>>,
}

/// Parses one RPDE page from the bytes a publisher sent.
pub fn parse_page(body: &[u8]) -> Result<RpdePage, PageError> {
    let wire: WirePage<'_> =
        serde_json::from_slice(body).map_err(|e| PageError::Json(e.to_string()))?;
    let next = wire
        .next
        .filter(|n| !n.trim().is_empty())
        .ok_or(PageError::MissingNext)?;
    let items = wire
        .items
        .into_iter()
        .enumerate()
        .map(|(position, raw)| parse_item(position, raw))
        .collect();
    Ok(RpdePage {
        next,
        license: wire.license,
        items,
    })
}

fn parse_item(position: usize, raw: &RawValue) -> Result<RpdeItem, ItemError> {
    let fail = |id: &str, reason: String| ItemError {
        position,
        id: id.to_owned(),
        reason,
    };
    let wire: WireItem<'_> = serde_json::from_str(raw.get())
        .map_err(|e| fail("?", format!("not an item object: {e}")))?;
    let id = wire
        .id
        .and_then(|raw| scalar_text(raw.get()))
        .ok_or_else(|| fail("?", "missing or empty `id`".into()))?;
    let state = match wire
        .state
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("updated") => ItemState::Updated,
        Some("deleted") => ItemState::Deleted,
        Some(other) => return Err(fail(&id, format!("unknown `state` {other:?}"))),
        None => return Err(fail(&id, "missing `state`".into())),
    };
    let modified = match wire.modified {
        Some(raw) => parse_modified(raw.get()).map_err(|reason| fail(&id, reason))?,
        None => return Err(fail(&id, "missing `modified`".into())),
    };
    let data = match state {
        ItemState::Deleted => None,
        ItemState::Updated => {
            let data = wire
                .data
                .filter(|d| d.get().trim_start().starts_with('{'))
                .ok_or_else(|| fail(&id, "updated item without a `data` object".into()))?;
            Some(data)
        }
    };
    Ok(RpdeItem {
        id,
        kind: wire.kind.unwrap_or_default(),
        state,
        modified,
        data,
    })
}

/// A JSON string or number as text; `None` for anything else or an empty string.
fn scalar_text(json: &str) -> Option<String> {
    let text = match serde_json::from_str::<serde_json::Value>(json).ok()? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.trim().is_empty()).then_some(text)
}

/// `modified` as an i64. Publishers send integers (some beyond 2^53, which is why this
/// never goes through f64), digit strings, and a few legacy feeds ISO date-times, which are
/// ordered by their instant in milliseconds. Let's Ride's date-times have no offset
/// ("2018-01-01 09:24:38"): they are read as UTC, which keeps their order, all `modified`
/// is used for.
pub fn parse_modified(json: &str) -> Result<i64, String> {
    let json = json.trim();
    let text = if let Some(inner) = json.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        inner.trim()
    } else {
        json
    };
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    if let Some(at) = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
    {
        return Ok(at.and_utc().timestamp_millis());
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
        && f.fract() == 0.0
        && f.abs() < 9.0e18
    {
        return Ok(f as i64);
    }
    Err(format!("`modified` {json} is not an integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_page_with_mixed_items() {
        let body = br#"{"next":"https://p.example/f?afterChangeNumber=9","license":"x","items":[
            {"state":"updated","kind":"SessionSeries","id":"a","modified":3,"data":{"@type":"SessionSeries"}},
            {"state":"deleted","kind":"SessionSeries","id":17,"modified":"1152921504606846977"},
            {"state":"updated","kind":"SessionSeries","modified":4,"data":{}},
            {"state":"updated","kind":"SessionSeries","id":"c","data":{}}
        ]}"#;
        let page = parse_page(body).expect("page parses");
        assert_eq!(page.next, "https://p.example/f?afterChangeNumber=9");
        assert_eq!(page.items.len(), 4);
        let first = page.items[0].as_ref().expect("first item is valid");
        assert_eq!((first.id.as_str(), first.modified), ("a", 3));
        let second = page.items[1].as_ref().expect("second item is valid");
        assert_eq!(second.id, "17");
        assert_eq!(second.modified, 1_152_921_504_606_846_977);
        assert!(second.data.is_none());
        let third = page.items[2].as_ref().expect_err("missing id");
        assert_eq!(third.position, 2);
        assert!(third.reason.contains("id"));
        let fourth = page.items[3].as_ref().expect_err("missing modified");
        assert_eq!(fourth.id, "c");
        assert!(fourth.reason.contains("modified"));
    }

    #[test]
    fn modified_beyond_2_pow_53_keeps_every_digit() {
        assert_eq!(
            parse_modified("9007199254740993"),
            Ok(9_007_199_254_740_993)
        );
        assert_eq!(
            parse_modified("\"9007199254740993\""),
            Ok(9_007_199_254_740_993)
        );
        assert_eq!(
            parse_modified("\"2014-09-15T09:12:51.706+01:00\""),
            Ok(1_410_768_771_706)
        );
        assert_eq!(
            parse_modified("\"2018-01-01 09:24:38\""),
            Ok(1_514_798_678_000)
        );
        assert!(parse_modified("\"yesterday\"").is_err());
    }

    #[test]
    fn end_of_feed_needs_empty_items_and_next_equal_to_request() {
        let page = parse_page(br#"{"next":"https://p/f?a=1","items":[]}"#).expect("parses");
        assert!(page.is_last_page("https://p/f?a=1"));
        assert!(!page.is_last_page("https://p/f?a=0"));
    }

    #[test]
    fn broken_envelopes_are_page_errors() {
        assert!(matches!(
            parse_page(b"{\"next\":\"x\",\"items\":[{"),
            Err(PageError::Json(_))
        ));
        assert_eq!(
            parse_page(br#"{"items":[]}"#).err(),
            Some(PageError::MissingNext)
        );
        assert!(matches!(
            parse_page(br#"{"next":"x","items":{}}"#),
            Err(PageError::Json(_))
        ));
    }

    #[test]
    fn updated_item_needs_a_data_object() {
        let page = parse_page(br#"{"next":"x","items":[{"state":"updated","kind":"k","id":"a","modified":1,"data":"nope"}]}"#)
            .expect("parses");
        assert!(page.items[0].is_err());
    }
}
