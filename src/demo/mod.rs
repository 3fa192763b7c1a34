//! `serve --demo`: bundled fictional publishers served from this process on loopback, as
//! real RPDE feeds (both orderings) and dataset sites, so a newcomer sees results offline.

mod generate;
mod seed;
mod server;

use anyhow::Context;

pub use generate::{DemoFeed, DemoPublisher, OwnedItem, SeedError, generate};
pub use seed::Seed;

use crate::config::Source;

/// The demo area's register of known providers: the demo publishers and some who do not
/// publish, so `/coverage` shows a real picture.
pub const PROVIDERS_CSV: &str = include_str!("../../fixtures/demo/providers.csv");

/// The running demo publishers and the sources that point at them.
#[derive(Debug)]
pub struct DemoPublishers {
    pub base_url: String,
    pub sources: Vec<Source>,
    pub publishers: Vec<DemoPublisher>,
}

/// Generates the bundled seed's feeds dated from now and serves them on an ephemeral port.
pub async fn start() -> anyhow::Result<DemoPublishers> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo publishers' port")?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let seed = Seed::bundled().context("reading the bundled demo seed")?;
    let publishers = generate(&seed, &base_url, chrono::Utc::now())?;
    let sources = publishers
        .iter()
        .flat_map(|p| {
            if p.via_dataset_site {
                vec![Source::DatasetSite(format!(
                    "{base_url}/{}/openactive/",
                    p.key
                ))]
            } else {
                p.feeds
                    .iter()
                    .map(|f| Source::Feed(format!("{base_url}{}", f.path)))
                    .collect()
            }
        })
        .collect();
    let app = server::router(&publishers, &base_url);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the demo publishers stopped: {e}");
        }
    });
    Ok(DemoPublishers {
        base_url,
        sources,
        publishers,
    })
}
