//! The shipped tag rules against `tag_cases.toml`: realistic descriptions with the tags a
//! careful link worker expects, including negations and false friends. Prints per-tag
//! precision and recall (the figures in docs/TAGS.md) and holds the rules to a floor.

use std::collections::{BTreeMap, BTreeSet};

use oa_normalise::TagRules;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    description: String,
    item: Option<String>,
    expect: Vec<String>,
    why: String,
}

#[derive(Default, Debug)]
struct Score {
    true_positive: usize,
    false_positive: usize,
    false_negative: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }
    fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn item(case: &Case) -> Value {
    let mut data: Map<String, Value> = match &case.item {
        Some(json) => {
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{}: item: {e}", case.name))
        }
        None => Map::new(),
    };
    data.insert("@type".into(), "SessionSeries".into());
    data.insert("name".into(), case.name.clone().into());
    data.insert("description".into(), case.description.clone().into());
    Value::Object(data)
}

#[test]
fn the_table_has_enough_cases() {
    let table: Table = toml::from_str(include_str!("tag_cases.toml")).expect("parses");
    assert!(table.case.len() >= 60, "at least 60 cases");
}

#[test]
fn shipped_rules_score_on_the_table() {
    let total = score("tag_cases.toml", include_str!("tag_cases.toml"));
    assert!(
        total.precision() >= 0.97,
        "precision {:.3}",
        total.precision()
    );
    assert!(total.recall() >= 0.95, "recall {:.3}", total.recall());
}

/// Cases written independently of the rule lists, which the rules were then tuned on.
#[test]
fn shipped_rules_score_on_the_second_table() {
    let total = score(
        "tag_cases_second.toml",
        include_str!("tag_cases_second.toml"),
    );
    assert!(
        total.precision() >= 0.97,
        "precision {:.3}",
        total.precision()
    );
    assert!(total.recall() >= 0.95, "recall {:.3}", total.recall());
}

fn score(file: &str, text: &str) -> Score {
    let table: Table = toml::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    println!("## {file}: {} cases", table.case.len());
    let rules = TagRules::shipped();
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    let mut wrong = Vec::new();
    for case in &table.case {
        let tagging = rules.tag(&item(case));
        let got: BTreeSet<&str> = tagging.tags.iter().map(|t| t.name.as_str()).collect();
        let want: BTreeSet<&str> = case.expect.iter().map(String::as_str).collect();
        for tag in got.union(&want) {
            let score = scores.entry((*tag).to_owned()).or_default();
            match (got.contains(tag), want.contains(tag)) {
                (true, true) => score.true_positive += 1,
                (true, false) => score.false_positive += 1,
                (false, true) => score.false_negative += 1,
                (false, false) => {}
            }
        }
        if got != want {
            wrong.push(format!(
                "{}: got {got:?}, expected {want:?} ({})",
                case.name, case.why
            ));
        }
    }
    let mut total = Score::default();
    println!("| tag | precision | recall | TP | FP | FN |\n|---|---|---|---|---|---|");
    for (tag, s) in &scores {
        println!(
            "| `{tag}` | {:.3} | {:.3} | {} | {} | {} |",
            s.precision(),
            s.recall(),
            s.true_positive,
            s.false_positive,
            s.false_negative
        );
        total.true_positive += s.true_positive;
        total.false_positive += s.false_positive;
        total.false_negative += s.false_negative;
    }
    println!(
        "| all | {:.3} | {:.3} | {} | {} | {} |",
        total.precision(),
        total.recall(),
        total.true_positive,
        total.false_positive,
        total.false_negative
    );
    println!(
        "{} of {} cases exactly right",
        table.case.len() - wrong.len(),
        table.case.len()
    );
    for line in &wrong {
        println!("MISMATCH {line}");
    }
    total
}
