//! UK postcodes: normalising what publishers type ("pr12xx", "PR1  2XX") and locating them,
//! from the full postcode when the table holds it, else its sector, else its district.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::Point;

const SECTORS_CSV: &str = include_str!("../../../fixtures/geo/postcode-sectors-england.csv");
const DISTRICTS_CSV: &str = include_str!("../../../fixtures/geo/postcode-districts-england.csv");

/// A postcode in its standard form: upper case, outward and inward code, one space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Postcode(String);

impl Postcode {
    /// Normalises case and spacing; `None` unless it has the shape of a full UK postcode.
    pub fn parse(text: &str) -> Option<Postcode> {
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
            return None;
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        let inward_ok = {
            let b = inward.as_bytes();
            b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
        };
        let outward_ok = outward.as_bytes()[0].is_ascii_alphabetic()
            && outward.bytes().all(|b| b.is_ascii_alphanumeric())
            && outward.bytes().any(|b| b.is_ascii_digit());
        (inward_ok && outward_ok).then(|| Postcode(format!("{outward} {inward}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "PR1 2XX" -> "PR1".
    pub fn district(&self) -> &str {
        self.0.split(' ').next().unwrap_or(&self.0)
    }

    /// "PR1 2XX" -> "PR1 2".
    pub fn sector(&self) -> &str {
        &self.0[..self.0.len() - 2]
    }
}

/// How exactly a location is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// The publisher's own coordinates.
    Exact,
    /// The full postcode's centroid.
    Postcode,
    /// The postcode sector's centroid (a few hundred metres to a few km).
    Sector,
    /// The postcode district's centroid (several km).
    District,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Exact => "exact",
            Precision::Postcode => "postcode",
            Precision::Sector => "sector",
            Precision::District => "district",
        }
    }
}

/// Centroids of full postcodes (imported), sectors and districts (bundled).
#[derive(Debug, Clone, Default)]
pub struct Gazetteer {
    postcodes: HashMap<String, Point>,
    sectors: HashMap<String, Point>,
    districts: HashMap<String, Point>,
}

static BUNDLED: LazyLock<Gazetteer> = LazyLock::new(|| Gazetteer {
    postcodes: HashMap::new(),
    sectors: centroids(SECTORS_CSV),
    districts: centroids(DISTRICTS_CSV),
});

impl Gazetteer {
    /// England's sector and district centroids, no full postcodes.
    pub fn bundled() -> &'static Gazetteer {
        &BUNDLED
    }

    /// The bundled centroids plus full postcodes (from the postcode table).
    pub fn with_postcodes(postcodes: impl IntoIterator<Item = (Postcode, Point)>) -> Gazetteer {
        let mut gazetteer = BUNDLED.clone();
        gazetteer.postcodes = postcodes
            .into_iter()
            .map(|(postcode, point)| (postcode.0, point))
            .collect();
        gazetteer
    }

    pub fn postcode_count(&self) -> usize {
        self.postcodes.len()
    }

    /// The best known point for a postcode, and how exact it is.
    pub fn locate(&self, postcode: &Postcode) -> Option<(Point, Precision)> {
        if let Some(point) = self.postcodes.get(postcode.as_str()) {
            return Some((*point, Precision::Postcode));
        }
        if let Some(point) = self.sectors.get(postcode.sector()) {
            return Some((*point, Precision::Sector));
        }
        self.districts
            .get(postcode.district())
            .map(|point| (*point, Precision::District))
    }
}

/// `key,latitude,longitude,...` rows after a header; malformed rows are skipped (the files
/// are bundled and tested).
fn centroids(csv: &str) -> HashMap<String, Point> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',');
            let key = fields.next()?.trim().to_owned();
            let lat = fields.next()?.trim().parse().ok()?;
            let lng = fields.next()?.trim().parse().ok()?;
            Some((key, Point::new(lat, lng)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postcode(text: &str) -> Postcode {
        Postcode::parse(text).expect(text)
    }

    #[test]
    fn postcodes_are_normalised_or_refused() {
        assert_eq!(postcode("pr12xx").as_str(), "PR1 2XX");
        assert_eq!(postcode(" PR1   2XX ").as_str(), "PR1 2XX");
        assert_eq!(postcode("sw1a1aa").as_str(), "SW1A 1AA");
        assert_eq!(postcode("PR1 2XX").sector(), "PR1 2");
        assert_eq!(postcode("SW1A 1AA").district(), "SW1A");
        for bad in ["", "PR1", "12345", "PR1 2X1", "PR1 2XXX", "ÅR1 2XX"] {
            assert!(Postcode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_bundled_centroids_cover_england() {
        let g = Gazetteer::bundled();
        assert!(g.sectors.len() > 10_000 && g.districts.len() > 2_300);
        let (point, precision) = g.locate(&postcode("PR1 2AB")).expect("sector");
        assert_eq!(precision, Precision::Sector);
        assert_eq!(
            point,
            Point::new(53.75988, -2.70357),
            "PR1 2 from the sectors file"
        );
    }

    #[test]
    fn full_postcode_then_sector_then_district() {
        let exact = Point::new(53.7, -2.7);
        let g = Gazetteer::with_postcodes([(postcode("PR1 2AB"), exact)]);
        assert_eq!(
            g.locate(&postcode("pr1 2ab")),
            Some((exact, Precision::Postcode))
        );
        assert_eq!(
            g.locate(&postcode("PR1 2ZZ")).map(|l| l.1),
            Some(Precision::Sector)
        );
        let (_, precision) = g.locate(&postcode("PR25 8ZZ")).expect("district");
        assert_eq!(
            precision,
            Precision::District,
            "no PR25 8 sector, so the district"
        );
        assert_eq!(g.locate(&postcode("ZZ9 9ZZ")), None);
    }
}
