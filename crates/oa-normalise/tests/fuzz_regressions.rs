//! Inputs the cargo-fuzz targets (`fuzz/`, see docs/RELIABILITY.md) made the normaliser
//! panic on, each fed back exactly as found (after minimising) so the fix stays fixed.

use chrono::{DateTime, Duration, Utc};
use oa_model::Normalised;
use oa_normalise::{normalise, schedule};
use serde_json::json;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect(text)
        .with_timezone(&Utc)
}

/// `normalise_skeleton` crash-e08b4f04: an Event whose `duration` is 22,222,291 months ends
/// past the last instant chrono holds, and `start + duration` panicked
/// ("`DateTime + TimeDelta` overflowed"). Now it simply has no end.
#[test]
fn fuzz_a_duration_past_the_end_of_time_has_no_end() {
    let event = json!({"@type": "Event", "startDate": "2026-07-03T10:00:00Z",
        "duration": "P22222291M"});
    let Normalised::Opportunities(found) = normalise("Event", &event, None) else {
        panic!("an Event with a startDate is usable");
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].end, None);
}

/// The same overflow in a Schedule's `duration`, in the series' generated occurrences.
#[test]
fn fuzz_a_schedule_duration_past_the_end_of_time_has_no_end() {
    let plan = json!({"@type": "Schedule", "byDay": ["https://schema.org/Thursday"],
        "startDate": "2026-06-01", "startTime": "10:00", "repeatFrequency": "P1W",
        "scheduleTimezone": "Europe/London", "duration": "P22222291M"});
    let mut problems = Vec::new();
    let found = schedule::expand(
        &plan,
        utc("2026-07-01T12:00:00Z"),
        Duration::days(28),
        &mut problems,
    );
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|o| o.end.is_none()));
}

/// `normalise_skeleton` crash-1affc23c (minimised to a series whose `repeatFrequency` is
/// `P` and one U+FFFD): the unit was split off as the last byte, inside a multi-byte
/// character, and `split_at` panicked. Now the frequency is simply unsupported.
#[test]
fn fuzz_a_repeat_frequency_ending_in_a_multibyte_character_is_unsupported() {
    for frequency in ["P\u{FFFD}", "P2W\u{FFFD}", "P1é"] {
        let plan = json!({"@type": "Schedule", "byDay": ["https://schema.org/Thursday"],
            "startDate": "2026-06-01", "startTime": "10:00", "repeatFrequency": frequency,
            "scheduleTimezone": "Europe/London"});
        let mut problems = Vec::new();
        let found = schedule::expand(
            &plan,
            utc("2026-07-01T12:00:00Z"),
            Duration::days(28),
            &mut problems,
        );
        assert!(found.is_empty(), "{frequency}");
        assert_eq!(problems.len(), 1, "{frequency}");
        assert_eq!(problems[0].code, "schedule_frequency_unsupported");
    }
}

/// Found while minimising the crash above: a `repeatFrequency` whose one step leaves the
/// calendar. `P100000000D` and `P99999999999D` overflowed `NaiveDate + TimeDelta`,
/// `P999999999999999D` and `P99999999999W` `TimeDelta::days`/`weeks`, and `P4294967295M`
/// multiplied a `u32` past its range. Now the schedule ends where the calendar does.
#[test]
fn fuzz_a_repeat_frequency_stepping_past_the_calendar_ends_the_schedule() {
    for frequency in [
        "P100000000D",
        "P99999999999D",
        "P999999999999999D",
        "P99999999999W",
        "P4294967295M",
    ] {
        let plan = json!({"@type": "Schedule", "byDay": ["https://schema.org/Thursday"],
            "startDate": "2026-07-02", "startTime": "10:00", "repeatFrequency": frequency,
            "scheduleTimezone": "Europe/London"});
        let mut problems = Vec::new();
        let starts: Vec<String> = schedule::expand(
            &plan,
            utc("2026-07-01T12:00:00Z"),
            Duration::days(28),
            &mut problems,
        )
        .into_iter()
        .map(|o| o.start.to_rfc3339())
        .collect();
        assert_eq!(starts, ["2026-07-02T09:00:00+00:00"], "{frequency}");
    }
}
