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

#[allow(dead_code)]
#[path = "../../../examples/report_bench.rs"]
mod report_bench;

/// `cargo run --example report_bench`, scaled down: the report over the whole span
/// agrees with the projections rebuilt from the same log (two independent folds).
#[test]
fn the_report_benchmark_builds_its_log_and_the_report_agrees_with_the_projections() {
    let opts = report_bench::Opts::parse_from(["report_bench", "--events", "6000", "--runs", "1"]);
    let out = report_bench::run(&opts);
    assert_eq!(out.events, 6000);
    assert!(out.cases > 300, "{} cases", out.cases);
    assert_eq!(out.report.volume.opened, out.cases);
    // Every case resolved now was resolved in the span at least once (reopened ones
    // may have been resolved twice).
    let resolutions: u64 = out.report.tier_shares.iter().map(|s| s.resolved).sum();
    let resolved_now: u64 = out.resolved_by_tier.values().sum();
    assert!(
        resolutions >= resolved_now && resolved_now > 0,
        "{resolutions} resolutions, {resolved_now} cases resolved"
    );
    let l1 = out
        .report
        .tier_shares
        .iter()
        .find(|s| s.tier == "L1")
        .unwrap();
    assert!(
        l1.share > 0.6 && l1.share < 0.95,
        "about 80% at L1: {}",
        l1.share
    );
}

// The queries example builds its log with the travel example's: one copy of it.
use queries::travel;

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

/// `cargo run --example travel`, scaled down: a fold at three moments of the log and
/// `caseAt(at)`, each checked by the example itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_travel_example_times_correct_answers() {
    let args = travel::Args::parse_from(["travel", "--events", "3000", "--runs", "1"]);
    let (head, measures) = travel::run(args).await.unwrap();
    assert!(head >= 3000, "{head}");
    let positions: Vec<u64> = measures.iter().map(|m| m.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(positions.last(), Some(&head));
    assert!(measures[1].l2_queue > 0, "cases wait in L2 mid-way");
}

// It includes the examples' allocator declaration too, as load does.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../../examples/snapshot_phases.rs"]
mod snapshot_phases;

/// `cargo run --example snapshot_phases DIR`, on the report benchmark's log (kept, with
/// the snapshot its last start wrote at its stop): every mode times its phases and
/// ends at the log's head.
#[test]
fn the_snapshot_phases_example_times_a_start_from_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().to_str().unwrap();
    let opts = report_bench::Opts::parse_from([
        "report_bench",
        "--events",
        "3000",
        "--runs",
        "1",
        "--keep",
        keep,
    ]);
    let out = report_bench::run(&opts);
    for (parts, copied, deferred) in [
        (false, false, false),
        (false, true, true),
        (true, false, false),
    ] {
        let mode = snapshot_phases::Mode {
            parts,
            copied,
            deferred,
        };
        let phases = snapshot_phases::run(dir.path(), mode);
        assert_eq!(phases.position, out.events, "{mode:?}");
        let listed = phases.lines.iter().any(|l| l.contains("listing"));
        assert!(phases.lines.len() >= 6 && listed, "{:?}", phases.lines);
    }
}

// It includes the examples' counting allocator too, as report_bench does.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../../examples/queries.rs"]
mod queries;

/// `cargo run --example queries`, scaled down: every query answers through the API,
/// and each `cases` page equals the scan's (checked by the example itself, which also
/// fails when the first text search builds no text index).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queries_example_times_answers_equal_to_the_scan() {
    let args = queries::Args::parse_from([
        "queries", "--events", "3000", "--calls", "2", "--rounds", "1",
    ]);
    let rows = queries::run(args).await.unwrap();
    let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
    assert_eq!(row("cases(first: 50)").items, 50);
    assert!(row("cases as customer cust-7").items > 0);
    assert_eq!(row("cases as agent of L3 (sees none)").items, 0);
    assert_eq!(row("cases, tier L3 (no case)").items, 0);
    assert_eq!(row("cases, text \"invoice\" (every case)").items, 50);
    assert!(row("cases, text \"42\" (no trigram: walks the listing)").items > 0);
    assert!(row("tierQueue(L2, first: 50)").items > 0);
    let page = row("swarmRooms (first page: 50)").items;
    assert!(page > 0 && page <= 50);
    assert!(row("swarmRooms(first: 500): every room").items >= page);
    assert!(rows.iter().all(|r| r.p50 > std::time::Duration::ZERO));
}

/// `serve --config examples/swarmdesk.toml`: the seed's calendars and SLA policies
/// are in force, and a case's payloads read in the API's spellings.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_seed_configures_a_server_whose_payloads_use_the_api_spellings() {
    use serde_json::json;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/swarmdesk.toml");
    let seed = swarmdesk::config::file::parse(
        &std::fs::read_to_string(&path).unwrap(),
        &swarmdesk::domain::TierLadder::standard(),
        None,
        None,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = super::TestServer::start_in(dir, |o| o.config = seed).await;
    let c = s
        .ok(
            "{ configuration { calendars { id hours { weekday start end } } slaPolicies { id } } }",
            json!({}),
        )
        .await;
    let c = &c["configuration"];
    assert_eq!(
        c["slaPolicies"],
        json!([{ "id": "urgent" }, { "id": "key-accounts" }, { "id": "standard" }])
    );
    let hours = c["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cal| cal["id"] == "business-hours")
        .expect("the example's calendar");
    assert_eq!(
        hours["hours"][4],
        json!({ "weekday": "FRIDAY", "start": "08:00", "end": "16:00" })
    );

    let d = s
        .ok(
            r#"mutation { openCase(input: { subject: "Refund please", body: "I was charged twice",
                 channel: SOCIAL_DM, customer: { id: "initech" } }) { id } }"#,
            json!({}),
        )
        .await;
    let id = d["openCase"]["id"].clone();
    let c = s
        .ok(
            "query($id: ID!) { case(id: $id) { tier team sla { policyId } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        c["case"],
        json!({ "tier": "L2", "team": "billing", "sla": { "policyId": "standard" } })
    );
    let history = s.history(&id).await;
    let payload = |t: &str| {
        history
            .iter()
            .find(|e| e["type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {history:?}"))["payload"]
            .clone()
    };
    let opened = payload("CaseOpened");
    assert_eq!(opened["caseId"], id);
    assert_eq!(opened["channel"], "SOCIAL_DM");
    assert_eq!(opened["customer"]["segment"], "B2B", "from the directory");
    assert_eq!(opened["customer"]["keyAccount"], true);
    assert_eq!(payload("CaseRouted")["ruleId"], "sensitive-social");
    let sla = payload("SlaApplied");
    assert_eq!(sla["policyId"], "standard");
    assert_eq!(
        sla["calendar"]["hours"][0],
        json!({ "weekday": "MONDAY", "start": "08:00", "end": "18:00" })
    );
    s.stop().await;
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

// It includes the examples' shared clients too, as load does.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../../examples/pg_nodes.rs"]
mod pg_nodes;

/// `cargo run --example pg_nodes`, scaled down: one and two nodes on one PostgreSQL
/// server, every mutation acknowledged (skipped without `SWARMDESK_TEST_POSTGRES`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_nodes_benchmark_runs_one_and_two_nodes_without_errors() {
    let Some(admin) = crate::store::conformance::harness::postgres_url() else {
        return;
    };
    let opts = pg_nodes::Opts::parse_from([
        "pg_nodes",
        "--store",
        &admin,
        "--nodes",
        "1,2",
        "--clients",
        "4",
        "--seconds",
        "1",
        "--warmup",
        "0",
    ]);
    let runs = pg_nodes::run(&opts).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.nodes).collect::<Vec<_>>(), [1, 2]);
    for r in &runs {
        assert_eq!(r.errors, 0, "{r:?}");
        assert!(r.mutations > 0 && r.p99_ms >= r.p50_ms, "{r:?}");
    }
}
