//! One opportunity from its merged data, built in two parts: its occurrence (when it
//! happens, its own id and status) and its description (what, where, who, cost, tags), so
//! the sessions of one series can share the second (see [`crate::siblings`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use oa_geo::Point;
use oa_model::{
    Activity, AgeRange, EventStatus, GenderRestriction, Location, Opportunity, OpportunityKind,
    Organizer, Price, QualityProblem, SmallAreaRef, Tag,
};
use serde_json::Value;

use crate::classify::ItemType;
use crate::jsonld::{non_empty, text};
use crate::{Vocabulary, audience, dates, fields, offers, place, quality};

/// When an opportunity happens, and what identifies it among its series' sessions.
#[derive(Debug, Clone)]
pub(crate) struct Occurrence {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    duration_minutes: Option<i64>,
    data_id: Option<String>,
    status: EventStatus,
    url: Option<String>,
    problems: Vec<QualityProblem>,
}

/// What an opportunity is: everything read from its data apart from its occurrence.
#[derive(Debug, Clone)]
pub(crate) struct Description {
    name: Option<String>,
    description: Option<String>,
    activities: Vec<Activity>,
    location: Option<Location>,
    organizer: Option<Organizer>,
    price: Price,
    tags: Arc<[Tag]>,
    withheld_tags: Arc<[Tag]>,
    level: Vec<String>,
    age_range: Option<AgeRange>,
    gender_restriction: Option<GenderRestriction>,
    accessibility: Vec<String>,
    areas: Vec<SmallAreaRef>,
    problems: Vec<QualityProblem>,
}

/// Properties [`occurrence`] reads. [`description`] reads none of them, which is what lets
/// siblings that differ only in these share one description.
pub(crate) const OCCURRENCE_PROPERTIES: &[&str] = &[
    "@id",
    "id",
    "startDate",
    "endDate",
    "duration",
    "eventStatus",
    "url",
];

/// An item's properties, with the occurrence properties it inherits looked up in its
/// parent's instead of copied into it: what [`occurrence`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layered<'a> {
    own: &'a Value,
    /// The parent's inheritable occurrence properties.
    inherited: Option<&'a Value>,
}

impl<'a> Layered<'a> {
    /// An item whose data already holds all it inherits.
    pub(crate) fn merged(data: &'a Value) -> Self {
        Layered {
            own: data,
            inherited: None,
        }
    }

    /// A child's own data over the (inheritable) properties of its parent.
    pub(crate) fn over(own: &'a Value, inherited: &'a Value) -> Self {
        Layered {
            own,
            inherited: Some(inherited),
        }
    }

    /// As `get` on the merged item: the child's own value (even `null`), else the parent's.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.own
            .get(key)
            .or_else(|| self.inherited.and_then(|parent| parent.get(key)))
    }
}

/// The opportunity of one item's merged data.
pub(crate) fn opportunity(
    vocabulary: &Vocabulary<'_>,
    ty: ItemType,
    data: &Value,
    series_id: Option<String>,
    occurrence_key: Option<String>,
) -> Result<Opportunity, String> {
    let kind = ty.opportunity_kind();
    let when = occurrence(kind, Layered::merged(data))?;
    Ok(assemble(
        kind,
        series_id,
        occurrence_key,
        when,
        description(vocabulary, kind, data),
    ))
}

/// Its start (required), end, duration, own id, status and url.
pub(crate) fn occurrence(kind: OpportunityKind, data: Layered<'_>) -> Result<Occurrence, String> {
    let start_text = text(data.get("startDate")).ok_or("missing `startDate`")?;
    let start = dates::parse_instant(&start_text)
        .ok_or_else(|| format!("`startDate` {start_text:?} is not a date"))?;
    let duration = text(data.get("duration")).and_then(|d| dates::parse_duration_minutes(&d));
    let end_text = text(data.get("endDate"));
    let end = end_text
        .as_deref()
        .and_then(dates::parse_instant)
        .filter(|end| *end >= start)
        .or_else(|| duration.and_then(|minutes| dates::add_minutes(start, minutes)));
    let duration_minutes = duration.or_else(|| end.map(|end| (end - start).num_minutes()));
    let mut problems = Vec::new();
    quality::occurrence_problems(
        Some(&start_text),
        end_text.as_deref(),
        kind,
        start,
        duration_minutes,
        &mut problems,
    );
    // As `id_of` reads an object: `@id`, else `id`, a non-empty string.
    let data_id = data
        .get("@id")
        .or_else(|| data.get("id"))
        .and_then(Value::as_str)
        .and_then(non_empty)
        .map(str::to_owned);
    Ok(Occurrence {
        start,
        end,
        duration_minutes,
        data_id,
        status: fields::status_of(data.get("eventStatus")),
        url: text(data.get("url")),
        problems,
    })
}

/// Name, description, activities, location (and its small areas), organiser, price,
/// audience, tags, and the problems found in them.
pub(crate) fn description(
    vocabulary: &Vocabulary<'_>,
    kind: OpportunityKind,
    data: &Value,
) -> Description {
    let tagging = vocabulary.tags.tag(data);
    let mut problems = Vec::new();
    let location = fields::location(data)
        .map(|l| place::locate(l, vocabulary.places, vocabulary.bounds, &mut problems));
    if location.is_none() {
        problems.push(QualityProblem::new("missing_location", "no location"));
    }
    let areas = location
        .as_ref()
        .and_then(|l| Some(Point::new(l.lat?, l.lng?)))
        .map(|point| place::small_areas(vocabulary.areas, point))
        .unwrap_or_default();
    let activities = vocabulary.activities.resolve_all(fields::activities(data));
    let organizer = fields::organizer(data);
    let price = offers::price(data);
    quality::description_problems(
        data,
        kind,
        &activities,
        &price,
        organizer.as_ref(),
        &mut problems,
    );
    Description {
        name: text(data.get("name")),
        description: text(data.get("description")),
        activities,
        location,
        organizer,
        price,
        tags: tagging.tags.into(),
        withheld_tags: tagging.withheld.into(),
        level: audience::levels(data),
        age_range: audience::age_range(data),
        gender_restriction: audience::gender_restriction(data),
        accessibility: audience::accessibility(data),
        areas,
        problems,
    }
}

/// The opportunity of an occurrence and a description; its problems are the occurrence's,
/// then the description's.
pub(crate) fn assemble(
    kind: OpportunityKind,
    series_id: Option<String>,
    occurrence_key: Option<String>,
    when: Occurrence,
    what: Description,
) -> Opportunity {
    let mut problems = when.problems;
    problems.extend(what.problems);
    Opportunity {
        kind,
        occurrence: occurrence_key,
        data_id: when.data_id,
        series_id,
        name: what.name,
        description: what.description,
        start: when.start,
        end: when.end,
        duration_minutes: when.duration_minutes,
        activities: what.activities,
        location: what.location,
        organizer: what.organizer,
        price: what.price,
        status: when.status,
        url: when.url,
        tags: what.tags,
        withheld_tags: what.withheld_tags,
        problems,
        level: what.level,
        age_range: what.age_range,
        gender_restriction: what.gender_restriction,
        accessibility: what.accessibility,
        from_schedule: false,
        areas: what.areas,
    }
}
