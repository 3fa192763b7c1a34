//! Structured evidence for a tag: properties with a defined meaning (category, level,
//! amenities, activity, boolean flags, accessibility support, gender, age, offers). The
//! item's facts are read once ([`Facts`]) and every rule is checked against them.

use oa_model::{Effect, Evidence};
use serde_json::Value;

use super::rules::TagRule;
use super::text::phrase_words;
use super::{Gathered, reason};
use crate::jsonld::{boolean, list, local_name, number, text};
use crate::offers::{offers, read_price};

/// A value as published and in its folded form (see [`fold`]).
#[derive(Debug)]
struct Label {
    raw: String,
    folded: String,
}

/// What an item says in structured properties, read once for all rules.
#[derive(Debug)]
pub(super) struct Facts<'a> {
    data: &'a Value,
    categories: Vec<Label>,
    levels: Vec<Label>,
    activities: Vec<Label>,
    /// (type, value is not false)
    amenities: Vec<(String, bool)>,
    /// (label, id) of each accessibility support concept.
    accessibility: Vec<(Option<String>, Option<String>)>,
    gender: Option<String>,
    min_age: Option<f64>,
    /// (offer name, price, lowest) of adult offers (see [`adult_prices`]).
    adult_prices: Vec<(String, f64, f64)>,
    accessible_for_free: Option<bool>,
}

impl<'a> Facts<'a> {
    pub(super) fn read(data: &'a Value) -> Facts<'a> {
        Facts {
            data,
            categories: labels(data.get("category")),
            levels: labels(data.get("level")),
            activities: labels(data.get("activity")),
            amenities: list(data.get("amenityFeature"))
                .into_iter()
                .filter_map(|a| {
                    let kind = text(a.get("@type").or_else(|| a.get("type")))?;
                    Some((kind, boolean(a.get("value")) != Some(false)))
                })
                .collect(),
            accessibility: list(data.get("accessibilitySupport"))
                .into_iter()
                .map(|s| {
                    (
                        text(s.get("prefLabel")).or_else(|| text(Some(s))),
                        text(s.get("@id").or_else(|| s.get("id"))),
                    )
                })
                .collect(),
            gender: text(data.get("genderRestriction")),
            min_age: number(data.get("ageRange").and_then(|a| a.get("minValue"))),
            adult_prices: adult_prices(data),
            accessible_for_free: boolean(data.get("isAccessibleForFree")),
        }
    }
}

pub(super) fn gather(rule: &TagRule, facts: &Facts<'_>, low_cost_max: f64, into: &mut Gathered) {
    let name = rule.name.as_str();
    let structured = |effect, field: &str, value: String, part: &str| {
        reason(
            Evidence::Structured,
            effect,
            field,
            value,
            format!("{name}.{part}"),
            None,
        )
    };
    let gives = |into: &mut Gathered, field: &str, value: String, part: &str| {
        into.structured_for
            .push(structured(Effect::Gives, field, value, part));
    };
    let withholds = |into: &mut Gathered, field: &str, value: String, part: &str| {
        into.structured_against
            .push(structured(Effect::Withholds, field, value, part));
    };

    for label in facts
        .categories
        .iter()
        .filter(|l| rule.categories.contains(&l.folded))
    {
        gives(into, "category", label.raw.clone(), "categories");
    }
    for label in facts
        .levels
        .iter()
        .filter(|l| rule.levels.contains(&l.folded))
    {
        gives(into, "level", label.raw.clone(), "levels");
    }
    if !rule.excluding_levels.is_empty()
        && !facts.levels.is_empty()
        && facts
            .levels
            .iter()
            .all(|l| rule.excluding_levels.contains(&l.folded))
    {
        let all: Vec<&str> = facts.levels.iter().map(|l| l.raw.as_str()).collect();
        withholds(into, "level", all.join(", "), "excluding_levels");
    }
    for (kind, present) in &facts.amenities {
        let wanted = rule
            .amenities
            .iter()
            .any(|a| a == kind || local_name(a) == local_name(kind));
        if wanted && *present {
            gives(into, "amenityFeature", kind.clone(), "amenities");
        }
    }
    for label in facts
        .activities
        .iter()
        .filter(|l| rule.activities.contains(&l.folded))
    {
        gives(into, "activity", label.raw.clone(), "activities");
    }
    for property in &rule.properties {
        match boolean(facts.data.get(property)) {
            Some(true) => gives(into, property, "true".into(), "properties"),
            Some(false) => withholds(into, property, "false".into(), "properties"),
            None => {}
        }
    }
    if !rule.accessibility_support.is_empty() {
        for (label, id) in &facts.accessibility {
            let matched = [label, id]
                .into_iter()
                .flatten()
                .find(|v| rule.accessibility_support.contains(&fold(v)));
            if let Some(value) = matched {
                gives(
                    into,
                    "accessibilitySupport",
                    value.clone(),
                    "accessibility_support",
                );
            }
        }
    }
    if let Some(gender) = &facts.gender
        && rule
            .gender_restrictions
            .iter()
            .any(|g| g == local_name(gender))
    {
        gives(
            into,
            "genderRestriction",
            gender.clone(),
            "gender_restrictions",
        );
    }
    if let (Some(at_least), Some(min)) = (rule.min_age_at_least, facts.min_age)
        && min >= at_least
    {
        gives(
            into,
            "ageRange.minValue",
            min.to_string(),
            "min_age_at_least",
        );
    }
    match rule.offers.as_deref() {
        Some("all_zero") => {
            if let Some((offer, price, _)) = facts.adult_prices.iter().find(|(_, p, _)| *p > 0.0) {
                withholds(
                    into,
                    "offers",
                    format!("{offer} costs £{price:.2}"),
                    "offers",
                );
                return;
            }
            if facts.accessible_for_free == Some(true) {
                gives(into, "isAccessibleForFree", "true".into(), "offers");
            }
            if !facts.adult_prices.is_empty() {
                gives(into, "offers", "every offer is £0.00".into(), "offers");
            }
        }
        Some("lowest_up_to_low_cost_max") => {
            let lowest = facts
                .adult_prices
                .iter()
                .map(|(_, _, lowest)| *lowest)
                .fold(f64::INFINITY, f64::min);
            if lowest > 0.0 && lowest <= low_cost_max {
                let value = format!("lowest adult price £{lowest:.2} (at most £{low_cost_max:.2})");
                gives(into, "offers", value, "offers");
            }
        }
        _ => {}
    }
}

/// (name, price, lowest) of each offer for adults: child-only offers (maximum age under 18)
/// do not say what the client pays. When every offer is child-only, all count. `price` is
/// above 0 when the offer costs anything; `lowest` is the least it costs.
fn adult_prices(data: &Value) -> Vec<(String, f64, f64)> {
    let offers: Vec<&Value> = offers(data);
    let priced = |only_adult: bool| -> Vec<(String, f64, f64)> {
        offers
            .iter()
            .filter(|o| {
                !only_adult
                    || number(o.get("ageRange").and_then(|a| a.get("maxValue")))
                        .is_none_or(|max| max >= 18.0)
            })
            .filter_map(|o| {
                // The same reading as the opportunity's price: "£3-5" costs from £3, and
                // costs something even when its lowest is 0.
                let (low, high) = read_price(o.get("price")).bounds()?;
                let name = text(o.get("name")).unwrap_or_else(|| "an offer".into());
                let price = if low > 0.0 {
                    low
                } else {
                    high.unwrap_or(f64::INFINITY)
                };
                Some((format!("offer {name:?}"), price, low))
            })
            .collect()
    };
    let adult = priced(true);
    if adult.is_empty() {
        priced(false)
    } else {
        adult
    }
}

/// Strings of a property that holds strings or Concepts, with their folded forms.
fn labels(value: Option<&Value>) -> Vec<Label> {
    list(value)
        .into_iter()
        .filter_map(|v| text(Some(v)).or_else(|| text(v.get("prefLabel"))))
        .map(|raw| Label {
            folded: fold(&raw),
            raw,
        })
        .collect()
}

/// Words folded and joined by one space: the form rule lists are compared in.
pub(super) fn fold(value: &str) -> String {
    phrase_words(value).join(" ")
}
