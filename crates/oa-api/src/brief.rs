//! A search result's view of an opportunity: every field of the normalised session with its
//! tags by name only (their reasons are in `/v1/sessions/{id}`), serialised straight to JSON.

use chrono::{DateTime, Utc};
use oa_model::{
    Activity, AgeRange, EventStatus, GenderRestriction, Location, Opportunity, OpportunityKind,
    Organizer, Price, QualityProblem, SmallAreaRef, Tag,
};
use serde::{Serialize, Serializer};

/// Borrows the opportunity; the fields and their attributes are those of [`Opportunity`], in
/// its order (results are spliced from stored documents, `crate::render`), so a brief
/// result is the full one without `withheld_tags` and with `tags` as names. Built field by
/// field (not through a `serde_json::Value` edited afterwards) because search answers
/// thousands of these a second and the intermediate tree was a fifth of the time.
#[derive(Serialize)]
pub(crate) struct BriefOpportunity<'a> {
    kind: OpportunityKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrence: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_id: Option<&'a str>,
    #[serde(serialize_with = "oa_model::rfc3339::serialize")]
    start: DateTime<Utc>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "oa_model::rfc3339::serialize_option"
    )]
    end: Option<DateTime<Utc>>,
    status: EventStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    series_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_minutes: Option<i64>,
    activities: &'a [Activity],
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizer: Option<&'a Organizer>,
    price: &'a Price,
    #[serde(serialize_with = "tag_names")]
    tags: &'a [Tag],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [QualityProblem],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    level: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    age_range: Option<&'a AgeRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gender_restriction: Option<GenderRestriction>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    accessibility: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    from_schedule: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    areas: &'a [SmallAreaRef],
}

impl<'a> From<&'a Opportunity> for BriefOpportunity<'a> {
    fn from(o: &'a Opportunity) -> Self {
        // Destructured so that a field added to `Opportunity` fails to compile here until
        // the brief view decides what to do with it.
        let Opportunity {
            kind,
            occurrence,
            data_id,
            series_id,
            name,
            description,
            start,
            end,
            duration_minutes,
            activities,
            location,
            organizer,
            price,
            status,
            url,
            tags,
            withheld_tags: _,
            problems,
            level,
            age_range,
            gender_restriction,
            accessibility,
            from_schedule,
            areas,
        } = o;
        BriefOpportunity {
            kind: *kind,
            occurrence: occurrence.as_deref(),
            data_id: data_id.as_deref(),
            series_id: series_id.as_deref(),
            name: name.as_deref(),
            description: description.as_deref(),
            start: *start,
            end: *end,
            duration_minutes: *duration_minutes,
            activities,
            location: location.as_ref(),
            organizer: organizer.as_ref(),
            price,
            status: *status,
            url: url.as_deref(),
            tags,
            problems,
            level,
            age_range: age_range.as_ref(),
            gender_restriction: *gender_restriction,
            accessibility,
            from_schedule: *from_schedule,
            areas,
        }
    }
}

fn tag_names<S: Serializer>(tags: &&[Tag], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(tags.iter().map(|t| t.name.as_str()))
}

#[cfg(test)]
pub(crate) mod tests {
    use oa_model::{Effect, Evidence, TagReason};
    use serde_json::{Value, json};

    use super::*;

    /// What a brief result must equal: the full document without `withheld_tags`, with
    /// `tags` as names.
    fn expected(o: &Opportunity) -> Value {
        let mut value = serde_json::to_value(o).expect("serialises");
        let fields = value.as_object_mut().expect("an object");
        fields.remove("withheld_tags");
        let names: Vec<Value> = o.tags.iter().map(|t| json!(t.name)).collect();
        fields.insert("tags".into(), Value::Array(names));
        value
    }

    fn tag(name: &str) -> Tag {
        Tag {
            name: name.into(),
            reasons: vec![TagReason {
                evidence: Evidence::Text,
                effect: Effect::Gives,
                field: "description".into(),
                value: "cuppa".into(),
                rule: format!("{name}.phrases"),
                note: Some("a note".into()),
            }],
        }
    }

    /// An opportunity with every field set, tags with reasons and a withheld tag.
    pub(crate) fn complete() -> Opportunity {
        serde_json::from_value(json!({
            "kind": "session",
            "occurrence": "2026-12-02T10:00:00Z",
            "data_id": "https://example.org/sessions/1",
            "series_id": "https://example.org/series/1",
            "name": "Walking netball \"Rounders\" été",
            "description": "Gentle, with a cuppa after",
            "start": "2026-12-02T10:00:00.250Z",
            "end": "2026-12-02T11:00:00Z",
            "duration_minutes": 60,
            "activities": [{"id": "https://openactive.io/activity-list#x", "label": "Walking Netball", "matched": "pref_label"}],
            "location": {"name": "Hall", "address": {"postcode": "PR1 2AA"}, "lat": 53.81234567890123, "lng": -2.7, "precision": "exact"},
            "organizer": {"name": "Club", "url": "https://club.example"},
            "price": {"min": 2.5, "max": 4.0, "currency": "GBP", "accessible_for_free": false},
            "status": "scheduled",
            "url": "https://example.org/book",
            "tags": [],
            "problems": [{"code": "html_in_text", "detail": "description had <b>"}],
            "level": ["Beginner"],
            "age_range": {"min": 50},
            "gender_restriction": "female",
            "accessibility": ["Hearing loop"],
            "from_schedule": true,
            "areas": [{"area": "lsc", "small_area": "E01012571"}]
        }))
        .map(|mut o: Opportunity| {
            o.tags = vec![tag("social"), tag("beginner_friendly")].into();
            o.withheld_tags = vec![tag("free")].into();
            o
        })
        .expect("a complete opportunity")
    }

    /// An opportunity with only the fields every one has.
    pub(crate) fn sparse() -> Opportunity {
        serde_json::from_value(json!({
            "kind": "event",
            "start": "2026-12-02T10:00:00Z",
            "activities": [],
            "price": {},
            "status": "scheduled"
        }))
        .expect("a sparse opportunity")
    }

    #[test]
    fn brief_is_the_full_document_with_tag_names_and_nothing_withheld() {
        let full = complete();
        let brief = serde_json::to_value(BriefOpportunity::from(&full)).expect("serialises");
        assert_eq!(brief, expected(&full));
        assert_eq!(brief["tags"], json!(["social", "beginner_friendly"]));

        let sparse = sparse();
        let brief = serde_json::to_value(BriefOpportunity::from(&sparse)).expect("serialises");
        assert_eq!(brief, expected(&sparse));
    }
}
