//! `import providers FILE.csv`: the area's register of known providers (`name`, `postcode`,
//! `website`, `email`, `type`; other columns kept).
//!
//! `import postcodes FILE.csv`: full postcode centroids into the postcode table, from a
//! simple `postcode,latitude,longitude` CSV or the ONS Postcode Directory (`pcds`/`pcd`,
//! `lat`, `long`). Bad rows are reported by line and skipped; good rows are all imported.

use std::collections::HashMap;
use std::io::Read;

use oa_geo::Postcode;

const POSTCODE_COLUMNS: [&str; 3] = ["postcode", "pcds", "pcd"];
const LATITUDE_COLUMNS: [&str; 2] = ["latitude", "lat"];
const LONGITUDE_COLUMNS: [&str; 3] = ["longitude", "long", "lng"];

/// What a postcode file held.
#[derive(Debug, Default)]
pub struct PostcodeFile {
    /// (normalised postcode, lat, lng), one per postcode (the last row wins).
    pub rows: Vec<(String, f64, f64)>,
    /// "line N: why", for each row skipped.
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the header has no {wanted} column (looked for {names}); it has: {found}")]
    MissingColumn {
        wanted: &'static str,
        names: String,
        found: String,
    },
    #[error("reading the CSV: {0}")]
    Csv(#[from] csv::Error),
}

pub fn read_postcodes(input: impl Read) -> Result<PostcodeFile, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = reader.headers()?.clone();
    let column = |wanted: &'static str, names: &[&str]| {
        names
            .iter()
            .find_map(|name| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| ImportError::MissingColumn {
                wanted,
                names: names.join(", "),
                found: header.iter().collect::<Vec<_>>().join(", "),
            })
    };
    let (pc, lat, lng) = (
        column("postcode", &POSTCODE_COLUMNS)?,
        column("latitude", &LATITUDE_COLUMNS)?,
        column("longitude", &LONGITUDE_COLUMNS)?,
    );
    let mut file = PostcodeFile::default();
    let mut by_postcode: HashMap<String, usize> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                file.skipped.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |i: usize| record.get(i).unwrap_or_default().trim();
        let Some(postcode) = Postcode::parse(field(pc)) else {
            file.skipped
                .push(format!("line {line}: {:?} is not a UK postcode", field(pc)));
            continue;
        };
        let (Ok(latitude), Ok(longitude)) = (field(lat).parse::<f64>(), field(lng).parse::<f64>())
        else {
            file.skipped.push(format!(
                "line {line}: {}: latitude/longitude are not numbers",
                postcode.as_str()
            ));
            continue;
        };
        // The ONS Postcode Directory marks postcodes without a grid reference 99.999999.
        if !(49.0..=61.0).contains(&latitude) || !(-9.0..=2.0).contains(&longitude) {
            file.skipped.push(format!(
                "line {line}: {}: {latitude}, {longitude} is not in the UK",
                postcode.as_str()
            ));
            continue;
        }
        let row = (postcode.as_str().to_owned(), latitude, longitude);
        match by_postcode.get(&row.0) {
            Some(&at) => file.rows[at] = row,
            None => {
                by_postcode.insert(row.0.clone(), file.rows.len());
                file.rows.push(row);
            }
        }
    }
    Ok(file)
}

/// What a providers file held.
#[derive(Debug, Default)]
pub struct ProviderFile {
    pub providers: Vec<oa_store::NewProvider>,
    pub skipped: Vec<String>,
}

pub fn read_providers(input: impl Read) -> Result<ProviderFile, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let Some(name_at) = header.iter().position(|h| h == "name") else {
        return Err(ImportError::MissingColumn {
            wanted: "name",
            names: "name".into(),
            found: header.join(", "),
        });
    };
    let column = |wanted: &str| header.iter().position(|h| h == wanted);
    let (postcode_at, website_at, email_at, type_at) = (
        column("postcode"),
        column("website"),
        column("email"),
        column("type"),
    );
    let mut file = ProviderFile::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                file.skipped.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let Some(name) = field(Some(name_at)) else {
            file.skipped.push(format!("line {line}: no name"));
            continue;
        };
        let postcode =
            field(postcode_at).map(|p| Postcode::parse(&p).map_or(p, |p| p.as_str().to_owned()));
        let known: [Option<usize>; 5] = [Some(name_at), postcode_at, website_at, email_at, type_at];
        let extra: serde_json::Map<String, serde_json::Value> = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !known.contains(&Some(*i)))
            .filter_map(|(i, h)| {
                Some((
                    h.clone(),
                    serde_json::Value::String(record.get(i)?.to_owned()),
                ))
            })
            .collect();
        let provider = oa_store::NewProvider {
            key: oa_normalise::providers::provider_key(&name, postcode.as_deref()),
            name,
            postcode,
            website: field(website_at),
            email: field(email_at),
            kind: field(type_at),
            extra: serde_json::Value::Object(extra).to_string(),
        };
        match seen.get(&provider.key) {
            Some(&at) => file.providers[at] = provider,
            None => {
                seen.insert(provider.key.clone(), file.providers.len());
                file.providers.push(provider);
            }
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_register_keeps_extra_columns_and_one_row_per_provider() {
        let text = "Name,Postcode,Website,Email,Type,Phone\nPreston Walking Football Club,pr1 2xx,https://pwfc.example,,club,01772 000000\n,PR1 1AA,,,,\nPreston Walking Football Club Ltd,PR1 2XX,https://pwfc.example/new,,club,\n";
        let file = read_providers(text.as_bytes()).expect("file");
        assert_eq!(
            file.providers.len(),
            1,
            "the same club twice is one provider (the later row)"
        );
        let club = &file.providers[0];
        assert_eq!(club.postcode.as_deref(), Some("PR1 2XX"));
        assert_eq!(club.website.as_deref(), Some("https://pwfc.example/new"));
        assert_eq!(club.extra, r#"{"phone":""}"#);
        assert_eq!(file.skipped, ["line 3: no name"]);
    }

    #[test]
    fn simple_files_and_ons_postcode_directory_columns_both_load() {
        let simple = "postcode,latitude,longitude,lad_code\npr1 2xx,53.76,-2.70,E07000123\n";
        let file = read_postcodes(simple.as_bytes()).expect("simple");
        assert_eq!(file.rows, [("PR1 2XX".to_owned(), 53.76, -2.70)]);

        let onspd = "pcd,pcds,lat,long\n\"PR1 2XX\",\"PR1 2XX\",53.7,-2.7\nPR12XY,PR1 2XY,99.999999,0.000000\n";
        let file = read_postcodes(onspd.as_bytes()).expect("onspd");
        assert_eq!(file.rows.len(), 1);
        assert_eq!(
            file.skipped,
            ["line 3: PR1 2XY: 99.999999, 0 is not in the UK"]
        );
    }

    #[test]
    fn bad_rows_are_named_by_line_and_the_rest_loads() {
        let text = "postcode,latitude,longitude\nPR1 2XX,53.7,-2.7\nnonsense,53.7,-2.7\nPR1 3AB,north,-2.7\nPR1 2XX,53.8,-2.8\n";
        let file = read_postcodes(text.as_bytes()).expect("file");
        assert_eq!(
            file.rows,
            [("PR1 2XX".to_owned(), 53.8, -2.8)],
            "the last row for a postcode wins"
        );
        assert_eq!(
            file.skipped,
            [
                "line 3: \"nonsense\" is not a UK postcode",
                "line 4: PR1 3AB: latitude/longitude are not numbers",
            ]
        );
        let missing = read_postcodes("code,lat,long\n".as_bytes()).expect_err("no postcode column");
        assert_eq!(
            missing.to_string(),
            "the header has no postcode column (looked for postcode, pcds, pcd); it has: code, lat, long"
        );
    }
}
