//! Areas from `config/areas/*.toml`: an ICS's boundary, its small areas and, optionally,
//! their residents, read once at start. The file's name is the area's key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::Context;
use oa_geo::Ics;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaFile {
    boundary: String,
    small_areas: String,
    #[serde(default)]
    populations: Option<String>,
    /// The area's own feeds; read by the configuration (`Config::sources`), not here.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the harvester reads sources through the configuration"
    )]
    sources: Vec<toml::Table>,
}

/// Every `*.toml` in `dir`, in name order; none when the folder does not exist. The areas
/// live as long as the process (they are read once), so they are leaked to `'static`.
pub fn load_areas(dir: &Path) -> anyhow::Result<Vec<&'static Ics>> {
    area_files(dir)
        .with_context(|| format!("reading the areas folder {}", dir.display()))?
        .iter()
        .map(|path| {
            load_area(path)
                .with_context(|| format!("in area file {}", path.display()))
                .map(|ics| &*Box::leak(Box::new(ics)))
        })
        .collect()
}

/// The area files of `dir` (`*.toml`), in name order; none when the folder does not exist.
pub fn area_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The areas of `dir`, or the bundled Lancashire and South Cumbria when it has none. Each
/// folder is read once per process, so the harvester's normaliser and the API share the
/// same (leaked) areas rather than loading the polygons twice.
pub fn configured(dir: &str) -> anyhow::Result<Vec<&'static Ics>> {
    static LOADED: OnceLock<Mutex<HashMap<String, Vec<&'static Ics>>>> = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(areas) = loaded.get(dir) {
        return Ok(areas.clone());
    }
    let mut areas = load_areas(Path::new(dir))?;
    if areas.is_empty() {
        areas.push(Ics::lancashire_south_cumbria().map_err(anyhow::Error::msg)?);
    }
    loaded.insert(dir.to_owned(), areas.clone());
    Ok(areas)
}

fn load_area(path: &Path) -> anyhow::Result<Ics> {
    let key = path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the file name is not UTF-8")?;
    let text = std::fs::read_to_string(path).context("reading it")?;
    let file: AreaFile = toml::from_str(&text)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let read = |relative: &str| {
        let full = folder.join(relative);
        std::fs::read_to_string(&full)
            .with_context(|| format!("reading {}", full.display()))
            .map(|text| (full.display().to_string(), text))
    };
    let boundary = read(&file.boundary)?;
    let small_areas = read(&file.small_areas)?;
    let mut ics = Ics::from_geojson(
        key,
        (&boundary.0, &boundary.1),
        (&small_areas.0, &small_areas.1),
    )?;
    if let Some(populations) = &file.populations {
        let (name, text) = read(populations)?;
        let unknown = ics.read_populations(&name, &text)?;
        if unknown > 0 {
            tracing::warn!(area = key, file = %name, rows = unknown, "{unknown} population rows name no small area of {key}");
        }
    }
    Ok(ics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_area_loads_like_the_bundled_one() {
        let areas = load_areas(Path::new("config/areas")).expect("loads");
        assert_eq!(areas.len(), 1);
        let bundled = Ics::lancashire_south_cumbria().expect("bundled");
        assert_eq!(areas[0].key, bundled.key);
        assert_eq!(areas[0].code, bundled.code);
        assert_eq!(areas[0].small_areas.len(), bundled.small_areas.len());
        assert!(areas[0].populations.is_empty());
        assert!(
            load_areas(Path::new("no/such/folder"))
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn populations_are_read_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let geo = std::env::current_dir().expect("cwd").join("fixtures/geo");
        let area = |extra: &str| {
            format!(
                "boundary = {:?}\nsmall_areas = {:?}\n{extra}",
                geo.join("icb-lancashire-south-cumbria.geojson")
                    .display()
                    .to_string(),
                geo.join("lsoa-lancashire-south-cumbria.geojson")
                    .display()
                    .to_string(),
            )
        };
        std::fs::write(
            dir.path().join("pop.csv"),
            "code,population\nE01012571,1500\n",
        )
        .expect("csv");
        std::fs::write(
            dir.path().join("north.toml"),
            area("populations = \"pop.csv\""),
        )
        .expect("toml");
        let areas = load_areas(dir.path()).expect("loads");
        assert_eq!(areas[0].key, "north");
        assert_eq!(areas[0].residents(["E01012571"]), Some(1500));

        std::fs::write(
            dir.path().join("south.toml"),
            area("populaton = \"pop.csv\""),
        )
        .expect("toml");
        let error = format!("{:#}", load_areas(dir.path()).expect_err("a typo"));
        assert!(
            error.contains("south.toml") && error.contains("populaton"),
            "{error}"
        );
    }
}
