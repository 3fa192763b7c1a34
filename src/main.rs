//! `oa-aggregator`: the command line. Today it only prepares a database; harvesting,
//! serving and the demo land with the rest of issue 2 (see README, "Status").

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("migrate"), Some(url)) => {
            oa_store::connect(&url)
                .await
                .with_context(|| format!("while preparing {}", oa_store::redact(&url)))?;
            println!("database {} is up to date", oa_store::redact(&url));
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: oa-aggregator migrate DATABASE_URL\n\
                 (`serve`, `serve --demo` and `harvest --once` are not built yet: see README, \"Status\")"
            );
            std::process::exit(2);
        }
    }
}
