//! The search as applied, echoed with the results so a client sees exactly what was searched.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The filters in force, normalised, so a client sees exactly what was searched.
#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Applied {
    pub centre: Centre,
    pub radius_km: f64,
    #[serde(serialize_with = "oa_model::rfc3339::serialize")]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "oa_model::rfc3339::serialize")]
    pub to: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_of_day: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<AppliedActivity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_tags: Vec<String>,
    pub free: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
    pub include_unknown_price: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathway: Option<String>,
    pub sort: &'static str,
    pub limit: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    pub wheelchair: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accessibility: Vec<String>,
    /// With `group=series`: occurrences shown per series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_size: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Centre {
    pub lat: f64,
    pub lng: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// `exact` for lat/lng, else how the postcode was located.
    pub precision: &'static str,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppliedActivity {
    pub query: String,
    /// The Activity List concept it resolved to, if any (else matched as free text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concept: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How many concepts the search accepts (the concept and everything beneath it).
    pub concepts_included: usize,
}
