//! Tags on an opportunity and the reasons for each: what a link worker sees when asking
//! "why does this say beginner-friendly?".

use serde::{Deserialize, Serialize};

/// A tag and the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub reasons: Vec<TagReason>,
}

/// Structured evidence (a property with a defined meaning) beats text when they disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    Structured,
    Text,
}

/// Whether a piece of evidence argues for the tag or against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Gives,
    Withholds,
}

/// One piece of evidence: which field, which value or phrase, which rule, and its effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagReason {
    pub evidence: Evidence,
    pub effect: Effect,
    /// The OpenActive property, e.g. `description`, `level`, `offers`.
    pub field: String,
    /// The value or phrase found.
    pub value: String,
    /// The rule that matched, e.g. `beginner_friendly.excluding_phrases`.
    pub rule: String,
    /// Why this evidence did or did not decide (e.g. "structured evidence wins").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
