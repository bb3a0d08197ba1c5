//! Reports from the live facts projection (`crate::projection::facts`) instead of a
//! fold of the log: what the server's `report(...)` runs.
//!
//! For a period `[from, to)`, a case whose every event happened before `to` is, at
//! `to`, the case the projections hold now, with the tally they counted; its facts in
//! the period are a slice of its time-ordered facts, and whether it was open at
//! `from` is read off the times it opened and closed. A case with events both before
//! and at or after `to` (the backlog at `to`, a later reopening), or whose event
//! times went backwards, cannot be read that way: the caller folds its own stream
//! ([`fold_case`]) and hands the tracks in. Either way the figures are those the scan
//! ([`super::fold`]) gives; a test compares them over random histories.

use std::collections::{BTreeMap, HashMap};

use super::fold::{Folder, Track};
use super::{build_rows, Report, Row, Scope};
use crate::domain::{Case, CaseEvent, CaseId, Tier, Timestamp};
use crate::projection::facts::CaseFacts;
use crate::projection::Projections;

fn needs_fold(f: &CaseFacts, to: Timestamp) -> bool {
    !f.in_order || (f.first_at < to && f.last_at >= to)
}

/// The cases whose track at `to` must be folded from their own stream.
pub fn to_fold(p: &Projections, to: Timestamp) -> Vec<CaseId> {
    p.case_facts()
        .filter(|(_, _, f)| needs_fold(f, to))
        .map(|(id, _, _)| id)
        .collect()
}

/// One case's track for `[from, to)`, folded from its events in stream order.
pub fn fold_case<'a>(
    id: CaseId,
    from: Timestamp,
    to: Timestamp,
    events: impl IntoIterator<Item = (&'a CaseEvent, u64, Timestamp)>,
) -> Track {
    let mut folder = Folder::new(from, to);
    for (event, version, at) in events {
        folder.apply(id, event, version, at);
    }
    folder.finish().remove(&id).unwrap_or_default()
}

/// The report of `period` (`[from, to)`) from `p`, with `folded` holding the track of
/// every case [`to_fold`] named; `visible` judges each case as it is now, and `open`
/// reads its subject in clear.
pub fn report(
    p: &Projections,
    period: std::ops::Range<Timestamp>,
    folded: &HashMap<CaseId, Track>,
    scope: &Scope,
    targets: &BTreeMap<Tier, f64>,
    visible: &dyn Fn(&Case) -> bool,
    open: super::Open<'_>,
) -> Report {
    let std::ops::Range {
        start: from,
        end: to,
    } = period;
    let rows: Vec<Row<'_>> = p
        .case_facts()
        .filter(|(_, v, _)| visible(&v.case))
        .filter_map(|(id, v, f)| {
            if needs_fold(f, to) {
                let t = folded.get(&id)?;
                return Some(Row {
                    id,
                    case: &t.case,
                    open_at_start: t.open_at_start,
                    tally: &t.tally,
                    facts: std::borrow::Cow::Borrowed(&t.facts),
                });
            }
            // Every event before `to`, or none.
            (f.last_at < to).then(|| Row {
                id,
                case: &v.case,
                open_at_start: f.open_before(from),
                tally: &f.tally,
                facts: std::borrow::Cow::Owned(f.facts_between(from, to)),
            })
        })
        .collect();
    build_rows(from, to, rows, scope, targets, open)
}
