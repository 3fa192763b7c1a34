//! Expanding a SessionSeries' full `Schedule` into occurrences up to a horizon, in the
//! schedule's own time zone so a 10:00 session stays at 10:00 across the clock change. A
//! `PartialSchedule` is display-only and never expanded.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use oa_model::QualityProblem;
use serde_json::Value;

use crate::dates::{add_minutes, parse_duration_minutes, parse_local_time};
use crate::jsonld::{list, local_name, number, text, type_of};

/// Steps walked from a schedule's start at most: a daily schedule over ten years.
const MAX_STEPS: usize = 3660;

/// One generated occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i64>,
    /// From `idTemplate`, else none.
    pub id: Option<String>,
    /// From `urlTemplate`, else none.
    pub url: Option<String>,
    /// The local start as published in the template's `{startDate}`.
    pub local_start: String,
}

/// The full `Schedule`s of a series (PartialSchedules are skipped).
pub fn full_schedules(series: &Value) -> Vec<&Value> {
    list(series.get("eventSchedule"))
        .into_iter()
        .filter(|s| type_of(s).is_some_and(|t| local_name(t) == "Schedule"))
        .collect()
}

/// Occurrences of one schedule starting in `[now, now + horizon)`.
pub fn expand(
    schedule: &Value,
    now: DateTime<Utc>,
    horizon: Duration,
    problems: &mut Vec<QualityProblem>,
) -> Vec<Occurrence> {
    // Everyone Active and Cotech name the zone in the beta property that preceded
    // `scheduleTimezone`; it says the same thing, so nothing needs assuming.
    let zone_name =
        text(schedule.get("scheduleTimezone")).or_else(|| text(schedule.get("beta:timeZone")));
    let zone = match zone_name {
        None => {
            problems.push(QualityProblem::new(
                "schedule_timezone_assumed",
                "no scheduleTimezone; Europe/London assumed",
            ));
            chrono_tz::Europe::London
        }
        Some(name) => match name.parse::<Tz>() {
            Ok(zone) => zone,
            Err(_) => {
                problems.push(QualityProblem::new(
                    "schedule_timezone_assumed",
                    format!("scheduleTimezone {name:?} is unknown; Europe/London assumed"),
                ));
                chrono_tz::Europe::London
            }
        },
    };
    let Some(start_time) = text(schedule.get("startTime")).and_then(|t| parse_local_time(&t))
    else {
        problems.push(QualityProblem::new(
            "schedule_without_start_time",
            "a Schedule has no usable startTime; not expanded",
        ));
        return Vec::new();
    };
    let Some(first) = text(schedule.get("startDate")).and_then(|d| date_of(&d)) else {
        problems.push(QualityProblem::new(
            "schedule_without_start_date",
            "a Schedule has no usable startDate; not expanded",
        ));
        return Vec::new();
    };
    let last = text(schedule.get("endDate")).and_then(|d| date_of(&d));
    let frequency = text(schedule.get("repeatFrequency")).unwrap_or_else(|| "P1W".into());
    let Some(step) = Step::parse(&frequency) else {
        problems.push(QualityProblem::new(
            "schedule_frequency_unsupported",
            format!("repeatFrequency {frequency:?} is not supported; not expanded"),
        ));
        return Vec::new();
    };
    let days: Vec<Weekday> = list(schedule.get("byDay"))
        .into_iter()
        .filter_map(|d| text(Some(d)).and_then(|d| weekday(&d)))
        .collect();
    let except: Vec<NaiveDate> = list(schedule.get("exceptDate"))
        .into_iter()
        .filter_map(|d| text(Some(d)).and_then(|d| date_of(&d)))
        .collect();
    let repeat_count = number(schedule.get("repeatCount")).map(|n| n.max(0.0) as usize);
    let duration = text(schedule.get("duration")).and_then(|d| parse_duration_minutes(&d));
    let end_time = text(schedule.get("endTime")).and_then(|t| parse_local_time(&t));
    let id_template = text(schedule.get("idTemplate"));
    let url_template = text(schedule.get("urlTemplate"));
    let until = now + horizon;

    let mut found = Vec::new();
    // `repeatCount` counts every repeat from `startDate`, excepted ones included.
    for (counted, date) in step.dates(first, &days).take(MAX_STEPS).enumerate() {
        if last.is_some_and(|last| date > last) || repeat_count.is_some_and(|n| counted >= n) {
            break;
        }
        if except.contains(&date) {
            continue;
        }
        let Some(local) = local_start(zone, date, start_time) else {
            continue;
        };
        let start = local.with_timezone(&Utc);
        if start >= until {
            break;
        }
        if start < now {
            continue;
        }
        let end = match (duration, end_time) {
            (Some(minutes), _) => add_minutes(start, minutes),
            (None, Some(end_time)) => local_start(zone, date, end_time)
                .map(|e| e.with_timezone(&Utc))
                .filter(|e| *e > start),
            (None, None) => None,
        };
        let local_text = local.to_rfc3339();
        found.push(Occurrence {
            start,
            end,
            duration_minutes: duration.or_else(|| end.map(|e| (e - start).num_minutes())),
            id: id_template.as_deref().map(|t| fill(t, &local_text)),
            url: url_template.as_deref().map(|t| fill(t, &local_text)),
            local_start: local_text,
        });
    }
    found
}

/// How a schedule repeats.
#[derive(Debug, Clone, Copy)]
enum Step {
    Days(i64),
    Weeks(i64),
    Months(u32),
}

impl Step {
    fn parse(frequency: &str) -> Option<Step> {
        let upper = frequency.trim().to_ascii_uppercase();
        let body = upper.strip_prefix('P')?;
        // The unit is the last character, not the last byte: `P1é` must not split inside `é`.
        let unit = body.chars().next_back()?;
        let n = &body[..body.len() - unit.len_utf8()];
        let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
        match unit {
            'D' if n % 7 == 0 => Some(Step::Weeks(n / 7)),
            'D' => Some(Step::Days(n)),
            'W' => Some(Step::Weeks(n)),
            'M' => Some(Step::Months(u32::try_from(n).ok()?)),
            _ => None,
        }
    }

    /// The dates the schedule falls on, from `first`: for weekly schedules, every listed
    /// weekday of every n-th week counted from `first`'s week (its own weekday if none).
    /// They end where the calendar does: a publisher's `P100000000D` steps past the last
    /// date chrono holds, and every step is checked rather than left to panic.
    fn dates(self, first: NaiveDate, by_day: &[Weekday]) -> Box<dyn Iterator<Item = NaiveDate>> {
        let by_day = by_day.to_vec();
        let after = |from: NaiveDate, days: Option<i64>| {
            days.and_then(Duration::try_days)
                .and_then(|d| from.checked_add_signed(d))
        };
        match self {
            Step::Days(n) => Box::new(
                (0..)
                    .map_while(move |i| after(first, i64::checked_mul(i, n)))
                    .filter(move |d| by_day.is_empty() || by_day.contains(&d.weekday())),
            ),
            Step::Weeks(n) => {
                let days = if by_day.is_empty() {
                    vec![first.weekday()]
                } else {
                    by_day
                };
                let since_monday = i64::from(first.weekday().num_days_from_monday());
                let Some(monday) = after(first, Some(-since_monday)) else {
                    return Box::new(std::iter::empty());
                };
                Box::new(
                    (0..)
                        .map_while(move |week| {
                            after(
                                monday,
                                i64::checked_mul(week, n).and_then(|w| w.checked_mul(7)),
                            )
                        })
                        .flat_map(move |week_monday| {
                            let days = days.clone();
                            (0..7)
                                .filter_map(move |d| after(week_monday, Some(d)))
                                .filter(move |d| *d >= first && days.contains(&d.weekday()))
                        }),
                )
            }
            Step::Months(n) => Box::new((0..).map_while(move |i| {
                u32::checked_mul(i, n)
                    .and_then(|months| first.checked_add_months(chrono::Months::new(months)))
            })),
        }
    }
}

fn date_of(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// `https://schema.org/Monday`, `http://schema.org/Monday`, `schema:Monday`, `Monday`, `MO`.
fn weekday(text: &str) -> Option<Weekday> {
    let name = local_name(text);
    match name.to_ascii_lowercase().as_str() {
        "monday" | "mo" => Some(Weekday::Mon),
        "tuesday" | "tu" => Some(Weekday::Tue),
        "wednesday" | "we" => Some(Weekday::Wed),
        "thursday" | "th" => Some(Weekday::Thu),
        "friday" | "fr" => Some(Weekday::Fri),
        "saturday" | "sa" => Some(Weekday::Sat),
        "sunday" | "su" => Some(Weekday::Sun),
        _ => None,
    }
}

/// The local start in the zone; a time in the spring-forward gap moves on by the gap.
fn local_start(zone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    let naive = date.and_time(time);
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(at) => Some(at),
        chrono::LocalResult::Ambiguous(earlier, _) => Some(earlier),
        chrono::LocalResult::None => zone
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest(),
    }
}

/// RFC 6570 level-1 `{startDate}` substitution, as OpenActive's templates use.
fn fill(template: &str, start: &str) -> String {
    template.replace("{startDate}", start)
}

#[cfg(test)]
mod tests;
