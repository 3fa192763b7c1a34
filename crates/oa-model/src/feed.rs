//! A feed found by discovery: what the harvester walks and the store records.

/// One RPDE feed and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredFeed {
    pub url: String,
    /// The feed's type, e.g. `ScheduledSession` (from the dataset site's `additionalType`).
    pub kind: Option<String>,
    pub publisher: Option<String>,
    pub dataset_site: Option<String>,
}
