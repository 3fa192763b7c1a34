//! The process's memory allocator: mimalloc, set to hand freed memory back to the system
//! within tens of milliseconds.
//!
//! A harvest allocates and frees every page's parsed items, rows and documents. Under glibc's
//! malloc that churn was about a quarter of the harvest's CPU (`perf`: `malloc`, `_int_free`,
//! `malloc_consolidate`, `unlink_chunk`). With mimalloc the same harvest stores about a
//! quarter more items a second, and half as many again when it walks twenty feeds at once
//! (docs/PERFORMANCE.md, "Harvest throughput", twenty-fourth session).
//!
//! mimalloc's defaults cost memory the 100 MB target does not leave:
//! * it commits its arena up front, and its pages, once touched, stay resident (107-144 MB
//!   at peak against glibc's 74 MB);
//! * it keeps freed memory for a second.
//!
//! Committing on demand and giving freed memory back after 30 ms keeps the harvest's peak
//! at glibc's (72-77 MB). The `MIMALLOC_*` environment variables still override both.

use std::os::raw::c_long;

#[cfg(test)]
use libmimalloc_sys::mi_option_get;
use libmimalloc_sys::{mi_option_set_default, mi_option_t};

/// The allocator `main` installs.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc 3's option numbers (`mi_option_t` in its `mimalloc.h`); the Rust bindings name
/// only the options mimalloc 2 also had. The numbers are part of mimalloc's ABI: retired
/// options keep their places.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const PURGE_DELAY: mi_option_t = 15;

/// How long freed memory stays with the allocator before it goes back to the system.
/// 10 ms gave about half the speed; 100 ms added 5-10 MB; 1,000 (mimalloc's default) added
/// 10-25 MB.
pub const PURGE_DELAY_MS: c_long = 30;

/// Sets the allocator's options, unless the environment has set them. Call it before anything
/// allocates (`main.rs` does, as the program loads): the arena's commit mode is fixed when
/// the first arena is reserved.
#[expect(unsafe_code, reason = "mimalloc's options have no safe Rust binding")]
pub fn configure() {
    // SAFETY: both calls only store a number in mimalloc's option table; they take no
    // pointers, and options are meant to be set from any thread at any time.
    unsafe {
        mi_option_set_default(ARENA_EAGER_COMMIT, 0);
        mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// The option's current value.
#[cfg(test)]
#[expect(unsafe_code, reason = "mimalloc's options have no safe Rust binding")]
fn option(option: mi_option_t) -> c_long {
    // SAFETY: reads a number from mimalloc's option table.
    unsafe { mi_option_get(option) }
}

/// (eager arena commit, purge delay in ms) as the allocator will use them.
#[cfg(test)]
fn settings() -> (c_long, c_long) {
    (option(ARENA_EAGER_COMMIT), option(PURGE_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_numbers_name_the_options_meant_and_configure_sets_them() {
        // mimalloc 3's own defaults tell the two options apart from their neighbours: an
        // eager commit of 2 ("on systems that overcommit") and a purge delay of 1,000 ms.
        // Tests run under the system allocator, so nothing else has set them here.
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none()
            && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
        {
            assert_eq!(settings(), (2, 1000), "not mimalloc 3's option numbers");
        }
        configure();
        let (eager, delay) = settings();
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(eager, 0);
        }
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(delay, PURGE_DELAY_MS);
        }
    }
}
