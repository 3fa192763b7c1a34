//! What recomputed stored items have stored (status, output digests), and so which of their
//! new output must be written: most recomputed items are unchanged, and after a tag-rule
//! edit most keep their problems.

use hashbrown::{HashMap, HashSet};

use crate::digest::Digest;
use crate::page::{DigestRow, OpportunityRow, ProblemRow, StatusRow, StoredChild};

/// The stored status and digests of recomputed items: an item whose status, opportunities
/// or problems come out the same does not have them written again.
pub(crate) struct StoredStates<'a>(HashMap<(i64, &'a str), StoredState<'a>>);

struct StoredState<'a> {
    status: (&'a str, Option<&'a str>),
    /// Of its opportunities and of its problems.
    digest: Option<(i64, i64)>,
    /// Of its opportunities' ids; `None` for a digest written before this one existed.
    ids: Option<i64>,
}

/// Which parts of an item's output differ from what is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Changed {
    pub opportunities: bool,
    /// The opportunities' ids: when they are the same, none of the item's opportunities
    /// went, so none need deleting.
    pub opportunity_ids: bool,
    pub problems: bool,
}

impl<'a> StoredStates<'a> {
    pub(crate) fn of(items: impl IntoIterator<Item = &'a StoredChild>) -> Self {
        StoredStates(
            items
                .into_iter()
                .map(|i| {
                    let state = StoredState {
                        status: (i.status.as_str(), i.problem.as_deref()),
                        digest: i.digest_opportunities.zip(i.digest_problems),
                        ids: i.digest_ids,
                    };
                    ((i.feed_id, i.item_id.as_str()), state)
                })
                .collect(),
        )
    }

    /// What of this item's output differs from the stored one (all of it, for an item not
    /// stored or stored without digests).
    pub(crate) fn changed_output(&self, key: (i64, &str), digest: Digest) -> Changed {
        match self.0.get(&key) {
            Some(StoredState {
                digest: Some((opportunities, problems)),
                ids,
                ..
            }) => Changed {
                opportunities: *opportunities != digest.opportunities,
                opportunity_ids: *ids != Some(digest.opportunity_ids),
                problems: *problems != digest.problems,
            },
            _ => Changed {
                opportunities: true,
                opportunity_ids: true,
                problems: true,
            },
        }
    }

    /// A row for each of `statuses` that differs from the stored one.
    pub(crate) fn changed(&self, statuses: crate::normalisation::Statuses<'_>) -> Vec<StatusRow> {
        statuses
            .into_iter()
            .filter(|((feed_id, item_id), (status, problem))| {
                self.0.get(&(*feed_id, *item_id)).map(|s| s.status)
                    != Some((*status, problem.as_deref()))
            })
            .map(|((feed_id, item_id), (status, problem))| StatusRow {
                feed_id,
                item_id: item_id.to_owned(),
                status,
                problem,
            })
            .collect()
    }
}

/// Sorts one chunk's output by what changed against `stored`: the items whose opportunities
/// and whose problems must be replaced (dropping the rows of the others), and the digests to
/// write. `items` are the chunk's work items; those `stored` does not know are all new.
pub(crate) fn keep_changed(
    items: &[(i64, &str)],
    stored: &StoredStates<'_>,
    digests: &HashMap<(i64, &str), Digest>,
    rows: &mut Vec<OpportunityRow>,
    problems: &mut Vec<ProblemRow>,
) -> Replaced {
    let mut replaced = Replaced::default();
    let mut unchanged_rows: HashSet<(i64, &str)> = HashSet::new();
    let mut unchanged_problems: HashSet<(i64, &str)> = HashSet::new();
    for &key in items {
        let digest = digests[&key];
        let changed = stored.changed_output(key, digest);
        let owned = || (key.0, key.1.to_owned());
        if !changed.opportunities {
            unchanged_rows.insert(key);
        } else if changed.opportunity_ids {
            replaced.opportunity_sources.push(owned());
        } // Else the same ids: its rows are upserted in place, and nothing of it deleted.

        if changed.problems {
            replaced.problem_sources.push(owned());
        } else {
            unchanged_problems.insert(key);
        }
        if changed.opportunities || changed.problems {
            replaced.digests.push(DigestRow {
                feed_id: key.0,
                item_id: key.1.to_owned(),
                digest,
            });
        } else {
            replaced.unchanged += 1;
        }
    }
    rows.retain(|r| !unchanged_rows.contains(&(r.feed_id, r.item_id.as_str())));
    problems.retain(|p| !unchanged_problems.contains(&(p.feed_id, p.item_id.as_str())));
    replaced
}

/// What [`keep_changed`] found to replace.
#[derive(Default)]
pub(crate) struct Replaced {
    pub opportunity_sources: Vec<(i64, String)>,
    pub problem_sources: Vec<(i64, String)>,
    pub digests: Vec<DigestRow>,
    /// Items with nothing to write.
    pub unchanged: usize,
}
