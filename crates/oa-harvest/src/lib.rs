//! Harvesting OpenActive feeds: fetching pages politely ([`fetch`]) and walking a feed by the
//! RPDE rules ([`walker`]). No database here: pages go to a [`walker::PageSink`].

pub mod discover;
pub mod error;
pub mod fetch;
pub mod shutdown;
pub mod walker;

pub use discover::{Discovery, discover_catalog, discover_dataset_site};
pub use error::FetchError;
pub use fetch::{FetchConfig, Fetched, Fetcher};
pub use shutdown::{Shutdown, ShutdownTrigger};
pub use walker::{PageSink, WalkError, WalkSummary, walk_to_end, walk_until};
