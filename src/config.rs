//! Configuration: the embedded `config/default.toml`, then a `--config` file, then
//! `OA__SECTION__KEY` environment variables, the last winning.

use std::collections::BTreeMap;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub harvest: HarvestConfig,
    pub demo: DemoConfig,
    #[serde(default)]
    pub normalise: NormaliseConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiConfig {
    /// An area's own pathways (a copy of `config/pathways.toml`); the shipped ones when absent.
    pub pathways_file: Option<String>,
    /// Where the area files are (`config/areas/*.toml`); the bundled Lancashire and South
    /// Cumbria when the folder is missing or empty.
    #[serde(default = "default_areas_dir")]
    pub areas_dir: String,
    /// MiB of recent search results' documents kept in memory; 0 keeps none.
    #[serde(default = "default_document_cache_mib")]
    pub document_cache_mib: usize,
}

fn default_areas_dir() -> String {
    "config/areas".into()
}

fn default_document_cache_mib() -> usize {
    4
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            pathways_file: None,
            areas_dir: default_areas_dir(),
            document_cache_mib: default_document_cache_mib(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NormaliseConfig {
    /// An area's own tag rules (a copy of `config/tags.toml`); the shipped ones when absent.
    pub tags_file: Option<String>,
    /// `[min_lat, min_lng, max_lat, max_lng]`: item coordinates outside are not believed.
    pub geo_bounds: Option<Vec<f64>>,
}

impl NormaliseConfig {
    pub fn bounds(&self) -> Result<Option<oa_geo::BoundingBox>, ConfigError> {
        let Some(values) = &self.geo_bounds else {
            return Ok(None);
        };
        match values.as_slice() {
            [min_lat, min_lng, max_lat, max_lng]
                if min_lat < max_lat
                    && min_lng < max_lng
                    && (-90.0..=90.0).contains(min_lat)
                    && (-90.0..=90.0).contains(max_lat) =>
            {
                Ok(Some(oa_geo::BoundingBox {
                    min_lat: *min_lat,
                    max_lat: *max_lat,
                    min_lng: *min_lng,
                    max_lng: *max_lng,
                }))
            }
            _ => Err(ConfigError::Invalid {
                key: "normalise.geo_bounds",
                problem: format!("{values:?} is not [min_lat, min_lng, max_lat, max_lng]"),
            }),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoConfig {
    /// `serve --demo` harvests into this database, emptied first, never into `database.url`.
    pub database_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HarvestConfig {
    pub user_agent: String,
    pub min_poll_interval_secs: u64,
    pub concurrency: usize,
    pub max_page_bytes: u64,
    /// How long a page waits, retrying, for an unavailable database before its feed is
    /// marked failing.
    #[serde(default = "default_store_outage_secs")]
    pub store_outage_secs: u64,
    /// Whether a page's `next` may name another host (followed and logged when it may).
    #[serde(default = "default_true")]
    pub allow_cross_host_next: bool,
    /// Pages held parsed at once across all feeds (`crate::harvest::PAGES_IN_MEMORY`).
    #[serde(default = "default_pages_in_memory")]
    pub pages_in_memory: usize,
}

fn default_true() -> bool {
    true
}

fn default_pages_in_memory() -> usize {
    crate::harvest::PAGES_IN_MEMORY
}

fn default_store_outage_secs() -> u64 {
    crate::harvest::STORE_OUTAGE.as_secs()
}

/// Where feeds come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Feed(String),
    DatasetSite(String),
    DataCatalog(String),
}

impl Source {
    /// The key under which the store groups the feeds this source found.
    pub fn key(&self) -> String {
        match self {
            Source::Feed(url) => format!("feed:{url}"),
            Source::DatasetSite(url) => format!("dataset_site:{url}"),
            Source::DataCatalog(url) => format!("data_catalog:{url}"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RawSource {
    #[serde(flatten)]
    keys: BTreeMap<String, figment::value::Value>,
}

/// A configuration that cannot be used, saying where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {key}: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("configuration: {place}sources[{index}]: {problem}")]
    Source {
        /// Empty for the main configuration; `area file PATH: ` for an area's own sources.
        place: String,
        index: usize,
        problem: String,
    },
    #[error("configuration: area file {path}: {problem}")]
    AreaFile { path: String, problem: String },
}

const SOURCE_KEYS: [&str; 3] = ["feed", "dataset_site", "data_catalog"];

impl Config {
    /// Loads the layers; `file` is the `--config` argument.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("OA__").split("__"));
        let config: Config = figment.extract().map_err(Box::new)?;
        config.sources()?;
        config.normalise.bounds()?;
        Ok(config)
    }

    /// The sources, each checked: exactly one of `feed`, `dataset_site`, `data_catalog`,
    /// holding an http(s) URL. The main configuration's come first, then each area file's
    /// own (`[[sources]]` in `config/areas/<key>.toml`, in file-name order); a source named
    /// twice is harvested once.
    pub fn sources(&self) -> Result<Vec<Source>, ConfigError> {
        let mut sources = check_sources(&self.sources, "")?;
        let dir = std::path::Path::new(&self.api.areas_dir);
        let files = crate::areas::area_files(dir).map_err(|e| ConfigError::AreaFile {
            path: dir.display().to_string(),
            problem: e.to_string(),
        })?;
        for path in files {
            let file: AreaSources =
                Figment::from(Toml::file_exact(&path))
                    .extract()
                    .map_err(|e| ConfigError::AreaFile {
                        path: path.display().to_string(),
                        problem: e.to_string(),
                    })?;
            let place = format!("area file {}: ", path.display());
            sources.extend(check_sources(&file.sources, &place)?);
        }
        let mut seen = std::collections::HashSet::new();
        sources.retain(|source| seen.insert(source.key()));
        Ok(sources)
    }
}

/// The part of an area file the harvester reads (the rest is the area's geography).
#[derive(Debug, Deserialize)]
struct AreaSources {
    #[serde(default)]
    sources: Vec<RawSource>,
}

fn check_sources(raw: &[RawSource], place: &str) -> Result<Vec<Source>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(index, raw)| {
            let fail = |problem: String| ConfigError::Source {
                place: place.to_owned(),
                index,
                problem,
            };
            if let Some(unknown) = raw.keys.keys().find(|k| !SOURCE_KEYS.contains(&k.as_str())) {
                return Err(fail(format!(
                    "unknown key `{unknown}`; a source has exactly one of feed, dataset_site, data_catalog"
                )));
            }
            let (key, value) = match raw.keys.iter().collect::<Vec<_>>().as_slice() {
                [(key, value)] => (key.as_str(), *value),
                [] => {
                    return Err(fail(
                        "empty; give one of feed, dataset_site, data_catalog".into(),
                    ));
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|(k, _)| k.as_str()).collect();
                    return Err(fail(format!("has {}; give exactly one", names.join(" and "))));
                }
            };
            let url = value
                .as_str()
                .ok_or_else(|| fail(format!("`{key}` must be a URL string")))?;
            match url::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                _ => return Err(fail(format!("`{key}` = {url:?} is not an http(s) URL"))),
            }
            Ok(match key {
                "feed" => Source::Feed(url.to_owned()),
                "dataset_site" => Source::DatasetSite(url.to_owned()),
                _ => Source::DataCatalog(url.to_owned()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_file(toml: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("area.toml");
        std::fs::write(&path, toml).expect("write");
        Config::load(Some(&path))
    }

    #[test]
    fn defaults_load_and_a_file_overrides_them() {
        let config = with_file("[harvest]\nconcurrency = 4\npages_in_memory = 6\n[[sources]]\nfeed = \"https://p.example/feeds/sessions\"\n[[sources]]\ndataset_site = \"https://p.example/openactive/\"\n")
            .expect("valid");
        assert_eq!(config.harvest.concurrency, 4);
        assert_eq!(config.harvest.pages_in_memory, 6);
        let defaults = with_file("").expect("valid");
        assert_eq!(defaults.harvest.pages_in_memory, 3, "from the defaults");
        assert_eq!(
            config.harvest.min_poll_interval_secs, 8,
            "from the defaults"
        );
        assert_eq!(config.database.url, "sqlite://data/aggregator.db");
        assert_eq!(config.api.document_cache_mib, 4, "from the defaults");
        let none = with_file("[api]\ndocument_cache_mib = 0\n").expect("valid");
        assert_eq!(none.api.document_cache_mib, 0);
        assert_eq!(
            config.sources().expect("sources"),
            vec![
                Source::Feed("https://p.example/feeds/sessions".into()),
                Source::DatasetSite("https://p.example/openactive/".into()),
            ]
        );
    }

    #[test]
    fn the_example_area_config_loads() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example-area.toml");
        let config = Config::load(Some(&path)).expect("example loads");
        let sources = config.sources().expect("sources");
        assert_eq!(sources.len(), 3);
        assert!(matches!(sources[2], Source::DataCatalog(_)));
    }

    #[test]
    fn area_files_add_their_own_sources_and_a_source_named_twice_is_harvested_once() {
        let areas = tempfile::tempdir().expect("dir");
        std::fs::write(
            areas.path().join("b-south.toml"),
            "boundary = \"b.geojson\"\nsmall_areas = \"s.geojson\"\n[[sources]]\ndata_catalog = \"https://national.example/catalog\"\n[[sources]]\nfeed = \"https://main.example/feed\"\n",
        )
        .expect("write");
        std::fs::write(
            areas.path().join("a-north.toml"),
            "boundary = \"b.geojson\"\nsmall_areas = \"s.geojson\"\n[[sources]]\ndataset_site = \"https://north.example/openactive/\"\n",
        )
        .expect("write");
        let config = with_file(&format!(
            "[api]\nareas_dir = {:?}\n[[sources]]\nfeed = \"https://main.example/feed\"\n",
            areas.path()
        ))
        .expect("valid");
        assert_eq!(
            config.sources().expect("sources"),
            vec![
                Source::Feed("https://main.example/feed".into()),
                Source::DatasetSite("https://north.example/openactive/".into()),
                Source::DataCatalog("https://national.example/catalog".into()),
            ]
        );
    }

    #[test]
    fn a_bad_source_names_the_entry_and_the_key() {
        let two = with_file("[[sources]]\nfeed = \"https://a/\"\n[[sources]]\nfeed = \"https://b/\"\ndata_catalog = \"https://c/\"\n")
            .expect_err("two keys");
        assert_eq!(
            two.to_string(),
            "configuration: sources[1]: has data_catalog and feed; give exactly one"
        );
        let unknown = with_file("[[sources]]\nfeeds = \"https://a/\"\n").expect_err("unknown");
        assert!(
            unknown
                .to_string()
                .starts_with("configuration: sources[0]: unknown key `feeds`")
        );
        let not_url = with_file("[[sources]]\ndataset_site = \"ftp://a/\"\n").expect_err("scheme");
        assert!(
            not_url
                .to_string()
                .contains("sources[0]: `dataset_site` = \"ftp://a/\" is not an http(s) URL")
        );
        let areas = tempfile::tempdir().expect("dir");
        std::fs::write(
            areas.path().join("north.toml"),
            "boundary = \"b.geojson\"\nsmall_areas = \"s.geojson\"\n[[sources]]\nfeed = \"https://a/\"\n[[sources]]\nfeed = \"mailto:x\"\n",
        )
        .expect("write");
        let in_area = with_file(&format!("[api]\nareas_dir = {:?}\n", areas.path()))
            .expect_err("bad area source");
        assert_eq!(
            in_area.to_string(),
            format!(
                "configuration: area file {}: sources[1]: `feed` = \"mailto:x\" is not an http(s) URL",
                areas.path().join("north.toml").display()
            )
        );
        let missing = Config::load(Some(std::path::Path::new("/nonexistent/oa.toml")))
            .expect_err("missing file");
        assert!(missing.to_string().contains("oa.toml"));
    }
}
