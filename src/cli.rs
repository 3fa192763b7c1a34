//! The command line: `serve` (harvester + API), `serve --demo`, `harvest [--once]`, `migrate`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::MultiProgress;
use oa_geo::{Gazetteer, Point, Postcode};
use oa_harvest::{FetchConfig, Fetcher, Shutdown, ShutdownTrigger};
use oa_normalise::{OpenActiveNormaliser, TagRules};
use oa_store::Store;

use crate::config::{Config, Source};
use crate::harvest::Harvester;
use crate::harvest::refresh::renormalise_all;
use crate::harvest::schedule::{FeedOutcome, Schedule, run_forever, run_once};
use crate::harvest::sources::{SourceOutcome, discover_sources};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "OpenActive aggregator for physical-activity social prescribing"
)]
pub struct Cli {
    /// A TOML file layered over the embedded defaults (then OA__SECTION__KEY variables).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Harvest the configured sources and serve the API until Ctrl-C or SIGTERM.
    Serve {
        /// Serve bundled demo publishers from this process and harvest them instead.
        #[arg(long)]
        demo: bool,
    },
    /// Harvest the configured sources without serving the API.
    Harvest {
        /// Walk every feed to its end once, print a summary and exit (1 if any failed).
        #[arg(long)]
        once: bool,
    },
    /// Create or update the database schema and exit.
    Migrate,
    /// Normalise every stored item again with the current tag rules, postcodes and code
    /// (after editing `normalise.tags_file` or importing postcodes).
    Renormalise,
    /// Print the coverage of an area: sessions per district and providers publishing.
    Coverage {
        /// The area (bundled: lancashire-south-cumbria).
        #[arg(long, default_value = "lancashire-south-cumbria")]
        area: String,
        /// table (default), csv or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Confirm or override matches between known providers and organisers on the feeds.
    Providers {
        #[command(subcommand)]
        what: ProvidersCommand,
    },
    /// Load reference data into the database.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Record that an organiser on the feeds IS this known provider.
    Link {
        #[arg(long)]
        provider: i64,
        #[arg(long)]
        organizer: String,
    },
    /// Record that an organiser on the feeds is NOT this known provider.
    Unlink {
        #[arg(long)]
        provider: i64,
        #[arg(long)]
        organizer: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// The area's register of known activity providers: a CSV with name, postcode, website,
    /// email and type columns (others kept). Re-importing updates, never duplicates.
    Providers {
        /// The CSV file.
        file: PathBuf,
    },
    /// Full postcode centroids: a CSV with postcode,latitude,longitude columns (or the ONS
    /// Postcode Directory's pcds/pcd, lat, long). Sessions without usable geo are located
    /// from them at their next normalisation.
    Postcodes {
        /// The CSV file.
        file: PathBuf,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { demo } => serve(config, demo).await.map(|()| 0),
        Command::Harvest { once: true } => harvest_once(config).await,
        Command::Harvest { once: false } => harvest_forever(config).await.map(|()| 0),
        Command::Import {
            what: ImportCommand::Postcodes { file },
        } => import_postcodes(&config, &file).await,
        Command::Import {
            what: ImportCommand::Providers { file },
        } => import_providers(&config, &file).await,
        Command::Providers { what } => {
            let store = open_store(&config.database.url).await?;
            let (provider, organizer, linked) = match &what {
                ProvidersCommand::Link {
                    provider,
                    organizer,
                } => (*provider, organizer, true),
                ProvidersCommand::Unlink {
                    provider,
                    organizer,
                } => (*provider, organizer, false),
            };
            match store.set_provider_link(provider, organizer, linked).await {
                Ok(()) => {
                    let verb = if linked { "is" } else { "is not" };
                    println!("recorded: {organizer:?} {verb} provider {provider}");
                    Ok(0)
                }
                Err(oa_store::StoreError::NotFound) => {
                    anyhow::bail!("no known provider has id {provider}")
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Renormalise => renormalise(&config).await,
        Command::Coverage { area, format } => coverage(&config, &area, &format).await,
        Command::Migrate => {
            open_store(&config.database.url).await?;
            println!(
                "database {} is up to date",
                oa_store::redact(&config.database.url)
            );
            Ok(0)
        }
    }
}

async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    oa_store::connect(url)
        .await
        .with_context(|| format!("opening the database {}", oa_store::redact(url)))
}

/// The store, fetcher and normaliser (with the area's tag rules) the configuration names.
async fn harvester(config: &Config) -> anyhow::Result<Harvester> {
    let fetch_config = FetchConfig {
        user_agent: config.harvest.user_agent.clone(),
        max_page_bytes: config.harvest.max_page_bytes,
        allow_cross_host_next: config.harvest.allow_cross_host_next,
        ..FetchConfig::default()
    };
    // Building the HTTP client reads and parses the system's CA certificates: 0.5 billion
    // instructions (callgrind), 0.1-0.2 s of a core, done while the store opens.
    let fetcher = tokio::task::spawn_blocking(move || Fetcher::new(fetch_config));
    let store = open_store(&config.database.url).await?;
    let normaliser = normaliser(config, store.as_ref()).await?;
    Ok(Harvester {
        normaliser,
        store_outage: Duration::from_secs(config.harvest.store_outage_secs),
        pages_in_memory: crate::harvest::pages_in_memory_of(config.harvest.pages_in_memory),
        store,
        fetcher: fetcher.await.context("building the HTTP client")??,
    })
}

/// The area's tag rules (`normalise.tags_file`, else the shipped ones), its bounds, and the
/// bundled postcode centroids with any imported full postcodes.
async fn normaliser(config: &Config, store: &dyn Store) -> anyhow::Result<OpenActiveNormaliser> {
    Ok(tag_normaliser(config)?
        .with_places(places(store).await?)
        .with_areas(crate::areas::configured(&config.api.areas_dir)?))
}

/// The normaliser with the area's tag rules and bounds only: what explains a stored
/// session's tags, without a second copy of the imported postcodes.
fn tag_normaliser(config: &Config) -> anyhow::Result<OpenActiveNormaliser> {
    let mut normaliser = OpenActiveNormaliser::default();
    if let Some(path) = config
        .normalise
        .tags_file
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading normalise.tags_file {path}"))?;
        let rules = TagRules::from_toml(&text).with_context(|| format!("in {path}"))?;
        normaliser = normaliser.with_rules(rules);
    }
    if let Some(bounds) = config.normalise.bounds()? {
        normaliser = normaliser.with_bounds(bounds);
    }
    Ok(normaliser)
}

/// The bundled postcode centroids with any imported full postcodes.
async fn places(store: &dyn Store) -> anyhow::Result<Gazetteer> {
    let postcodes = store
        .postcodes()
        .await
        .context("loading imported postcodes")?;
    if postcodes.is_empty() {
        return Ok(Gazetteer::bundled().clone());
    }
    tracing::info!(
        postcodes = postcodes.len(),
        "locating with {} imported postcodes",
        postcodes.len()
    );
    Ok(Gazetteer::with_postcodes(postcodes.into_iter().filter_map(
        |(code, lat, lng)| Some((Postcode::parse(&code)?, Point::new(lat, lng))),
    )))
}

/// The API's state: the store, the same postcode centroids, the area's pathways.
async fn api_state(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<oa_api::AppState> {
    let pathways = match config
        .api
        .pathways_file
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        None => oa_api::pathways::Pathways::shipped(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading api.pathways_file {path}"))?;
            oa_api::pathways::Pathways::from_toml(&text).with_context(|| format!("in {path}"))?
        }
    };
    let areas = crate::areas::configured(&config.api.areas_dir)?;
    Ok(oa_api::AppState {
        index: Arc::new(oa_store::index::SessionIndex::with_document_cache(
            config.api.document_cache_mib << 20,
        )),
        areas: Arc::new(areas),
        places: Arc::new(places(store.as_ref()).await?),
        pathways: Arc::new(pathways),
        normaliser: Arc::new(tag_normaliser(config)?),
        store,
    })
}

async fn renormalise(config: &Config) -> anyhow::Result<i32> {
    let harvester = harvester(config).await?;
    let summary = renormalise_all(&harvester, &shutdown_on_signals())
        .await
        .context("renormalising")?;
    println!(
        "renormalised {} items into {} opportunities ({} unchanged, {} unusable) in {:.1} s{}",
        summary.items,
        summary.opportunities,
        summary.unchanged,
        summary.unusable,
        summary.seconds,
        if summary.stopped {
            "; stopped early, run again to finish"
        } else {
            ""
        }
    );
    Ok(if summary.stopped { 1 } else { 0 })
}

/// The same numbers as `GET /v1/coverage`, asked of the API in-process.
async fn coverage(config: &Config, area: &str, format: &str) -> anyhow::Result<i32> {
    use tower::ServiceExt;
    let wanted = match format {
        "table" | "json" => "json",
        "csv" => "csv",
        other => anyhow::bail!("--format {other:?}: use table, csv or json"),
    };
    let store = open_store(&config.database.url).await?;
    let router = oa_api::router_with(api_state(config, store).await?);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("area", area)
        .append_pair("format", wanted)
        .finish();
    let request = axum::http::Request::get(format!("/v1/coverage?{query}"))
        .body(axum::body::Body::empty())
        .context("building the request")?;
    let response = router
        .oneshot(request)
        .await
        .context("asking for coverage")?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .context("reading coverage")?;
    if !status.is_success() {
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        anyhow::bail!(
            "{}",
            problem["detail"].as_str().unwrap_or("coverage failed")
        );
    }
    match format {
        "table" => print!("{}", coverage_table(&serde_json::from_slice(&body)?)),
        _ => print!("{}", String::from_utf8_lossy(&body)),
    }
    Ok(0)
}

fn coverage_table(coverage: &serde_json::Value) -> String {
    let known = &coverage["known_providers"];
    let mut out = format!(
        "{}\nsessions in the next 7 days: {}, next 28 days: {}\nknown providers: {} of {} publishing\n\n{:<28} {:>7} {:>8} {:>10} {:>16}\n",
        coverage["area"]["name"].as_str().unwrap_or_default(),
        coverage["sessions_next_7_days"],
        coverage["sessions_next_28_days"],
        known["publishing"],
        known["known"],
        "district",
        "7 days",
        "28 days",
        "providers",
        "known (publ.)"
    );
    for d in coverage["districts"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<28} {:>7} {:>8} {:>10} {:>16}\n",
            d["district"].as_str().unwrap_or_default(),
            d["sessions_next_7_days"],
            d["sessions_next_28_days"],
            d["providers_publishing"],
            format!(
                "{} ({})",
                d["known_providers"], d["known_providers_publishing"]
            ),
        ));
    }
    out
}

async fn import_providers(config: &Config, file: &std::path::Path) -> anyhow::Result<i32> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let read = crate::import::read_providers(std::io::BufReader::new(input))
        .with_context(|| format!("in {}", file.display()))?;
    for problem in &read.skipped {
        eprintln!("{}: {problem}", file.display());
    }
    let store = open_store(&config.database.url).await?;
    let new = store.import_providers(&read.providers).await?;
    println!(
        "imported {} providers from {} ({new} new, {} updated, {} rows skipped)",
        read.providers.len(),
        file.display(),
        read.providers.len() as u64 - new,
        read.skipped.len()
    );
    Ok(0)
}

async fn import_postcodes(config: &Config, file: &std::path::Path) -> anyhow::Result<i32> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let read = crate::import::read_postcodes(std::io::BufReader::new(input))
        .with_context(|| format!("in {}", file.display()))?;
    for problem in read.skipped.iter().take(20) {
        eprintln!("{}: {problem}", file.display());
    }
    if read.skipped.len() > 20 {
        eprintln!(
            "{}: … and {} more rows skipped",
            file.display(),
            read.skipped.len() - 20
        );
    }
    let store = open_store(&config.database.url).await?;
    let imported = store.import_postcodes(&read.rows).await?;
    println!(
        "imported {imported} postcodes from {} ({} rows skipped)",
        file.display(),
        read.skipped.len()
    );
    Ok(0)
}

fn schedule(config: &Config) -> Schedule {
    Schedule {
        concurrency: config.harvest.concurrency,
        min_poll_interval: Duration::from_secs(config.harvest.min_poll_interval_secs),
        failure_cooldown: Duration::from_secs(60),
        max_failure_cooldown: Duration::from_secs(3600),
        rediscover_every: Duration::from_secs(6 * 3600),
        refresh_every: Duration::from_secs(24 * 3600),
    }
}

/// Triggers shutdown on Ctrl-C or SIGTERM.
fn shutdown_on_signals() -> Shutdown {
    let (trigger, shutdown) = ShutdownTrigger::new();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing the pages being stored");
        trigger.trigger();
    });
    shutdown
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(mut config: Config, demo: bool) -> anyhow::Result<()> {
    let mut sources = config.sources()?;
    if demo {
        let publishers = crate::demo::start().await?;
        tracing::info!(publishers = %publishers.base_url, "demo publishers serving {} feeds", publishers.sources.len());
        sources = publishers.sources;
        config.database.url = config.demo.database_url.clone();
        remove_sqlite_files(&config.database.url)?;
        let store = open_store(&config.database.url).await?;
        let register = crate::import::read_providers(crate::demo::PROVIDERS_CSV.as_bytes())?;
        store.import_providers(&register.providers).await?;
    }
    let harvester = harvester(&config).await?;
    let store = harvester.store.clone();
    let shutdown = shutdown_on_signals();
    let harvester = tokio::spawn(run_forever(
        harvester,
        sources,
        schedule(&config),
        shutdown.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    tracing::info!(listen = %config.server.listen, "API on http://{}/v1/sessions", config.server.listen);
    let state = api_state(&config, store).await?;
    state
        .index
        .refresh(state.store.as_ref())
        .await
        .context("loading the search index")?;
    tokio::spawn(keep_index_fresh(state.clone(), shutdown.clone()));
    tokio::spawn(crate::memory::trim_periodically(shutdown.clone()));
    let api_shutdown = shutdown.clone();
    axum::serve(listener, oa_api::router_with(state))
        .with_graceful_shutdown(async move { api_shutdown.requested().await })
        .await
        .context("serving the API")?;
    harvester.await.context("the harvester task")?;
    Ok(())
}

/// Applies the store's changes to the search index in the background, so a request seldom
/// has to wait for them.
async fn keep_index_fresh(state: oa_api::AppState, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.requested() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if let Err(e) = state.index.refresh(state.store.as_ref()).await {
            tracing::warn!(error = %e, "could not refresh the search index: {e}");
        }
    }
}

/// Empties the demo database, so dates from an earlier run never linger.
fn remove_sqlite_files(url: &str) -> anyhow::Result<()> {
    let path = url
        .strip_prefix("sqlite://")
        .with_context(|| format!("demo.database_url {url:?} must be a sqlite:// URL"))?;
    let path = path.split('?').next().unwrap_or(path);
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing the old demo database {file}"));
            }
        }
    }
    Ok(())
}

async fn harvest_forever(config: Config) -> anyhow::Result<()> {
    run_forever(
        harvester(&config).await?,
        config.sources()?,
        schedule(&config),
        shutdown_on_signals(),
    )
    .await;
    Ok(())
}

async fn harvest_once(config: Config) -> anyhow::Result<i32> {
    let harvester = harvester(&config).await?;
    let sources: Vec<Source> = config.sources()?;
    let discovered = discover_sources(&harvester.store, &harvester.fetcher, &sources).await?;
    let bars = std::io::stderr().is_terminal().then(MultiProgress::new);
    let outcomes = run_once(
        &harvester,
        config.harvest.concurrency,
        bars.as_ref(),
        &shutdown_on_signals(),
    )
    .await?;
    let failed = print_summary(&discovered, &outcomes);
    Ok(if failed { 1 } else { 0 })
}

/// Prints what happened per source and per feed; true if anything failed.
fn print_summary(sources: &[SourceOutcome], feeds: &[FeedOutcome]) -> bool {
    let mut failed = false;
    for source in sources {
        for error in &source.errors {
            failed = true;
            println!("source {}: {error}", source.source);
        }
    }
    let (mut pages, mut items) = (0, 0);
    for outcome in feeds {
        match &outcome.result {
            Ok(summary) => {
                pages += summary.pages;
                items += summary.items;
                let note = if summary.stopped { " (stopped)" } else { "" };
                println!(
                    "ok      {}  {} pages, {} items{note}",
                    outcome.feed.url, summary.pages, summary.items
                );
            }
            Err(e) => {
                failed = true;
                println!("FAILED  {}  {e}", outcome.feed.url);
            }
        }
    }
    let bad = feeds.iter().filter(|f| f.result.is_err()).count();
    println!(
        "{} feeds from {} sources: {} caught up, {bad} failed; {pages} pages, {items} items",
        feeds.len(),
        sources.len(),
        feeds.len() - bad,
    );
    failed
}
