//! The `swarmdesk` binary: parses the command line, sets up logging, runs the command.

use clap::Parser;
use swarmdesk::cli::{Cli, Command};
use swarmdesk::logging::{self, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    });
    swarmdesk::cli::run(cli).await
}
