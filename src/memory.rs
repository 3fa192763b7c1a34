//! Gives the memory a serving process has freed back to the system now and then.
//!
//! glibc keeps what a thread frees in that thread's arena for reuse, and returns pages only
//! from the top of a heap. A search's buffers of thousands of matches, freed among live
//! allocations, stayed resident: after the search bench, 17 MB of a 157 MB server was free
//! memory held this way (docs/PERFORMANCE.md). Rust's allocations now go to mimalloc, which
//! gives freed memory back by itself (`crate::allocator`); SQLite's own (its page caches,
//! statements and results) still come from glibc's `malloc`, and are what this trims.

use std::time::Duration;

use oa_harvest::Shutdown;

/// How often freed memory is handed back: each call walks and locks every arena in turn,
/// so not on every search, but often enough that a burst of searches does not leave its
/// garbage resident for long (under the bench, no throughput cost showed).
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Hands freed memory back every [`TRIM_EVERY`] until shutdown.
pub async fn trim_periodically(shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.requested() => return,
            () = tokio::time::sleep(TRIM_EVERY) => {}
        }
        // Off the runtime's workers: the walk would hold up the searches queued behind it.
        let _ = tokio::task::spawn_blocking(release_freed_memory).await;
    }
}

/// Asks the allocator to return the pages it holds free; whether it returned any.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "glibc's malloc_trim has no Rust binding without FFI"
)]
pub fn release_freed_memory() -> bool {
    // SAFETY: malloc_trim takes no pointers and runs under glibc's own arena locks.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other allocators (musl, macOS, Windows) return memory themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn memory_freed_below_a_live_allocation_is_given_back() {
        // Small blocks come from the thread's heap, not their own mappings: freed below the
        // one kept, they stay with the allocator until asked for.
        let handle = std::thread::spawn(|| {
            let mut blocks: Vec<Vec<u8>> = (0..200_000).map(|n| vec![n as u8; 256]).collect();
            let kept = blocks.pop();
            drop(blocks);
            let released = release_freed_memory();
            drop(kept);
            released
        });
        assert!(handle.join().expect("thread"), "nothing was given back");
    }
}
