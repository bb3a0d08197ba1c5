//! The `swarmdesk` binary: parses the command line, sets up logging, runs the command.

use clap::Parser;
use swarmdesk::cli::{Cli, Command};
use swarmdesk::logging::{self, LogFormat};

#[global_allocator]
static ALLOCATOR: swarmdesk::allocator::Allocator = swarmdesk::allocator::Allocator;

fn main() -> anyhow::Result<()> {
    swarmdesk::allocator::configure();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    });
    swarmdesk::cli::run(cli).await
}
