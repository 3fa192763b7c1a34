//! Tolerant accessors for OpenActive JSON-LD as publishers really write it: `@id` or `id`,
//! `@type` or `type`, a single object where a list is expected, numbers as strings.

use serde_json::Value;

/// The `@id` (or bare `id`) of an object, or the string itself when a reference is a URL.
pub fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => non_empty(s),
        Value::Object(map) => map
            .get("@id")
            .or_else(|| map.get("id"))
            .and_then(Value::as_str)
            .and_then(non_empty),
        _ => None,
    }
}

/// The `@type` (or bare `type`) of an object; the first one when it is a list.
pub fn type_of(value: &Value) -> Option<&str> {
    let ty = value.get("@type").or_else(|| value.get("type"))?;
    match ty {
        Value::Array(list) => list.first().and_then(Value::as_str),
        other => other.as_str(),
    }
}

/// A property's text: trimmed, non-empty; numbers and booleans are rendered.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => non_empty(s).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(list) => list.iter().find_map(|v| text(Some(v))),
        _ => None,
    }
}

/// A property that should be a list: an array's elements, or a single value alone.
pub fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    }
}

/// A number that may have been published as a string ("5.00", "£3.50").
pub fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .trim()
            .trim_start_matches(['£', '$', '€'])
            .trim()
            .parse::<f64>()
            .ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// A boolean that may have been published as a string.
pub fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The last segment of a vocabulary URL or prefixed name: `https://schema.org/EventCancelled`
/// and `schema:EventCancelled` both give `EventCancelled`.
pub fn local_name(term: &str) -> &str {
    let term = term.trim().trim_end_matches('/');
    term.rsplit(['/', '#', ':']).next().unwrap_or(term)
}

pub(crate) fn non_empty(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_both_keyword_forms() {
        assert_eq!(id_of(&json!({"@id": "a"})), Some("a"));
        assert_eq!(id_of(&json!({"id": "b"})), Some("b"));
        assert_eq!(id_of(&json!("https://x/1")), Some("https://x/1"));
        assert_eq!(type_of(&json!({"type": "Slot"})), Some("Slot"));
        assert_eq!(
            type_of(&json!({"@type": ["Event", "Thing"]})),
            Some("Event")
        );
    }

    #[test]
    fn numbers_and_lists_are_tolerant() {
        assert_eq!(number(Some(&json!("5.00"))), Some(5.0));
        assert_eq!(number(Some(&json!("£3.50"))), Some(3.5));
        assert_eq!(number(Some(&json!("free"))), None);
        assert_eq!(list(Some(&json!({"a": 1}))).len(), 1);
        assert_eq!(
            local_name("https://schema.org/EventCancelled"),
            "EventCancelled"
        );
        assert_eq!(
            local_name("beta:IndividualFacilityUse"),
            "IndividualFacilityUse"
        );
    }
}
