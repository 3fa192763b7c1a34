//! Great-circle distances, the bounding boxes that pre-filter a radius search, and UK
//! postcodes located from imported and bundled centroids ([`postcode`]).

pub mod areas;
pub mod ics;
mod near;
pub mod postcode;

pub use areas::{AreaError, NearestIndex, Region, Regions};
pub use ics::{Ics, district_of};
pub use near::{Circle, DistancesFrom, Reach};
pub use postcode::{Gazetteer, Postcode, Precision};

/// Mean Earth radius (IUGG), in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lng: f64,
}

impl Point {
    pub fn new(lat: f64, lng: f64) -> Self {
        Point { lat, lng }
    }
}

/// Great-circle (haversine) distance in kilometres.
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlng = (b.lng - a.lng).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A latitude/longitude rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lng: f64,
    pub max_lng: f64,
}

impl BoundingBox {
    /// The smallest box holding every point within `radius_km` of `centre` (slightly
    /// enlarged so that rounding never drops a point on the circle's edge).
    pub fn around(centre: Point, radius_km: f64) -> Self {
        let margin = 1.001;
        let dlat = (radius_km / EARTH_RADIUS_KM).to_degrees() * margin;
        let cos_lat = centre.lat.to_radians().cos().max(1e-6);
        let dlng = ((radius_km / (EARTH_RADIUS_KM * cos_lat)).to_degrees() * margin).min(180.0);
        BoundingBox {
            min_lat: (centre.lat - dlat).max(-90.0),
            max_lat: (centre.lat + dlat).min(90.0),
            min_lng: centre.lng - dlng,
            max_lng: centre.lng + dlng,
        }
    }

    pub fn contains(&self, p: Point) -> bool {
        (self.min_lat..=self.max_lat).contains(&p.lat)
            && (self.min_lng..=self.max_lng).contains(&p.lng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_matches_hand_computed_values() {
        // Preston railway station to Blackpool Tower: about 24 km as the crow flies.
        let preston = Point::new(53.7565, -2.7083);
        let blackpool = Point::new(53.8159, -3.0553);
        let d = distance_km(preston, blackpool);
        assert!((d - 23.9).abs() < 0.3, "{d}");
        // One degree of latitude is 111.19 km on the mean sphere.
        let d = distance_km(Point::new(53.0, -2.0), Point::new(54.0, -2.0));
        assert!((d - 111.195).abs() < 0.01, "{d}");
        assert_eq!(distance_km(preston, preston), 0.0);
    }

    #[test]
    fn bounding_box_holds_the_whole_circle() {
        let centre = Point::new(53.76, -2.70);
        let bbox = BoundingBox::around(centre, 5.0);
        for bearing in 0..360 {
            let b = f64::from(bearing).to_radians();
            // A point 4.999 km away along each bearing (small-distance approximation).
            let dlat = (4.999 / EARTH_RADIUS_KM).to_degrees() * b.cos();
            let dlng =
                (4.999 / (EARTH_RADIUS_KM * centre.lat.to_radians().cos())).to_degrees() * b.sin();
            assert!(
                bbox.contains(Point::new(centre.lat + dlat, centre.lng + dlng)),
                "bearing {bearing}"
            );
        }
        assert!(!bbox.contains(Point::new(53.86, -2.70)));
    }
}
