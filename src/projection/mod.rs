//! Read models folded from the log: case views, tier queues, swarm rooms, agent
//! workload and agents' presence (folded from their own streams). They are caches: drop them, replay the log, and they come back identical
//! (tests compare a live instance with a rebuilt one).
//!
//! Each case view holds the domain's own folded [`Case`], so a view can never disagree
//! with what `decide` sees. The indexes (queues, rooms, workload) are maintained by
//! comparing a case's index entries before and after each event, which keeps them
//! correct for every event type without per-event bookkeeping.
//!
//! [`Projections::position`] is the last global position applied; an event at or
//! below it is skipped, so a restart from a snapshot never applies anything twice.
//!
//! - [`changes`]: what each applied case event changed (queues, swarm rooms), which
//!   the runner publishes for subscriptions.
//! - [`listing`]: the indexes a `cases` page walks (all cases newest first, and per
//!   filter value), so a page does not scan the log.
//! - [`knowledge`]: captured articles and the full-text index that searches them.
//! - [`text`]: the trigram index of cases' subjects and bodies behind the `text`
//!   filter of `cases`, built when a text search first asks for it.
//! - [`facts`]: per case, what a report counts of its history, with times, so a
//!   report reads them instead of folding the log.
//! - [`timeline`]: which position a moment falls at, and which cases were in an index
//!   at any position, so time travel folds only those.
//! - [`standing`]: standing swarms' members, and the dispatch-queue and backlog
//!   indexes their members work.
//! - [`runner`]: keeps a shared instance up to date from the live feed, snapshots it,
//!   and publishes the changes.

pub mod changes;
pub mod counts;
mod decode;
pub mod facts;
pub mod knowledge;
pub mod listing;
pub mod runner;
pub mod standing;
pub mod text;
pub mod timeline;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::domain::presence::{agent_of_stream, AgentEvent, AgentPresence, Presence};
use crate::domain::standing::{standing_of_stream, StandingEvent, StandingKind, StandingSwarm};
use crate::domain::{
    AgentId, Case, CaseEvent, CaseId, CodecError, MessageKind, Priority, Status, Tier, Timestamp,
};
use crate::store::{EventRef, RecordedEvent};

pub use changes::{Change, QueueEffect, RoomChange, RoomChangeKind};
pub use counts::EventCounts;
pub use runner::{ProjectionRunner, SharedProjections};
pub use standing::{AgeKey, DispatchKey};

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod listing_tests;
#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod standing_tests;
#[cfg(test)]
mod text_tests;

/// A message on a case. Its id is the stream version of the event that posted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub kind: MessageKind,
    pub author: AgentId,
    pub body: String,
    pub at: Timestamp,
}

/// What the API shows of a case.
///
/// The live projections do not hold a case's messages (the API reads them from the
/// case's stream when asked): `messages` is empty there, and filled only in the
/// short-lived projections of past views ([`Projections::with_messages`]). `chat`,
/// the current swarm's chat, is kept in both: it is what a swarm room shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    pub case: Case,
    /// Every message, oldest first, in projections made [`with_messages`](Projections::with_messages); empty otherwise.
    pub messages: Vec<Message>,
    /// The chat of the current swarm, oldest first (empty without a swarm).
    pub chat: Vec<Message>,
    /// Global position of the case's last event.
    pub last_position: u64,
}

/// A tier queue entry's sort key, by breach risk: the nearest pending SLA deadline
/// first (cases without one after all cases with one), then most urgent, then oldest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueKey {
    /// [`Case::next_deadline`]; only events change it, never the passing of time.
    pub deadline: Option<Timestamp>,
    pub priority: Priority,
    pub opened_at: Timestamp,
    pub case: CaseId,
}

impl Ord for QueueKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |k: &QueueKey| {
            (
                k.deadline.is_none(),
                k.deadline,
                k.priority,
                k.opened_at,
                k.case,
            )
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for QueueKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An agent's current load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Open cases assigned to the agent.
    pub assigned: BTreeSet<CaseId>,
    /// Active swarms the agent is a member of.
    pub swarms: BTreeSet<CaseId>,
}

/// A live swarm room, as derived from the case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmRoom<'a> {
    pub view: &'a CaseView,
}

impl SwarmRoom<'_> {
    pub fn case(&self) -> &Case {
        &self.view.case
    }

    /// Chat of the current swarm, oldest first.
    pub fn chat(&self) -> impl Iterator<Item = &Message> {
        self.view.chat.iter()
    }
}

/// Which cases a listing returns. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    pub status: Option<Status>,
    pub tier: Option<Tier>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub assignee: Option<AgentId>,
    pub customer: Option<String>,
    /// Case-insensitive substring of subject or body.
    pub text: Option<String>,
    /// Opens sealed subjects and bodies for `text` (views hold them sealed).
    pub vault: Option<std::sync::Arc<crate::shred::Vault>>,
}

/// A subject or body as a `text` filter reads it: opened with `vault` if it is sealed,
/// and lower-cased. The filter and the text index ([`text`]) both read it so, and must
/// agree.
fn searchable(vault: Option<&crate::shred::Vault>, field: &str) -> String {
    match vault {
        Some(v) => v.open(field).to_lowercase(),
        None => field.to_lowercase(),
    }
}

impl CaseFilter {
    pub fn matches(&self, c: &Case) -> bool {
        let text_ok = || match &self.text {
            None => true,
            Some(t) => {
                let t = t.to_lowercase();
                let open = |s: &str| searchable(self.vault.as_deref(), s);
                open(&c.subject).contains(&t) || open(&c.body).contains(&t)
            }
        };
        self.status.is_none_or(|s| c.status == s)
            && self
                .tier
                .as_ref()
                .is_none_or(|t| c.tier.as_ref() == Some(t))
            && self
                .team
                .as_ref()
                .is_none_or(|t| c.team.as_ref() == Some(t))
            && self.priority.is_none_or(|p| c.priority == p)
            && self.tag.as_ref().is_none_or(|t| c.tags.contains(t))
            && self
                .assignee
                .as_ref()
                .is_none_or(|a| c.assignee.as_ref() == Some(a))
            && self
                .customer
                .as_ref()
                .is_none_or(|id| c.customer.as_ref().is_some_and(|x| &x.id == id))
            && text_ok()
    }
}

/// Counts for dashboards and the replay command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub cases: u64,
    pub open: u64,
    pub resolved: u64,
    pub closed: u64,
    pub active_swarms: u64,
    /// Resolutions per tier (compare with the 80 / 15-20 / 5 targets).
    pub resolved_by_tier: BTreeMap<String, u64>,
}

/// All read models, at one log position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projections {
    position: u64,
    /// Boxed: a view is large (about 700 bytes), so the table's empty slots and its
    /// growth move pointers rather than views. Snapshotted apart from the rest, in two
    /// parts decoded at once ([`runner::encode_snapshot`]).
    #[serde(skip)]
    cases: HashMap<CaseId, Box<CaseView>>,
    /// Open, routed cases per tier, most urgent first.
    queues: BTreeMap<Tier, BTreeSet<QueueKey>>,
    /// Cases with an active swarm.
    swarms: BTreeSet<CaseId>,
    workload: BTreeMap<AgentId, Workload>,
    /// Each agent's presence, for agents whose stream holds an event (others are
    /// available).
    presence: BTreeMap<AgentId, AgentPresence>,
    events: u64,
    /// Totals for `/metrics`, counted as events are applied.
    counts: EventCounts,
    /// Captured articles, searchable.
    knowledge: knowledge::Knowledge,
    /// Each case's report facts.
    facts: HashMap<CaseId, Box<facts::CaseFacts>>,
    /// Positions by time, and the cases in an index at each position.
    timeline: timeline::Timeline,
    /// Each standing swarm's members, by team and kind.
    standing: BTreeMap<(String, StandingKind), StandingSwarm>,
    /// Per team: its open cases nobody is assigned, most urgent then oldest first.
    dispatch: BTreeMap<String, BTreeSet<DispatchKey>>,
    /// Per team: its open cases, oldest first.
    backlog: BTreeMap<String, BTreeSet<AgeKey>>,
    /// What `cases` pages walk: case ids newest first, overall and per filter value.
    /// Not snapshotted: gathered from the views as a snapshot decodes
    /// ([`runner::decode_snapshot`]), or rebuilt after a deferred replay
    /// ([`Projections::relist`]).
    #[serde(skip)]
    listing: listing::Listing,
    /// Which cases a `text` filter may match ([`text::CaseText`]): derived, never
    /// snapshotted, built on the first text search of the live projections.
    #[serde(skip)]
    text: text::CaseText,
    /// Whether the indexes (queues, swarms, workload, dispatch, backlog, listing) are
    /// left behind while a long replay applies (see
    /// [`defer_indexes`](Projections::defer_indexes)); [`index_all`](Projections::index_all)
    /// builds them from the views.
    #[serde(skip)]
    deferred: bool,
    /// Whether case views keep every message (past views); the live projections
    /// do not (see [`CaseView`]).
    #[serde(skip)]
    keep_messages: bool,
}

/// A case's entries in every index, for before/after comparison.
#[derive(PartialEq)]
struct IndexEntries {
    queue: Option<(Tier, QueueKey)>,
    swarm_members: Vec<AgentId>,
    assignee: Option<AgentId>,
    dispatch: Option<(String, DispatchKey)>,
    backlog: Option<(String, AgeKey)>,
}

impl IndexEntries {
    /// A case in no index.
    fn none() -> Self {
        IndexEntries {
            queue: None,
            swarm_members: Vec::new(),
            assignee: None,
            dispatch: None,
            backlog: None,
        }
    }

    /// The case's key in its tier's queue (if it is in one).
    fn queue_key(c: &Case, id: CaseId) -> QueueKey {
        QueueKey {
            deadline: c.next_deadline(),
            priority: c.priority,
            opened_at: c.opened_at,
            case: id,
        }
    }

    fn of(c: &Case, id: CaseId) -> Self {
        let queue = match (&c.tier, c.status) {
            (Some(t), Status::Open) => Some((t.clone(), Self::queue_key(c, id))),
            _ => None,
        };
        let open = c.status == Status::Open;
        IndexEntries {
            queue,
            swarm_members: c
                .swarm
                .as_ref()
                .map(|s| s.members.keys().cloned().collect())
                .unwrap_or_default(),
            assignee: c.assignee.clone().filter(|_| open),
            dispatch: DispatchKey::of(c, id).map(|(t, k)| (t.to_string(), k)),
            backlog: AgeKey::of(c, id).map(|(t, k)| (t.to_string(), k)),
        }
    }

    /// Whether `c` may have an entry in an index (a queue, a swarm room, a workload):
    /// open and routed or assigned, or with a swarm. What time travel selects by.
    fn may_have_any(c: &Case) -> bool {
        let open = c.status == Status::Open;
        (open && (c.tier.is_some() || c.assignee.is_some())) || c.swarm.is_some()
    }

    /// Whether `c`'s entries are exactly these: `*self == IndexEntries::of(c, id)`,
    /// without building (and allocating) the right-hand side.
    fn same_as(&self, c: &Case, id: CaseId) -> bool {
        let open = c.status == Status::Open;
        let queue = match (&self.queue, &c.tier) {
            (None, tier) => !(open && tier.is_some()),
            (Some((t, key)), Some(tier)) => open && t == tier && *key == Self::queue_key(c, id),
            (Some(_), None) => false,
        };
        let members = match &c.swarm {
            Some(s) => s.members.keys().eq(self.swarm_members.iter()),
            None => self.swarm_members.is_empty(),
        };
        let same = queue
            && members
            && self.assignee.as_ref() == c.assignee.as_ref().filter(|_| open)
            && standing::same_entry(&self.dispatch, DispatchKey::of(c, id))
            && standing::same_entry(&self.backlog, AgeKey::of(c, id));
        debug_assert!(same == (*self == IndexEntries::of(c, id)));
        same
    }
}

/// Keeps `view.chat` the current swarm's chat once `event` is applied to its case
/// (`posted`: the message the event posted, if it did). A new swarm keeps the chat
/// posted since its start; a case without a swarm has none.
fn keep_chat(view: &mut CaseView, event: &CaseEvent, posted: Option<&Message>) {
    let Some(swarm) = &view.case.swarm else {
        view.chat = Vec::new();
        return;
    };
    let since = swarm.started_at;
    if matches!(event, CaseEvent::SwarmStarted(_)) {
        view.chat.retain(|m| m.at >= since);
    }
    if let Some(m) = posted.filter(|m| m.kind == MessageKind::SwarmChat && m.at >= since) {
        view.chat.push(m.clone());
    }
}

/// Removes `key` from `team`'s index, dropping the team's set once empty (so a
/// rebuilt projection holds exactly the same maps).
fn remove_entry<K: Ord>(index: &mut BTreeMap<String, BTreeSet<K>>, team: &str, key: &K) {
    if let Some(q) = index.get_mut(team) {
        q.remove(key);
        if q.is_empty() {
            index.remove(team);
        }
    }
}

impl Projections {
    /// Projections whose case views hold no messages but the current swarm's chat:
    /// the live ones (messages are read from the log when asked).
    pub fn new() -> Self {
        Self::default()
    }

    /// Projections whose case views also hold every message: past views, folded
    /// from a few cases' streams and dropped after one answer.
    pub fn with_messages() -> Self {
        Projections {
            keep_messages: true,
            ..Self::default()
        }
    }

    /// The last global position applied.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Applies one recorded event. Events at or below [`position`](Self::position) are
    /// skipped. Agents' streams fold into their presence; events of other streams
    /// (configuration, access) only advance the position.
    pub fn apply(&mut self, record: &RecordedEvent) -> Result<(), CodecError> {
        self.apply_ref(record.view())
    }

    /// [`apply`](Self::apply) for an event borrowed from the log (replays): the same
    /// code, so live and rebuilt projections cannot differ.
    pub fn apply_ref(&mut self, record: EventRef<'_>) -> Result<(), CodecError> {
        self.apply_with(record, None)
    }

    /// [`apply_ref`](Self::apply_ref), also describing a case event's effect in
    /// `changes` (when given: only listeners pay for it). The same code serves the live
    /// runner and local folds of a case's history.
    pub fn apply_with(
        &mut self,
        record: EventRef<'_>,
        changes: Option<&mut Vec<Change>>,
    ) -> Result<(), CodecError> {
        if record.position <= self.position {
            return Ok(());
        }
        if let Some(id) = crate::domain::CaseId::from_stream(record.stream) {
            let event = decode::case_event(&record, self.keep_messages)?;
            match changes {
                None => self.apply_case(id, &record, event, None),
                Some(out) => {
                    let mut change = changes::change_of(id, &record);
                    self.apply_case(id, &record, event, Some(&mut change));
                    out.push(change);
                }
            }
        } else if let Some((team, kind)) = standing_of_stream(record.stream) {
            let event =
                StandingEvent::decode(record.event_type, record.schema_version, record.payload)?;
            self.apply_standing(team, kind, &event, record.version);
        } else if let Some(agent) = agent_of_stream(record.stream) {
            let event =
                AgentEvent::decode(record.event_type, record.schema_version, record.payload)?;
            self.presence.entry(agent).or_default().apply(
                &event,
                record.version,
                record.occurred_at,
            );
        } else if record.stream == crate::config::CONFIG_STREAM
            && record.event_type == "CustomerForgotten"
        {
            // The text index holds subjects and bodies in clear: a customer forgotten
            // through any node drops it (see `text`).
            self.text.forget();
        }
        self.timeline.record(record.position, record.occurred_at);
        self.position = record.position;
        self.events += 1;
        Ok(())
    }

    fn apply_case(
        &mut self,
        id: CaseId,
        record: &EventRef<'_>,
        event: CaseEvent,
        change: Option<&mut Change>,
    ) {
        let at = record.occurred_at;
        self.counts.count(&event);
        match &event {
            CaseEvent::KnowledgeCaptured(k) => self.knowledge.capture(record.position, id, at, k),
            CaseEvent::Opened(_) => self.text.opened(id),
            _ => {}
        }
        let view = self.cases.entry(id).or_insert_with(|| {
            Box::new(CaseView {
                case: Case::default(),
                messages: Vec::new(),
                chat: Vec::new(),
                last_position: 0,
            })
        });
        // A long replay builds the indexes once at its end instead.
        let deferred = self.deferred;
        let before = (!deferred).then(|| IndexEntries::of(&view.case, id));
        let was_indexed = IndexEntries::may_have_any(&view.case);
        let facts = self.facts.entry(id).or_default();
        facts.observe(&view.case, &event, at);
        // A posted message moves no listing key (checked in debug builds); any other
        // event may, so its keys are taken before it applies.
        let listed = match &event {
            _ if deferred => None,
            CaseEvent::MessagePosted(_) if view.case.exists() => None,
            _ => Some(listing::Entry::of(&view.case)),
        };
        #[cfg(debug_assertions)]
        let listed_before = (!deferred).then(|| listing::Entry::of(&view.case));
        view.case.apply(&event, record.version, at);
        facts.observed(&view.case, &event, at);
        match listed {
            Some(before) if !listing::Entry::same_as(&before, &view.case) => {
                self.listing
                    .reindex(id, before, listing::Entry::of(&view.case));
            }
            Some(_) => {}
            None =>
            {
                #[cfg(debug_assertions)]
                if let Some(listed_before) = listed_before {
                    assert!(
                        listing::Entry::same_as(&listed_before, &view.case),
                        "a posted message moved a listing key"
                    );
                }
            }
        }
        let is_indexed = IndexEntries::may_have_any(&view.case);
        self.timeline
            .moved(id, record.position, was_indexed, is_indexed);
        view.last_position = record.position;
        // Only a swarm's chat is kept live (and every message in past views).
        let posted = match &event {
            CaseEvent::MessagePosted(m)
                if self.keep_messages || m.kind == MessageKind::SwarmChat =>
            {
                Some(Message {
                    id: record.version,
                    kind: m.kind,
                    author: m.author.clone(),
                    body: m.body.clone(),
                    at,
                })
            }
            _ => None,
        };
        keep_chat(view, &event, posted.as_ref());
        if let Some(change) = change {
            debug_assert!(!deferred, "changes are described with the indexes kept");
            let before = before.unwrap_or_else(IndexEntries::none);
            change.room = changes::room_change(&event, view, posted.as_ref());
            if let Some(m) = posted.filter(|_| self.keep_messages) {
                view.messages.push(m);
            }
            change.queue_before = before.queue.as_ref().map(|(t, _)| t.clone());
            let after = IndexEntries::of(&view.case, id);
            change.queue_after = after.queue.as_ref().map(|(t, _)| t.clone());
            change.queue_moved = before.queue != after.queue;
            if before != after {
                self.reindex(id, before, after);
            }
            return;
        }
        if let Some(m) = posted.filter(|_| self.keep_messages) {
            view.messages.push(m);
        }
        if let Some(before) = before.filter(|b| !b.same_as(&view.case, id)) {
            let after = IndexEntries::of(&view.case, id);
            self.reindex(id, before, after);
        }
    }

    fn reindex(&mut self, id: CaseId, before: IndexEntries, after: IndexEntries) {
        if before.queue != after.queue {
            if let Some((tier, key)) = before.queue {
                if let Some(q) = self.queues.get_mut(&tier) {
                    q.remove(&key);
                    if q.is_empty() {
                        self.queues.remove(&tier);
                    }
                }
            }
            if let Some((tier, key)) = after.queue {
                self.queues.entry(tier).or_default().insert(key);
            }
        }
        if before.swarm_members != after.swarm_members {
            for a in &before.swarm_members {
                self.workload_mut(a).swarms.remove(&id);
            }
            for a in &after.swarm_members {
                self.workload_mut(a).swarms.insert(id);
            }
            if after.swarm_members.is_empty() {
                self.swarms.remove(&id);
            } else {
                self.swarms.insert(id);
            }
        }
        if before.dispatch != after.dispatch {
            if let Some((team, key)) = &before.dispatch {
                remove_entry(&mut self.dispatch, team, key);
            }
            if let Some((team, key)) = after.dispatch {
                self.dispatch.entry(team).or_default().insert(key);
            }
        }
        if before.backlog != after.backlog {
            if let Some((team, key)) = &before.backlog {
                remove_entry(&mut self.backlog, team, key);
            }
            if let Some((team, key)) = after.backlog {
                self.backlog.entry(team).or_default().insert(key);
            }
        }
        if before.assignee != after.assignee {
            if let Some(a) = &before.assignee {
                self.workload_mut(a).assigned.remove(&id);
            }
            if let Some(a) = &after.assignee {
                self.workload_mut(a).assigned.insert(id);
            }
        }
        // Only agents that lost an entry can have become idle; drop them.
        for a in before.swarm_members.iter().chain(&before.assignee) {
            if self
                .workload
                .get(a)
                .is_some_and(|w| w.assigned.is_empty() && w.swarms.is_empty())
            {
                self.workload.remove(a);
            }
        }
    }

    fn workload_mut(&mut self, agent: &AgentId) -> &mut Workload {
        self.workload.entry(agent.clone()).or_default()
    }

    pub fn case(&self, id: CaseId) -> Option<&CaseView> {
        self.cases.get(&id).map(|v| &**v)
    }

    /// Cases matching `filter`, newest first (ULIDs sort by creation time), starting
    /// after the case `after` (exclusive), at most `first`. Also returns whether more follow.
    pub fn cases(
        &self,
        filter: &CaseFilter,
        after: Option<CaseId>,
        first: usize,
    ) -> (Vec<&CaseView>, bool) {
        self.cases_visible(filter, &listing::Among::All, after, first, &|_| true)
    }

    /// The indexes `cases` pages walk.
    pub fn listing(&self) -> &listing::Listing {
        &self.listing
    }

    /// The text index ([`text::CaseText`]).
    pub fn text(&self) -> &text::CaseText {
        &self.text
    }

    /// What the text index is built from, if it is neither built nor being built
    /// ([`text::CaseText::begin`]); `erasures` is the vault's now.
    pub fn begin_text_index(&self, erasures: u64) -> Option<text::Build> {
        self.text
            .begin(self.cases.iter().map(|(id, v)| (id, &**v)), erasures)
    }

    /// Rebuilds the listing indexes from the case views ([`index_all`](Self::index_all)).
    /// Two threads each gather half of them ([`listing::Gathered`], the cases in id
    /// order so the halves join in order), and the sets are built once.
    pub fn relist(&mut self) {
        let mut cases: Vec<(&CaseId, &CaseView)> =
            self.cases.iter().map(|(id, v)| (id, &**v)).collect();
        cases.sort_unstable_by_key(|(id, _)| **id);
        let (first, second) = cases.split_at(cases.len() / 2);
        let gather = |half: &[(&CaseId, &CaseView)]| listing::Gathered::of(half.iter().copied());
        let (mut gathered, other) = std::thread::scope(|s| {
            let other = s.spawn(|| gather(second));
            (gather(first), other.join())
        });
        match other {
            Ok(other) => gathered.append(other),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        self.listing = gathered.build();
    }

    /// Gives back the room a long replay's growth left in the lists it filled entry
    /// by entry (report facts, timeline, case views' tags, pauses and chat), so
    /// projections replayed from the log hold about what the same decoded from a
    /// snapshot do.
    pub fn shrink_to_fit(&mut self) {
        for f in self.facts.values_mut() {
            f.shrink_to_fit();
        }
        for v in self.cases.values_mut() {
            v.case.tags.shrink_to_fit();
            v.case.pauses.shrink_to_fit();
            v.chat.shrink_to_fit();
            v.messages.shrink_to_fit();
        }
        self.timeline.shrink_to_fit();
    }

    /// Drops the parts one at a time, calling `after(part)` after each, so a benchmark
    /// measuring the heap between calls can say what each part holds (`report_bench
    /// --start-only`). Every field is named, so a new one must be placed here.
    pub fn drop_by_part(self, mut after: impl FnMut(&'static str)) {
        let Projections {
            position: _,
            cases,
            queues,
            swarms,
            workload,
            presence,
            events: _,
            counts,
            knowledge,
            facts,
            timeline,
            standing,
            dispatch,
            backlog,
            listing,
            text,
            deferred: _,
            keep_messages: _,
        } = self;
        drop(cases);
        after("case views");
        drop(facts);
        after("report facts");
        drop(timeline);
        after("timeline");
        drop(listing);
        after("listing");
        drop((
            queues, swarms, workload, presence, dispatch, backlog, standing, counts,
        ));
        after("queues, swarms, workload, dispatch, backlog");
        drop((knowledge, text));
        after("knowledge and text index");
    }

    /// Stops keeping the indexes (tier queues, swarms, workload, dispatch, backlog,
    /// listing) event by event until [`index_all`](Self::index_all) builds them from
    /// the views: a long replay pays one build instead of moving each case between
    /// sets at every event. Nothing may read them in between; the case views, facts,
    /// timeline and counts are kept as always.
    pub fn defer_indexes(&mut self) {
        self.clear_indexes();
        self.deferred = true;
    }

    /// Builds every index from the case views (what applying each event would have
    /// kept; tests compare the two) and keeps them event by event again.
    pub fn index_all(&mut self) {
        self.clear_indexes();
        let entries: Vec<(CaseId, IndexEntries)> = self
            .cases
            .iter()
            // Only an open case, or one with a swarm, has an entry ([`IndexEntries::of`]):
            // the others (most of a long log's) are passed over without building theirs.
            .filter(|(_, v)| v.case.status == Status::Open || v.case.swarm.is_some())
            .map(|(id, v)| (*id, IndexEntries::of(&v.case, *id)))
            .filter(|(_, e)| *e != IndexEntries::none())
            .collect();
        for (id, after) in entries {
            self.reindex(id, IndexEntries::none(), after);
        }
        self.relist();
        self.deferred = false;
    }

    /// Empties every index [`index_all`](Self::index_all) builds from the views.
    fn clear_indexes(&mut self) {
        self.queues.clear();
        self.swarms.clear();
        self.workload.clear();
        self.dispatch.clear();
        self.backlog.clear();
        self.listing = listing::Listing::default();
    }

    /// Like [`cases`](Self::cases), among the cases `visible` accepts, all of which
    /// `among` holds ([`crate::policy::read_scope`]). The page walks the listing
    /// index that holds the fewest candidates ([`listing::Listing::newest`]).
    pub fn cases_visible(
        &self,
        filter: &CaseFilter,
        among: &listing::Among,
        after: Option<CaseId>,
        first: usize,
        visible: &dyn Fn(&Case) -> bool,
    ) -> (Vec<&CaseView>, bool) {
        let candidates = filter.text.as_deref().and_then(|t| {
            self.text
                .candidates(t, filter.vault.as_deref(), &self.cases)
        });
        let mut matching = self
            .listing
            .newest(filter, among, after, candidates.as_ref())
            .filter_map(|id| self.cases.get(&id).map(|v| &**v))
            .filter(|v| filter.matches(&v.case) && visible(&v.case));
        let page: Vec<&CaseView> = matching.by_ref().take(first).collect();
        let more = matching.next().is_some();
        (page, more)
    }

    /// [`cases_visible`](Self::cases_visible) by a scan: every case id collected and
    /// sorted, then walked. The reference the indexed pages are tested and benchmarked
    /// against.
    pub fn cases_scan(
        &self,
        filter: &CaseFilter,
        after: Option<CaseId>,
        first: usize,
        visible: &dyn Fn(&Case) -> bool,
    ) -> (Vec<&CaseView>, bool) {
        let mut ids: Vec<&CaseId> = self.cases.keys().collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let start = match after {
            // The page starts after the cursor's case, never with it again.
            Some(a) => ids.partition_point(|id| **id >= a),
            None => 0,
        };
        let mut matching = ids[start..]
            .iter()
            .map(|id| &*self.cases[*id])
            .filter(|v| filter.matches(&v.case) && visible(&v.case));
        let page: Vec<&CaseView> = matching.by_ref().take(first).collect();
        let more = matching.next().is_some();
        (page, more)
    }

    /// Every open case.
    pub fn open_cases(&self) -> impl Iterator<Item = &Case> {
        self.cases
            .values()
            .map(|v| &v.case)
            .filter(|c| c.status == Status::Open)
    }

    /// Cases opened at or after `from` and before `to`.
    pub fn cases_opened_between(&self, from: Timestamp, to: Timestamp) -> Vec<CaseId> {
        self.cases
            .iter()
            .filter(|(_, v)| v.case.opened_at >= from && v.case.opened_at < to)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The tier's open cases by breach risk (nearest SLA deadline), then most urgent,
    /// then oldest first.
    pub fn tier_queue(&self, tier: &Tier) -> impl Iterator<Item = &CaseView> {
        self.queues
            .get(tier)
            .into_iter()
            .flatten()
            .map(|k| &*self.cases[&k.case])
    }

    /// How many open cases the tier's queue holds.
    pub fn tier_queue_len(&self, tier: &Tier) -> usize {
        self.queues.get(tier).map_or(0, BTreeSet::len)
    }

    /// Tiers that currently have a queue, with their lengths.
    pub fn queue_lengths(&self) -> impl Iterator<Item = (&Tier, usize)> {
        self.queues.iter().map(|(t, q)| (t, q.len()))
    }

    pub fn swarm_room(&self, id: CaseId) -> Option<SwarmRoom<'_>> {
        self.cases
            .get(&id)
            .filter(|v| v.case.swarm.is_some())
            .map(|view| SwarmRoom { view })
    }

    /// Active swarms, oldest case first.
    pub fn swarm_rooms(&self) -> impl Iterator<Item = SwarmRoom<'_>> {
        self.swarm_rooms_after(None)
    }

    /// Active swarms of cases after `after` (all if `None`), oldest case first: a
    /// page starts where the last one ended without walking what came before.
    pub fn swarm_rooms_after(&self, after: Option<CaseId>) -> impl Iterator<Item = SwarmRoom<'_>> {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = after.map_or(Unbounded, Excluded);
        self.swarms.range((from, Unbounded)).map(|id| SwarmRoom {
            view: &self.cases[id],
        })
    }

    /// Each case with its report facts.
    pub fn case_facts(&self) -> impl Iterator<Item = (CaseId, &CaseView, &facts::CaseFacts)> {
        self.cases
            .iter()
            .filter_map(|(id, v)| Some((*id, &**v, &**self.facts.get(id)?)))
    }

    /// One case's report facts.
    pub fn facts_of(&self, id: CaseId) -> Option<&facts::CaseFacts> {
        self.facts.get(&id).map(|f| &**f)
    }

    /// Positions by time, and the cases in an index at each position.
    pub fn timeline(&self) -> &timeline::Timeline {
        &self.timeline
    }

    /// Captured articles and their search.
    pub fn knowledge(&self) -> &knowledge::Knowledge {
        &self.knowledge
    }

    pub fn workload(&self, agent: &AgentId) -> Option<&Workload> {
        self.workload.get(agent)
    }

    pub fn workloads(&self) -> impl Iterator<Item = (&AgentId, &Workload)> {
        self.workload.iter()
    }

    /// Totals of the events operators alert on, over the log up to [`position`](Self::position).
    pub fn counts(&self) -> &EventCounts {
        &self.counts
    }

    /// `agent`'s presence as their stream folds it (the default: available, never set).
    pub fn agent_presence(&self, agent: &AgentId) -> AgentPresence {
        self.presence.get(agent).cloned().unwrap_or_default()
    }

    /// `agent`'s presence: available unless their stream says otherwise.
    pub fn presence(&self, agent: &AgentId) -> Presence {
        self.presence
            .get(agent)
            .map(|p| p.presence)
            .unwrap_or_default()
    }

    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            events: self.events,
            cases: self.cases.len() as u64,
            ..Stats::default()
        };
        for v in self.cases.values() {
            match v.case.status {
                Status::Open => s.open += 1,
                Status::Resolved => s.resolved += 1,
                Status::Closed => s.closed += 1,
            }
            if let Some(r) = &v.case.resolution {
                let tier = r
                    .tier
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_else(|| "unrouted".into());
                *s.resolved_by_tier.entry(tier).or_default() += 1;
            }
        }
        s.active_swarms = self.swarms.len() as u64;
        s
    }
}
