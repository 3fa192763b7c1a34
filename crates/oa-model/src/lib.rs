//! OpenActive and RPDE vocabulary shared by every other crate: pages, items, opportunities.
//!
//! Pure: no I/O, no async. Parsing is tolerant of what real publishers send and reports
//! problems per item instead of failing a whole page.

pub mod feed;
pub mod opportunity;
pub mod prepared;
pub mod rfc3339;
pub mod rpde;
pub mod rpde_publish;
mod rpde_wire;
pub mod sibling_docs;
pub mod tags;

pub use feed::DiscoveredFeed;
pub use opportunity::{
    Activity, ActivityMatch, Address, AgeRange, EventStatus, GenderRestriction, GeoPrecision,
    Location, Opportunity, OpportunityKind, Organizer, Price, QualityProblem, SmallAreaRef,
};
pub use prepared::{ItemRole, Normalised, Normaliser, PreparedItem, opportunity_id};
pub use rpde::{ItemError, ItemState, PageError, RpdeItem, RpdePage, parse_page};
pub use sibling_docs::SiblingDocs;
pub use tags::{Effect, Evidence, Tag, TagReason};
