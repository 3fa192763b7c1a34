//! The `oa-aggregator` service: configuration, harvesting configured sources into the store,
//! the demo publishers and the command line that ties them to the API.

pub mod allocator;
pub mod areas;
pub mod cli;
pub mod config;
pub mod demo;
pub mod harvest;
pub mod import;
pub mod memory;
