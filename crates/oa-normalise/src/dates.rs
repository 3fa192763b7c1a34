//! Dates, times and ISO 8601 durations as publishers write them. Times without an offset are
//! read as UK local time (Europe/London), the zone every English publisher means.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;

/// An instant from an RFC 3339 date-time, a local date-time without offset, or a bare date
/// (midnight local).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    local_to_utc(naive)
}

/// UK local time to UTC. In the autumn hour that happens twice the earlier is taken; a time
/// in the spring gap does not exist and is moved on by the gap.
pub fn local_to_utc(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    match London.from_local_datetime(&naive) {
        chrono::LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        chrono::LocalResult::None => London
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map(|at| at.with_timezone(&Utc)),
    }
}

/// A local time of day, as a Schedule's `startTime`/`endTime` (the one place OpenActive has
/// times without a date): `19:00`, `19:00:00`, `9:30:00`, and the 12-hour forms early feeds
/// used (`7:00pm`, `7.30pm`, `7pm`, `10:00 am`), where 12pm is noon and 12am midnight. A
/// 12-hour time is unambiguous, so it is read rather than refused.
pub fn parse_local_time(text: &str) -> Option<NaiveTime> {
    let lower = text.trim().to_ascii_lowercase();
    let (clock, meridiem) = match ["pm", "p.m.", "am", "a.m."].iter().find_map(|suffix| {
        lower
            .strip_suffix(suffix)
            .map(|rest| (rest, suffix.starts_with('p')))
    }) {
        Some((rest, pm)) => (rest.trim_end(), Some(pm)),
        None => (lower.as_str(), None),
    };
    let mut parts = clock.split([':', '.']);
    let hour_text = parts.next()?;
    let number = |part: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let hour = number(hour_text, 1..=2)?;
    let minute = match parts.next() {
        Some(m) => number(m, 2..=2)?,
        // "7pm" has no minutes; a bare "19" is not a time.
        None if meridiem.is_some() => 0,
        None => return None,
    };
    let second = match parts.next() {
        Some(s) => number(s, 2..=2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let hour = match meridiem {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(true) => hour % 12 + 12,
        Some(false) => hour % 12,
        None => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, second)
}

/// `start` plus a published duration, or `None` when the end would lie beyond the last
/// instant chrono can hold (`P22222291M` is parsed, but `+` would panic on it).
pub fn add_minutes(start: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    chrono::Duration::try_minutes(minutes).and_then(|d| start.checked_add_signed(d))
}

/// An ISO 8601 duration (`PT1H30M`, `P1D`, `PT90M`, `PT0.5H`) in whole minutes.
pub fn parse_duration_minutes(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_uppercase();
    let body = text.strip_prefix('P')?;
    let (date_part, time_part) = body.split_once('T').unwrap_or((body, ""));
    let mut minutes = 0.0;
    let mut any = false;
    for (part, units) in [
        (
            date_part,
            &[
                ('Y', 525_600.0),
                ('M', 43_200.0),
                ('W', 10_080.0),
                ('D', 1_440.0),
            ][..],
        ),
        (time_part, &[('H', 60.0), ('M', 1.0), ('S', 1.0 / 60.0)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let (_, factor) = units.iter().find(|(unit, _)| *unit == c)?;
            minutes += number.parse::<f64>().ok()? * factor;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return None;
        }
    }
    any.then_some(minutes.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_published_form() {
        let utc = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .ok()
        };
        assert_eq!(
            parse_instant("2026-03-04T16:00:00+00:00"),
            utc("2026-03-04T16:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-03-04T16:00:00.000Z"),
            utc("2026-03-04T16:00:00Z")
        );
        // Summer local time without offset is BST.
        assert_eq!(
            parse_instant("2026-07-01T10:00:00"),
            utc("2026-07-01T09:00:00Z")
        );
        assert_eq!(parse_instant("2026-01-10"), utc("2026-01-10T00:00:00Z"));
        assert_eq!(parse_instant("next tuesday"), None);
    }

    #[test]
    fn clock_change_gap_and_overlap() {
        let naive = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").expect("valid");
        // 01:30 on 29 March 2026 does not exist in London; it becomes 02:30 BST = 01:30 UTC.
        assert_eq!(
            local_to_utc(naive("2026-03-29T01:30")).map(|d| d.to_rfc3339()),
            Some("2026-03-29T01:30:00+00:00".into())
        );
        // 01:30 on 25 October 2026 happens twice; the first is BST.
        assert_eq!(
            local_to_utc(naive("2026-10-25T01:30")).map(|d| d.to_rfc3339()),
            Some("2026-10-25T00:30:00+00:00".into())
        );
    }

    #[test]
    fn local_times_in_24_and_12_hour_forms() {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        for (text, expected) in [
            ("19:00", at(19, 0)),
            ("09:15:00", at(9, 15)),
            ("9:30:00", at(9, 30)),
            ("7:00pm", at(19, 0)),
            ("7.30pm", at(19, 30)),
            ("7pm", at(19, 0)),
            ("10:00 AM", at(10, 0)),
            ("12:30pm", at(12, 30)),
            ("12:00am", at(0, 0)),
            ("13:00pm", None),
            ("25:00", None),
            ("19", None),
            ("7:5pm", None),
            ("evening", None),
        ] {
            assert_eq!(parse_local_time(text), expected, "{text}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_minutes("PT1H"), Some(60));
        assert_eq!(parse_duration_minutes("PT1H30M"), Some(90));
        assert_eq!(parse_duration_minutes("PT90M"), Some(90));
        assert_eq!(parse_duration_minutes("P1D"), Some(1440));
        assert_eq!(parse_duration_minutes("PT0.5H"), Some(30));
        assert_eq!(parse_duration_minutes("PT45M30S"), Some(46));
        assert_eq!(parse_duration_minutes("1 hour"), None);
        assert_eq!(parse_duration_minutes("PT5"), None);
    }
}
