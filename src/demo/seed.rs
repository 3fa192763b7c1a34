//! The demo's bundled seed (`fixtures/demo/seed.json`): fictional publishers, venues and
//! weekly series at real Lancashire and South Cumbria postcodes, without dates.

use serde::Deserialize;

pub const SEED_JSON: &str = include_str!("../../fixtures/demo/seed.json");

#[derive(Debug, Clone, Deserialize)]
pub struct Seed {
    pub publishers: Vec<SeedPublisher>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedPublisher {
    pub key: String,
    pub name: String,
    pub url: String,
    /// `modified_id` or `change_number`.
    pub ordering: String,
    /// `dataset_site` or `feed`: how the aggregator is told about it.
    pub via: String,
    /// `series` (SessionSeries + ScheduledSession feeds) or `events` (one Event feed).
    pub kind: String,
    pub venues: Vec<SeedVenue>,
    pub series: Vec<SeedSeries>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedVenue {
    pub key: String,
    pub name: String,
    pub street: String,
    pub locality: String,
    pub postcode: String,
    pub lat: f64,
    pub lng: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedActivity {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedSeries {
    pub key: String,
    pub name: String,
    pub description: String,
    pub activity: SeedActivity,
    pub venue: String,
    #[serde(default)]
    pub weekdays: Vec<String>,
    #[serde(default)]
    pub days_ahead: Vec<i64>,
    pub start_time: String,
    pub duration_minutes: i64,
    pub price_gbp: f64,
    #[serde(default)]
    pub first_session_free: bool,
    #[serde(default)]
    pub level: Vec<String>,
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    pub gender: Option<String>,
    #[serde(default)]
    pub accessibility_support: Vec<String>,
    pub attendee_instructions: Option<String>,
    pub cancel_occurrence: Option<usize>,
}

impl Seed {
    pub fn bundled() -> Result<Seed, serde_json::Error> {
        serde_json::from_str(SEED_JSON)
    }
}
