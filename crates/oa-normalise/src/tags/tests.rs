use serde_json::json;

use super::*;

fn tags(data: Value) -> (Vec<String>, Vec<String>) {
    let tagging = TagRules::shipped().tag(&data);
    (
        tagging.tags.iter().map(|t| t.name.clone()).collect(),
        tagging.withheld.iter().map(|t| t.name.clone()).collect(),
    )
}

#[test]
fn the_shipped_rules_load() {
    assert!(TagRules::from_toml(DEFAULT_RULES).is_ok());
}

#[test]
fn a_bad_rules_file_says_what_is_wrong() {
    let unknown = TagRules::from_toml("low_cost_max = 3\nnegators = []\nnegation_window = 3\n[[tags]]\nname = \"x\"\nphrase = [\"a\"]\n")
        .expect_err("unknown key");
    assert!(
        unknown.to_string().contains("unknown field `phrase`"),
        "{unknown}"
    );
    let twice = TagRules::from_toml("low_cost_max = 3\nnegators = []\nnegation_window = 3\n[[tags]]\nname = \"x\"\n[[tags]]\nname = \"x\"\n")
        .expect_err("duplicate");
    assert_eq!(twice.to_string(), "tag rules: tag \"x\" is defined twice");
}

#[test]
fn text_gives_a_tag_with_the_phrase_and_field_as_its_reason() {
    let tagging = TagRules::shipped()
        .tag(&json!({"name": "Walk", "description": "Tea and biscuits afterwards."}));
    let social = tagging
        .tags
        .iter()
        .find(|t| t.name == "social")
        .expect("social");
    assert_eq!(social.reasons[0].field, "description");
    assert_eq!(social.reasons[0].value, "tea and biscuits");
    assert_eq!(social.reasons[0].rule, "social.phrases");
}

#[test]
fn negation_and_excluding_phrases_withhold_within_their_clause_only() {
    assert_eq!(
        tags(json!({"description": "Not suitable for beginners."})).0,
        Vec::<String>::new()
    );
    assert_eq!(
        tags(json!({"description": "No beginners please"})).1,
        ["beginner_friendly"]
    );
    assert_eq!(
        tags(json!({"description": "No booking needed, beginners welcome"})).0,
        ["beginner_friendly"],
        "the negation stays in its clause"
    );
}

#[test]
fn structured_evidence_beats_text_and_the_reason_says_so() {
    let tagging = TagRules::shipped()
        .tag(&json!({"description": "All abilities welcome", "level": ["Advanced"]}));
    let withheld = tagging
        .withheld
        .iter()
        .find(|t| t.name == "beginner_friendly")
        .expect("withheld");
    assert_eq!(withheld.reasons[0].field, "level");
    assert_eq!(
        withheld.reasons[1].note.as_deref(),
        Some("structured evidence wins over text")
    );
    assert!(tagging.tags.is_empty());
}

#[test]
fn cost_tags_come_from_offers_and_text_never_contradicts_a_price() {
    assert_eq!(
        tags(json!({"description": "Free parking", "offers": [{"price": 2.5}]})).0,
        ["low_cost"]
    );
    assert_eq!(
        tags(json!({"description": "Free to attend!", "offers": [{"price": "4.00"}]})).1,
        ["free"]
    );
    assert_eq!(tags(json!({"description": "Completely free"})).0, ["free"]);
    assert_eq!(
        tags(json!({"offers": [{"price": 0}, {"price": 0, "name": "Concession"}]})).0,
        ["free"]
    );
    assert_eq!(
        tags(json!({"offers": [{"price": 1.5, "name": "Junior", "ageRange": {"maxValue": 16}}, {"price": 5, "name": "Adult"}]})).0,
        Vec::<String>::new(),
        "the adult price decides"
    );
}

#[test]
fn legacy_and_curie_gender_forms_and_level_all_are_understood() {
    for form in [
        "https://openactive.io/FemaleOnly",
        "oa:FemaleOnly",
        "http://openactive.io/ns#Female",
    ] {
        assert_eq!(
            tags(json!({"genderRestriction": form})).0,
            ["women_only"],
            "{form}"
        );
    }
    assert!(
        tags(json!({"genderRestriction": "oa:MaleOnly"}))
            .0
            .is_empty()
    );
    assert_eq!(tags(json!({"level": ["All"]})).0, ["beginner_friendly"]);
}
