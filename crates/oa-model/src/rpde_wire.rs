//! An RPDE page as it is read off the wire: its envelope and each entry of `items`, in one
//! pass over the page. An entry is read leniently, each field kept as the publisher's JSON
//! text, so that what is wrong with one item ([`crate::rpde`] decides) never fails the page.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

#[derive(Deserialize)]
pub(crate) struct WirePage<'a> {
    pub next: Option<String>,
    #[serde(borrow, default)]
    pub items: Vec<WireEntry<'a>>,
    pub license: Option<String>,
}

/// The page read entry by entry: each entry's text first, then the entry from it.
#[derive(Deserialize)]
struct PageOfTexts<'a> {
    next: Option<String>,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
    license: Option<String>,
}

/// Reads a page in one pass. An entry that pass cannot read leniently (a number beyond
/// what `f64` holds, which JSON allows) would fail the whole page, so such a page is read
/// again entry by entry, which keeps the other entries; a page that does not read either
/// way is the second way's error.
pub(crate) fn read_page(text: &str) -> Result<WirePage<'_>, serde_json::Error> {
    serde_json::from_str(text).or_else(|_| {
        let page: PageOfTexts<'_> = serde_json::from_str(text)?;
        let items = page
            .items
            .into_iter()
            .map(|entry| {
                serde_json::from_str(entry.get())
                    .unwrap_or_else(|e| WireEntry::Unusable(format!("not an item object: {e}")))
            })
            .collect();
        Ok(WirePage {
            next: page.next,
            items,
            license: page.license,
        })
    })
}

/// One entry of a page's `items`.
pub(crate) enum WireEntry<'a> {
    Item(WireItem<'a>),
    /// Not an object, or an object naming a field twice: why.
    Unusable(String),
}

/// An item's fields as the publisher wrote them (a `null` one is absent), borrowed from the
/// page's bytes.
#[derive(Default)]
pub(crate) struct WireItem<'a> {
    pub id: Option<&'a RawValue>,
    pub state: Option<&'a RawValue>,
    pub kind: Option<&'a RawValue>,
    pub modified: Option<&'a RawValue>,
    pub data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Id,
    State,
    Kind,
    Modified,
    Data,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireEntry<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl EntryVisitor {
    fn not_an_object<E>(what: &str) -> Result<WireEntry<'static>, E> {
        Ok(WireEntry::Unusable(format!("not an item object: {what}")))
    }
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = WireEntry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RPDE item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut item = WireItem::default();
        let mut seen = [false; 5];
        let mut duplicate = None;
        while let Some(field) = map.next_key::<Field>()? {
            let (slot, n, name) = match field {
                Field::Id => (&mut item.id, 0, "id"),
                Field::State => (&mut item.state, 1, "state"),
                Field::Kind => (&mut item.kind, 2, "kind"),
                Field::Modified => (&mut item.modified, 3, "modified"),
                Field::Data => (&mut item.data, 4, "data"),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value::<Option<&'de RawValue>>()?;
            if std::mem::replace(&mut seen[n], true) {
                duplicate.get_or_insert(name);
            }
        }
        Ok(match duplicate {
            Some(name) => WireEntry::Unusable(format!("duplicate field `{name}`")),
            None => WireEntry::Item(item),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Self::not_an_object("a list")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Self::not_an_object("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Self::not_an_object("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Self::not_an_object("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Self::not_an_object("a number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Self::not_an_object("a string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Self::not_an_object("null")
    }
}
