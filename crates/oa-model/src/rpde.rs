//! Parsing RPDE 1.0 pages: the envelope strictly, each item tolerantly.
//!
//! A page whose envelope is broken (not JSON, no `next`, `items` not a list) is a
//! [`PageError`]. An item that lacks `id`, `state` or `modified` is an [`ItemError`] kept in
//! the page's list, so one bad item never hides the others.

use serde_json::value::RawValue;

use crate::rpde_wire::{WireEntry, read_page};

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

/// Parses one RPDE page from the bytes a publisher sent, in one pass: each item's fields
/// are read as the page is, not the page first and its items again.
pub fn parse_page(body: &[u8]) -> Result<RpdePage, PageError> {
    // Checked once here rather than field by field as the page is read.
    let text =
        std::str::from_utf8(body).map_err(|e| PageError::Json(format!("not UTF-8 ({e})")))?;
    let wire = read_page(text).map_err(|e| PageError::Json(e.to_string()))?;
    let next = wire
        .next
        .filter(|n| !n.trim().is_empty())
        .ok_or(PageError::MissingNext)?;
    let items = wire
        .items
        .into_iter()
        .enumerate()
        .map(|(position, entry)| parse_item(position, entry))
        .collect();
    Ok(RpdePage {
        next,
        license: wire.license,
        items,
    })
}

fn parse_item(position: usize, entry: WireEntry<'_>) -> Result<RpdeItem, ItemError> {
    let fail = |id: &str, reason: String| ItemError {
        position,
        id: id.to_owned(),
        reason,
    };
    let wire = match entry {
        WireEntry::Item(item) => item,
        WireEntry::Unusable(reason) => return Err(fail("?", reason)),
    };
    let id = wire
        .id
        .and_then(|raw| scalar_text(raw.get()))
        .ok_or_else(|| fail("?", "missing or empty `id`".into()))?;
    let text_of = |name: &str, raw: Option<&RawValue>| match raw {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| fail(&id, format!("`{name}` {} is not a string", raw.get()))),
    };
    let state = match text_of("state", wire.state)?
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        Some("updated") => ItemState::Updated,
        Some("deleted") => ItemState::Deleted,
        Some(other) => return Err(fail(&id, format!("unknown `state` {other:?}"))),
        None => return Err(fail(&id, "missing `state`".into())),
    };
    let kind = text_of("kind", wire.kind)?.unwrap_or_default();
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
            Some(data.to_owned())
        }
    };
    Ok(RpdeItem {
        id,
        kind,
        state,
        modified,
        data,
    })
}

/// A JSON string or number as text; `None` for anything else or an empty string.
fn scalar_text(json: &str) -> Option<String> {
    if json.starts_with('"') {
        return serde_json::from_str::<String>(json)
            .ok()
            .filter(|text| !text.trim().is_empty());
    }
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
    fn an_entry_that_is_not_a_usable_object_fails_alone() {
        let body = br#"{"next":"x","items":[
            5,
            ["a", {"b": [1, 2]}],
            {"state":"updated","kind":"k","id":"a","id":"b","modified":1,"data":{}},
            {"state":7,"kind":"k","id":"c","modified":1,"data":{}},
            {"state":"updated","kind":["k"],"id":"d","modified":1,"data":{}},
            null,
            {"st\u0061te":"Updated","kind":"k","\u0069d":"e","extra":{"x":[{}]},"modified":2,
             "data":{"@type":"Event","name":"a \"quoted\" name","list":[1,{"deep":null}]}}
        ]}"#;
        let page = parse_page(body).expect("the page parses");
        let reasons: Vec<String> = page.items[..6]
            .iter()
            .map(|i| i.as_ref().expect_err("unusable").reason.clone())
            .collect();
        assert_eq!(reasons[0], "not an item object: a number");
        assert_eq!(reasons[1], "not an item object: a list");
        assert_eq!(reasons[2], "duplicate field `id`");
        assert_eq!(reasons[3], "`state` 7 is not a string");
        assert_eq!(page.items[4].as_ref().expect_err("kind").id, "d");
        assert_eq!(reasons[5], "not an item object: null");
        let last = page.items[6]
            .as_ref()
            .expect("escaped field names are read");
        assert_eq!(
            (last.id.as_str(), last.state, last.modified),
            ("e", ItemState::Updated, 2)
        );
        assert_eq!(
            last.data.as_ref().map(|d| d.get()),
            Some(r#"{"@type":"Event","name":"a \"quoted\" name","list":[1,{"deep":null}]}"#)
        );
    }

    #[test]
    fn an_entry_beyond_what_the_one_pass_reads_still_fails_alone() {
        let page = parse_page(
            br#"{"next":"x","items":[1e400,
            {"state":"updated","kind":"k","id":"a","modified":1,"data":{"n":1e400}}]}"#,
        )
        .expect("the page parses");
        let first = page.items[0].as_ref().expect_err("a number");
        assert!(first.reason.starts_with("not an item object"), "{first}");
        let second = page.items[1].as_ref().expect("the other entry is read");
        assert_eq!(
            second.data.as_ref().map(|d| d.get()),
            Some(r#"{"n":1e400}"#)
        );
        assert!(matches!(
            parse_page(br#"{"next":"x","items":[1e400,{]}"#),
            Err(PageError::Json(_))
        ));
    }

    #[test]
    fn a_page_that_is_not_utf8_is_a_page_error() {
        let error =
            parse_page(b"{\"next\":\"x\",\"items\":[{\"id\":\"\xe9\"}]}").expect_err("not UTF-8");
        assert!(error.to_string().contains("not UTF-8"), "{error}");
    }

    #[test]
    fn updated_item_needs_a_data_object() {
        let page = parse_page(br#"{"next":"x","items":[{"state":"updated","kind":"k","id":"a","modified":1,"data":"nope"}]}"#)
            .expect("parses");
        assert!(page.items[0].is_err());
    }
}
