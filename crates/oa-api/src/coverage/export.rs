//! Coverage tables in the forms managers open them in: CSV that Excel reads cleanly (UTF-8
//! BOM, CRLF) and GeoJSON geometry for QGIS, with distance bands for maps.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use oa_geo::Region;
use serde_json::{Value, json};

use super::KM_PER_MILE;

/// Distance bands for maps.
pub(super) fn band(km: Option<f64>) -> &'static str {
    match km.map(|k| k / KM_PER_MILE) {
        None => "none within 28 days",
        Some(m) if m <= 1.0 => "up to 1 mile",
        Some(m) if m <= 3.0 => "1 to 3 miles",
        Some(m) if m <= 5.0 => "3 to 5 miles",
        Some(_) => "over 5 miles",
    }
}

pub(super) fn geometry(region: &Region) -> Value {
    let ring =
        |line: &geo::LineString<f64>| line.0.iter().map(|c| json!([c.x, c.y])).collect::<Vec<_>>();
    let polygons: Vec<Value> = region
        .shape
        .0
        .iter()
        .map(|p| {
            let mut rings = vec![json!(ring(p.exterior()))];
            rings.extend(p.interiors().iter().map(|r| json!(ring(r))));
            json!(rings)
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": polygons})
}

/// Quotes a CSV field when it needs it, and defuses a leading `=`, `+`, `-` or `@`, which
/// Excel would otherwise run as a formula (publisher text is untrusted).
pub(super) fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub(super) fn csv_response(body: String, file: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Preston"), "Preston");
        assert_eq!(csv_field("A, B"), "\"A, B\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-5"), "'-5");
    }
}
