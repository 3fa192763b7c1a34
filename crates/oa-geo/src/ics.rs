//! An Integrated Care System's geography: its boundary and its small areas (LSOAs), grouped
//! into districts. Lancashire and South Cumbria ships in the binary as the worked example.

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
        })
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
}
