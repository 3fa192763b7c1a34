//! Normalise + tag throughput on a generated batch of realistic sessions: 10,000
//! SessionSeries (descriptions, offers, activities, places) and 10 ScheduledSessions each,
//! every child normalised with its parent (inheritance, activity matching, location,
//! tags, data quality), each alone and, as the store calls it, each series' sessions
//! together. Single thread, release build:
//!
//!     cargo bench -p oa-normalise --bench normalise
//!
//! Prints items/s; the figures are recorded in docs/PERFORMANCE.md.

use std::hint::black_box;
use std::time::Instant;

use oa_model::{Normalised, Normaliser};
use oa_normalise::OpenActiveNormaliser;
use serde_json::{Value, json};

const SERIES: usize = 10_000;
const SESSIONS_PER_SERIES: usize = 10;

const DESCRIPTIONS: [&str; 4] = [
    "<p>A friendly, gentle session for all abilities. Tea &amp; biscuits afterwards - a great chance to meet new people.</p>",
    "Fast-paced circuits for experienced participants only. Not suitable for beginners. Free parking on site.",
    "Walking football for the over 50s: no running, no tackling, just the beautiful game at a slower pace. Bibs provided.",
    "Ladies only aqua aerobics in the learner pool. Step-free access and a hoist are available; please ask at reception.",
];
const ACTIVITIES: [&str; 4] = [
    "Walking Football",
    "Yoga",
    "Aqua Aerobics",
    "Circuit Training",
];

fn series(n: usize) -> Value {
    json!({
        "@type": "SessionSeries",
        "@id": format!("https://bench.example/series/{n}"),
        "name": format!("{} at Venue {}", ACTIVITIES[n % 4], n % 97),
        "description": DESCRIPTIONS[n % 4],
        "activity": [{"@type": "Concept", "prefLabel": ACTIVITIES[n % 4]}],
        "level": if n.is_multiple_of(3) { json!(["Beginner"]) } else { json!([]) },
        "location": {
            "@type": "Place", "name": format!("Venue {}", n % 97),
            "address": {"@type": "PostalAddress", "streetAddress": "1 High Street",
                        "addressLocality": "Preston", "postalCode": "PR1 2XX"},
            "geo": {"@type": "GeoCoordinates", "latitude": 53.70 + (n % 100) as f64 / 1000.0, "longitude": -2.70}
        },
        "organizer": {"@type": "Organization", "name": "Bench Leisure", "url": "https://bench.example"},
        "offers": [{"@type": "Offer", "price": (n % 8) as f64, "priceCurrency": "GBP", "name": "Adult"}],
        "ageRange": {"@type": "QuantitativeValue", "minValue": if n.is_multiple_of(5) { 50 } else { 16 }}
    })
}

fn session(n: usize, k: usize) -> Value {
    json!({
        "@type": "ScheduledSession",
        "@id": format!("https://bench.example/sessions/{n}-{k}"),
        "superEvent": format!("https://bench.example/series/{n}"),
        "startDate": format!("2030-01-{:02}T10:00:00Z", 1 + k),
        "endDate": format!("2030-01-{:02}T11:00:00Z", 1 + k),
        "duration": "PT1H",
        "eventStatus": "https://schema.org/EventScheduled"
    })
}

fn main() {
    let parents: Vec<Value> = (0..SERIES).map(series).collect();
    let children: Vec<(usize, Value)> = (0..SERIES)
        .flat_map(|n| (0..SESSIONS_PER_SERIES).map(move |k| (n, session(n, k))))
        .collect();
    let normaliser = OpenActiveNormaliser::default();
    // Warm the lazily built indexes (activity list, tag rules, postcode centroids).
    black_box(normaliser.normalise("ScheduledSession", &children[0].1, Some(&parents[0])));

    let alone = median_rate(children.len(), || {
        let mut opportunities = 0usize;
        for (n, child) in &children {
            if let Normalised::Opportunities(found) =
                normaliser.normalise("ScheduledSession", child, Some(&parents[*n]))
            {
                opportunities += found.len();
            }
        }
        opportunities
    });
    // As the store calls it: each series' sessions of a page together.
    let together = median_rate(children.len(), || {
        let mut opportunities = 0usize;
        for (n, siblings) in children.chunks(SESSIONS_PER_SERIES).enumerate() {
            let siblings: Vec<(&str, &Value)> = siblings
                .iter()
                .map(|(_, c)| ("ScheduledSession", c))
                .collect();
            for normalised in normaliser.normalise_siblings(&siblings, &parents[n]) {
                if let Normalised::Opportunities(found) = normalised {
                    opportunities += found.len();
                }
            }
        }
        opportunities
    });
    for (how, (median, runs)) in [
        ("each session alone with its series", alone),
        ("each series' sessions together", together),
    ] {
        println!(
            "normalise + tag, {how}: {} child items, median of 3: {median:.0} items/s (runs: {:.0}, {:.0}, {:.0})",
            children.len(),
            runs[0],
            runs[1],
            runs[2]
        );
    }
}

/// Items per second of `pass` (which returns the opportunities it made, all `items` of
/// them): the median of 3 runs, and the runs sorted.
fn median_rate(items: usize, pass: impl Fn() -> usize) -> (f64, [f64; 3]) {
    let mut runs = [0.0; 3];
    for run in &mut runs {
        let started = Instant::now();
        let opportunities = black_box(pass());
        let elapsed = started.elapsed();
        assert_eq!(opportunities, items);
        *run = items as f64 / elapsed.as_secs_f64();
    }
    runs.sort_by(f64::total_cmp);
    (runs[1], runs)
}
