//! An Integrated Care System's geography: its boundary and its small areas (LSOAs), grouped
//! into districts. Lancashire and South Cumbria ships in the binary as the worked example.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::Point;
use crate::areas::{AreaError, Region, Regions};

const LSC_BOUNDARY: &str =
    include_str!("../../../fixtures/geo/icb-lancashire-south-cumbria.geojson");
const LSC_LSOAS: &str = include_str!("../../../fixtures/geo/lsoa-lancashire-south-cumbria.geojson");

/// An ICS and its small areas.
#[derive(Debug)]
pub struct Ics {
    /// The name used in URLs and on the command line.
    pub key: String,
    pub code: String,
    pub name: String,
    pub boundary: Regions,
    pub small_areas: Regions,
    /// Residents per small area (by code), when the area's config names a populations file.
    pub populations: HashMap<String, u64>,
}

static LANCASHIRE_SOUTH_CUMBRIA: LazyLock<Result<Ics, String>> = LazyLock::new(|| {
    Ics::from_geojson(
        "lancashire-south-cumbria",
        ("icb-lancashire-south-cumbria.geojson", LSC_BOUNDARY),
        ("lsoa-lancashire-south-cumbria.geojson", LSC_LSOAS),
    )
    .map_err(|e| e.to_string())
});

impl Ics {
    /// Lancashire and South Cumbria ICB (E54000048) and its 1,058 LSOAs, bundled.
    pub fn lancashire_south_cumbria() -> Result<&'static Ics, String> {
        LANCASHIRE_SOUTH_CUMBRIA.as_ref().map_err(Clone::clone)
    }

    /// The bundled areas by key.
    pub fn bundled(key: &str) -> Option<&'static Ics> {
        match key {
            "lancashire-south-cumbria" => Ics::lancashire_south_cumbria().ok(),
            _ => None,
        }
    }

    /// Keys of the bundled areas.
    pub fn bundled_keys() -> &'static [&'static str] {
        &["lancashire-south-cumbria"]
    }

    /// An ICS from an ICB boundary file (`code`, `name` properties; the first feature) and
    /// an LSOA file (`lsoa_code`, `name`, `latitude`, `longitude` properties).
    pub fn from_geojson(
        key: &str,
        (boundary_file, boundary): (&str, &str),
        (lsoa_file, lsoas): (&str, &str),
    ) -> Result<Ics, AreaError> {
        let boundary = Regions::from_geojson(boundary_file, boundary, "code", "name")?;
        let first = boundary.iter().next().ok_or_else(|| AreaError::Json {
            file: boundary_file.into(),
            reason: "no boundary feature".into(),
        })?;
        Ok(Ics {
            key: key.to_owned(),
            code: first.code.clone(),
            name: first.name.clone(),
            small_areas: Regions::from_geojson(lsoa_file, lsoas, "lsoa_code", "name")?,
            boundary,
            populations: HashMap::new(),
        })
    }

    /// Reads residents per small area from a CSV with a `code,population` header (other
    /// columns ignored). Returns how many rows name none of this ICS's small areas; every
    /// other problem is an error naming the file and line.
    pub fn read_populations(&mut self, file: &str, text: &str) -> Result<usize, AreaError> {
        let bad = |line: usize, problem: String| AreaError::Csv {
            file: file.into(),
            line,
            problem,
        };
        let mut lines = text.lines().enumerate();
        let header: Vec<String> = lines
            .next()
            .map(|(_, h)| {
                h.trim_start_matches('\u{feff}')
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        let column = |name: &str| {
            header.iter().position(|c| c == name).ok_or_else(|| {
                bad(
                    1,
                    format!("no `{name}` column (the header is `code,population`)"),
                )
            })
        };
        let (code_at, population_at) = (column("code")?, column("population")?);
        let known: std::collections::HashSet<&str> =
            self.small_areas.iter().map(|r| r.code.as_str()).collect();
        let (mut populations, mut unknown) = (HashMap::new(), 0);
        for (index, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let field = |at: usize| fields.get(at).copied().unwrap_or_default();
            let code = field(code_at);
            let population: u64 = field(population_at).parse().map_err(|_| {
                bad(
                    index + 1,
                    format!(
                        "population {:?} is not a whole number",
                        field(population_at)
                    ),
                )
            })?;
            if known.contains(code) {
                populations.insert(code.to_owned(), population);
            } else {
                unknown += 1;
            }
        }
        self.populations = populations;
        Ok(unknown)
    }

    /// Residents of these small areas, when populations are configured for all of them.
    pub fn residents<'a>(&self, codes: impl IntoIterator<Item = &'a str>) -> Option<u64> {
        if self.populations.is_empty() {
            return None;
        }
        codes
            .into_iter()
            .map(|code| self.populations.get(code).copied())
            .sum()
    }

    /// The small area a point is in; `None` outside the ICS.
    pub fn small_area(&self, point: Point) -> Option<&Region> {
        self.small_areas.containing(point)
    }
}

/// An LSOA's district: its name without the trailing code ("Preston 014C" -> "Preston").
pub fn district_of(small_area: &Region) -> &str {
    small_area
        .name
        .rsplit_once(' ')
        .map_or(small_area.name.as_str(), |(district, _)| district)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_ics_places_points_in_their_lsoas_and_districts() {
        let ics = Ics::lancashire_south_cumbria().expect("bundled");
        assert_eq!(ics.code, "E54000048");
        assert_eq!(ics.small_areas.len(), 1058);
        // Preston city centre and Kendal town centre.
        let preston = ics
            .small_area(Point::new(53.7590, -2.7035))
            .expect("in an LSOA");
        assert_eq!(district_of(preston), "Preston");
        let kendal = ics
            .small_area(Point::new(54.3280, -2.7460))
            .expect("in an LSOA");
        assert_eq!(district_of(kendal), "South Lakeland");
        // Manchester is outside.
        assert!(ics.small_area(Point::new(53.4808, -2.2426)).is_none());
    }

    fn lsc() -> Ics {
        Ics::from_geojson(
            "lsc",
            ("icb.geojson", LSC_BOUNDARY),
            ("lsoa.geojson", LSC_LSOAS),
        )
        .expect("bundled files")
    }

    #[test]
    fn populations_are_read_per_small_area_and_bad_lines_are_named() {
        let mut ics = lsc();
        assert_eq!(ics.residents(["E01012571"]), None, "none configured");
        let unknown = ics
            .read_populations(
                "pop.csv",
                "\u{feff}name,code,population\nx,E01012571,1500\ny,E01012572,1600\nz,W01000001,9\n",
            )
            .expect("reads");
        assert_eq!(unknown, 1, "a Welsh code is not one of the ICS's");
        assert_eq!(ics.residents(["E01012571", "E01012572"]), Some(3100));
        assert_eq!(
            ics.residents(["E01012571", "E01099999"]),
            None,
            "one unknown"
        );

        let error = ics
            .read_populations("pop.csv", "code,population\nE01012571,many\n")
            .expect_err("not a number");
        assert_eq!(
            error.to_string(),
            "pop.csv: line 2: population \"many\" is not a whole number"
        );
        let error = ics
            .read_populations("pop.csv", "lsoa,people\n")
            .expect_err("no columns");
        assert!(error.to_string().contains("no `code` column"), "{error}");
    }
}
