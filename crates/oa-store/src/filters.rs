//! What a link worker can ask for beyond place and time: activities, days, times of day,
//! tags, cost, kind, audience, organiser and free text. Written once, compiled per search
//! into checks on the in-memory index's records.

use std::collections::HashSet;

use chrono::Weekday;
use oa_model::{Activity, AgeRange, GenderRestriction, Opportunity, OpportunityKind, Organizer};

use crate::index::record::{MAX_TAGS, SessionRecord, UNSET, Vocabulary};

/// Activities a search accepts: concept ids (a concept and everything beneath it), or a
/// free-text label for activities the Activity List does not know.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub ids: HashSet<String>,
    pub label: String,
}

impl ActivityFilter {
    fn accepts(&self, activity: &Activity) -> bool {
        activity.id.as_ref().is_some_and(|id| self.ids.contains(id))
            || activity.label.eq_ignore_ascii_case(&self.label)
            || activity
                .published_label
                .as_ref()
                .is_some_and(|l| l.eq_ignore_ascii_case(&self.label))
    }
}

/// Parts of the day in UK local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOfDay {
    /// Before 12:00.
    Morning,
    /// 12:00 to 17:00.
    Afternoon,
    /// From 17:00.
    Evening,
}

impl TimeOfDay {
    pub fn of_hour(hour: u32) -> TimeOfDay {
        match hour {
            0..12 => TimeOfDay::Morning,
            12..17 => TimeOfDay::Afternoon,
            _ => TimeOfDay::Evening,
        }
    }
}

/// Every filter is optional; an empty list or `None` accepts everything.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Any of these.
    pub activities: Vec<ActivityFilter>,
    /// Starting on one of these days (UK local).
    pub days: Vec<Weekday>,
    pub times_of_day: Vec<TimeOfDay>,
    /// Carrying all of these tags.
    pub tags: Vec<String>,
    /// Carrying none of these tags.
    pub not_tags: Vec<String>,
    /// Free to attend.
    pub free: bool,
    /// Lowest price at most this (GBP); free sessions count as £0.
    pub max_price: Option<f64>,
    /// With `max_price`, also sessions whose price is not published.
    pub include_unknown_price: bool,
    /// Any of these kinds.
    pub kinds: Vec<OpportunityKind>,
    /// Organiser name or URL, case-insensitive.
    pub organizer: Option<String>,
    /// Every word appears in the name, description, organiser or venue (lower case).
    pub words: Vec<String>,
    /// The client's age: only sessions whose age range admits it.
    pub age: Option<u32>,
    /// The client's gender: sessions restricted to another are left out.
    pub gender: Option<ClientGender>,
    /// Wheelchair accessible only.
    pub wheelchair: bool,
    /// Offering any of these accessibility supports (labels or concept ids, any case).
    pub accessibility: Vec<String>,
}

/// A client's gender, as far as session restrictions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientGender {
    Female,
    Male,
    /// Neither restriction applies to them.
    Other,
}

impl Filters {
    /// The filters as checks on index records, with every name resolved against the index's
    /// vocabulary once per search rather than once per session.
    pub(crate) fn compile(&self, vocab: &Vocabulary) -> Matcher {
        let tag_bit = |name: &str| {
            vocab
                .tags
                .number(&name.to_owned())
                .filter(|&n| n < MAX_TAGS)
                .map(|n| 1u32 << n)
        };
        let required: Vec<Option<u32>> = self
            .tags
            .iter()
            .map(|t| tag_bit(t))
            .chain(self.wheelchair.then(|| tag_bit("wheelchair_accessible")))
            .collect();
        let accepted = |wanted: bool, count: usize, test: &dyn Fn(usize) -> bool| {
            wanted.then(|| (0..count).map(test).collect::<Vec<bool>>())
        };
        Matcher {
            // A required tag no session carries yet: nothing can match.
            impossible: required.iter().any(Option::is_none),
            tags_all: required.iter().flatten().fold(0, |all, bit| all | bit),
            tags_none: self
                .not_tags
                .iter()
                .filter_map(|t| tag_bit(t))
                .fold(0, |none, bit| none | bit),
            free_bit: tag_bit("free").unwrap_or(0),
            activities: accepted(
                !self.activities.is_empty(),
                vocab.activities.values.len(),
                &|n| {
                    vocab.activities.values[n]
                        .iter()
                        .any(|a| self.activities.iter().any(|f| f.accepts(a)))
                },
            ),
            organizers: accepted(
                self.organizer.is_some(),
                vocab.organizers.values.len(),
                &|n| self.organizer_ok(vocab.organizers.values[n].as_ref()),
            ),
            accessibility: accepted(
                !self.accessibility.is_empty(),
                vocab.accessibility.values.len(),
                &|n| {
                    self.accessibility.iter().any(|wanted| {
                        vocab.accessibility.values[n]
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(wanted))
                    })
                },
            ),
            days: self
                .days
                .iter()
                .fold(0, |mask, d| mask | 1 << d.num_days_from_monday()),
            hours: (0..24u32)
                .filter(|&h| self.times_of_day.contains(&TimeOfDay::of_hour(h)))
                .fold(0, |mask, h| mask | 1 << h),
            kinds: self.kinds.clone(),
            free: self.free,
            max_price: self.max_price.map(|p| p as f32),
            include_unknown_price: self.include_unknown_price,
            age: self.age,
            gender: self.gender,
        }
    }

    fn organizer_ok(&self, organizer: Option<&Organizer>) -> bool {
        let Some(wanted) = &self.organizer else {
            return true;
        };
        organizer.is_some_and(|org| {
            [&org.name, &org.url]
                .into_iter()
                .flatten()
                .any(|v| v.eq_ignore_ascii_case(wanted))
        })
    }

    /// Whether the free-text words all appear: the one check that needs the document.
    pub fn words_match(&self, o: &Opportunity) -> bool {
        if self.words.is_empty() {
            return true;
        }
        let mut haystack = String::new();
        for part in [
            o.name.as_deref(),
            o.description.as_deref(),
            o.organizer.as_ref().and_then(|org| org.name.as_deref()),
            o.location.as_ref().and_then(|l| l.name.as_deref()),
        ]
        .into_iter()
        .flatten()
        {
            haystack.push_str(&part.to_lowercase());
            haystack.push(' ');
        }
        self.words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// [`Filters`] compiled against one vocabulary: every check is a bit test or a lookup.
#[derive(Debug)]
pub(crate) struct Matcher {
    impossible: bool,
    tags_all: u32,
    tags_none: u32,
    free_bit: u32,
    /// Per interned value: accepted. `None`: no such filter.
    activities: Option<Vec<bool>>,
    organizers: Option<Vec<bool>>,
    accessibility: Option<Vec<bool>>,
    /// Bit per weekday (Monday = 0) / per local hour; 0: any.
    days: u8,
    hours: u32,
    kinds: Vec<OpportunityKind>,
    free: bool,
    max_price: Option<f32>,
    include_unknown_price: bool,
    age: Option<u32>,
    gender: Option<ClientGender>,
}

fn accepted(table: &Option<Vec<bool>>, n: u32) -> bool {
    table
        .as_ref()
        .is_none_or(|t| t.get(n as usize).copied().unwrap_or(false))
}

impl Matcher {
    pub fn accepts(&self, r: &SessionRecord) -> bool {
        !self.impossible
            && r.tags & self.tags_all == self.tags_all
            && r.tags & self.tags_none == 0
            && (self.days == 0 || self.days & (1 << r.weekday) != 0)
            && (self.hours == 0 || self.hours & (1 << r.hour) != 0)
            && self.price_ok(r)
            && (self.kinds.is_empty() || self.kinds.contains(&r.kind))
            && accepted(&self.activities, r.activities)
            && accepted(&self.organizers, r.organizer)
            && accepted(&self.accessibility, u32::from(r.accessibility))
            && self.audience_ok(r)
    }

    fn price_ok(&self, r: &SessionRecord) -> bool {
        let free = self.free_bit != 0 && r.tags & self.free_bit != 0;
        if self.free && !free {
            return false;
        }
        match self.max_price {
            None => true,
            Some(_) if free => true,
            Some(_) if r.price_min.is_nan() => self.include_unknown_price,
            Some(max) => r.price_min <= max,
        }
    }

    fn audience_ok(&self, r: &SessionRecord) -> bool {
        let bound = |b: u8| (b != UNSET).then_some(u32::from(b));
        let range = AgeRange {
            min: bound(r.age_min),
            max: bound(r.age_max),
        };
        let age_ok = self.age.is_none_or(|age| range.admits(age));
        let gender_ok = match (self.gender, r.gender) {
            (Some(client), Some(restriction)) => matches!(
                (client, restriction),
                (ClientGender::Female, GenderRestriction::Female)
                    | (ClientGender::Male, GenderRestriction::Male)
            ),
            _ => true,
        };
        age_ok && gender_ok
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::IndexRow;

    /// Whether the filters accept a session whose document has these extra fields, checked
    /// the way search checks it: as an index record.
    fn accepts(filters: &Filters, extra: serde_json::Value) -> bool {
        let mut doc = json!({
            "kind": "session", "start": "2030-01-07T18:30:00Z", "activities": [], "price": {},
            "status": "scheduled", "tags": []
        });
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        let row = IndexRow {
            id: "00000000000000aa".into(),
            start_at: 0,
            lat: Some(53.7),
            lng: Some(-2.7),
            status: "scheduled".into(),
            feed_url: "https://example.org/feed".into(),
            publisher: None,
            doc: doc.to_string(),
        };
        let mut vocab = Vocabulary::default();
        let record = vocab.record(&row).expect("indexable").expect("located");
        filters.compile(&vocab).accepts(&record)
    }

    #[test]
    fn age_gender_wheelchair_and_accessibility_filter_for_the_client() {
        let over_50s = json!({"age_range": {"min": 50}});
        let women = json!({"gender_restriction": "female"});
        let step_free = json!({
            "accessibility": ["Physical impairment"],
            "tags": [{"name": "wheelchair_accessible", "reasons": []}]
        });
        let open = json!({});

        let age_30 = Filters {
            age: Some(30),
            ..Filters::default()
        };
        assert!(!accepts(&age_30, over_50s.clone()));
        assert!(accepts(&age_30, open.clone()) && accepts(&age_30, women.clone()));
        let age_67 = Filters {
            age: Some(67),
            ..Filters::default()
        };
        assert!(accepts(&age_67, over_50s));

        let male = Filters {
            gender: Some(ClientGender::Male),
            ..Filters::default()
        };
        assert!(!accepts(&male, women.clone()) && accepts(&male, open.clone()));
        let female = Filters {
            gender: Some(ClientGender::Female),
            ..Filters::default()
        };
        assert!(accepts(&female, women.clone()));
        let other = Filters {
            gender: Some(ClientGender::Other),
            ..Filters::default()
        };
        assert!(!accepts(&other, women));

        let wheelchair = Filters {
            wheelchair: true,
            ..Filters::default()
        };
        assert!(accepts(&wheelchair, step_free.clone()) && !accepts(&wheelchair, open.clone()));
        let physical = Filters {
            accessibility: vec!["physical impairment".into()],
            ..Filters::default()
        };
        assert!(accepts(&physical, step_free) && !accepts(&physical, open));
    }

    #[test]
    fn evening_on_a_monday_is_read_in_uk_time() {
        // 18:30 UTC on 7 January 2030 is 18:30 GMT, a Monday evening.
        let evening = Filters {
            days: vec![Weekday::Mon],
            times_of_day: vec![TimeOfDay::Evening],
            ..Filters::default()
        };
        assert!(accepts(&evening, json!({})));
        let morning = Filters {
            times_of_day: vec![TimeOfDay::Morning],
            ..Filters::default()
        };
        assert!(!accepts(&morning, json!({})));
        // 07:30 UTC on 1 July 2030 is 08:30 BST: morning.
        assert!(accepts(&morning, json!({"start": "2030-07-01T07:30:00Z"})));
    }

    #[test]
    fn cost_tags_and_kinds() {
        let free_tag = json!({"tags": [{"name": "free", "reasons": []}]});
        let two_pounds =
            json!({"price": {"min": 2.0}, "tags": [{"name": "social", "reasons": []}]});
        let unknown = json!({});
        let under_3 = Filters {
            max_price: Some(3.0),
            ..Filters::default()
        };
        assert!(accepts(&under_3, free_tag.clone()) && accepts(&under_3, two_pounds.clone()));
        assert!(!accepts(&under_3, unknown.clone()));
        let with_unknown = Filters {
            include_unknown_price: true,
            ..under_3.clone()
        };
        assert!(accepts(&with_unknown, unknown));
        let exactly = Filters {
            max_price: Some(2.0),
            ..Filters::default()
        };
        assert!(accepts(&exactly, two_pounds.clone()));
        let social_not_free = Filters {
            tags: vec!["social".into()],
            not_tags: vec!["free".into(), "free".into()],
            ..Filters::default()
        };
        assert!(accepts(&social_not_free, two_pounds.clone()));
        assert!(!accepts(&social_not_free, free_tag));
        let unheard_of = Filters {
            tags: vec!["no_such_tag".into()],
            ..Filters::default()
        };
        assert!(!accepts(&unheard_of, two_pounds.clone()));
        let events = Filters {
            kinds: vec![OpportunityKind::Event],
            ..Filters::default()
        };
        assert!(!accepts(&events, two_pounds));
    }
}
