//! A report as plain-text tables for the terminal (`swarmdesk report`).

use std::fmt::Write;

use super::Report;

fn secs(s: Option<i64>) -> String {
    s.map_or("-".into(), |s| format!("{:.1} h", s as f64 / 3600.0))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The report's main figures as aligned text.
pub fn to_table(r: &Report) -> String {
    let mut o = String::new();
    let v = &r.volume;
    let _ = writeln!(o, "Report {} .. {} ({} cases)", r.from, r.to, r.cases);
    let _ = writeln!(
        o,
        "\nVolume: opened {}  resolved {}  reopened {}  closed {}  backlog {} -> {}",
        v.opened, v.resolved, v.reopened, v.closed, v.backlog_start, v.backlog_end
    );
    let _ = writeln!(
        o,
        "\n{:<10} {:>9} {:>8} {:>8} {:>8}",
        "tier", "resolved", "share", "target", "gap"
    );
    for s in &r.tier_shares {
        let _ = writeln!(
            o,
            "{:<10} {:>9} {:>8} {:>8} {:>8}",
            s.tier,
            s.resolved,
            pct(s.share),
            s.target.map_or("-".into(), pct),
            s.gap.map_or("-".into(), pct)
        );
    }
    let _ = writeln!(
        o,
        "first-contact resolution: {}",
        pct(r.first_contact_resolution)
    );
    let _ = writeln!(
        o,
        "\n{:<10} {:>6} {:>9} {:>9} {:>9} {:>8}",
        "resolved", "cases", "median", "p90", "handoffs", "reopen"
    );
    let s = &r.swarming;
    for (name, g) in [
        ("swarmed", &s.swarmed),
        ("escalated", &s.escalated),
        ("neither", &s.neither),
    ] {
        let _ = writeln!(
            o,
            "{:<10} {:>6} {:>9} {:>9} {:>9.1} {:>8}",
            name,
            g.cases,
            secs(g.median_secs),
            secs(g.p90_secs),
            g.mean_handoffs,
            pct(g.reopen_rate)
        );
    }
    let _ = writeln!(o, "\nescalation paths:");
    for p in &r.escalation.paths {
        let _ = writeln!(o, "  {:>5}  {}", p.cases, p.path);
    }
    if !r.escalation.ping_pong_cases.is_empty() {
        let _ = writeln!(
            o,
            "ping-pong cases: {}",
            r.escalation.ping_pong_cases.join(", ")
        );
    }
    let _ = writeln!(o, "\nSLA breaches:");
    for b in &r.sla.breaches {
        let _ = writeln!(
            o,
            "  {:<16} first response {:>4}  resolution {:>4}",
            b.policy, b.first_response, b.resolution
        );
    }
    let _ = writeln!(o, "\ntop tags: {}", terms(&r.problems.top_tags));
    let _ = writeln!(o, "top keywords: {}", terms(&r.problems.top_keywords));
    o
}

fn terms(t: &[super::TermCount]) -> String {
    t.iter()
        .map(|t| format!("{} ({})", t.term, t.cases))
        .collect::<Vec<_>>()
        .join(", ")
}
