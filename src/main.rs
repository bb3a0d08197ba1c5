//! The `swarmdesk` binary: parses the command line, sets up logging, runs the command.

use clap::Parser;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files or journals.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    swarmdesk::cli::run(swarmdesk::cli::Cli::parse()).await
}
