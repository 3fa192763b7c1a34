//! What a link worker can ask for beyond place and time: activities, days, times of day,
//! tags, cost, kind, organiser and free text. Written once, applied to every candidate the
//! spatial index returns.

use std::collections::HashSet;

use chrono::{Datelike, Timelike, Weekday};
use chrono_tz::Europe::London;
use oa_model::{Activity, GenderRestriction, Opportunity, OpportunityKind};

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
    pub fn accepts(&self, o: &Opportunity) -> bool {
        self.activity_ok(o)
            && self.when_ok(o)
            && self.tags.iter().all(|t| o.has_tag(t))
            && !self.not_tags.iter().any(|t| o.has_tag(t))
            && self.price_ok(o)
            && (self.kinds.is_empty() || self.kinds.contains(&o.kind))
            && self.organizer_ok(o)
            && self.words_ok(o)
            && self.audience_ok(o)
    }

    fn audience_ok(&self, o: &Opportunity) -> bool {
        let age_ok = match (self.age, &o.age_range) {
            (Some(age), Some(range)) => range.admits(age),
            _ => true,
        };
        let gender_ok = match (self.gender, o.gender_restriction) {
            (Some(client), Some(restriction)) => matches!(
                (client, restriction),
                (ClientGender::Female, GenderRestriction::Female)
                    | (ClientGender::Male, GenderRestriction::Male)
            ),
            _ => true,
        };
        let access_ok = self.accessibility.is_empty()
            || self.accessibility.iter().any(|wanted| {
                o.accessibility
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(wanted))
            });
        age_ok && gender_ok && access_ok && (!self.wheelchair || o.has_tag("wheelchair_accessible"))
    }

    fn activity_ok(&self, o: &Opportunity) -> bool {
        self.activities.is_empty()
            || self
                .activities
                .iter()
                .any(|f| o.activities.iter().any(|a| f.accepts(a)))
    }

    fn when_ok(&self, o: &Opportunity) -> bool {
        if self.days.is_empty() && self.times_of_day.is_empty() {
            return true;
        }
        let local = o.start.with_timezone(&London);
        (self.days.is_empty() || self.days.contains(&local.weekday()))
            && (self.times_of_day.is_empty()
                || self
                    .times_of_day
                    .contains(&TimeOfDay::of_hour(local.hour())))
    }

    fn price_ok(&self, o: &Opportunity) -> bool {
        let free = o.has_tag("free");
        if self.free && !free {
            return false;
        }
        match self.max_price {
            None => true,
            Some(_) if free => true,
            Some(max) => match o.price.min {
                Some(lowest) => lowest <= max,
                None => self.include_unknown_price,
            },
        }
    }

    fn organizer_ok(&self, o: &Opportunity) -> bool {
        let Some(wanted) = &self.organizer else {
            return true;
        };
        o.organizer.as_ref().is_some_and(|org| {
            [&org.name, &org.url]
                .into_iter()
                .flatten()
                .any(|v| v.eq_ignore_ascii_case(wanted))
        })
    }

    fn words_ok(&self, o: &Opportunity) -> bool {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn session(extra: serde_json::Value) -> Opportunity {
        let mut doc = json!({
            "kind": "session", "start": "2030-01-07T18:30:00Z", "activities": [], "price": {},
            "status": "scheduled", "tags": []
        });
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        serde_json::from_value(doc).expect("opportunity")
    }

    #[test]
    fn age_gender_wheelchair_and_accessibility_filter_for_the_client() {
        let over_50s = session(json!({"age_range": {"min": 50}}));
        let women = session(json!({"gender_restriction": "female"}));
        let step_free = session(json!({
            "accessibility": ["Physical impairment"],
            "tags": [{"name": "wheelchair_accessible", "reasons": []}]
        }));
        let open = session(json!({}));

        let age_30 = Filters {
            age: Some(30),
            ..Filters::default()
        };
        assert!(!age_30.accepts(&over_50s) && age_30.accepts(&open) && age_30.accepts(&women));
        assert!(
            Filters {
                age: Some(67),
                ..Filters::default()
            }
            .accepts(&over_50s)
        );

        let male = Filters {
            gender: Some(ClientGender::Male),
            ..Filters::default()
        };
        assert!(!male.accepts(&women) && male.accepts(&open));
        assert!(
            Filters {
                gender: Some(ClientGender::Female),
                ..Filters::default()
            }
            .accepts(&women)
        );
        assert!(
            !Filters {
                gender: Some(ClientGender::Other),
                ..Filters::default()
            }
            .accepts(&women)
        );

        let wheelchair = Filters {
            wheelchair: true,
            ..Filters::default()
        };
        assert!(wheelchair.accepts(&step_free) && !wheelchair.accepts(&open));
        let physical = Filters {
            accessibility: vec!["physical impairment".into()],
            ..Filters::default()
        };
        assert!(physical.accepts(&step_free) && !physical.accepts(&open));
    }

    #[test]
    fn evening_on_a_monday_is_read_in_uk_time() {
        // 18:30 UTC on 7 January 2030 is 18:30 GMT, a Monday evening.
        let monday_evening = session(json!({}));
        let evening = Filters {
            days: vec![Weekday::Mon],
            times_of_day: vec![TimeOfDay::Evening],
            ..Filters::default()
        };
        assert!(evening.accepts(&monday_evening));
        let morning = Filters {
            times_of_day: vec![TimeOfDay::Morning],
            ..Filters::default()
        };
        assert!(!morning.accepts(&monday_evening));
    }
}
