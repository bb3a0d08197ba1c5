//! Phase 2: subscription fan-out. Subscribers connect, paced writes go out, and every
//! subscriber must get every event exactly once, in order; deliveries are timed, beside
//! the same writes with nobody listening and the CPU each side spent.

use super::clients::{ms, Summary};
use super::subscribers::{subscriber, targets, wait_reached, SubKind, SubOutcome, SubscriberCtx};
use super::target::{open_cases, BenchCase, Gql, Target};
use super::{
    fmt_limit, open_files_limit, Opts, CASE_TIER, CONNECT_CONCURRENCY, CREATE_TOKEN, FANOUT_CASES,
    SUBSCRIBE, SUBSCRIBE_SWARM_ROOM, SUBSCRIBE_TIER_QUEUE,
};
use serde_json::json;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// What one fan-out round measured, over every (subscriber, event) delivery.
pub(crate) struct FanoutStats {
    pub(crate) delivery: Summary,
    /// The same paced writes with no subscriber, then with them listening.
    pub(crate) write_quiet: Summary,
    pub(crate) write_loaded: Summary,
    /// CPU seconds over the measured sends: the server's threads, the generator's
    /// subscriber runtime.
    pub(crate) cpu_server: f64,
    pub(crate) cpu_subscribers: f64,
    pub(crate) exactly_once: bool,
}

/// A runtime shut down in the background when dropped (it may be dropped in async
/// code, where a blocking shutdown is not allowed).
struct BackgroundRuntime(Option<tokio::runtime::Runtime>);

impl BackgroundRuntime {
    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle().clone(),
            None => tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Paced writes (`n` at `rate`/s, rotating over `cases`): each one's case index,
/// outcome and latency.
async fn paced_writes(
    gql: &Arc<Gql>,
    cases: &[BenchCase],
    kind: &'static str,
    n: usize,
    rate: u32,
    label: &'static str,
) -> Vec<(usize, Result<u64, String>, Duration)> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sends = Vec::with_capacity(n);
    for k in 0..n {
        tick.tick().await;
        let gql = gql.clone();
        let c = k % cases.len();
        let id = cases[c].id.clone();
        sends.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = gql.post(&id, format!("fan-out {label} {k}"), kind).await;
            (c, r, t.elapsed())
        }));
    }
    let mut out = Vec::with_capacity(n);
    for s in futures_util::future::join_all(sends).await {
        match s {
            Ok(r) => out.push(r),
            Err(e) => out.push((0, Err(format!("send task: {e}")), Duration::ZERO)),
        }
    }
    out
}

/// The rounds side by side, and per mode the median of the rounds.
pub(crate) fn print_fanout_rounds(opts: &Opts, results: &[(bool, FanoutStats)]) {
    if results.is_empty() {
        return;
    }
    let label = |shared: bool| if shared { "shared" } else { "unshared" };
    println!();
    println!(
        "Fan-out rounds: {} subscribers, {} caller(s), {} events at {}/s",
        opts.subscribers,
        opts.agents.max(1),
        opts.fanout_events,
        opts.fanout_rate
    );
    println!("  round  mode       delivery p50   p99        write p99 without  with  (ratio)   CPU server  subscribers  exactly once");
    let per_mode = if opts.baseline { 2 } else { 1 };
    for (i, (shared, f)) in results.iter().enumerate() {
        println!(
            "  {:>5}  {:<9}  {:>9.2} ms  {:>8.2} ms  {:>9.2} ms  {:>8.2} ms  ({:.2})  {:>7.2} s  {:>7.2} s  {}",
            i / per_mode + 1,
            label(*shared),
            ms(f.delivery.p50),
            ms(f.delivery.p99),
            ms(f.write_quiet.p99),
            ms(f.write_loaded.p99),
            f.write_loaded.p99 as f64 / f.write_quiet.p99.max(1) as f64,
            f.cpu_server,
            f.cpu_subscribers,
            if f.exactly_once { "PASS" } else { "FAIL" }
        );
    }
    for shared in [false, true] {
        let mut of: Vec<&FanoutStats> = results
            .iter()
            .filter(|(s, _)| *s == shared)
            .map(|(_, f)| f)
            .collect();
        if of.is_empty() {
            continue;
        }
        let median = |of: &mut Vec<&FanoutStats>, key: fn(&FanoutStats) -> u64| {
            of.sort_by_key(|f| key(f));
            let (lo, hi) = (key(of[0]), key(of[of.len() - 1]));
            (key(of[of.len() / 2]), lo, hi)
        };
        let (p50, ..) = median(&mut of, |f| f.delivery.p50);
        let (p99, lo, hi) = median(&mut of, |f| f.delivery.p99);
        let (wq, ..) = median(&mut of, |f| f.write_quiet.p99);
        let (wl, ..) = median(&mut of, |f| f.write_loaded.p99);
        println!(
            "  median {:<9} over {} round(s): delivery p50 {:.2} ms, p99 {:.2} ms (spread {:.2}-{:.2}); write p99 {:.2} ms without listeners, {:.2} ms with",
            label(shared),
            of.len(),
            ms(p50),
            ms(p99),
            ms(lo),
            ms(hi),
            ms(wq),
            ms(wl)
        );
    }
}

/// The callers of a round: the admin, or `--agents` agents of the cases' tier with
/// tokens of their own (subscribers of one caller with one document share an execution).
async fn callers(
    gql: &Gql,
    target: &Target,
    cases: &[BenchCase],
    opts: &Opts,
    round: usize,
) -> Result<Vec<String>, String> {
    if opts.agents == 0 {
        Ok(vec![target.token.clone()])
    } else {
        let d = gql.call(CASE_TIER, json!({ "id": cases[0].id })).await?;
        let case_tier = d["case"]["tier"]
            .as_str()
            .ok_or_else(|| format!("case has no tier: {d}"))?
            .to_string();
        let mut tokens = Vec::with_capacity(opts.agents);
        for a in 0..opts.agents {
            let d = gql
                .call(
                    CREATE_TOKEN,
                    json!({ "u": format!("load-agent-{round}-{a}"), "t": case_tier }),
                )
                .await?;
            let t = d["createToken"]["token"]
                .as_str()
                .ok_or_else(|| format!("createToken returned no token: {d}"))?;
            tokens.push(t.to_string());
        }
        Ok(tokens)
    }
}

/// Waits (at most 120 s) until each of `subs` subscribers said whether it subscribed:
/// which did, how many, how many failed, and the first failure.
async fn wait_subscribed(
    ready_rx: &mut mpsc::Receiver<(usize, Result<(), String>)>,
    subs: usize,
) -> (Vec<bool>, usize, usize, Option<String>) {
    let mut ready = vec![false; subs];
    let mut setup_failures = 0usize;
    let mut first_setup_error = None;
    let ready_deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut connected = 0usize;
    while connected + setup_failures < subs {
        match tokio::time::timeout_at(ready_deadline, ready_rx.recv()).await {
            Ok(Some((i, Ok(())))) => {
                ready[i] = true;
                connected += 1;
            }
            Ok(Some((_, Err(e)))) => {
                setup_failures += 1;
                first_setup_error.get_or_insert(e);
            }
            Ok(None) | Err(_) => break,
        }
    }
    (ready, connected, setup_failures, first_setup_error)
}

/// Each subscriber's outcome once told to stop (at most 10 s each; one that does not
/// stop is aborted and counted as failed).
async fn collect_outcomes(handles: Vec<tokio::task::JoinHandle<SubOutcome>>) -> Vec<SubOutcome> {
    let mut outcomes = Vec::with_capacity(handles.len());
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => outcomes.push(SubOutcome {
                ready: false,
                error: Some(format!("subscriber task: {e}")),
                received: Vec::new(),
            }),
            Err(_) => {
                abort.abort();
                outcomes.push(SubOutcome {
                    ready: false,
                    error: Some("subscriber did not stop".into()),
                    received: Vec::new(),
                });
            }
        }
    }
    outcomes
}

pub(crate) async fn fanout_run(
    opts: &Opts,
    gql: &Arc<Gql>,
    target: &Target,
    shared: bool,
    round: usize,
) -> Result<FanoutStats, String> {
    let subs = opts.subscribers;
    // Each subscriber costs one descriptor here, and one more if the server is in-process.
    let per_sub = if target.local.is_some() { 2 } else { 1 };
    let need = (subs * per_sub + opts.clients + FANOUT_CASES + 256) as u64;
    let (soft, hard) = open_files_limit();
    println!();
    if let Some(soft) = soft.filter(|s| *s < need) {
        return Err(format!(
            "open files limit (ulimit -n) is {soft}, too low for {subs} subscribers \
             (about {need} needed; hard limit {}): raise it with `ulimit -n {need}`",
            fmt_limit(hard)
        ));
    }
    let cases = open_cases(gql, FANOUT_CASES, "fan-out").await?;
    // Mixed: every fan-out case is swarmed (all in the same tier, as opened alike),
    // and the mutations are swarm chat, which each kind of subscriber is sent.
    let mut tier = String::new();
    let mut case_versions: Vec<u64> = vec![0; cases.len()];
    if opts.mix {
        for c in &cases {
            tier = gql.start_swarm(&c.id).await?;
        }
        for (k, c) in cases.iter().enumerate() {
            case_versions[k] = gql.case_version(&c.id).await?;
        }
    }
    let kind = if opts.mix {
        "SWARM_CHAT"
    } else {
        "INTERNAL_NOTE"
    };
    let tokens = callers(gql, target, &cases, opts, round).await?;
    // The same writes with nobody listening, for the write latency without listeners.
    let mut quiet_lat: Vec<u64> = Vec::new();
    for (_, r, took) in paced_writes(
        gql,
        &cases,
        kind,
        opts.fanout_events,
        opts.fanout_rate,
        "quiet",
    )
    .await
    {
        r?;
        quiet_lat.push(took.as_micros() as u64);
    }
    let write_quiet = Summary::of(&mut quiet_lat);
    if opts.mix {
        for (k, c) in cases.iter().enumerate() {
            case_versions[k] = gql.case_version(&c.id).await?;
        }
    }
    let head = gql.head().await?;
    let from = head + 1;
    let ws_url = target.base.replacen("http://", "ws://", 1) + "/graphql";
    let kinds: Vec<SubKind> = (0..subs).map(|i| SubKind::of(i, opts.mix)).collect();
    println!(
        "Round {round}, {}: {} caller(s){}",
        if shared {
            "shared"
        } else {
            "unshared (every document unique)"
        },
        tokens.len(),
        if opts.agents > 0 {
            " (agents with their own tokens)"
        } else {
            " (the admin token)"
        }
    );
    if opts.mix {
        println!(
            "Subscription fan-out, mixed: {subs} WebSocket subscribers (graphql-transport-ws), a \
             third each on events(fromPosition: {from}), tierQueue(tier: {tier}) and swarmRoom \
             (one of {FANOUT_CASES} swarmed cases)\n  open files limit {} (about {need} needed)",
            fmt_limit(soft)
        );
    } else {
        println!(
            "Subscription fan-out: {subs} WebSocket subscribers (graphql-transport-ws) on \
             events(fromPosition: {from}) {{ position occurredAt }}\n  open files limit {} (about {need} needed)",
            fmt_limit(soft)
        );
    }

    let last: Arc<Vec<AtomicU64>> = Arc::new((0..subs).map(|_| AtomicU64::new(0)).collect());
    let (ready_tx, mut ready_rx) = mpsc::channel(subs);
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let send_time = Duration::from_secs_f64(opts.fanout_events as f64 / opts.fanout_rate as f64);
    let started = Instant::now();
    let hard_deadline = tokio::time::Instant::now() + Duration::from_secs(240) + send_time;
    // The subscribers run on a runtime of their own, so their CPU time is told apart.
    let sub_rt = BackgroundRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.subscriber_threads.max(1))
            .thread_name(super::cpu::SUBSCRIBER_THREADS)
            .enable_all()
            .build()
            .map_err(|e| format!("subscriber runtime: {e}"))?,
    ));
    let handles: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let (query, variables) = match k {
                SubKind::Events => (SUBSCRIBE, json!({ "from": from })),
                SubKind::TierQueue => (SUBSCRIBE_TIER_QUEUE, json!({ "tier": tier })),
                SubKind::SwarmRoom(c) => (SUBSCRIBE_SWARM_ROOM, json!({ "id": cases[*c].id })),
            };
            // Unshared: a comment makes every document unique.
            let query = if shared {
                query.to_string()
            } else {
                format!("{query} # subscriber {i}")
            };
            let cx = SubscriberCtx {
                ws_url: ws_url.clone(),
                token: tokens[i % tokens.len()].clone(),
                subscription: (query, variables),
                by_version: matches!(k, SubKind::SwarmRoom(_)),
                gate: gate.clone(),
                ready: ready_tx.clone(),
                last: last.clone(),
                stop: stop_rx.clone(),
                hard_deadline,
            };
            sub_rt.handle().spawn(subscriber(i, cx))
        })
        .collect();
    drop(ready_tx);

    // Wait for every subscriber to be connected, acknowledged and subscribed.
    let (ready, connected, setup_failures, first_setup_error) =
        wait_subscribed(&mut ready_rx, subs).await;
    println!(
        "  subscribed: {connected}/{subs} acknowledged in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = &first_setup_error {
        println!("  FAIL {setup_failures} subscriber(s) could not subscribe; first: {e}");
    }

    // Sentinel events prove every subscription is live before measuring (mixed: one
    // on each case, so every swarm room gets one).
    let mut write_errors = 0usize;
    let mut first_write_error = None;
    // Acknowledged versions per case, from the sentinels on: what each swarm room
    // subscriber must receive, exactly once, in order.
    let mut acked: Vec<Vec<u64>> = vec![Vec::new(); cases.len()];
    let t = Instant::now();
    let sentinels = if opts.mix { cases.len() } else { 1 };
    for (k, c) in cases.iter().enumerate().take(sentinels) {
        match gql.post(&c.id, "fan-out sentinel".into(), kind).await {
            Ok(v) => {
                acked[k].push(v);
                case_versions[k] = v;
            }
            Err(e) => {
                write_errors += 1;
                first_write_error.get_or_insert(e);
            }
        }
    }
    let sentinel = gql.head().await?;
    let live = wait_reached(
        &last,
        &ready,
        &targets(&kinds, sentinel, &case_versions),
        Duration::from_secs(30),
    )
    .await;
    println!(
        "  live: {live}/{connected} received the sentinel (position {sentinel}) within {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );

    // The measured events, at a steady pace.
    let send_start = Instant::now();
    let cpu_before = super::cpu::now();
    let sends = paced_writes(
        gql,
        &cases,
        kind,
        opts.fanout_events,
        opts.fanout_rate,
        "event",
    )
    .await;
    let mut write_lat = Vec::with_capacity(opts.fanout_events);
    for (c, r, took) in sends {
        match r {
            Ok(v) => {
                write_lat.push(took.as_micros() as u64);
                acked[c].push(v);
                case_versions[c] = case_versions[c].max(v);
            }
            Err(e) => {
                write_errors += 1;
                first_write_error.get_or_insert(e);
            }
        }
    }
    for a in &mut acked {
        a.sort_unstable();
    }
    let sent_in = send_start.elapsed();
    let last_position = gql.head().await?;
    let write = Summary::of(&mut write_lat);
    println!(
        "  sent: {} mutations in {:.2} s ({:.1}/s), write p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {write_errors}",
        write.n,
        sent_in.as_secs_f64(),
        write.n as f64 / sent_in.as_secs_f64().max(1e-9),
        ms(write.p50),
        ms(write.p99),
        ms(write.max),
    );
    println!(
        "  the same writes before, nobody listening: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(write_quiet.p50),
        ms(write_quiet.p99),
        ms(write_quiet.max),
    );
    if let Some(e) = &first_write_error {
        println!("  FAIL {write_errors} fan-out mutation(s) failed; first: {e}");
    }

    // Let every subscriber get everything, then a little longer to catch duplicates.
    let done = wait_reached(
        &last,
        &ready,
        &targets(&kinds, last_position, &case_versions),
        Duration::from_secs(60),
    )
    .await;
    let drained = send_start.elapsed();
    let used = super::cpu::now() - cpu_before;
    let (cpu_server, cpu_subscribers) = (used.server, used.subscribers);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let outcomes = collect_outcomes(handles).await;
    drop(sub_rt);
    println!(
        "  drained: {done}/{connected} subscribers had everything up to position {last_position} {:.2} s after the first send",
        drained.as_secs_f64()
    );
    println!(
        "  CPU from the first send to drained: server {cpu_server:.2} s, load generator's subscribers {cpu_subscribers:.2} s ({:.0}% and {:.0}% of {:.2} s on the machine's cores)",
        100.0 * cpu_server / drained.as_secs_f64().max(1e-9),
        100.0 * cpu_subscribers / drained.as_secs_f64().max(1e-9),
        drained.as_secs_f64()
    );

    // When each event occurred, as `events` subscribers received it (the other kinds'
    // updates do not carry it).
    let mut occurred = std::collections::HashMap::new();
    for o in &outcomes {
        for r in o.received.iter().filter(|r| r.occurred_us != 0) {
            occurred.insert(r.position, r.occurred_us);
        }
    }

    // Exactly once, in order: `events` and `tierQueue` (every measured event is a
    // command on a queued case) positions from..=last_position, each once, ascending;
    // `swarmRoom` its case's acknowledged versions, each once, ascending.
    // (Events after last_position can only come from other writers; they are ignored.)
    let mut bad = 0usize;
    let mut first_bad = None;
    let mut all = Vec::with_capacity(subs * opts.fanout_events);
    let mut per_kind: Vec<(&'static str, Vec<u64>)> = Vec::new();
    let mut negative = 0usize;
    let mut unknown = 0usize;
    for ((i, o), k) in outcomes.iter().enumerate().zip(&kinds) {
        let problem = match k {
            SubKind::SwarmRoom(c) => check_versions(o, &acked[*c]),
            _ => check_sequence(o, from, last_position),
        };
        if let Some(p) = problem {
            bad += 1;
            first_bad.get_or_insert(format!("subscriber {i} ({}): {p}", k.label()));
        }
        let slot = match per_kind.iter().position(|(l, _)| *l == k.label()) {
            Some(s) => s,
            None => {
                per_kind.push((k.label(), Vec::new()));
                per_kind.len() - 1
            }
        };
        for r in o
            .received
            .iter()
            .filter(|r| r.position > sentinel && r.position <= last_position)
        {
            let Some(at) = occurred.get(&r.position) else {
                unknown += 1;
                continue;
            };
            let d = r.received_us - at;
            if d < 0 {
                negative += 1;
            }
            all.push(d.max(0) as u64);
            per_kind[slot].1.push(d.max(0) as u64);
        }
    }
    let measured_events = last_position.saturating_sub(sentinel);
    let delivery = Summary::of(&mut all);
    println!(
        "  delivery latency (receive time - occurredAt, includes the server's commit) over {} \
         (subscriber, update) pairs:",
        delivery.n,
    );
    println!(
        "    p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        ms(delivery.p50),
        ms(delivery.p90),
        ms(delivery.p99),
        ms(delivery.max)
    );
    if opts.mix {
        for (label, lat) in &mut per_kind {
            let s = Summary::of(lat);
            println!(
                "    {label:>9}: {} pairs, p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
                s.n,
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ms(s.max)
            );
        }
    } else {
        println!(
            "    ({} (subscriber, event) pairs expected)",
            subs as u64 * measured_events
        );
    }
    if negative > 0 {
        println!("  note: {negative} deliveries appeared to precede occurredAt (clock step?)");
    }
    if unknown > 0 {
        println!(
            "  note: {unknown} deliveries of events no `events` subscriber received (not timed)"
        );
    }
    let exactly_once = bad == 0 && write_errors == 0;
    if bad == 0 {
        println!(
            "  PASS exactly once, in order: all {subs} subscribers received their updates for \
             positions {from}..={last_position} ({} events) each exactly once, in order",
            last_position + 1 - from
        );
    } else {
        println!(
            "FAIL exactly once, in order: {bad} of {subs} subscribers did not receive their \
             updates for positions {from}..={last_position} exactly once in order; first: {}",
            first_bad.unwrap_or_default()
        );
    }
    Ok(FanoutStats {
        delivery,
        write_quiet,
        write_loaded: write,
        cpu_server,
        cpu_subscribers,
        exactly_once,
    })
}

/// None if the subscriber saw exactly `from..=to`, in order; else what went wrong.
pub(crate) fn check_sequence(o: &SubOutcome, from: u64, to: u64) -> Option<String> {
    if !o.ready {
        return Some(o.error.clone().unwrap_or_else(|| "never subscribed".into()));
    }
    let mut expected = from;
    for r in o.received.iter().filter(|r| r.position <= to) {
        if r.position < expected {
            return Some(format!(
                "position {} again (or out of order) after {}",
                r.position,
                expected - 1
            ));
        }
        if r.position > expected {
            return Some(format!("missing position {expected} (got {})", r.position));
        }
        expected += 1;
    }
    if expected <= to {
        let why = o.error.as_deref().unwrap_or("stopped receiving");
        return Some(format!(
            "received up to {} of {to} ({why})",
            expected.saturating_sub(1)
        ));
    }
    None
}

/// None if a swarm room subscriber saw exactly the case versions `want`, in order
/// (at ascending positions); else what went wrong.
fn check_versions(o: &SubOutcome, want: &[u64]) -> Option<String> {
    if !o.ready {
        return Some(o.error.clone().unwrap_or_else(|| "never subscribed".into()));
    }
    let got: Vec<u64> = o.received.iter().map(|r| r.version).collect();
    if !o.received.windows(2).all(|w| w[0].position < w[1].position) {
        return Some("positions out of order".into());
    }
    if got != want {
        let why = o.error.as_deref().unwrap_or("");
        return Some(format!(
            "versions {:?}.. ({} updates), expected {:?}.. ({}) {why}",
            &got[..got.len().min(5)],
            got.len(),
            &want[..want.len().min(5)],
            want.len()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::subscribers::Received;
    use super::*;

    fn outcome(positions: &[u64]) -> SubOutcome {
        SubOutcome {
            ready: true,
            error: None,
            received: positions
                .iter()
                .map(|&position| Received {
                    position,
                    version: 0,
                    received_us: 0,
                    occurred_us: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn exactly_once_in_order_check() {
        assert_eq!(check_sequence(&outcome(&[5, 6, 7]), 5, 7), None);
        // Later events (other writers) are ignored.
        assert_eq!(check_sequence(&outcome(&[5, 6, 7, 8]), 5, 7), None);
        assert!(check_sequence(&outcome(&[5, 7]), 5, 7).is_some(), "gap");
        assert!(
            check_sequence(&outcome(&[5, 6, 6, 7]), 5, 7).is_some(),
            "duplicate"
        );
        assert!(
            check_sequence(&outcome(&[5, 7, 6]), 5, 7).is_some(),
            "order"
        );
        assert!(
            check_sequence(&outcome(&[5, 6]), 5, 7).is_some(),
            "missing tail"
        );
        let mut never = outcome(&[]);
        never.ready = false;
        assert!(check_sequence(&never, 5, 7).is_some());
    }
}
