use serde_json::json;

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect(text)
        .with_timezone(&Utc)
}

fn starts(schedule: Value, now: &str, days: i64) -> Vec<String> {
    let mut problems = Vec::new();
    expand(&schedule, utc(now), Duration::days(days), &mut problems)
        .into_iter()
        .map(|o| o.start.to_rfc3339())
        .collect()
}

#[test]
fn weekly_sessions_keep_their_local_time_across_the_spring_clock_change() {
    // The real Playwaze sample: Thursdays 11:00-14:00 UK time. BST began on 29 March 2020.
    let schedule = json!({"@type": "Schedule", "byDay": ["https://schema.org/Thursday"],
        "duration": "PT3H", "endTime": "14:00", "repeatFrequency": "P7D",
        "scheduleTimezone": "Europe/London", "startDate": "2020-01-02", "endDate": "2020-12-04",
        "startTime": "11:00"});
    assert_eq!(
        starts(schedule, "2020-03-20T00:00:00Z", 28),
        [
            "2020-03-26T11:00:00+00:00",
            "2020-04-02T10:00:00+00:00",
            "2020-04-09T10:00:00+00:00",
            "2020-04-16T10:00:00+00:00",
        ]
    );
}

#[test]
fn the_autumn_change_the_repeated_hour_and_the_spring_gap_are_right() {
    // Last Sunday of October 2026 is the 25th: 10:00 BST then 10:00 GMT.
    let sunday = json!({"@type": "Schedule", "byDay": ["SU"], "repeatFrequency": "P1W",
        "startDate": "2026-10-01", "startTime": "10:00", "duration": "PT1H",
        "scheduleTimezone": "Europe/London"});
    assert_eq!(
        starts(sunday, "2026-10-15T00:00:00Z", 14),
        ["2026-10-18T09:00:00+00:00", "2026-10-25T10:00:00+00:00"]
    );
    // 01:30 happens twice on 25 October 2026: the first (BST) is taken.
    let twice = json!({"@type": "Schedule", "repeatFrequency": "P1D", "startDate": "2026-10-25",
        "endDate": "2026-10-25", "startTime": "01:30", "scheduleTimezone": "Europe/London"});
    assert_eq!(
        starts(twice, "2026-10-24T00:00:00Z", 3),
        ["2026-10-25T00:30:00+00:00"]
    );
    // 01:30 does not exist on 29 March 2026 (last Sunday of March): moved on by the gap.
    let gap = json!({"@type": "Schedule", "repeatFrequency": "P1D", "startDate": "2026-03-29",
        "endDate": "2026-03-29", "startTime": "01:30", "scheduleTimezone": "Europe/London"});
    assert_eq!(
        starts(gap, "2026-03-28T00:00:00Z", 3),
        ["2026-03-29T01:30:00+00:00"]
    );
}

#[test]
fn by_day_forms_except_dates_repeat_count_and_templates() {
    let schedule = json!({"@type": "Schedule",
        "byDay": ["http://schema.org/Monday", "WE"], "repeatFrequency": "P1W",
        "startDate": "2030-01-07", "startTime": "18:30:00", "endTime": "19:15",
        "exceptDate": ["2030-01-09"], "repeatCount": 4, "scheduleTimezone": "Europe/London",
        "idTemplate": "https://p.example/series/1/{startDate}",
        "urlTemplate": "https://p.example/book?at={startDate}"});
    let mut problems = Vec::new();
    let found = expand(
        &schedule,
        utc("2030-01-01T00:00:00Z"),
        Duration::days(60),
        &mut problems,
    );
    let dates: Vec<String> = found.iter().map(|o| o.start.to_rfc3339()).collect();
    // Mon 7, (Wed 9 excepted but counted), Mon 14, Wed 16: four repeats.
    assert_eq!(
        dates,
        [
            "2030-01-07T18:30:00+00:00",
            "2030-01-14T18:30:00+00:00",
            "2030-01-16T18:30:00+00:00"
        ]
    );
    assert_eq!(found[0].duration_minutes, Some(45));
    assert_eq!(
        found[0].id.as_deref(),
        Some("https://p.example/series/1/2030-01-07T18:30:00+00:00")
    );
    assert_eq!(
        found[0].url.as_deref(),
        Some("https://p.example/book?at=2030-01-07T18:30:00+00:00")
    );
    assert!(problems.is_empty());
}

#[test]
fn fortnightly_and_monthly_schedules_and_the_horizon() {
    let fortnight = json!({"@type": "Schedule", "repeatFrequency": "P2W", "startDate": "2030-01-01",
        "startTime": "09:00", "scheduleTimezone": "Europe/London"});
    assert_eq!(
        starts(fortnight, "2030-01-01T00:00:00Z", 28),
        ["2030-01-01T09:00:00+00:00", "2030-01-15T09:00:00+00:00"],
        "2030-01-29 is beyond the 28-day horizon"
    );
    let monthly = json!({"@type": "Schedule", "repeatFrequency": "P1M", "startDate": "2030-01-31",
        "startTime": "09:00", "scheduleTimezone": "Europe/London"});
    assert_eq!(
        starts(monthly, "2030-01-01T00:00:00Z", 70).len(),
        2,
        "31 Jan and 31 Mar (no 31 Feb)"
    );
}

#[test]
fn partial_schedules_are_not_expanded_and_assumptions_are_recorded() {
    let series = json!({"eventSchedule": [
        {"@type": "PartialSchedule", "byDay": ["MO"], "startTime": "10:00"},
        {"type": "Schedule", "repeatFrequency": "P1W", "startDate": "2030-01-07", "startTime": "10:00"}
    ]});
    let schedules = full_schedules(&series);
    assert_eq!(schedules.len(), 1);
    let mut problems = Vec::new();
    let found = expand(
        schedules[0],
        utc("2030-01-01T00:00:00Z"),
        Duration::days(7),
        &mut problems,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(problems[0].code, "schedule_timezone_assumed");
    let mut problems = Vec::new();
    assert!(
        expand(
            &json!({"@type": "Schedule", "startDate": "2030-01-07"}),
            utc("2030-01-01T00:00:00Z"),
            Duration::days(7),
            &mut problems
        )
        .is_empty()
    );
    assert_eq!(
        problems.last().map(|p| p.code.as_str()),
        Some("schedule_without_start_time")
    );
}
