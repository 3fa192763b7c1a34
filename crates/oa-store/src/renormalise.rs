//! Re-applying the normaliser (new tag rules, new postcodes, a fixed bug) to every stored
//! item, batch by batch in keyset order, each batch in its own transaction: items and their
//! opportunities stay consistent at every moment, and an interrupted run can simply rerun.

use std::collections::{HashMap, HashSet};

use oa_model::Normaliser;
use serde_json::Value;

use crate::StoreError;
use crate::page::{
    Normalisation, OpportunityRow, PageOutcome, PageTx, StoredStatuses, Work, corrupt,
    drop_superseded, normalise_work,
};

/// What one batch did, and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenormaliseBatch {
    pub items: usize,
    /// Items whose opportunities came out exactly as stored, so were not rewritten.
    pub unchanged: usize,
    pub opportunities: usize,
    pub unusable: usize,
    pub awaiting_parent: usize,
    /// The last (feed id, item id) done; `None` when the store is exhausted.
    pub next: Option<(i64, String)>,
}

pub(crate) async fn batch<T: PageTx>(
    tx: &mut T,
    after: Option<(i64, String)>,
    limit: usize,
    normaliser: &dyn Normaliser,
) -> Result<RenormaliseBatch, StoreError> {
    let (after_feed, after_item) = after.unwrap_or((i64::MIN, String::new()));
    let stored = tx
        .live_items_after((after_feed, &after_item), limit as i64)
        .await?;
    let data: Vec<Value> = stored
        .iter()
        .map(|i| serde_json::from_str(&i.data).map_err(|e| corrupt(&i.item_id, e)))
        .collect::<Result<_, _>>()?;
    let work: Vec<Work<'_>> = stored
        .iter()
        .zip(&data)
        .map(|(i, data)| Work {
            feed_id: i.feed_id,
            feed_url: &i.feed_url,
            item_id: &i.item_id,
            kind: &i.kind,
            modified: i.modified,
            parent_ref: i.parent_ref.as_deref(),
            data: Some(data),
        })
        .collect();
    let wanted: Vec<String> = work
        .iter()
        .filter_map(|w| w.parent_ref.map(str::to_owned))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut parents = HashMap::new();
    if !wanted.is_empty() {
        for parent in tx.parents(&wanted).await? {
            let data =
                serde_json::from_str(&parent.data).map_err(|e| corrupt(&parent.data_id, e))?;
            parents.insert(parent.data_id, data);
        }
    }
    let mut outcome = PageOutcome::default();
    let Normalisation {
        statuses,
        rows,
        problems,
    } = normalise_work(&work, &parents, normaliser, &mut outcome)?;
    let mut rows = rows;
    drop_superseded(tx, &mut rows).await?;
    let opportunities_computed = rows.len();
    let awaiting_parent = statuses
        .values()
        .filter(|(status, _)| *status == "awaiting_parent")
        .count();
    let status_rows = StoredStatuses::of(&stored).changed(statuses);
    if !status_rows.is_empty() {
        tx.set_item_status(&status_rows).await?;
    }
    let all: Vec<(i64, String)> = work
        .iter()
        .map(|w| (w.feed_id, w.item_id.to_owned()))
        .collect();
    let unchanged = unchanged_sources(tx, &all, &rows).await?;
    let sources: Vec<(i64, String)> = all.into_iter().filter(|s| !unchanged.contains(s)).collect();
    let rows: Vec<OpportunityRow> = rows
        .into_iter()
        .filter(|r| !unchanged.contains(&(r.feed_id, r.item_id.clone())))
        .collect();
    let problems: Vec<_> = problems
        .into_iter()
        .filter(|p| !unchanged.contains(&(p.feed_id, p.item_id.clone())))
        .collect();
    tx.replace_opportunities(&sources, &rows).await?;
    tx.replace_problems(&sources, &problems).await?;
    Ok(RenormaliseBatch {
        items: stored.len(),
        unchanged: unchanged.len(),
        opportunities: opportunities_computed,
        unusable: outcome.unusable,
        awaiting_parent,
        next: (stored.len() == limit)
            .then(|| stored.last().map(|i| (i.feed_id, i.item_id.clone())))
            .flatten(),
    })
}

/// Items whose recomputed opportunities equal the stored ones, doc for doc. Only items with
/// opportunities qualify: an item with none (parent, orphan, unusable) is always rewritten,
/// so its status and problems stay exact.
async fn unchanged_sources<T: PageTx>(
    tx: &mut T,
    sources: &[(i64, String)],
    rows: &[OpportunityRow],
) -> Result<HashSet<(i64, String)>, StoreError> {
    let mut fresh: HashMap<(i64, &str), Vec<(&str, &str)>> = HashMap::new();
    for row in rows {
        fresh
            .entry((row.feed_id, row.item_id.as_str()))
            .or_default()
            .push((row.id.as_str(), row.doc.as_str()));
    }
    let stored_docs = tx.opportunity_docs(sources).await?;
    let mut stored: HashMap<(i64, &str), Vec<(&str, &str)>> = HashMap::new();
    for (feed_id, item_id, id, doc) in &stored_docs {
        stored
            .entry((*feed_id, item_id.as_str()))
            .or_default()
            .push((id.as_str(), doc.as_str()));
    }
    Ok(fresh
        .into_iter()
        .filter_map(|(key, mut docs)| {
            let mut before = stored.remove(&key)?;
            docs.sort_unstable();
            before.sort_unstable();
            (docs == before).then(|| (key.0, key.1.to_owned()))
        })
        .collect())
}
