//! Fuzzes the `/v1/sessions` query-string parser (`oa_api::params::session_query`) with the
//! fuzz bytes as a (lossy UTF-8) query string.
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use oa_api::params::{Context, session_query};
use oa_api::pathways::Pathways;
use oa_geo::Gazetteer;

static PATHWAYS: LazyLock<Pathways> = LazyLock::new(Pathways::shipped);
static NOW: LazyLock<DateTime<Utc>> = LazyLock::new(|| {
    DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .expect("a valid instant")
});

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let cx = Context {
        now: *NOW,
        places: Gazetteer::bundled(),
        pathways: &PATHWAYS,
    };
    match session_query(Some(&query), cx) {
        Ok(found) => {
            let request = found.request;
            assert!(request.radius_km > 0.0 && request.radius_km <= 50.0);
            assert!((1..=100).contains(&request.limit));
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
