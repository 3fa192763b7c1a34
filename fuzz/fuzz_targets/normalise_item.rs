//! Fuzzes the item normaliser (`oa_normalise::normalise`, and `prepare` on the same data as
//! an RPDE item) with arbitrary JSON, as each kind, alone and with its `superEvent` as parent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oa_model::{ItemState, RpdeItem};
use serde_json::Value;

const KINDS: &[&str] = &[
    "ScheduledSession",
    "SessionSeries",
    "Event",
    "Slot",
    "FacilityUse",
];

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // An RPDE item envelope (as the samples are) is normalised by its `data`.
    let item = value
        .get("data")
        .filter(|d| d.is_object())
        .unwrap_or(&value);
    let parent = item.get("superEvent").filter(|p| p.is_object());
    for kind in KINDS {
        let _ = oa_normalise::normalise(kind, item, None);
        if parent.is_some() {
            let _ = oa_normalise::normalise(kind, item, parent);
        }
    }
    if let Ok(raw) = serde_json::value::to_raw_value(item) {
        for state in [ItemState::Updated, ItemState::Deleted] {
            let rpde = RpdeItem {
                id: "1".into(),
                kind: KINDS[data.len() % KINDS.len()].into(),
                state,
                modified: 1,
                data: Some(raw.clone()),
            };
            let _ = oa_normalise::prepare(&rpde);
        }
    }
});
