//! Why a session carries each tag, worked out when someone asks (`/v1/sessions/{id}`,
//! `explain=true`, the finder's cards): stored documents keep tag names only, so a rule edit
//! rewrites less, and the reasons come from normalising the stored item again.
//!
//! The stored names stay the truth a search filtered on. Each stored tag takes the reasons
//! the fresh normalisation gives for it; one the rules in force no longer give (they changed
//! and `renormalise` has not run yet) keeps its name, with one reason whose note says so.

use std::collections::HashSet;

use oa_model::{
    Effect, Evidence, Normalised, Normaliser, Opportunity, Tag, TagReason, opportunity_id,
};
use oa_store::search::SearchHit;
use oa_store::{OpportunityDetail, Store, StoreError};
use serde_json::Value;

/// Gives `opportunity` (stored as `detail`) its tags' reasons and its withheld tags.
pub(crate) fn explain(normaliser: &dyn Normaliser, detail: &OpportunityDetail) -> Opportunity {
    let mut explained = detail.opportunity.clone();
    let fresh = renormalised(normaliser, detail);
    let fresh_tags = fresh.as_ref().map_or(&[][..], |o| &o.tags[..]);
    let why_unexplained = if fresh.is_some() {
        NO_LONGER_GIVEN
    } else {
        NOT_NORMALISED
    };
    explained.tags = detail
        .opportunity
        .tags
        .iter()
        .map(|stored| {
            fresh_tags
                .iter()
                .find(|t| t.name == stored.name)
                .cloned()
                .unwrap_or_else(|| unexplained(&stored.name, why_unexplained))
        })
        .collect();
    let carried: HashSet<&str> = explained.tags.iter().map(|t| t.name.as_str()).collect();
    explained.withheld_tags = fresh
        .as_ref()
        .map(|o| {
            o.withheld_tags
                .iter()
                .filter(|t| !carried.contains(t.name.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    explained
}

/// Each hit's opportunity explained, in the hits' order, reading its stored item (one read
/// per hit: explanations are asked for a page at a time, by people).
pub(crate) async fn explain_hits(
    store: &dyn Store,
    normaliser: &dyn Normaliser,
    hits: &[SearchHit],
) -> Result<Vec<Opportunity>, StoreError> {
    let mut explained = Vec::with_capacity(hits.len());
    for hit in hits {
        explained.push(match store.opportunity(&hit.document.id).await {
            Ok(detail) => explain(normaliser, &detail),
            // Gone since the search read it: shown as found, unexplained.
            Err(StoreError::NotFound) => hit.candidate()?.opportunity,
            Err(e) => return Err(e),
        });
    }
    Ok(explained)
}

/// The opportunity as the rules in force make it from the stored item, when they still do.
fn renormalised(normaliser: &dyn Normaliser, detail: &OpportunityDetail) -> Option<Opportunity> {
    let item: Value = serde_json::from_str(detail.item_data.as_deref()?).ok()?;
    let parent: Option<Value> = detail
        .parent_data
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let Normalised::Opportunities(made) =
        normaliser.normalise(&detail.item_kind, &item, parent.as_ref())
    else {
        return None;
    };
    let id_of = |o: &Opportunity| {
        opportunity_id(&detail.feed_url, &detail.item_id, o.occurrence.as_deref())
    };
    // A session generated from a schedule may have left the horizon since it was stored; its
    // series' other sessions carry the same tags for the same reasons.
    let same = made.iter().position(|o| id_of(o) == detail.id).unwrap_or(0);
    made.into_iter().nth(same)
}

const NO_LONGER_GIVEN: &str = "stored under earlier tag rules, which the rules in force no \
    longer give it; `oa-aggregator renormalise` brings it up to date";
const NOT_NORMALISED: &str = "its stored item no longer normalises into this session, so its \
    reasons cannot be worked out again; `oa-aggregator renormalise` brings it up to date";

fn unexplained(name: &str, why: &str) -> Tag {
    Tag {
        name: name.to_owned(),
        reasons: vec![TagReason {
            evidence: Evidence::Structured,
            effect: Effect::Gives,
            field: "tags".into(),
            value: name.to_owned(),
            rule: "stored".into(),
            note: Some(why.to_owned()),
        }],
    }
}
