//! Areas: an ICS boundary and its small areas (LSOAs) from GeoJSON, a spatial index to find
//! the small area a point falls in, and a nearest-point index for "how far is the nearest
//! suitable session from where people live".

use geo::{Contains, Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde_json::Value;

use crate::{Point, distance_km};

#[derive(Debug, thiserror::Error)]
pub enum AreaError {
    #[error("{file}: not GeoJSON: {reason}")]
    Json { file: String, reason: String },
    #[error("{file}: feature {index}: {problem}")]
    Feature {
        file: String,
        index: usize,
        problem: String,
    },
    #[error("{file}: line {line}: {problem}")]
    Csv {
        file: String,
        line: usize,
        problem: String,
    },
}

/// One polygonal region (an ICB, an LSOA) with its properties.
#[derive(Debug, Clone)]
pub struct Region {
    pub code: String,
    pub name: String,
    /// The published centroid, else the first vertex's (only used as a label point).
    pub centroid: Point,
    pub shape: MultiPolygon<f64>,
}

impl Region {
    pub fn contains(&self, point: Point) -> bool {
        self.shape.contains(&Coord {
            x: point.lng,
            y: point.lat,
        })
    }
}

/// Regions with an R-tree over their bounding boxes.
#[derive(Debug)]
pub struct Regions {
    regions: Vec<Region>,
    boxes: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    by_code: std::collections::HashMap<String, usize>,
}

impl Regions {
    /// A GeoJSON FeatureCollection of Polygons/MultiPolygons whose properties name each
    /// region's code and name (`code_key`, `name_key`), with optional `latitude`/`longitude`.
    pub fn from_geojson(
        file: &str,
        text: &str,
        code_key: &str,
        name_key: &str,
    ) -> Result<Regions, AreaError> {
        let json: Value = serde_json::from_str(text).map_err(|e| AreaError::Json {
            file: file.into(),
            reason: e.to_string(),
        })?;
        let features = json
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| AreaError::Json {
                file: file.into(),
                reason: "no `features` array".into(),
            })?;
        let mut regions = Vec::with_capacity(features.len());
        for (index, feature) in features.iter().enumerate() {
            let fail = |problem: String| AreaError::Feature {
                file: file.into(),
                index,
                problem,
            };
            let properties = feature.get("properties").unwrap_or(&Value::Null);
            let text_of = |key: &str| {
                properties
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| fail(format!("no `{key}` property")))
            };
            let shape = shape(feature.get("geometry")).map_err(&fail)?;
            let first = shape
                .0
                .first()
                .and_then(|p| p.exterior().0.first())
                .copied()
                .ok_or_else(|| fail("empty geometry".into()))?;
            let centroid = match (
                properties.get("latitude").and_then(Value::as_f64),
                properties.get("longitude").and_then(Value::as_f64),
            ) {
                (Some(lat), Some(lng)) => Point::new(lat, lng),
                _ => Point::new(first.y, first.x),
            };
            regions.push(Region {
                code: text_of(code_key)?,
                name: text_of(name_key)?,
                centroid,
                shape,
            });
        }
        let boxes = RTree::bulk_load(
            regions
                .iter()
                .enumerate()
                .map(|(i, r)| GeomWithData::new(envelope(&r.shape), i))
                .collect(),
        );
        let by_code = regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), i))
            .collect();
        Ok(Regions {
            regions,
            boxes,
            by_code,
        })
    }

    /// The region with this code.
    pub fn get(&self, code: &str) -> Option<&Region> {
        self.by_code.get(code).map(|&i| &self.regions[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter()
    }

    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The region containing the point, if any.
    pub fn containing(&self, point: Point) -> Option<&Region> {
        let at = [point.lng, point.lat];
        self.boxes
            .locate_all_at_point(&at)
            .map(|candidate| &self.regions[candidate.data])
            .find(|region| region.contains(point))
    }
}

fn envelope(shape: &MultiPolygon<f64>) -> Rectangle<[f64; 2]> {
    let (mut min, mut max) = ([f64::MAX, f64::MAX], [f64::MIN, f64::MIN]);
    for polygon in &shape.0 {
        for c in &polygon.exterior().0 {
            min = [min[0].min(c.x), min[1].min(c.y)];
            max = [max[0].max(c.x), max[1].max(c.y)];
        }
    }
    Rectangle::from_aabb(AABB::from_corners(min, max))
}

fn shape(geometry: Option<&Value>) -> Result<MultiPolygon<f64>, String> {
    let geometry = geometry.ok_or("no geometry")?;
    let coordinates = geometry.get("coordinates").ok_or("no coordinates")?;
    match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => Ok(MultiPolygon(vec![polygon(coordinates)?])),
        Some("MultiPolygon") => Ok(MultiPolygon(
            coordinates
                .as_array()
                .ok_or("MultiPolygon coordinates are not an array")?
                .iter()
                .map(polygon)
                .collect::<Result<_, _>>()?,
        )),
        other => Err(format!(
            "geometry type {other:?} is not Polygon or MultiPolygon"
        )),
    }
}

fn polygon(rings: &Value) -> Result<Polygon<f64>, String> {
    let mut rings = rings
        .as_array()
        .ok_or("polygon rings are not an array")?
        .iter()
        .map(ring);
    let exterior = rings.next().ok_or("polygon without rings")??;
    let holes = rings.collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, holes))
}

fn ring(points: &Value) -> Result<LineString<f64>, String> {
    points
        .as_array()
        .ok_or("ring is not an array")?
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([x, y, ..]) => Ok(Coord {
                x: x.as_f64().ok_or("coordinate is not a number")?,
                y: y.as_f64().ok_or("coordinate is not a number")?,
            }),
            _ => Err("position is not [lng, lat]".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(LineString)
}

/// Points (sessions) indexed for nearest-neighbour queries in kilometres.
#[derive(Debug)]
pub struct NearestIndex {
    tree: RTree<GeomWithData<[f64; 2], Point>>,
    /// Kilometres per degree of longitude at the area's latitude.
    km_per_lng: f64,
}

/// Kilometres per degree of latitude.
const KM_PER_LAT: f64 = 110.574;

impl NearestIndex {
    /// Indexes points around `latitude` (an equirectangular projection is accurate to well
    /// under 1% over an ICS; distances returned are great-circle).
    pub fn new(points: impl IntoIterator<Item = Point>, latitude: f64) -> NearestIndex {
        let km_per_lng = 111.320 * latitude.to_radians().cos();
        let tree = RTree::bulk_load(
            points
                .into_iter()
                .map(|p| GeomWithData::new([p.lng * km_per_lng, p.lat * KM_PER_LAT], p))
                .collect(),
        );
        NearestIndex { tree, km_per_lng }
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// Great-circle km to the nearest indexed point.
    pub fn nearest_km(&self, from: Point) -> Option<f64> {
        let at = [from.lng * self.km_per_lng, from.lat * KM_PER_LAT];
        self.tree
            .nearest_neighbor(&at)
            .map(|nearest| distance_km(from, nearest.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARES: &str = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"code":"A","name":"West","latitude":0.5,"longitude":0.5},
         "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
        {"type":"Feature","properties":{"code":"B","name":"East"},
         "geometry":{"type":"MultiPolygon","coordinates":[[[[1,0],[2,0],[2,1],[1,1],[1,0]],[[1.4,0.4],[1.6,0.4],[1.6,0.6],[1.4,0.6],[1.4,0.4]]]]}}
    ]}"#;

    #[test]
    fn a_point_is_found_in_its_region_and_holes_are_respected() {
        let regions = Regions::from_geojson("squares", SQUARES, "code", "name").expect("valid");
        let code = |lat, lng| {
            regions
                .containing(Point::new(lat, lng))
                .map(|r| r.code.as_str())
        };
        assert_eq!(code(0.5, 0.25), Some("A"));
        assert_eq!(code(0.2, 1.8), Some("B"));
        assert_eq!(code(0.5, 1.5), None, "inside B's hole");
        assert_eq!(code(5.0, 5.0), None);
        assert_eq!(
            regions.iter().next().map(|r| r.centroid),
            Some(Point::new(0.5, 0.5))
        );
    }

    #[test]
    fn broken_geojson_names_the_feature() {
        let bad = r#"{"features":[{"properties":{"code":"A","name":"x"},"geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
        let error = Regions::from_geojson("bad.geojson", bad, "code", "name").expect_err("point");
        assert_eq!(
            error.to_string(),
            "bad.geojson: feature 0: geometry type Some(\"Point\") is not Polygon or MultiPolygon"
        );
    }

    #[test]
    fn nearest_distances_are_great_circle() {
        let index = NearestIndex::new([Point::new(54.0, -2.7), Point::new(54.1, -2.7)], 54.0);
        let d = index.nearest_km(Point::new(54.09, -2.7)).expect("nearest");
        assert!((d - 1.112).abs() < 0.01, "{d}");
        assert!(
            NearestIndex::new([], 54.0)
                .nearest_km(Point::new(54.0, -2.7))
                .is_none()
        );
    }
}
