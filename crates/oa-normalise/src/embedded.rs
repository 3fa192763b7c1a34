//! Inheritance and embedded opportunities: a child takes every parent property it lacks (the
//! OpenActive rules), whether its parent is stored, embedded as `superEvent`, or holds it in
//! `subEvent` or, for facilities, `event` (directly or through `individualFacilityUse`).

use oa_model::Opportunity;
use serde_json::{Map, Value};

use crate::Vocabulary;
use crate::classify::ItemType;
use crate::jsonld::{id_of, list, text};

/// Properties a child never takes from its parent (OpenActive inheritance rules), plus the
/// links between them, which describe the parent itself.
pub(crate) const NOT_INHERITED: &[&str] = &[
    "@id",
    "id",
    "@type",
    "type",
    "@context",
    "url",
    "identifier",
    "eventSchedule",
    "subEvent",
    "superEvent",
    "facilityUse",
    "event",
    "individualFacilityUse",
];

/// An embedded object worth inheriting from, as opposed to a bare `{"@id": ...}` reference.
pub(crate) fn is_embedded_object(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        map.keys()
            .any(|k| !matches!(k.as_str(), "@id" | "id" | "@type" | "type"))
    })
}

/// The child with every parent property it lacks, except those OpenActive keeps per level.
pub(crate) fn inherit(child: &Value, parent: Option<&Value>) -> Value {
    let (Some(Value::Object(parent)), Value::Object(child_map)) = (parent, child) else {
        return child.clone();
    };
    let mut merged: Map<String, Value> = child_map.clone();
    for (key, value) in parent {
        if !NOT_INHERITED.contains(&key.as_str()) && !merged.contains_key(key) {
            merged.insert(key.clone(), value.clone());
        }
    }
    Value::Object(merged)
}

/// Whether the item embeds any sessions of its own in `subEvent`.
pub(crate) fn has_sub_events(item: &Value) -> bool {
    list(item.get("subEvent")).iter().any(|sub| sub.is_object())
}

/// Opportunities embedded in an item, each inheriting from it: its `subEvent`s and, for a
/// FacilityUse, the Slots OpenActive 2.0 lists in `event`, also under each
/// `individualFacilityUse` (which inherits from the FacilityUse first).
pub(crate) fn children(
    vocabulary: &Vocabulary<'_>,
    ty: ItemType,
    item: &Value,
    series_id: Option<String>,
) -> Vec<Opportunity> {
    // (the child as published, the child with what it inherits)
    let mut embedded: Vec<(&Value, Value)> = objects(item, "subEvent")
        .map(|sub| (sub, inherit(sub, Some(item))))
        .collect();
    if ty == ItemType::FacilityUse {
        embedded.extend(objects(item, "event").map(|slot| (slot, inherit(slot, Some(item)))));
        for individual in objects(item, "individualFacilityUse") {
            let facility = inherit(individual, Some(item));
            embedded.extend(
                objects(individual, "event").map(|slot| (slot, inherit(slot, Some(&facility)))),
            );
        }
    }
    let kind = match ty {
        ItemType::SessionSeries => ItemType::ScheduledSession,
        ItemType::FacilityUse => ItemType::Slot,
        other => other,
    };
    embedded
        .iter()
        .filter_map(|(own, merged)| {
            // Told apart by their own id or start: one with neither is not an occurrence.
            let occurrence = id_of(own)
                .map(str::to_owned)
                .or_else(|| text(own.get("startDate")))?;
            crate::build::opportunity(
                vocabulary,
                kind,
                merged,
                series_id.clone(),
                Some(occurrence),
            )
            .ok()
        })
        .collect()
}

fn objects<'a>(item: &'a Value, property: &str) -> impl Iterator<Item = &'a Value> {
    list(item.get(property))
        .into_iter()
        .filter(|v| v.is_object())
}
