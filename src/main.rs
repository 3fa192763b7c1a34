//! `oa-aggregator`: parses the command line, sets up logging, runs the command.

use std::io::IsTerminal;

use clap::Parser;
use oa_aggregator::allocator::{self, Allocator};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: Allocator = Allocator;

/// Sets the allocator's options before anything allocates: the Rust runtime allocates
/// before `main`, and the first allocation fixes how mimalloc commits its arena. Functions
/// in `.init_array` run when the program is loaded, before the runtime starts (Linux).
#[cfg(target_os = "linux")]
#[used]
#[expect(
    unsafe_code,
    reason = "a load-time constructor is a link section; the function it names only sets numbers"
)]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR_AT_LOAD: extern "C" fn() = configure_allocator;

#[cfg(target_os = "linux")]
extern "C" fn configure_allocator() {
    allocator::configure();
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let cli = oa_aggregator::cli::Cli::parse();
    match oa_aggregator::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}
