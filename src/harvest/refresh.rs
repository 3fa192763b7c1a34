//! Normalising every stored item again: after an area edits its tag rules or imports
//! postcodes (`oa-aggregator renormalise`), and daily while serving, so sessions generated
//! from schedules follow the moving horizon without a re-harvest.

use std::time::{Duration, Instant};

use oa_harvest::Shutdown;
use oa_store::StoreError;

use super::Harvester;

/// Items per transaction: large enough to amortise the commit, small enough that the
/// harvester (on SQLite's single writer) waits only briefly between batches.
pub const BATCH: usize = 2000;

/// What a full pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshSummary {
    pub items: usize,
    /// Items whose opportunities came out as stored, so were not rewritten.
    pub unchanged: usize,
    pub opportunities: usize,
    pub unusable: usize,
    pub seconds: f64,
    /// Shutdown stopped the pass between batches.
    pub stopped: bool,
}

/// One pass over every stored item, batch by batch, stopping between batches on shutdown.
pub async fn renormalise_all(
    harvester: &Harvester,
    shutdown: &Shutdown,
) -> Result<RefreshSummary, StoreError> {
    let started = Instant::now();
    let mut summary = RefreshSummary::default();
    if shutdown.is_requested() {
        summary.stopped = true;
        return Ok(summary);
    }
    harvester
        .store
        .renormalise_pass(None, BATCH, &harvester.normaliser, &mut |batch| {
            summary.items += batch.items;
            summary.unchanged += batch.unchanged;
            summary.opportunities += batch.opportunities;
            summary.unusable += batch.unusable;
            // Checked between batches: each is whole, and a rerun picks up the rest.
            summary.stopped = shutdown.is_requested() && batch.next.is_some();
            !summary.stopped
        })
        .await?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Renormalises everything every `every` until shutdown.
pub async fn refresh_forever(harvester: Harvester, every: Duration, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.requested() => return,
            () = tokio::time::sleep(every) => {}
        }
        match renormalise_all(&harvester, &shutdown).await {
            Ok(summary) => tracing::info!(
                items = summary.items,
                unchanged = summary.unchanged,
                "refreshed {} items ({} unchanged) in {:.1} s",
                summary.items,
                summary.unchanged,
                summary.seconds
            ),
            Err(e) => tracing::error!(error = %e, "refreshing stored sessions failed: {e}"),
        }
    }
}
