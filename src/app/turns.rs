//! Per-case turns: the commands on one case are decided one after another.
//!
//! A command holds its case's turn from loading the case until its events are
//! appended, so the next command on that case is decided against the state this one
//! wrote, without losing a race and being retried. Commands on different cases do not
//! wait for each other. A case has an entry here only while a command holds or awaits
//! its turn, so the map is as large as the number of busy cases, not of all cases.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::domain::CaseId;

/// The turns of the cases being written.
#[derive(Default)]
pub(crate) struct CaseTurns {
    /// One fair (FIFO) async mutex per busy case. The std mutex guards only the map,
    /// never across an await; an entry is cloned and removed only under it, so the
    /// entry's reference count says whether anyone else holds or awaits the turn.
    cases: Mutex<HashMap<CaseId, Arc<AsyncMutex<()>>>>,
}

/// A case's turn, held until dropped; the last one out removes the case's entry.
pub(crate) struct Turn<'a> {
    turns: &'a CaseTurns,
    id: CaseId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl CaseTurns {
    fn cases(&self) -> MutexGuard<'_, HashMap<CaseId, Arc<AsyncMutex<()>>>> {
        self.cases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the case's turn (in arrival order) and returns it.
    pub(crate) async fn take(&self, id: CaseId) -> Turn<'_> {
        let lock = self.cases().entry(id).or_default().clone();
        // Made before waiting, so a caller that gives up while waiting (its request
        // cancelled) still removes an entry nobody else uses.
        let mut turn = Turn {
            turns: self,
            id,
            guard: None,
        };
        turn.guard = Some(lock.lock_owned().await);
        turn
    }

    /// Cases with a command holding or awaiting their turn.
    pub(crate) fn busy(&self) -> usize {
        self.cases().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut cases = self.turns.cases();
        // Released under the map's lock, so nobody can clone the entry in between.
        self.guard = None;
        if cases
            .get(&self.id)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            cases.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use ulid::Ulid;

    fn id(n: u128) -> CaseId {
        CaseId(Ulid(n))
    }

    #[tokio::test]
    async fn one_turn_per_case_and_entries_removed_when_idle() {
        let turns = CaseTurns::default();
        let a = turns.take(id(1)).await;
        // Another case is not held up.
        let b = turns.take(id(2)).await;
        assert_eq!(turns.busy(), 2);
        // The same case waits until the turn is given back.
        let waiting = tokio::time::timeout(Duration::from_millis(50), turns.take(id(1))).await;
        assert!(waiting.is_err(), "a second turn on a held case");
        assert_eq!(turns.busy(), 2, "a cancelled waiter leaves the held entry");
        drop(a);
        drop(b);
        assert_eq!(turns.busy(), 0);
        let again = turns.take(id(1)).await;
        drop(again);
        assert_eq!(turns.busy(), 0);
    }

    #[tokio::test]
    async fn a_waiter_cancelled_after_the_holder_left_removes_the_entry() {
        let turns = CaseTurns::default();
        let held = turns.take(id(1)).await;
        let mut waiter = Box::pin(turns.take(id(1)));
        let early = tokio::time::timeout(Duration::from_millis(20), waiter.as_mut()).await;
        assert!(early.is_err(), "waits while held");
        drop(held);
        assert_eq!(turns.busy(), 1, "the waiter still holds the entry");
        drop(waiter);
        assert_eq!(turns.busy(), 0);
    }

    // One thread: a task's poll (clone the entry, register the wait) is over before
    // this test looks at the count. On two workers the next task could register
    // between another's clone and its registration (seen under load).
    #[tokio::test]
    async fn turns_are_taken_one_after_another_in_arrival_order() {
        let turns = Arc::new(CaseTurns::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = turns.take(id(7)).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (mine, order) = (turns.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = mine.take(id(7)).await;
                order.lock().unwrap().push(i);
                tokio::task::yield_now().await;
            }));
            // Let each one queue before the next arrives: the entry is cloned and the
            // wait registered in the same poll, so the count says who is queued.
            while Arc::strong_count(&turns.cases()[&id(7)]) < i + 3 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..16).collect::<Vec<_>>());
        assert_eq!(turns.busy(), 0);
    }
}
