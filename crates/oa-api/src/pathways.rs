//! Pathways in the social-prescribing sense: a named need (loneliness, low mood, falls
//! prevention...) and the activities and tags that suit it, from `config/pathways.toml`.

use serde::{Deserialize, Serialize};

use oa_normalise::ActivityList;

/// The pathways shipped with the service.
pub const DEFAULT_PATHWAYS: &str = include_str!("../../../config/pathways.toml");

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pathway {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Activity List labels or ids; a session needs any of them (narrower concepts included).
    #[serde(default)]
    pub activities: Vec<String>,
    /// Tags a session needs, all of them.
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pathways {
    pub pathways: Vec<Pathway>,
}

#[derive(Debug, thiserror::Error)]
pub enum PathwayError {
    #[error("pathways: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("pathways: {pathway:?}: activity {activity:?} is not in the OpenActive Activity List")]
    UnknownActivity { pathway: String, activity: String },
    #[error("pathways: {0:?} is defined twice")]
    Duplicate(String),
}

impl Pathways {
    /// Parses and checks a pathways file: names unique, every activity known.
    pub fn from_toml(text: &str) -> Result<Pathways, PathwayError> {
        let pathways: Pathways = toml::from_str(text)?;
        let list = ActivityList::shipped();
        for (i, pathway) in pathways.pathways.iter().enumerate() {
            if pathways.pathways[..i]
                .iter()
                .any(|p| p.name == pathway.name)
            {
                return Err(PathwayError::Duplicate(pathway.name.clone()));
            }
            if let Some(unknown) = pathway
                .activities
                .iter()
                .find(|a| list.resolve(a).is_none())
            {
                return Err(PathwayError::UnknownActivity {
                    pathway: pathway.name.clone(),
                    activity: unknown.clone(),
                });
            }
        }
        Ok(pathways)
    }

    pub fn shipped() -> Pathways {
        Pathways::from_toml(DEFAULT_PATHWAYS).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&Pathway> {
        self.pathways.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_pathways_load_and_name_real_activities() {
        let pathways = Pathways::from_toml(DEFAULT_PATHWAYS).expect("valid");
        let names: Vec<&str> = pathways.pathways.iter().map(|p| p.name.as_str()).collect();
        for wanted in [
            "loneliness",
            "low_mood",
            "long_term_condition_low_fitness",
            "falls_prevention",
        ] {
            assert!(names.contains(&wanted), "{wanted}");
        }
    }

    #[test]
    fn a_bad_pathway_file_names_the_problem() {
        let unknown = Pathways::from_toml(
            "[[pathways]]\nname = \"x\"\ntitle = \"X\"\ndescription = \"\"\nactivities = [\"Underwater Knitting\"]\n",
        )
        .expect_err("unknown activity");
        assert_eq!(
            unknown.to_string(),
            "pathways: \"x\": activity \"Underwater Knitting\" is not in the OpenActive Activity List"
        );
    }
}
