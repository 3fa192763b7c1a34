//! Re-applying the normaliser (new tag rules, new postcodes, a fixed bug) to every stored
//! item, batch by batch in keyset order, each batch in its own transaction: items and their
//! opportunities stay consistent at every moment, and an interrupted run can simply rerun.

use std::collections::{HashMap, HashSet};

use oa_model::Normaliser;
use serde_json::Value;

use crate::StoreError;
use crate::digest::output_digests;
use crate::page::{
    Normalisation, PageOutcome, PageTx, StoredStates, Work, corrupt, drop_superseded,
    normalise_work, stored_series_with_children,
};

/// What one batch did, and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenormaliseBatch {
    pub items: usize,
    /// Items whose opportunities and problems came out exactly as stored (by their digest),
    /// so were not rewritten.
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
        mut rows,
        mut problems,
    } = normalise_work(&work, &parents, normaliser, &mut outcome)?;
    let with_children = stored_series_with_children(tx, &rows).await?;
    drop_superseded(&mut rows, &with_children);
    let opportunities_computed = rows.len();
    let awaiting_parent = statuses
        .values()
        .filter(|(status, _)| *status == "awaiting_parent")
        .count();
    let digests = output_digests(
        work.iter().map(|w| (w.feed_id, w.item_id)),
        &rows,
        &problems,
    );
    let stored_states = StoredStates::of(&stored);
    let status_rows = stored_states.changed(statuses, &digests);
    if !status_rows.is_empty() {
        tx.set_item_status(&status_rows).await?;
    }
    let changed = |key: (i64, &str)| !stored_states.output_unchanged(key, digests[&key]);
    let sources: Vec<(i64, String)> = work
        .iter()
        .filter(|w| changed((w.feed_id, w.item_id)))
        .map(|w| (w.feed_id, w.item_id.to_owned()))
        .collect();
    rows.retain(|r| changed((r.feed_id, r.item_id.as_str())));
    problems.retain(|p| changed((p.feed_id, p.item_id.as_str())));
    tx.replace_opportunities(&sources, &rows).await?;
    tx.replace_problems(&sources, &problems).await?;
    Ok(RenormaliseBatch {
        items: stored.len(),
        unchanged: work.len() - sources.len(),
        opportunities: opportunities_computed,
        unusable: outcome.unusable,
        awaiting_parent,
        next: (stored.len() == limit)
            .then(|| stored.last().map(|i| (i.feed_id, i.item_id.clone())))
            .flatten(),
    })
}
