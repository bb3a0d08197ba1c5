//! Time travel across the desk: fresh projections folded from the log up to a past
//! position or moment (what the queues, swarm rooms and workloads were then), and
//! what changed in one case between two versions.

use serde::Serialize;

use super::{AppError, Desk};
use crate::domain::{CaseId, Timestamp};
use crate::projection::runner::ProjectionError;
use crate::projection::Projections;
use crate::store::EventStore;

/// Where in the log a past view ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Every event up to and including this position.
    Position(u64),
    /// Every event up to the first one that happened after this moment (events are
    /// folded in log order, so the view is always a prefix of the log).
    Time(Timestamp),
}

impl Until {
    fn includes(self, position: u64, at: Timestamp) -> bool {
        match self {
            Until::Position(p) => position <= p,
            Until::Time(t) => at <= t,
        }
    }
}

/// Folds the log from its start into fresh projections, stopping before the first
/// event `until` excludes.
pub async fn projections_until(
    store: &dyn EventStore,
    until: Until,
) -> Result<Projections, ProjectionError> {
    let mut p = Projections::with_messages();
    let mut failed = None;
    store
        .replay(1, &mut |e| {
            if !until.includes(e.position, e.occurred_at) {
                return false;
            }
            match p.apply_ref(e) {
                Ok(()) => true,
                Err(err) => {
                    failed = Some(err);
                    false
                }
            }
        })
        .await?;
    match failed {
        Some(err) => Err(err.into()),
        None => Ok(p),
    }
}

/// The cases a past view at `until` is made of, and the position it ends at, as the
/// live `p`'s timeline says (`p` must hold every event `until` covers).
pub fn past_cases(p: &Projections, until: Until) -> (u64, Vec<CaseId>) {
    let position = match until {
        Until::Position(at) => at.min(p.position()),
        Until::Time(t) => p.timeline().position_at(t, p.position()),
    };
    (position, p.timeline().indexed_at(position))
}

/// Folds `records` (the events of some cases, in any order) up to `position` into
/// fresh projections, in log order.
pub fn fold_cases(
    mut records: Vec<crate::store::RecordedEvent>,
    position: u64,
) -> Result<Projections, AppError> {
    records.retain(|r| r.position <= position);
    records.sort_unstable_by_key(|r| r.position);
    let mut p = Projections::with_messages();
    for r in &records {
        p.apply(r)?;
    }
    Ok(p)
}

/// One field of a case that differs between two versions, its values as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field's name as the API spells it (camelCase).
    pub field: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The fields of `before` and `after` (both serialized to JSON objects) that differ,
/// by name.
pub fn field_changes(
    before: &impl Serialize,
    after: &impl Serialize,
) -> Result<Vec<FieldChange>, AppError> {
    fn to_map(v: &impl Serialize) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
        match serde_json::to_value(v).map_err(|e| AppError::Internal(e.to_string()))? {
            serde_json::Value::Object(m) => Ok(m),
            _ => Err(AppError::Internal("a case serializes to an object".into())),
        }
    }
    let (before, after) = (to_map(before)?, to_map(after)?);
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let old = before.get(name).cloned().unwrap_or_default();
            let new = after.get(name).cloned().unwrap_or_default();
            (old != new).then(|| FieldChange {
                field: camel(name),
                before: old,
                after: new,
            })
        })
        .collect())
}

impl Desk {
    /// The projections as they were at `until`, folded from the log into a fresh
    /// [`Projections`] on a blocking thread (a replay of a large log takes a while).
    pub async fn projections_at(&self, until: Until) -> Result<Projections, AppError> {
        let store = self.store().clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(projections_until(store.as_ref(), until))
        })
        .await
        .map_err(|e| AppError::Internal(format!("time travel: {e}")))?
        .map_err(AppError::from)
    }

    /// The tier queues, swarm rooms and workloads as they were at `until`, exactly as
    /// [`projections_at`](Self::projections_at) has them, without folding the whole
    /// log: the live timeline names the cases that had an entry in one of them then,
    /// and only their streams are folded, up to that position. The answer holds those
    /// cases only (not every case, not the counts or presence of that time).
    pub async fn indexes_at(&self, until: Until) -> Result<Projections, AppError> {
        self.projections.wait_for(self.store.head()).await?;
        let (position, ids) = past_cases(&self.projections.read(), until);
        let mut records = Vec::new();
        for id in ids {
            for r in self.store.read_stream(&id.stream(), 1, usize::MAX).await? {
                if r.position > position {
                    break;
                }
                records.push(r);
            }
        }
        fold_cases(records, position)
    }

    /// What changed in the case from version `from` to version `to`, field by field.
    pub async fn case_diff(
        &self,
        id: CaseId,
        from: u64,
        to: u64,
    ) -> Result<Vec<FieldChange>, AppError> {
        if from > to {
            return Err(AppError::Invalid(format!(
                "fromVersion {from} is after toVersion {to}"
            )));
        }
        let current = self.store().stream_version(&id.stream()).await?;
        if current == 0 {
            return Err(AppError::NotFound(format!("case {id}")));
        }
        if to > current {
            return Err(AppError::Invalid(format!(
                "case {id} is at version {current}; toVersion {to} does not exist yet"
            )));
        }
        let after = self.case_at_version(id, to).await?;
        let before = if from == 0 {
            crate::domain::Case::default()
        } else {
            self.case_at_version(id, from).await?
        };
        field_changes(&before, &after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_camel_case() {
        assert_eq!(camel("first_response_at"), "firstResponseAt");
        assert_eq!(camel("tier"), "tier");
    }

    #[test]
    fn only_changed_fields_are_listed() {
        #[derive(Serialize)]
        struct S {
            a: u32,
            message_count: u32,
            c: Option<String>,
        }
        let before = S {
            a: 1,
            message_count: 2,
            c: None,
        };
        let after = S {
            a: 1,
            message_count: 3,
            c: Some("x".into()),
        };
        let changes = field_changes(&before, &after).unwrap();
        assert_eq!(
            changes,
            vec![
                FieldChange {
                    field: "c".into(),
                    before: serde_json::Value::Null,
                    after: "x".into()
                },
                FieldChange {
                    field: "messageCount".into(),
                    before: 2.into(),
                    after: 3.into()
                },
            ]
        );
    }
}
