//! Distances from one centre to many points: the haversine of [`distance_km`], with the
//! centre's trigonometry done once and, for points within a few hundred kilometres, the
//! rest by short power series instead of `sin`/`cos`/`asin` calls.
//!
//! A radius search measures every session in its box; the four libm calls per point were
//! a seventh of a grouped search's time. For the small angles involved the series below
//! are truncated where the next term is under 10⁻¹⁷ of the result, so the distances equal
//! [`distance_km`]'s to rounding (the tests hold them to 10⁻⁹ km).

use crate::{EARTH_RADIUS_KM, Point, distance_km};

/// Past this difference in latitude or longitude (radians, about 320 km) the series are
/// not used.
const SERIES_LIMIT: f64 = 0.05;
/// Past this half-chord (`sqrt` of the haversine) `asin` is called.
const ASIN_SERIES_LIMIT: f64 = 0.03;
/// Radii up to this are settled by a flat-earth estimate away from their edge.
const FLAT_RADIUS_LIMIT_KM: f64 = 100.0;
/// How far (relatively) from the edge the flat estimate decides alone: its error within
/// [`FLAT_RADIUS_LIMIT_KM`] and a half is under a tenth of this (tested).
const FLAT_MARGIN: f64 = 1e-3;

/// Where a point lies against a radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reach {
    /// Clearly within it, not measured.
    Inside,
    /// Within it, at this distance (km).
    At(f64),
    Outside,
}

/// A centre prepared for measuring distances from it.
#[derive(Debug, Clone, Copy)]
pub struct DistancesFrom {
    centre: Point,
    lat: f64,
    sin_lat: f64,
    cos_lat: f64,
}

impl DistancesFrom {
    pub fn new(centre: Point) -> Self {
        let lat = centre.lat.to_radians();
        DistancesFrom {
            centre,
            lat,
            sin_lat: lat.sin(),
            cos_lat: lat.cos(),
        }
    }

    /// Great-circle distance in kilometres, as [`distance_km`] from the centre.
    pub fn to(&self, point: Point) -> f64 {
        let dlat = point.lat.to_radians() - self.lat;
        let dlng = (point.lng - self.centre.lng).to_radians();
        if dlat.abs() > SERIES_LIMIT || dlng.abs() > SERIES_LIMIT {
            return distance_km(self.centre, point);
        }
        // cos(lat + dlat) by the angle-sum rule, with cos/sin of the small dlat by series.
        let cos_lat2 = self.cos_lat * cos_small(dlat) - self.sin_lat * sin_small(dlat);
        let h =
            sin_small(dlat / 2.0).powi(2) + self.cos_lat * cos_lat2 * sin_small(dlng / 2.0).powi(2);
        let half_chord = h.sqrt().min(1.0);
        let angle = if half_chord < ASIN_SERIES_LIMIT {
            asin_small(half_chord)
        } else {
            half_chord.asin()
        };
        2.0 * EARTH_RADIUS_KM * angle
    }

    /// The circle of `radius_km` around this centre, to tell which points are in it.
    pub fn circle(self, radius_km: f64) -> Circle {
        let flat = (radius_km <= FLAT_RADIUS_LIMIT_KM).then(|| {
            let (low, high) = (
                radius_km * (1.0 - FLAT_MARGIN),
                radius_km * (1.0 + FLAT_MARGIN),
            );
            (low * low, high * high)
        });
        Circle {
            from: self,
            radius_km,
            flat,
        }
    }

    /// The squared distance on a plane tangent at the points' mean latitude (its cosine to
    /// first order in the difference).
    fn flat_km_squared(&self, point: Point) -> f64 {
        let dlat = point.lat.to_radians() - self.lat;
        let dlng = (point.lng - self.centre.lng).to_radians();
        let east = dlng * (self.cos_lat - self.sin_lat * dlat / 2.0);
        (dlat * dlat + east * east) * (EARTH_RADIUS_KM * EARTH_RADIUS_KM)
    }
}

/// A radius around a prepared centre, with the bounds of its flat-earth test worked out once
/// (a search tests every session of the cells its edge crosses).
#[derive(Debug, Clone, Copy)]
pub struct Circle {
    from: DistancesFrom,
    radius_km: f64,
    /// The squared distances (km²) under which a flat estimate is surely inside, and over
    /// which surely outside; `None` past [`FLAT_RADIUS_LIMIT_KM`].
    flat: Option<(f64, f64)>,
}

impl Circle {
    /// Whether `point` is within the circle. Most points a radius search meets are far from
    /// the edge: a flat-earth estimate (a few multiplications) settles those, and only points
    /// within [`FLAT_MARGIN`] of the edge are measured.
    pub fn reach(&self, point: Point) -> Reach {
        // The estimate compares squares, which would make a negative radius positive.
        if self.radius_km < 0.0 {
            return Reach::Outside;
        }
        if let Some((inside, outside)) = self.flat {
            let flat = self.from.flat_km_squared(point);
            if flat < inside {
                return Reach::Inside;
            }
            if flat > outside {
                return Reach::Outside;
            }
        }
        match self.from.to(point) {
            d if d <= self.radius_km => Reach::At(d),
            _ => Reach::Outside,
        }
    }
}

// Horner forms with the coefficients as constants: multiplications only (a division is
// several times slower, and these run for every session a search measures).

/// sin x for |x| ≤ 0.05 (next term x¹¹/11! < 10⁻²¹).
fn sin_small(x: f64) -> f64 {
    const C3: f64 = -1.0 / 6.0;
    const C5: f64 = 1.0 / 120.0;
    const C7: f64 = -1.0 / 5040.0;
    const C9: f64 = 1.0 / 362_880.0;
    let x2 = x * x;
    x * (1.0 + x2 * (C3 + x2 * (C5 + x2 * (C7 + x2 * C9))))
}

/// cos x for |x| ≤ 0.05 (next term x¹⁰/10! < 10⁻¹⁹).
fn cos_small(x: f64) -> f64 {
    const C2: f64 = -1.0 / 2.0;
    const C4: f64 = 1.0 / 24.0;
    const C6: f64 = -1.0 / 720.0;
    const C8: f64 = 1.0 / 40_320.0;
    let x2 = x * x;
    1.0 + x2 * (C2 + x2 * (C4 + x2 * (C6 + x2 * C8)))
}

/// asin y for 0 ≤ y < 0.03 (next term under 10⁻¹⁸).
fn asin_small(y: f64) -> f64 {
    const C3: f64 = 1.0 / 6.0;
    const C5: f64 = 3.0 / 40.0;
    const C7: f64 = 5.0 / 112.0;
    const C9: f64 = 35.0 / 1152.0;
    let y2 = y * y;
    y * (1.0 + y2 * (C3 + y2 * (C5 + y2 * (C7 + y2 * C9))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points around a centre at growing distances and in every direction, as a radius
    /// search meets them (and some beyond, where the series are not used).
    fn around(centre: Point) -> impl Iterator<Item = Point> {
        (0..360).step_by(7).flat_map(move |bearing| {
            [
                0.0, 0.001, 0.01, 0.3, 1.0, 4.99, 5.0, 10.0, 25.0, 50.0, 120.0, 400.0,
            ]
            .into_iter()
            .map(move |step: f64| {
                let b = f64::from(bearing).to_radians();
                Point::new(
                    centre.lat + step / 111.0 * b.cos(),
                    centre.lng + step / 70.0 * b.sin(),
                )
            })
        })
    }

    #[test]
    fn equals_the_haversine_to_rounding() {
        let centres = [
            Point::new(51.5246, -0.1120),
            Point::new(53.7632, -2.7031),
            Point::new(49.9, -6.3),
            Point::new(60.8, -0.9),
            Point::new(0.0, 0.0),
            Point::new(-33.9, 151.2),
        ];
        for centre in centres {
            let from = DistancesFrom::new(centre);
            for point in around(centre) {
                let (fast, exact) = (from.to(point), distance_km(centre, point));
                assert!(
                    (fast - exact).abs() < 1e-9,
                    "{centre:?} → {point:?}: {fast} km against {exact} km"
                );
            }
        }
    }

    #[test]
    fn the_flat_estimate_errs_by_under_a_tenth_of_its_margin_within_its_radii() {
        for centre in [
            Point::new(49.9, -6.3),
            Point::new(53.7632, -2.7031),
            Point::new(60.8, -0.9),
        ] {
            let from = DistancesFrom::new(centre);
            for point in around(centre) {
                let exact = distance_km(centre, point);
                if exact > 0.001 && exact <= 1.5 * FLAT_RADIUS_LIMIT_KM {
                    let flat = from.flat_km_squared(point).sqrt();
                    let error = (flat - exact).abs() / exact;
                    assert!(
                        error < FLAT_MARGIN / 10.0,
                        "{centre:?} → {point:?}: {error}"
                    );
                }
            }
        }
    }

    #[test]
    fn reach_agrees_with_measuring_near_the_edge_and_far_from_it() {
        let centre = Point::new(53.7632, -2.7031);
        let from = DistancesFrom::new(centre);
        // A cell's corners are held to the radius less a metre, which can be below zero.
        assert_eq!(from.circle(-0.0005).reach(centre), Reach::Outside);
        for radius in [0.5, 5.0, 8.047, 25.0, 50.0, 100.0, 150.0] {
            for bearing in (0..360).step_by(5) {
                let b = f64::from(bearing).to_radians();
                for scale in [
                    0.0, 0.5, 0.998, 0.9995, 0.99999, 1.0, 1.00001, 1.0005, 1.002, 2.0,
                ] {
                    // Close to `scale * radius` from the centre, on this bearing.
                    let step = scale * radius;
                    let point = Point::new(
                        centre.lat + step / 111.2 * b.cos(),
                        centre.lng + step / 65.9 * b.sin(),
                    );
                    let exact = distance_km(centre, point);
                    match from.circle(radius).reach(point) {
                        Reach::Inside => assert!(exact <= radius, "{radius} {point:?}"),
                        Reach::At(d) => {
                            assert!(
                                d <= radius && (d - exact).abs() < 1e-9,
                                "{radius} {point:?}"
                            )
                        }
                        Reach::Outside => assert!(exact > radius, "{radius} {point:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn the_series_match_the_library_functions() {
        for n in -50..=50 {
            let x = f64::from(n) / 1000.0;
            assert!((sin_small(x) - x.sin()).abs() < 1e-17, "sin {x}");
            assert!((cos_small(x) - x.cos()).abs() < 1e-16, "cos {x}");
        }
        for n in 0..30 {
            let y = f64::from(n) / 1000.0;
            assert!((asin_small(y) - y.asin()).abs() < 1e-17, "asin {y}");
        }
    }
}
