//! Every example in `examples/` runs here against a real in-process server, so none
//! can rot: the README points people at them.

use clap::Parser;
use std::process::ExitCode;

#[allow(dead_code)]
#[path = "../../../examples/swarm_room.rs"]
mod swarm_room;

#[allow(dead_code)]
#[path = "../../../examples/load.rs"]
mod load;

/// `cargo run --example swarm_room`: the room's snapshot, then every change in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_swarm_room_example_sees_every_change_of_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tokens) = swarm_room::start_server(dir.path()).await.unwrap();
    let url = format!("http://{}", server.addr);
    let lines = swarm_room::run(&url, &tokens).await.unwrap();
    let changes: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        changes,
        ["SNAPSHOT", "STARTED", "JOINED", "JOINED", "CHAT", "ENDED"],
        "{lines:#?}"
    );
    assert!(lines[4].contains("The SAP field map"), "{lines:#?}");
    server.stop().await.unwrap();
}

/// `cargo run --example load`, scaled down: its own checks (every mutation
/// acknowledged, every event delivered exactly once, in order) decide its exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_load_example_runs_and_its_checks_pass() {
    let opts = load::Opts::parse_from([
        "load",
        "--clients",
        "4",
        "--seconds",
        "1",
        "--warmup",
        "0",
        "--subscribers",
        "20",
        "--fanout-events",
        "10",
        "--fanout-rate",
        "50",
    ]);
    assert_eq!(load::run(opts).await, ExitCode::SUCCESS);
}

/// `cargo run --example load -- --one-case`, scaled down: every client posts to the
/// same case; the run fails if any write fails or the case's versions do not add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_load_example_on_one_case_acknowledges_every_write() {
    let opts = load::Opts::parse_from([
        "load",
        "--one-case",
        "--clients",
        "16",
        "--seconds",
        "1",
        "--warmup",
        "0",
        "--subscribers",
        "0",
    ]);
    assert_eq!(load::run(opts).await, ExitCode::SUCCESS);
}
