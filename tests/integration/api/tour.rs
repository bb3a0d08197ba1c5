//! The README's quick tour works as written: every GraphQL block runs against a demo server.

use super::*;

fn tour_blocks() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(b.clone());
                current = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readme_tour_runs_against_a_demo_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| o.demo = true).await;
    assert_eq!(
        s.running.as_ref().unwrap().demo_tokens.len(),
        5,
        "one demo token per role"
    );

    // The README's claims hold on what a person sees: after the SLA scheduler's first
    // pass, which records whatever fell due before the server started.
    s.running.as_ref().unwrap().sla_first_pass().await;

    // The curl example's claim: the overcharged customer is urgent and private in L2, and
    // the bank-holiday questions wait behind every more urgent L1 case. (300: the
    // demo's cases, all of them; 500 of these entries would exceed the complexity limit.)
    // (One request per queue: both at once would exceed the complexity limit.)
    let q2 = s.ok(r#"{ l2: tierQueue(tier: "L2", first: 300) { entries { case { subject priority sensitive team openedAt sla { policyId firstResponseDue breached } } } } }"#, json!({})).await;
    let q = s.ok(r#"{ l1: tierQueue(tier: "L1", first: 300) { entries { rank case { subject priority openedAt sla { nextDeadline } } } } }"#, json!({})).await;
    let l2 = q2["l2"]["entries"].as_array().unwrap();
    let over = l2
        .iter()
        .find(|e| {
            e["case"]["subject"]
                .as_str()
                .unwrap()
                .contains("charged twice")
        })
        .expect("in L2");
    assert_eq!(over["case"]["priority"], "URGENT");
    assert_eq!(over["case"]["sensitive"], true);
    assert_eq!(over["case"]["team"], "billing", "a team of its tier");
    assert_eq!(over["case"]["sla"]["policyId"], "urgent");
    assert_eq!(over["case"]["sla"]["breached"], json!([]), "{over}");
    // The sample ends just before the server started: the overnight case is fresh, and
    // its 30-minute first-response deadline still ahead.
    let time =
        |v: &Value| swarmdesk::domain::Timestamp::parse_rfc3339(v.as_str().unwrap()).unwrap();
    let now = swarmdesk::domain::Timestamp::now();
    let opened = time(&over["case"]["openedAt"]);
    assert!(
        opened < now && opened > now.plus_secs(-10 * 60),
        "opened {opened:?}, now {now:?}"
    );
    assert_eq!(
        time(&over["case"]["sla"]["firstResponseDue"]),
        opened.plus_secs(30 * 60),
        "{over}"
    );
    let l1 = q["l1"]["entries"].as_array().unwrap();
    let holiday = l1
        .iter()
        .filter(|e| {
            e["case"]["subject"]
                .as_str()
                .unwrap()
                .contains("bank holiday")
        })
        .count();
    assert_eq!(holiday, 6);
    // Breach risk first (nearest SLA deadline; none last), then priority, then age.
    let priority = |p: &Value| {
        ["URGENT", "HIGH", "NORMAL", "LOW"]
            .iter()
            .position(|x| p == x)
    };
    let key = |e: &Value| {
        let c = &e["case"];
        let deadline = c["sla"]["nextDeadline"].as_str().map(str::to_owned);
        (
            deadline.is_none(),
            deadline,
            priority(&c["priority"]),
            c["openedAt"].as_str().unwrap().to_owned(),
        )
    };
    assert!(l1.len() > 10, "the demo fills L1");
    for pair in l1.windows(2) {
        assert!(key(&pair[0]) <= key(&pair[1]), "queue order: {pair:?}");
    }

    let blocks = tour_blocks();
    assert!(blocks.len() >= 8, "the tour has its examples");
    let mut case_id: Option<String> = None;
    for block in &blocks {
        if block.trim_start().starts_with("subscription") {
            let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
            ws.subscribe("tour", block, json!({})).await;
            let d = ws.next_data().await;
            assert!(
                d.as_object().is_some_and(|o| !o.is_empty()),
                "{block} gave {d}"
            );
            continue;
        }
        let vars = match &case_id {
            Some(id) if block.contains("$caseId") => json!({ "caseId": id }),
            _ => json!({}),
        };
        let d = s.ok(block, vars).await;
        if let Some(id) = d["openCase"]["id"].as_str() {
            case_id = Some(id.to_string());
        }
    }
    let id = case_id.expect("the tour opens a case");
    let c = s
        .ok(
            "query($id: ID!) { case(id: $id) { status resolution { tier } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(c["case"]["status"], "RESOLVED");
    // The key-accounts rule sent it to L2; the tour escalated it to L3.
    assert_eq!(c["case"]["resolution"]["tier"], "L3");
    s.stop().await;
}

/// A first `serve --demo` stopped mid-way (kill -9) leaves its unfinished sample in
/// `<data>.demo-loading`, never in the data directory: the next start clears it and
/// loads the whole sample, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_demo_load_leaves_nothing_half_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let loading = dir.path().join("data.demo-loading");
    // What a kill during the load leaves: a store with part of a sample.
    let partial = swarmdesk::store::sled_store::SledStore::open(
        &loading,
        swarmdesk::store::sled_store::SledOptions::default(),
    )
    .unwrap();
    use swarmdesk::store::EventStore;
    partial.shutdown().await.unwrap();
    drop(partial);
    assert!(loading.join("db").exists());

    let s = TestServer::start_in(dir, |o| {
        o.data = data.clone();
        o.demo = true;
    })
    .await;
    assert!(!loading.exists(), "the unfinished load is gone");
    let stats = s.ok("{ stats { cases } }", json!({})).await;
    assert_eq!(
        stats["stats"]["cases"], 308,
        "300 cases, the severity-1 outage and the overnight seven, once"
    );
    let dir = s.stop().await;

    // A later start with --demo keeps the data as it is.
    let s = TestServer::start_in(dir, |o| {
        o.data = data.clone();
        o.demo = true;
    })
    .await;
    let stats = s.ok("{ stats { cases } }", json!({})).await;
    assert_eq!(stats["stats"]["cases"], 308);
    s.stop().await;
}

/// `serve`'s arguments as they are when none is given.
fn serve_defaults() -> swarmdesk::cli::ServeArgs {
    use clap::Parser;
    let cli = swarmdesk::cli::Cli::try_parse_from(["swarmdesk", "serve"]).unwrap();
    let swarmdesk::cli::Command::Serve(a) = cli.command else {
        panic!("serve")
    };
    a
}

/// The README's limits paragraph states the defaults `serve` really has.
#[test]
fn readme_limits_are_the_serve_defaults() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("Limits, all checked")
        .expect("limits paragraph");
    let para: String = readme[start..]
        .split("\n\n")
        .next()
        .unwrap()
        .replace('\n', " ");
    let a = serve_defaults();
    let http = swarmdesk::http::HttpLimits::default();
    let thousands = |n: usize| {
        let s = n.to_string();
        if n >= 1000 {
            format!("{},{}", &s[..s.len() - 3], &s[s.len() - 3..])
        } else {
            s
        }
    };
    for claim in [
        format!("request body {} KiB (`--max-body`", a.max_body / 1024),
        format!("sent within {} s (`--body-timeout`", a.body_timeout),
        format!("query depth {} (`--max-depth`", a.max_depth),
        format!(
            "complexity {} (`--max-complexity`",
            thousands(a.max_complexity)
        ),
        format!("nest at most {} deep", swarmdesk::api::limits::MAX_NESTING),
        format!("at most {} levels", swarmdesk::routing::MAX_CONDITION_DEPTH),
        format!("runs at most {} s (`--request-timeout`", a.request_timeout),
        format!("{} operations per batch", http.batch),
        format!(
            "{} requests/s per token with bursts of {}",
            a.rate_limit,
            thousands(a.rate_burst as usize)
        ),
    ] {
        assert!(para.contains(&claim), "README limits say {claim:?}? {para}");
    }
}

/// The README's decision on the WebSocket connections' threads states `serve`'s default.
#[test]
fn readme_websocket_priority_is_the_serve_default() {
    use clap::Parser;
    let readme = include_str!("../../../README.md");
    let a = serve_defaults();
    let claim = format!("run at nice {} (`--websocket-nice`", a.websocket_nice);
    assert!(readme.contains(&claim), "README says {claim:?}?");
    for out_of_range in ["--websocket-nice=-1", "--websocket-nice=20"] {
        let parsed = swarmdesk::cli::Cli::try_parse_from(["swarmdesk", "serve", out_of_range]);
        assert!(parsed.is_err(), "{out_of_range} accepted");
    }
    let parsed = swarmdesk::cli::Cli::try_parse_from(["swarmdesk", "serve", "--websocket-nice=0"]);
    assert!(parsed.is_ok(), "0 (no lowering) refused");
}
