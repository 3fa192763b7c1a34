//! Search results written as JSON text. A stored document is already in a brief result's
//! form (`oa_model::tags::to_stored_json`: tags by name, no withheld tags), so a result is
//! its text spliced between the result's own fields, never parsed and written again.

use chrono::{DateTime, Utc};
use oa_model::Opportunity;
use oa_store::search::SearchHit;
use serde::{Deserialize, Serialize};

use crate::brief::BriefOpportunity;
use crate::problem::ApiError;

/// One result as JSON text: with `explained`, that opportunity in full (tags with their
/// reasons, as `/v1/sessions/{id}` has them); else the brief result, spliced from the stored
/// text when it is in the stored form and parsed and written otherwise.
pub(crate) fn result_json(
    hit: &SearchHit,
    grouped: bool,
    explained: Option<&Opportunity>,
) -> Result<Vec<u8>, ApiError> {
    let written = if let Some(opportunity) = explained {
        serde_json::to_vec(&summary_of(hit, grouped, opportunity, opportunity))
    } else if let Some(fields) = stored_form_fields(&hit.document.doc) {
        spliced(hit, grouped, fields)
    } else {
        let candidate = hit.candidate()?;
        let brief = BriefOpportunity::from(&candidate.opportunity);
        serde_json::to_vec(&summary_of(hit, grouped, brief, &candidate.opportunity))
    };
    written.map_err(ApiError::Render)
}

/// The fields of a document written in the stored form, without their braces. A document
/// stored before tags were kept by name carries their reasons and the withheld tags, so it
/// is parsed instead. Inside a JSON string a quote is escaped, so `"reasons":` can only be
/// a key.
fn stored_form_fields(doc: &str) -> Option<&str> {
    let fields = doc.strip_prefix('{')?.strip_suffix('}')?;
    let old_form = doc.contains("\"reasons\":") || doc.contains("\"withheld_tags\":");
    (!fields.trim().is_empty() && !old_form).then_some(fields)
}

/// What [`SessionSummary`] writes, in its order, with the opportunity's fields as stored.
fn spliced(hit: &SearchHit, grouped: bool, fields: &str) -> serde_json::Result<Vec<u8>> {
    let document = &hit.document;
    let mut out = Vec::with_capacity(fields.len() + 256);
    out.extend_from_slice(b"{\"id\":");
    serde_json::to_writer(&mut out, &document.id)?;
    out.extend_from_slice(b",\"distance_km\":");
    serde_json::to_writer(&mut out, &rounded_km(hit.distance_km))?;
    out.push(b',');
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(b",\"source\":");
    serde_json::to_writer(&mut out, &source(hit))?;
    if grouped {
        // The first occurrence's instants as published (to the fraction); a struct of two
        // fields skips the rest of the document without allocating.
        #[derive(Deserialize)]
        struct Instants {
            start: DateTime<Utc>,
            end: Option<DateTime<Utc>>,
        }
        let first: Instants = serde_json::from_str(&document.doc)?;
        out.extend_from_slice(b",\"occurrences\":");
        serde_json::to_writer(&mut out, &occurrences(hit, first.start, first.end))?;
    }
    out.push(b'}');
    Ok(out)
}

/// One search result; `O` is the opportunity in full or its [`BriefOpportunity`].
#[derive(Serialize)]
struct SessionSummary<'a, O> {
    id: &'a str,
    distance_km: f64,
    #[serde(flatten)]
    opportunity: O,
    source: Source<'a>,
    /// With `group=series`: this and the series' next occurrences.
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrences: Option<Vec<Occurrence<'a>>>,
}

#[derive(Serialize)]
struct Occurrence<'a> {
    id: &'a str,
    #[serde(serialize_with = "oa_model::rfc3339::serialize")]
    start: DateTime<Utc>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "oa_model::rfc3339::serialize_option"
    )]
    end: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct Source<'a> {
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    modified: i64,
}

/// The hit as a result showing `view`; `opportunity` gives the first occurrence's instants.
fn summary_of<'a, O>(
    hit: &'a SearchHit,
    grouped: bool,
    view: O,
    opportunity: &Opportunity,
) -> SessionSummary<'a, O> {
    SessionSummary {
        id: &hit.document.id,
        distance_km: rounded_km(hit.distance_km),
        opportunity: view,
        source: source(hit),
        occurrences: grouped.then(|| occurrences(hit, opportunity.start, opportunity.end)),
    }
}

/// The contract (DESIGN.md): kilometres rounded to 0.1. Ordering and cursors use the exact
/// distance, so rounding never reorders or repeats results.
fn rounded_km(distance_km: f64) -> f64 {
    (distance_km * 10.0).round() / 10.0
}

fn source(hit: &SearchHit) -> Source<'_> {
    Source {
        feed_url: &hit.document.feed_url,
        publisher: hit.document.publisher.as_deref(),
        modified: hit.document.modified,
    }
}

/// This occurrence and the series' next ones.
fn occurrences(
    hit: &SearchHit,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> Vec<Occurrence<'_>> {
    let at = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0);
    std::iter::once(Occurrence {
        id: &hit.document.id,
        start,
        end,
    })
    .chain(hit.later.iter().filter_map(|o| {
        Some(Occurrence {
            id: &o.id,
            start: at(o.start_at)?,
            end: o.end_at.and_then(at),
        })
    }))
    .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oa_store::{CandidateDoc, Occurrence as Later};
    use serde_json::Value;

    use super::*;
    use crate::brief::tests::{complete, sparse};

    fn hit(doc: String) -> SearchHit {
        SearchHit {
            document: Arc::new(CandidateDoc {
                id: "oa-0000000000000042".into(),
                start_at: 1_796_205_600,
                lat: 53.8,
                lng: -2.7,
                doc,
                feed_url: "https://feeds.example/sessions".into(),
                publisher: Some("Club \"Active\"".into()),
                modified: 17,
            }),
            distance_km: 2.3456,
            later: vec![
                Later {
                    id: "oa-0000000000000043".into(),
                    start_at: 1_796_810_400,
                    end_at: Some(1_796_814_000),
                },
                Later {
                    id: "oa-0000000000000044".into(),
                    start_at: 1_797_415_200,
                    end_at: None,
                },
            ],
        }
    }

    /// The result written from the opportunity itself, as the handler wrote every result
    /// before results were spliced from their stored text.
    fn written_from(o: &Opportunity, hit: &SearchHit, grouped: bool) -> Vec<u8> {
        serde_json::to_vec(&summary_of(hit, grouped, BriefOpportunity::from(o), o)).expect("writes")
    }

    fn stored(o: &Opportunity) -> String {
        let mut doc = Vec::new();
        oa_model::tags::to_stored_json(o, &mut doc).expect("stores");
        String::from_utf8(doc).expect("UTF-8")
    }

    #[test]
    fn a_stored_document_is_spliced_into_exactly_the_result_written_from_it() {
        let mut mentions_keys = complete();
        mentions_keys.description = Some(r#"Our "reasons": friends; "withheld_tags":"#.into());
        for o in [complete(), sparse(), mentions_keys] {
            let doc = stored(&o);
            assert!(stored_form_fields(&doc).is_some(), "{doc}");
            for grouped in [false, true] {
                let hit = hit(doc.clone());
                let spliced = result_json(&hit, grouped, None).expect("writes");
                assert_eq!(
                    String::from_utf8(spliced).expect("UTF-8"),
                    String::from_utf8(written_from(&o, &hit, grouped)).expect("UTF-8"),
                    "grouped: {grouped}"
                );
            }
        }
    }

    #[test]
    fn a_grouped_result_lists_the_first_occurrence_to_the_fraction_then_the_later_ones() {
        let hit = hit(stored(&complete()));
        let result: Value =
            serde_json::from_slice(&result_json(&hit, true, None).expect("writes")).expect("JSON");
        let occurrences: Vec<(&str, &str)> = result["occurrences"]
            .as_array()
            .expect("occurrences")
            .iter()
            .map(|o| {
                (
                    o["id"].as_str().expect("id"),
                    o["start"].as_str().expect("start"),
                )
            })
            .collect();
        assert_eq!(
            occurrences,
            [
                ("oa-0000000000000042", "2026-12-02T10:00:00.250Z"),
                ("oa-0000000000000043", "2026-12-09T10:00:00Z"),
                ("oa-0000000000000044", "2026-12-16T10:00:00Z"),
            ]
        );
        assert_eq!(result["occurrences"][2].get("end"), None);
    }

    #[test]
    fn a_document_stored_with_tag_reasons_gives_the_brief_result_without_them() {
        for o in [complete(), sparse()] {
            // As documents were stored before tags were kept by name.
            let doc = serde_json::to_string(&o).expect("writes");
            assert_eq!(
                stored_form_fields(&doc).is_none(),
                !o.tags.is_empty(),
                "{doc}"
            );
            let hit = hit(doc);
            let result: Value =
                serde_json::from_slice(&result_json(&hit, false, None).expect("writes"))
                    .expect("JSON");
            let expected: Value =
                serde_json::from_slice(&written_from(&o, &hit, false)).expect("JSON");
            assert_eq!(result, expected);
            let names: Vec<&str> = o.tags.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(result["tags"], serde_json::json!(names));
            assert_eq!(result.get("withheld_tags"), None);
        }
    }

    #[test]
    fn an_explained_result_carries_the_tags_reasons() {
        let o = complete();
        let hit = hit(stored(&o));
        let result: Value =
            serde_json::from_slice(&result_json(&hit, false, Some(&o)).expect("writes"))
                .expect("JSON");
        assert_eq!(result["tags"][0]["name"], "social");
        assert_eq!(result["tags"][0]["reasons"][0]["value"], "cuppa");
        assert_eq!(result["withheld_tags"][0]["name"], "free");
    }

    #[test]
    fn a_document_that_is_not_an_object_is_an_error_not_a_broken_page() {
        let hit = hit("[1, 2]".into());
        assert!(result_json(&hit, false, None).is_err());
    }
}
