//! Who a session is for: level, age range, gender restriction and accessibility support, as
//! publishers write them (strings or Concepts, legacy and CURIE forms).

use oa_model::{AgeRange, GenderRestriction};
use serde_json::Value;

use crate::jsonld::{list, local_name, number, text};

/// `level` values as published ("Beginner", or Concepts' labels), comma lists split.
pub fn levels(data: &Value) -> Vec<String> {
    list(data.get("level"))
        .into_iter()
        .filter_map(|v| text(Some(v)).or_else(|| text(v.get("prefLabel"))))
        .flat_map(|v| {
            v.split(',')
                .map(|l| l.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// `ageRange` min and max, when either is published.
pub fn age_range(data: &Value) -> Option<AgeRange> {
    let range = data.get("ageRange")?;
    let min = number(range.get("minValue"))
        .filter(|n| *n >= 0.0)
        .map(|n| n as u32);
    let max = number(range.get("maxValue"))
        .filter(|n| *n >= 0.0)
        .map(|n| n as u32);
    (min.is_some() || max.is_some()).then_some(AgeRange { min, max })
}

/// `genderRestriction` in any of its spellings (`https://openactive.io/FemaleOnly`,
/// `oa:MaleOnly`, legacy `http://openactive.io/ns#Female`, "female").
pub fn gender_restriction(data: &Value) -> Option<GenderRestriction> {
    let value = text(data.get("genderRestriction"))?;
    match local_name(&value).to_ascii_lowercase().as_str() {
        "femaleonly" | "female" | "women" | "ladies" => Some(GenderRestriction::Female),
        "maleonly" | "male" | "men" => Some(GenderRestriction::Male),
        _ => None,
    }
}

/// Accessibility support as labels (Concepts' `prefLabel`, else their id, else free text).
pub fn accessibility(data: &Value) -> Vec<String> {
    list(data.get("accessibilitySupport"))
        .into_iter()
        .filter_map(|v| {
            text(v.get("prefLabel"))
                .or_else(|| text(v.get("@id").or_else(|| v.get("id"))))
                .or_else(|| text(Some(v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn audience_fields_in_their_published_forms() {
        let item = json!({
            "level": ["Beginner", {"prefLabel": "Intermediate"}, "Improvers, Advanced"],
            "ageRange": {"minValue": "50", "maxValue": 99},
            "genderRestriction": "http://openactive.io/ns#Female",
            "accessibilitySupport": [{"@id": "https://openactive.io/accessibility-support#dd02", "prefLabel": "Physical impairment"}, "Hearing loop"]
        });
        assert_eq!(
            levels(&item),
            ["Beginner", "Intermediate", "Improvers", "Advanced"]
        );
        assert_eq!(
            age_range(&item),
            Some(AgeRange {
                min: Some(50),
                max: Some(99)
            })
        );
        assert_eq!(gender_restriction(&item), Some(GenderRestriction::Female));
        assert_eq!(
            gender_restriction(&json!({"genderRestriction": "oa:MaleOnly"})),
            Some(GenderRestriction::Male)
        );
        assert_eq!(
            gender_restriction(
                &json!({"genderRestriction": "https://openactive.io/NoRestriction"})
            ),
            None
        );
        assert_eq!(
            accessibility(&item),
            ["Physical impairment", "Hearing loop"]
        );
    }
}
