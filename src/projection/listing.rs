//! The listing indexes behind `cases`: every case id newest first, and the case ids
//! of each filter value (status, tier, team, priority, tag, assignee, customer) and of
//! each agent involved in a case (assigned, in its swarm, invited), all newest first.
//!
//! A page walks one of them from its cursor (no collecting or sorting): the smallest
//! among the sets the filter names and the sets holding what the caller may read
//! ([`Among`], decided by [`crate::policy::read_scope`]); each case met is then checked
//! against the whole filter and the caller's visibility. The cost of a page is
//! therefore the cases of that set walked until the page is full, not the log.
//!
//! Kept by comparing a case's [`Entry`] before and after each event (as the other
//! indexes are), so every event type is covered; not snapshotted but rebuilt from the
//! case views on load: their ids gathered per key ([`Gathered`], a snapshot's two parts
//! on two threads), then each key's set built at once.

use foldhash::HashMap;
use std::collections::btree_set::Range;
use std::collections::{BTreeMap, BTreeSet};
use std::iter::{Peekable, Rev};
use std::ops::Bound;

use super::{CaseFilter, CaseView};
use crate::domain::{AgentId, Case, CaseId, Priority, Status, Tier};

/// Where the cases a caller may read are found: a superset of what
/// [`crate::policy::can_read`] accepts, named by index keys, so a page of the
/// caller's cases walks only these. [`crate::policy::read_scope`] decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Among {
    /// Every case.
    All,
    /// The cases of this customer.
    Customer(String),
    /// Cases routed to one of `tiers`, unrouted cases, and the cases `agent` is
    /// involved in (assigned, in the swarm, invited).
    Staff { tiers: Vec<Tier>, agent: AgentId },
}

/// A case's keys in the listing indexes, for before/after comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    status: Status,
    tier: Option<Tier>,
    team: Option<String>,
    priority: Priority,
    tags: Vec<String>,
    assignee: Option<AgentId>,
    customer: Option<String>,
    /// The active swarm's members, sorted.
    swarm: Vec<AgentId>,
    /// Every agent ever invited to the swarm, sorted (a superset of those whose
    /// pending invitation lets them read the case).
    invited: Vec<AgentId>,
}

impl Entry {
    /// The keys of `c`, if the case exists.
    pub fn of(c: &Case) -> Option<Entry> {
        c.exists().then(|| Entry {
            status: c.status,
            tier: c.tier.clone(),
            team: c.team.clone(),
            priority: c.priority,
            tags: c.tags.to_vec(),
            assignee: c.assignee.clone(),
            customer: c.customer.as_ref().map(|x| x.id.clone()),
            swarm: c
                .swarm
                .as_ref()
                .map(|s| s.members.keys().cloned().collect())
                .unwrap_or_default(),
            invited: c.swarming.invitations.keys().cloned().collect(),
        })
    }

    /// Whether `c`'s keys are these, without building (and allocating) them.
    pub fn same_as(this: &Option<Entry>, c: &Case) -> bool {
        let Some(e) = this else {
            return !c.exists();
        };
        let swarm = match &c.swarm {
            Some(s) => s.members.keys().eq(e.swarm.iter()),
            None => e.swarm.is_empty(),
        };
        let same = c.exists()
            && e.status == c.status
            && e.priority == c.priority
            && e.tier == c.tier
            && e.team == c.team
            && e.assignee == c.assignee
            && e.customer.as_deref() == c.customer.as_ref().map(|x| x.id.as_str())
            && c.tags.iter().eq(e.tags.iter())
            && swarm
            && c.swarming.invitations.keys().eq(e.invited.iter());
        debug_assert_eq!(same, *this == Entry::of(c));
        same
    }

    /// The agents involved: assignee, swarm members, invitees (sorted, once each).
    fn involved(&self) -> BTreeSet<&AgentId> {
        self.assignee
            .iter()
            .chain(&self.swarm)
            .chain(&self.invited)
            .collect()
    }
}

type Ids = BTreeSet<CaseId>;

/// The set of a key no case has.
static EMPTY: Ids = BTreeSet::new();

/// The listing indexes (see the module header). Sets that become empty are dropped, so
/// a rebuilt instance equals a live one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    all: Ids,
    status: BTreeMap<Status, Ids>,
    tier: BTreeMap<Tier, Ids>,
    /// Cases routed to no tier (triage work every agent may read).
    unrouted: Ids,
    team: BTreeMap<String, Ids>,
    priority: BTreeMap<Priority, Ids>,
    tag: BTreeMap<String, Ids>,
    assignee: BTreeMap<AgentId, Ids>,
    customer: BTreeMap<String, Ids>,
    involved: BTreeMap<AgentId, Ids>,
}

/// Moves `id` from `old`'s set to `new`'s in `index`, if they differ.
fn move_key<K: Ord + Clone>(
    index: &mut BTreeMap<K, Ids>,
    id: CaseId,
    old: Option<&K>,
    new: Option<&K>,
) {
    if old == new {
        return;
    }
    if let Some(k) = old {
        if let Some(set) = index.get_mut(k) {
            set.remove(&id);
            if set.is_empty() {
                index.remove(k);
            }
        }
    }
    if let Some(k) = new {
        index.entry(k.clone()).or_default().insert(id);
    }
}

/// Moves `id` between the sets of several keys: out of those only in `old`, into
/// those only in `new`.
fn move_keys<'a, K: Ord + Clone + 'a>(
    index: &mut BTreeMap<K, Ids>,
    id: CaseId,
    old: impl IntoIterator<Item = &'a K>,
    new: impl IntoIterator<Item = &'a K>,
) {
    let old: BTreeSet<&K> = old.into_iter().collect();
    let new: BTreeSet<&K> = new.into_iter().collect();
    for k in old.difference(&new) {
        move_key(index, id, Some(*k), None);
    }
    for k in new.difference(&old) {
        move_key(index, id, None, Some(*k));
    }
}

impl Listing {
    /// Moves case `id` from its `before` keys to its `after` keys.
    pub fn reindex(&mut self, id: CaseId, before: Option<Entry>, after: Option<Entry>) {
        match (&before, &after) {
            (None, Some(_)) => {
                self.all.insert(id);
            }
            (Some(_), None) => {
                self.all.remove(&id);
            }
            _ => {}
        }
        let (b, a) = (before.as_ref(), after.as_ref());
        move_key(
            &mut self.status,
            id,
            b.map(|e| &e.status),
            a.map(|e| &e.status),
        );
        move_key(
            &mut self.tier,
            id,
            b.and_then(|e| e.tier.as_ref()),
            a.and_then(|e| e.tier.as_ref()),
        );
        let unrouted = |e: Option<&Entry>| e.is_some_and(|e| e.tier.is_none());
        match (unrouted(b), unrouted(a)) {
            (false, true) => {
                self.unrouted.insert(id);
            }
            (true, false) => {
                self.unrouted.remove(&id);
            }
            _ => {}
        }
        move_key(
            &mut self.team,
            id,
            b.and_then(|e| e.team.as_ref()),
            a.and_then(|e| e.team.as_ref()),
        );
        move_key(
            &mut self.priority,
            id,
            b.map(|e| &e.priority),
            a.map(|e| &e.priority),
        );
        move_keys(
            &mut self.tag,
            id,
            b.into_iter().flat_map(|e| &e.tags),
            a.into_iter().flat_map(|e| &e.tags),
        );
        move_key(
            &mut self.assignee,
            id,
            b.and_then(|e| e.assignee.as_ref()),
            a.and_then(|e| e.assignee.as_ref()),
        );
        move_key(
            &mut self.customer,
            id,
            b.and_then(|e| e.customer.as_ref()),
            a.and_then(|e| e.customer.as_ref()),
        );
        move_keys(
            &mut self.involved,
            id,
            b.map(Entry::involved).unwrap_or_default(),
            a.map(Entry::involved).unwrap_or_default(),
        );
    }

    /// The case ids a page of `filter` among `among` walks, newest first, after the
    /// case `after` (exclusive): those of the smallest index set that holds every
    /// matching case, `candidates` (the only cases the filter's text may match, from
    /// the text index) among them. Each still has to be checked against the filter
    /// and the caller's visibility.
    pub fn newest<'a>(
        &'a self,
        filter: &CaseFilter,
        among: &Among,
        after: Option<CaseId>,
        candidates: Option<&'a Ids>,
    ) -> Newest<'a> {
        let one = |set: Option<&'a Ids>| vec![set.unwrap_or(&EMPTY)];
        let mut choices: Vec<Vec<&Ids>> = Vec::new();
        if let Some(c) = candidates {
            choices.push(vec![c]);
        }
        if let Some(s) = filter.status {
            choices.push(one(self.status.get(&s)));
        }
        if let Some(t) = &filter.tier {
            choices.push(one(self.tier.get(t)));
        }
        if let Some(t) = &filter.team {
            choices.push(one(self.team.get(t)));
        }
        if let Some(p) = filter.priority {
            choices.push(one(self.priority.get(&p)));
        }
        if let Some(t) = &filter.tag {
            choices.push(one(self.tag.get(t)));
        }
        if let Some(a) = &filter.assignee {
            choices.push(one(self.assignee.get(a)));
        }
        if let Some(c) = &filter.customer {
            choices.push(one(self.customer.get(c)));
        }
        match among {
            Among::All => {}
            Among::Customer(c) => choices.push(one(self.customer.get(c))),
            Among::Staff { tiers, agent } => {
                let mut sets: Vec<&Ids> = tiers.iter().filter_map(|t| self.tier.get(t)).collect();
                sets.push(&self.unrouted);
                sets.extend(self.involved.get(agent));
                choices.push(sets);
            }
        }
        let size = |sets: &Vec<&Ids>| sets.iter().map(|s| s.len()).sum::<usize>();
        let sets = choices
            .into_iter()
            .min_by_key(size)
            .unwrap_or_else(|| vec![&self.all]);
        let upper = after.map_or(Bound::Unbounded, Bound::Excluded);
        Newest {
            heads: sets
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.range((Bound::Unbounded, upper)).rev().peekable())
                .collect(),
        }
    }

    /// How many cases the indexes hold.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

/// The case ids of each index key, gathered from some cases but not yet made sets:
/// what [`Listing`]'s sets are built from at once. A snapshot's two parts are gathered
/// on two threads and joined ([`append`](Self::append)) before the one build, so no
/// set is built twice.
#[derive(Debug, Default)]
pub struct Gathered {
    all: Vec<CaseId>,
    status: BTreeMap<Status, Vec<CaseId>>,
    tier: HashMap<Tier, Vec<CaseId>>,
    unrouted: Vec<CaseId>,
    team: HashMap<String, Vec<CaseId>>,
    priority: BTreeMap<Priority, Vec<CaseId>>,
    tag: HashMap<String, Vec<CaseId>>,
    assignee: HashMap<AgentId, Vec<CaseId>>,
    customer: HashMap<String, Vec<CaseId>>,
    involved: HashMap<AgentId, Vec<CaseId>>,
}

/// A map of each key's ids while gathering.
trait Gather<K>: Sized {
    /// Adds `id` to the ids of `key` (the key cloned once, when first met).
    fn add(&mut self, key: &K, id: CaseId);
    /// Adds `other`'s ids to these, key by key.
    fn join(&mut self, other: Self);
}

/// [`Gather`] for a map type, the same for a tree and a hash map.
macro_rules! gather {
    ($map:ident, $($bound:tt)+) => {
        impl<K: $($bound)+> Gather<K> for $map<K, Vec<CaseId>> {
            fn add(&mut self, key: &K, id: CaseId) {
                match self.get_mut(key) {
                    Some(ids) => ids.push(id),
                    None => {
                        self.insert(key.clone(), vec![id]);
                    }
                }
            }

            fn join(&mut self, other: Self) {
                for (k, ids) in other {
                    self.entry(k).or_default().extend(ids);
                }
            }
        }
    };
}

gather!(BTreeMap, Ord + Clone);
// Hashed where keys are strings, some of them many (customers, agents): one hash and
// one comparison per case rather than a dozen string comparisons down a tree.
gather!(HashMap, std::hash::Hash + Eq + Clone);

impl Gathered {
    /// The ids of each key among these cases, in id order (the cases are sorted first:
    /// cheap when they come sorted, as a snapshot's do, and each key's ids then need no
    /// sorting of their own).
    pub fn of<'a>(cases: impl IntoIterator<Item = (&'a CaseId, &'a CaseView)>) -> Gathered {
        let mut cases: Vec<(&CaseId, &CaseView)> = cases.into_iter().collect();
        cases.sort_unstable_by_key(|(id, _)| **id);
        let mut g = Gathered::default();
        // The agents involved in one case, reused from case to case.
        let mut agents: Vec<&AgentId> = Vec::new();
        for (id, v) in cases {
            let (c, id) = (&v.case, *id);
            if !c.exists() {
                continue;
            }
            g.all.push(id);
            g.status.add(&c.status, id);
            match &c.tier {
                Some(t) => g.tier.add(t, id),
                None => g.unrouted.push(id),
            }
            if let Some(t) = &c.team {
                g.team.add(t, id);
            }
            g.priority.add(&c.priority, id);
            for t in &c.tags {
                g.tag.add(t, id);
            }
            if let Some(a) = &c.assignee {
                g.assignee.add(a, id);
            }
            if let Some(x) = &c.customer {
                g.customer.add(&x.id, id);
            }
            agents.clear();
            agents.extend(&c.assignee);
            agents.extend(c.swarm.iter().flat_map(|s| s.members.keys()));
            agents.extend(c.swarming.invitations.keys());
            agents.sort_unstable();
            agents.dedup();
            for a in &agents {
                g.involved.add(*a, id);
            }
        }
        g
    }

    /// Adds `other`'s ids to these (gathered from other cases).
    pub fn append(&mut self, other: Gathered) {
        let Gathered {
            all,
            status,
            tier,
            unrouted,
            team,
            priority,
            tag,
            assignee,
            customer,
            involved,
        } = other;
        self.all.extend(all);
        self.status.join(status);
        self.tier.join(tier);
        self.unrouted.extend(unrouted);
        self.team.join(team);
        self.priority.join(priority);
        self.tag.join(tag);
        self.assignee.join(assignee);
        self.customer.join(customer);
        self.involved.join(involved);
    }

    /// The listing: each key's ids made a set at once (a set collected from a `Vec`
    /// sorts it first, which costs one pass over ids gathered in order, as
    /// [`of`](Self::of) gathers them, or two runs merged for two parts
    /// [`append`](Self::append)ed).
    pub fn build(self) -> Listing {
        fn set(ids: Vec<CaseId>) -> Ids {
            ids.into_iter().collect()
        }
        fn sets<K: Ord>(m: impl IntoIterator<Item = (K, Vec<CaseId>)>) -> BTreeMap<K, Ids> {
            m.into_iter().map(|(k, ids)| (k, set(ids))).collect()
        }
        Listing {
            all: set(self.all),
            status: sets(self.status),
            tier: sets(self.tier),
            unrouted: set(self.unrouted),
            team: sets(self.team),
            priority: sets(self.priority),
            tag: sets(self.tag),
            assignee: sets(self.assignee),
            customer: sets(self.customer),
            involved: sets(self.involved),
        }
    }
}

/// Case ids of one or more index sets, merged newest first, each once.
pub struct Newest<'a> {
    heads: Vec<Peekable<Rev<Range<'a, CaseId>>>>,
}

impl Iterator for Newest<'_> {
    type Item = CaseId;

    fn next(&mut self) -> Option<CaseId> {
        let newest = **self.heads.iter_mut().filter_map(|h| h.peek()).max()?;
        for h in &mut self.heads {
            if h.peek() == Some(&&newest) {
                h.next();
            }
        }
        Some(newest)
    }
}
