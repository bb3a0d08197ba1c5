//! A report as one self-contained HTML page (`swarmdesk report --format html`): the
//! figures as tables, and inline SVG bar charts where a person would rather look
//! than read (tier shares against their targets, time to resolution swarmed vs
//! escalated vs neither). No script, no external file.

use std::fmt::Write;

use super::Report;

/// Text made safe for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A horizontal bar chart: one row per `(label, value, marker)`, bars scaled to the
/// largest value; `marker` (a target) is drawn as a line across the row.
fn bars(title: &str, rows: &[(String, f64, Option<f64>)], unit: &str) -> String {
    let max = rows
        .iter()
        .flat_map(|(_, v, m)| [*v, m.unwrap_or(0.0)])
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let (label_w, bar_w, row_h) = (120.0, 420.0, 28.0);
    let height = rows.len() as f64 * row_h + 10.0;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title),
        label_w + bar_w + 90.0
    );
    for (i, (label, value, marker)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let w = value / max * bar_w;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#3b6fd4\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{value:.2}{}</text>",
            y + 17.0,
            esc(label),
            row_h - 8.0,
            label_w + w + 6.0,
            y + 17.0,
            esc(unit)
        );
        if let Some(m) = marker {
            let x = label_w + m / max * bar_w;
            let _ = write!(
                svg,
                "<line class=\"target\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#c0392b\" stroke-width=\"2\"/>",
                y - 2.0,
                y + row_h - 6.0
            );
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

/// The report as a standalone HTML page.
pub fn to_html(r: &Report) -> String {
    let shares: Vec<(String, f64, Option<f64>)> = r
        .tier_shares
        .iter()
        .map(|s| (s.tier.clone(), s.share, s.target))
        .collect();
    let hours = |s: Option<i64>| s.map_or(0.0, |s| s as f64 / 3600.0);
    let sw = &r.swarming;
    let resolution: Vec<(String, f64, Option<f64>)> = [
        ("swarmed", &sw.swarmed),
        ("escalated", &sw.escalated),
        ("neither", &sw.neither),
    ]
    .iter()
    .map(|(name, g)| (format!("{name} ({})", g.cases), hours(g.median_secs), None))
    .collect();
    let breaches: Vec<(String, f64, Option<f64>)> = r
        .sla
        .breaches
        .iter()
        .map(|b| {
            (
                b.policy.clone(),
                (b.first_response + b.resolution) as f64,
                None,
            )
        })
        .collect();
    let v = &r.volume;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>swarmdesk report {from} – {to}</title>\
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}figure{{margin:1.5em 0}}figcaption{{font-weight:600;margin-bottom:.5em}}</style>\
</head><body><h1>Report {from} – {to}</h1><p>{cases} cases. Opened {o_}, resolved {res}, reopened {re}, closed {cl}; backlog {bs} → {be}.</p>",
        from = esc(&r.from),
        to = esc(&r.to),
        cases = r.cases,
        o_ = v.opened,
        res = v.resolved,
        re = v.reopened,
        cl = v.closed,
        bs = v.backlog_start,
        be = v.backlog_end
    );
    o.push_str(&bars(
        "Share of resolutions per tier (red line: target)",
        &shares,
        "",
    ));
    let _ = write!(
        o,
        "<p>First-contact resolution: {:.1}%.</p>",
        r.first_contact_resolution * 100.0
    );
    o.push_str(&bars(
        "Median time to resolution: swarmed vs escalated vs neither",
        &resolution,
        " h",
    ));
    if !breaches.is_empty() {
        o.push_str(&bars("SLA breaches per policy", &breaches, ""));
    }
    o.push_str("<h2>Escalation paths</h2><table><tr><th>path</th><th>cases</th></tr>");
    for p in &r.escalation.paths {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(&p.path), p.cases);
    }
    o.push_str("</table><h2>Longest to resolve</h2><table><tr><th>case</th><th>subject</th><th>hours</th><th>messages</th><th>participants</th></tr>");
    for c in &r.problems.costliest {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.case_id),
            esc(&c.subject),
            c.resolution_secs as f64 / 3600.0,
            c.messages,
            c.participants
        );
    }
    o.push_str("</table></body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn a_bar_per_row_and_a_target_line() {
        let svg = bars(
            "t",
            &[("L1".into(), 0.5, Some(0.8)), ("L2".into(), 0.25, None)],
            "",
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches("class=\"target\"").count(), 1);
    }
}
