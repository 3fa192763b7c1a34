//! Structured evidence for a tag: properties with a defined meaning (category, level,
//! amenities, activity, boolean flags, accessibility support, gender, age, offers).

use oa_model::{Effect, Evidence, TagReason};
use serde_json::Value;

use super::rules::TagRule;
use super::text::phrase_words;
use super::{Gathered, reason};
use crate::jsonld::{boolean, list, local_name, number, text};

pub(super) fn gather(rule: &TagRule, data: &Value, low_cost_max: f64, into: &mut Gathered) {
    let name = rule.name.as_str();
    let rule_of = |part: &str| format!("{name}.{part}");
    let structured = |effect, field: &str, value: String, part: &str| {
        reason(
            Evidence::Structured,
            effect,
            field,
            value,
            rule_of(part),
            None,
        )
    };

    for value in labels(data.get("category")) {
        if contains_folded(&rule.categories, &value) {
            into.structured_for
                .push(structured(Effect::Gives, "category", value, "categories"));
        }
    }
    let levels = labels(data.get("level"));
    for value in &levels {
        if contains_folded(&rule.levels, value) {
            into.structured_for
                .push(structured(Effect::Gives, "level", value.clone(), "levels"));
        }
    }
    if !rule.excluding_levels.is_empty()
        && !levels.is_empty()
        && levels
            .iter()
            .all(|l| contains_folded(&rule.excluding_levels, l))
    {
        into.structured_against.push(structured(
            Effect::Withholds,
            "level",
            levels.join(", "),
            "excluding_levels",
        ));
    }
    for amenity in list(data.get("amenityFeature")) {
        let kind = text(amenity.get("@type").or_else(|| amenity.get("type"))).unwrap_or_default();
        let wanted = rule
            .amenities
            .iter()
            .any(|a| a == &kind || local_name(a) == local_name(&kind));
        if wanted && boolean(amenity.get("value")) != Some(false) {
            into.structured_for.push(structured(
                Effect::Gives,
                "amenityFeature",
                kind,
                "amenities",
            ));
        }
    }
    for activity in labels(data.get("activity")) {
        if contains_folded(&rule.activities, &activity) {
            into.structured_for.push(structured(
                Effect::Gives,
                "activity",
                activity,
                "activities",
            ));
        }
    }
    for property in &rule.properties {
        match boolean(data.get(property)) {
            Some(true) => into.structured_for.push(structured(
                Effect::Gives,
                property,
                "true".into(),
                "properties",
            )),
            Some(false) => into.structured_against.push(structured(
                Effect::Withholds,
                property,
                "false".into(),
                "properties",
            )),
            None => {}
        }
    }
    for support in list(data.get("accessibilitySupport")) {
        let label = text(support.get("prefLabel")).or_else(|| text(Some(support)));
        let id = text(support.get("@id").or_else(|| support.get("id")));
        let matched = [&label, &id].into_iter().flatten().find(|v| {
            contains_folded(&rule.accessibility_support, v)
                || rule.accessibility_support.contains(v)
        });
        if let Some(value) = matched {
            into.structured_for.push(structured(
                Effect::Gives,
                "accessibilitySupport",
                value.clone(),
                "accessibility_support",
            ));
        }
    }
    if let Some(gender) = text(data.get("genderRestriction"))
        && rule
            .gender_restrictions
            .iter()
            .any(|g| g == local_name(&gender))
    {
        into.structured_for.push(structured(
            Effect::Gives,
            "genderRestriction",
            gender,
            "gender_restrictions",
        ));
    }
    if let (Some(at_least), Some(min)) = (
        rule.min_age_at_least,
        number(data.get("ageRange").and_then(|a| a.get("minValue"))),
    ) && min >= at_least
    {
        into.structured_for.push(structured(
            Effect::Gives,
            "ageRange.minValue",
            min.to_string(),
            "min_age_at_least",
        ));
    }
    match rule.offers.as_deref() {
        Some("all_zero") => free(data, into, &structured),
        Some("lowest_up_to_low_cost_max") => {
            let prices = adult_prices(data);
            let lowest = prices.iter().map(|(_, p)| *p).fold(f64::INFINITY, f64::min);
            if lowest > 0.0 && lowest <= low_cost_max {
                into.structured_for.push(structured(
                    Effect::Gives,
                    "offers",
                    format!("lowest adult price £{lowest:.2} (at most £{low_cost_max:.2})"),
                    "offers",
                ));
            }
        }
        _ => {}
    }
}

fn free(
    data: &Value,
    into: &mut Gathered,
    structured: &dyn Fn(Effect, &str, String, &str) -> TagReason,
) {
    let prices = adult_prices(data);
    if let Some((name, price)) = prices.iter().find(|(_, p)| *p > 0.0) {
        into.structured_against.push(structured(
            Effect::Withholds,
            "offers",
            format!("{name} costs £{price:.2}"),
            "offers",
        ));
        return;
    }
    if boolean(data.get("isAccessibleForFree")) == Some(true) {
        into.structured_for.push(structured(
            Effect::Gives,
            "isAccessibleForFree",
            "true".into(),
            "offers",
        ));
    }
    if !prices.is_empty() {
        into.structured_for.push(structured(
            Effect::Gives,
            "offers",
            "every offer is £0.00".into(),
            "offers",
        ));
    }
}

/// (name, price) of each offer for adults: child-only offers (maximum age under 18) do not
/// say what the client pays. When every offer is child-only, all count.
fn adult_prices(data: &Value) -> Vec<(String, f64)> {
    let offers: Vec<&Value> = list(data.get("offers").or_else(|| data.get("offer")));
    let priced = |only_adult: bool| -> Vec<(String, f64)> {
        offers
            .iter()
            .filter(|o| {
                !only_adult
                    || number(o.get("ageRange").and_then(|a| a.get("maxValue")))
                        .is_none_or(|max| max >= 18.0)
            })
            .filter_map(|o| {
                let price = number(o.get("price"))?;
                let name = text(o.get("name")).unwrap_or_else(|| "an offer".into());
                Some((format!("offer {name:?}"), price))
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

/// Strings of a property that holds strings or Concepts.
fn labels(value: Option<&Value>) -> Vec<String> {
    list(value)
        .into_iter()
        .filter_map(|v| text(Some(v)).or_else(|| text(v.get("prefLabel"))))
        .collect()
}

/// Case-, punctuation- and spacing-insensitive membership.
fn contains_folded(list: &[String], value: &str) -> bool {
    let value = phrase_words(value);
    !value.is_empty() && list.iter().any(|item| phrase_words(item) == value)
}
