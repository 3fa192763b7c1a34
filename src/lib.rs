//! The application's wiring: what joins the harvester to the store.

pub mod config;
pub mod harvest;
