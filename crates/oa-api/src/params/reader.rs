//! Reading a query string: known parameters, repeats where allowed, and every problem kept.

use std::collections::BTreeMap;

use super::{KNOWN, REPEATABLE};

/// Collects values and every problem, so one response can name all bad parameters.
pub(super) struct Reader {
    pub(super) values: BTreeMap<&'static str, Vec<String>>,
    pub(super) problems: Vec<(String, String)>,
}

impl Reader {
    pub(super) fn new(query: Option<&str>) -> Reader {
        let mut reader = Reader {
            values: BTreeMap::new(),
            problems: Vec::new(),
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let Some(known) = KNOWN.iter().find(|k| **k == name) else {
                reader
                    .problems
                    .push((name.into_owned(), "unknown parameter".into()));
                continue;
            };
            let values = reader.values.entry(known).or_default();
            if !values.is_empty() && !REPEATABLE.contains(known) {
                reader
                    .problems
                    .push(((*known).into(), "given more than once".into()));
                continue;
            }
            values.push(value.trim().to_owned());
        }
        reader
    }

    pub(super) fn fail(&mut self, parameter: &str, problem: impl Into<String>) {
        self.problems.push((parameter.into(), problem.into()));
    }

    pub(super) fn one(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every value, comma lists split.
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub(super) fn number(&mut self, name: &str) -> Option<f64> {
        let value = self.one(name)?.to_owned();
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                self.fail(name, format!("{value:?} is not a number"));
                None
            }
        }
    }

    pub(super) fn flag(&mut self, name: &str) -> bool {
        match self.one(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") => true,
            Some(other) => {
                let other = other.to_owned();
                self.fail(name, format!("{other:?} is not true or false"));
                false
            }
        }
    }
}
