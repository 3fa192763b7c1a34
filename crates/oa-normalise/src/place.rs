//! Making every session findable on a map: the publisher's `geo` when it is believable,
//! else its postcode's centroid (full postcode, sector, district), with the precision used
//! and any doubt recorded as a data-quality problem.

use oa_geo::{BoundingBox, Gazetteer, Point, Postcode, Precision, distance_km};
use oa_model::{GeoPrecision, Location, QualityProblem};

/// A publisher's point this far from its own postcode is probably wrong somewhere.
const MISMATCH_KM: f64 = 5.0;

/// Where items may be: the UK unless an area says otherwise.
pub const UK_BOUNDS: BoundingBox = BoundingBox {
    min_lat: 49.8,
    max_lat: 60.95,
    min_lng: -8.7,
    max_lng: 1.8,
};

/// Locates a normalised location, appending what was doubtful to `problems`.
pub fn locate(
    mut location: Location,
    places: &Gazetteer,
    bounds: &BoundingBox,
    problems: &mut Vec<QualityProblem>,
) -> Location {
    // Playwaze names places "52.0406224, -0.7594171": shown as a venue, it helps nobody.
    if let Some(name) = location.name.take_if(|name| is_coordinates(name)) {
        problems.push(QualityProblem::new(
            "place_name_is_coordinates",
            format!("place name {name:?} is coordinates, not a name; not shown"),
        ));
    }
    let postcode = location
        .address
        .postcode
        .as_deref()
        .and_then(Postcode::parse);
    if let Some(code) = &postcode {
        location.address.postcode = Some(code.as_str().to_owned());
    } else if let Some(text) = &location.address.postcode {
        problems.push(QualityProblem::new(
            "bad_postcode",
            format!("{text:?} is not a UK postcode"),
        ));
    }
    let from_postcode = postcode.as_ref().and_then(|p| places.locate(p));
    if let (Some(lat), Some(lng)) = (location.lat, location.lng) {
        let point = Point::new(lat, lng);
        if bounds.contains(point) {
            location.precision = GeoPrecision::Exact;
            if let (Some(code), Some((centre, how))) = (&postcode, from_postcode)
                && matches!(how, Precision::Postcode | Precision::Sector)
            {
                let apart = distance_km(point, centre);
                if apart > MISMATCH_KM {
                    problems.push(QualityProblem::new(
                        "geo_postcode_mismatch",
                        format!("geo is {apart:.1} km from {}'s centroid", code.as_str()),
                    ));
                }
            }
            return location;
        }
        problems.push(QualityProblem::new(
            "geo_outside_area",
            format!("geo {lat}, {lng} is outside the area's bounds; ignored"),
        ));
    } else {
        problems.push(QualityProblem::new(
            "missing_geo",
            "no usable geo coordinates",
        ));
    }
    location.lat = None;
    location.lng = None;
    location.precision = GeoPrecision::None;
    if let (Some(code), Some((centre, how))) = (&postcode, from_postcode) {
        location.lat = Some(centre.lat);
        location.lng = Some(centre.lng);
        location.precision = match how {
            Precision::Exact => GeoPrecision::Exact,
            Precision::Postcode => GeoPrecision::Postcode,
            Precision::Sector => GeoPrecision::Sector,
            Precision::District => GeoPrecision::District,
        };
        problems.push(QualityProblem::new(
            "geo_from_postcode",
            format!("located from {} ({})", code.as_str(), how.as_str()),
        ));
    }
    location
}

/// "lat, long" (or "lat long"): two numbers that could be a latitude and a longitude.
fn is_coordinates(text: &str) -> bool {
    let parts: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [lat, lng] => matches!(
            (lat.parse::<f64>(), lng.parse::<f64>()),
            (Ok(lat), Ok(lng)) if lat.abs() <= 90.0 && lng.abs() <= 180.0
        ),
        _ => false,
    }
}

/// The small area of each area a point falls in.
pub fn small_areas(areas: &[&'static oa_geo::Ics], at: Point) -> Vec<oa_model::SmallAreaRef> {
    areas
        .iter()
        .filter_map(|ics| {
            ics.small_area(at).map(|region| oa_model::SmallAreaRef {
                area: ics.key.clone(),
                small_area: region.code.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use oa_model::Address;

    use super::*;

    fn location(lat: Option<f64>, lng: Option<f64>, postcode: Option<&str>) -> Location {
        Location {
            name: Some("Hall".into()),
            address: Address {
                postcode: postcode.map(str::to_owned),
                ..Address::default()
            },
            lat,
            lng,
            precision: GeoPrecision::None,
        }
    }

    fn codes(problems: &[QualityProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn exact_geo_is_kept_and_a_far_postcode_is_a_problem() {
        let places = Gazetteer::bundled();
        let mut problems = Vec::new();
        let near = locate(
            location(Some(53.760), Some(-2.704), Some("pr1 2xx")),
            places,
            &UK_BOUNDS,
            &mut problems,
        );
        assert_eq!(
            (near.precision, near.address.postcode.as_deref()),
            (GeoPrecision::Exact, Some("PR1 2XX"))
        );
        assert!(problems.is_empty(), "{problems:?}");
        // Blackpool coordinates with a Preston postcode: about 23 km apart.
        locate(
            location(Some(53.8159), Some(-3.0553), Some("PR1 2XX")),
            places,
            &UK_BOUNDS,
            &mut problems,
        );
        assert_eq!(codes(&problems), ["geo_postcode_mismatch"]);
    }

    #[test]
    fn a_place_named_by_its_coordinates_loses_the_name() {
        let mut problems = Vec::new();
        let mut named = location(Some(52.0406224), Some(-0.7594171), None);
        named.name = Some("52.0406224, -0.7594171".into());
        let located = locate(named, Gazetteer::bundled(), &UK_BOUNDS, &mut problems);
        assert_eq!(located.name, None);
        assert_eq!(located.precision, GeoPrecision::Exact);
        assert_eq!(codes(&problems), ["place_name_is_coordinates"]);
        assert!(!is_coordinates("Hall 2, 3 Mill Lane"));
        assert!(!is_coordinates("Court 1"));
    }

    #[test]
    fn missing_or_foreign_geo_falls_back_to_the_postcode_with_its_precision() {
        let places = Gazetteer::bundled();
        let mut problems = Vec::new();
        let sector = locate(
            location(None, None, Some("PR1 2XX")),
            places,
            &UK_BOUNDS,
            &mut problems,
        );
        assert_eq!(sector.precision, GeoPrecision::Sector);
        assert_eq!((sector.lat, sector.lng), (Some(53.75988), Some(-2.70357)));
        assert_eq!(codes(&problems), ["missing_geo", "geo_from_postcode"]);

        problems.clear();
        let paris = locate(
            location(Some(48.85), Some(2.35), Some("PR25 8ZZ")),
            places,
            &UK_BOUNDS,
            &mut problems,
        );
        assert_eq!(paris.precision, GeoPrecision::District);
        assert_eq!(codes(&problems), ["geo_outside_area", "geo_from_postcode"]);

        problems.clear();
        let lost = locate(
            location(None, None, Some("not a postcode")),
            places,
            &UK_BOUNDS,
            &mut problems,
        );
        assert_eq!((lost.precision, lost.lat), (GeoPrecision::None, None));
        assert_eq!(codes(&problems), ["bad_postcode", "missing_geo"]);
    }
}
