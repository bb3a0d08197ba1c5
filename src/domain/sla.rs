//! Service-level agreements: which policy applies to a case, the policy's
//! first-response and resolution targets in business time, its time-based escalation
//! chain, and the case's SLA clocks derived from its own events.
//!
//! - [`SlaConfig`] is configuration: ordered policies (first match wins), calendars,
//!   and each team's calendar. `decide` copies the matching policy into the case
//!   stream as an `SlaApplied` event, so a case's deadlines follow from its events
//!   alone, even after the policy is edited.
//! - [`SlaClock`] is the folded SLA state of a case; the deadline arithmetic lives in
//!   the `impl Case` block here, next to [`sla_due`], which lists the breach and
//!   escalation commands due at an instant. A scheduler calls it and runs what it
//!   returns; `decide` re-checks everything, so running a command twice is harmless.
//!
//! Clocks:
//! - both start at `opened_at`; the resolution clock restarts at each reopen (when its
//!   breach flag and its escalation steps reset too). The first-response clock runs
//!   once per case.
//! - they run in business time of the policy's calendar and do not run while the case
//!   waits on the customer (a deadline already reached before the wait began stands).
//! - the first-response clock stops at the first public reply by a non-customer; the
//!   resolution clock stops when the case is resolved or closed.
//! - a deadline is reached at the instant itself: a reply exactly at the deadline is
//!   late. Each kind breaches at most once (per reopen cycle for resolution).
//!
//! Over 600 lines: policies, a case's SLA clock and which SLA commands are due are one
//! model that changes together; its tests are in `domain/tests/sla_scenarios.rs`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

use super::calendar::{Calendar, CalendarError, Schedule};
use super::case::{Case, Priority, Segment, Status};
use super::command::Command;
use super::error::DomainError;
use super::event::SlaApplied;
use super::ids::Timestamp;

/// Most escalation steps in one policy.
pub const MAX_STEPS: usize = 16;
/// Longest SLA target or escalation delay, in (business) minutes: one year of
/// minutes (366 days), so every deadline stays a date that prints as RFC 3339.
pub const MAX_SLA_MINUTES: u32 = 366 * 24 * 60;
/// Longest policy or team id, in bytes.
pub const MAX_ID: usize = 64;

/// The two SLA clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlaKind {
    #[serde(alias = "FirstResponse")]
    FirstResponse,
    #[serde(alias = "Resolution")]
    Resolution,
}

impl SlaKind {
    pub const ALL: [SlaKind; 2] = [SlaKind::FirstResponse, SlaKind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaKind::FirstResponse => "FIRST_RESPONSE",
            SlaKind::Resolution => "RESOLUTION",
        }
    }
}

impl fmt::Display for SlaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlaKind::FirstResponse => "first-response",
            SlaKind::Resolution => "resolution",
        })
    }
}

impl FromStr for SlaKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "FIRST_RESPONSE" => Ok(SlaKind::FirstResponse),
            "RESOLUTION" => Ok(SlaKind::Resolution),
            _ => Err(DomainError::Invalid(format!("unknown SlaKind `{s}`"))),
        }
    }
}

/// One rung of a time-based escalation chain: when `after_mins` of business time
/// have run on `clock` without it stopping, do what the flags say (once).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EscalationStep {
    #[serde(rename = "afterMinutes", alias = "after_mins")]
    pub after_mins: u32,
    pub clock: SlaKind,
    /// One priority level up (no-op at urgent).
    #[serde(default, alias = "raise_priority")]
    pub raise_priority: bool,
    /// Recorded on the `SlaEscalated` event for the server to notify the team lead.
    #[serde(default, alias = "notify_lead")]
    pub notify_lead: bool,
    /// One tier up (no-op at the top tier or before routing).
    #[serde(default, alias = "escalate_tier")]
    pub escalate_tier: bool,
}

/// Targets for the cases it matches. Empty `priorities`/`segments` match any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaPolicy {
    pub id: String,
    // Defaults as in the API's `SlaPolicyInput`, for `swarmdesk.toml`; postcard
    // always writes every field, so stored events are unaffected.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub priorities: Vec<Priority>,
    #[serde(default)]
    pub segments: Vec<Segment>,
    #[serde(rename = "firstResponseMinutes", alias = "first_response_mins")]
    pub first_response_mins: Option<u32>,
    #[serde(rename = "resolutionMinutes", alias = "resolution_mins")]
    pub resolution_mins: Option<u32>,
    /// A calendar id; `None` uses the case team's calendar, or 24x7 without one.
    pub calendar: Option<String>,
    /// Steps per clock in increasing `after_mins`.
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
}

/// All SLA configuration. The default has no policies: no case gets an SLA.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaConfig {
    /// Ordered; the first policy that matches a case applies.
    pub policies: Vec<SlaPolicy>,
    /// By calendar id. `24x7` is always known, as [`Calendar::always`].
    pub calendars: BTreeMap<String, Calendar>,
    /// Team name to calendar id.
    pub team_calendars: BTreeMap<String, String>,
}

/// Why SLA configuration is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SlaError {
    #[error("`{0}` is not a valid policy id (1-{MAX_ID} letters, digits, . _ -)")]
    BadPolicyId(String),
    #[error("policy `{0}` is defined twice")]
    DuplicatePolicy(String),
    #[error("policy `{0}`: the name must have at most 200 bytes")]
    BadName(String),
    #[error("policy `{0}` has neither a first-response nor a resolution target")]
    NoTarget(String),
    #[error("policy `{policy}`: the {kind} target must be at least one minute")]
    ZeroTarget { policy: String, kind: SlaKind },
    #[error("policy `{policy}`: {what} must be at most {MAX_SLA_MINUTES} minutes (one year)")]
    TooLong { policy: String, what: String },
    #[error("policy `{0}` has more than {MAX_STEPS} escalation steps")]
    TooManySteps(String),
    #[error("policy `{policy}`: escalation step {step} does nothing")]
    StepDoesNothing { policy: String, step: usize },
    #[error("policy `{policy}`: escalation step {step} must come at least one minute after the previous {kind} step")]
    StepOrder {
        policy: String,
        step: usize,
        kind: SlaKind,
    },
    #[error("`{owner}` refers to unknown calendar `{calendar}`")]
    UnknownCalendar { owner: String, calendar: String },
    #[error("calendar listed as `{key}` has id `{id}`")]
    CalendarKey { key: String, id: String },
    #[error("calendar `{id}`: {source}")]
    Calendar {
        id: String,
        #[source]
        source: CalendarError,
    },
}

fn valid_id(id: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    !id.is_empty() && id.len() <= MAX_ID && id.chars().all(ok_char)
}

impl SlaPolicy {
    /// Whether the policy covers a case of this priority and customer segment.
    pub fn matches(&self, priority: Priority, segment: Segment) -> bool {
        (self.priorities.is_empty() || self.priorities.contains(&priority))
            && (self.segments.is_empty() || self.segments.contains(&segment))
    }

    /// The policy's own rules: id, name, at least one non-zero target, escalation
    /// steps that do something, at most [`MAX_STEPS`], increasing per clock.
    /// (Whether its calendar exists is [`SlaConfig::validate`]'s business.)
    pub fn validate(&self) -> Result<(), SlaError> {
        let policy = || self.id.clone();
        if !valid_id(&self.id) {
            return Err(SlaError::BadPolicyId(policy()));
        }
        if self.name.len() > 200 {
            return Err(SlaError::BadName(policy()));
        }
        if self.first_response_mins.is_none() && self.resolution_mins.is_none() {
            return Err(SlaError::NoTarget(policy()));
        }
        for (kind, mins) in [
            (SlaKind::FirstResponse, self.first_response_mins),
            (SlaKind::Resolution, self.resolution_mins),
        ] {
            if mins == Some(0) {
                return Err(SlaError::ZeroTarget {
                    policy: policy(),
                    kind,
                });
            }
            if mins.is_some_and(|m| m > MAX_SLA_MINUTES) {
                return Err(SlaError::TooLong {
                    policy: policy(),
                    what: format!("the {kind} target"),
                });
            }
        }
        if self.escalation.len() > MAX_STEPS {
            return Err(SlaError::TooManySteps(policy()));
        }
        let mut last: BTreeMap<SlaKind, u32> = BTreeMap::new();
        for (step, s) in self.escalation.iter().enumerate() {
            if !(s.raise_priority || s.notify_lead || s.escalate_tier) {
                return Err(SlaError::StepDoesNothing {
                    policy: policy(),
                    step,
                });
            }
            if s.after_mins > MAX_SLA_MINUTES {
                return Err(SlaError::TooLong {
                    policy: policy(),
                    what: format!("escalation step {step}"),
                });
            }
            let previous = last.get(&s.clock).copied().unwrap_or(0);
            if s.after_mins <= previous {
                return Err(SlaError::StepOrder {
                    policy: policy(),
                    step,
                    kind: s.clock,
                });
            }
            last.insert(s.clock, s.after_mins);
        }
        Ok(())
    }

    /// The event that copies this policy, with `calendar`, into a case stream.
    pub fn applied(&self, calendar: Calendar) -> SlaApplied {
        SlaApplied {
            policy_id: self.id.clone(),
            calendar,
            first_response_secs: self.first_response_mins.map(|m| m as i64 * 60),
            resolution_secs: self.resolution_mins.map(|m| m as i64 * 60),
            escalation: self.escalation.clone(),
        }
    }
}

impl SlaConfig {
    /// No policies at all (the same as `default()`, usable in a `static`).
    pub const fn none() -> Self {
        SlaConfig {
            policies: Vec::new(),
            calendars: BTreeMap::new(),
            team_calendars: BTreeMap::new(),
        }
    }

    /// Every calendar and policy is valid, policy ids are unique, and every calendar
    /// a policy or team names exists.
    pub fn validate(&self) -> Result<(), SlaError> {
        for (key, cal) in &self.calendars {
            if *key != cal.id {
                return Err(SlaError::CalendarKey {
                    key: key.clone(),
                    id: cal.id.clone(),
                });
            }
            cal.validate().map_err(|source| SlaError::Calendar {
                id: key.clone(),
                source,
            })?;
        }
        let known = |id: &str| id == Calendar::ALWAYS_ID || self.calendars.contains_key(id);
        for (team, cal) in &self.team_calendars {
            if !known(cal) {
                return Err(SlaError::UnknownCalendar {
                    owner: format!("team {team}"),
                    calendar: cal.clone(),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for p in &self.policies {
            p.validate()?;
            if !seen.insert(p.id.as_str()) {
                return Err(SlaError::DuplicatePolicy(p.id.clone()));
            }
            if let Some(cal) = &p.calendar {
                if !known(cal) {
                    return Err(SlaError::UnknownCalendar {
                        owner: format!("policy {}", p.id),
                        calendar: cal.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// A calendar by id; `24x7` is always there.
    pub fn calendar(&self, id: &str) -> Option<Calendar> {
        match self.calendars.get(id) {
            Some(c) => Some(c.clone()),
            None if id == Calendar::ALWAYS_ID => Some(Calendar::always()),
            None => None,
        }
    }

    /// The first policy matching the case, with the calendar its clocks use: the
    /// policy's own, else the team's, else 24x7 (also for ids a validated
    /// configuration would not contain).
    pub fn policy_for(
        &self,
        priority: Priority,
        segment: Segment,
        team: Option<&str>,
    ) -> Option<(&SlaPolicy, Calendar)> {
        let policy = self
            .policies
            .iter()
            .find(|p| p.matches(priority, segment))?;
        let calendar = policy
            .calendar
            .as_deref()
            .and_then(|id| self.calendar(id))
            .or_else(|| {
                team.and_then(|t| self.team_calendars.get(t))
                    .and_then(|id| self.calendar(id))
            })
            .unwrap_or_else(Calendar::always);
        Some((policy, calendar))
    }
}

/// A case's SLA as folded from its events: the policy copy from the last
/// `SlaApplied`, and what has happened on its clocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    pub policy_id: String,
    pub calendar: Calendar,
    pub first_response_secs: Option<i64>,
    pub resolution_secs: Option<i64>,
    pub escalation: Vec<EscalationStep>,
    /// Kinds breached (resolution: in the current reopen cycle).
    pub breached: BTreeSet<SlaKind>,
    /// Indexes of the escalation steps that ran.
    pub escalated: BTreeSet<u32>,
}

impl SlaClock {
    /// The clock after `e` is applied to `previous`: breaches carry over (a kind
    /// breaches once per case/cycle whatever the policy); the steps that ran carry
    /// over only while the escalation chain is the same.
    pub fn applied(previous: Option<SlaClock>, e: &SlaApplied) -> SlaClock {
        let (breached, escalated) = match previous {
            Some(old) if old.policy_id == e.policy_id && old.escalation == e.escalation => {
                (old.breached, old.escalated)
            }
            Some(old) => (old.breached, BTreeSet::new()),
            None => (BTreeSet::new(), BTreeSet::new()),
        };
        SlaClock {
            policy_id: e.policy_id.clone(),
            calendar: e.calendar.clone(),
            first_response_secs: e.first_response_secs,
            resolution_secs: e.resolution_secs,
            escalation: e.escalation.clone(),
            breached,
            escalated,
        }
    }

    /// Whether `e` would change nothing about the policy in force.
    pub fn same_policy(&self, e: &SlaApplied) -> bool {
        self.policy_id == e.policy_id
            && self.calendar == e.calendar
            && self.first_response_secs == e.first_response_secs
            && self.resolution_secs == e.resolution_secs
            && self.escalation == e.escalation
    }

    pub fn target_secs(&self, kind: SlaKind) -> Option<i64> {
        match kind {
            SlaKind::FirstResponse => self.first_response_secs,
            SlaKind::Resolution => self.resolution_secs,
        }
    }

    /// The clock starts over at reopen: forget its breach and its steps.
    pub(crate) fn restart_resolution(&mut self) {
        self.breached.remove(&SlaKind::Resolution);
        let steps = &self.escalation;
        self.escalated.retain(|i| {
            steps
                .get(*i as usize)
                .is_some_and(|s| s.clock != SlaKind::Resolution)
        });
    }
}

/// Why an SLA command was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SlaRefusal {
    #[error("the case has no SLA")]
    NoSla,
    #[error("the SLA has no {0} target")]
    NoTarget(SlaKind),
    #[error("the case is not open")]
    NotOpen,
    #[error("the {0} clock is paused while the case waits on the customer")]
    Paused(SlaKind),
    #[error("the {kind} deadline {} has not passed", .at.to_rfc3339())]
    NotDue { kind: SlaKind, at: Timestamp },
    #[error("the {0} target was met")]
    Met(SlaKind),
    #[error("the {0} target is already breached")]
    AlreadyBreached(SlaKind),
    #[error("the policy has no escalation step {0}")]
    NoSuchStep(u32),
    #[error("escalation step {0} already ran")]
    AlreadyRan(u32),
    #[error("the {0} clock has stopped")]
    ClockStopped(SlaKind),
}

/// The instant at which `secs` of business time have run on a clock started at
/// `start`, not counting the waits in `pauses` (ordered, `[from, to)`) or the wait
/// going on since `open_pause`. `None` while the clock is paused short of it.
fn due_at(
    schedule: &Schedule,
    start: Timestamp,
    secs: i64,
    pauses: &[(Timestamp, Timestamp)],
    open_pause: Option<Timestamp>,
) -> Option<Timestamp> {
    let mut cur = start;
    let mut remaining = secs.max(0) as i128 * 1_000_000;
    let waits = pauses
        .iter()
        .map(|&(from, to)| (from, Some(to)))
        .chain(open_pause.map(|from| (from, None)));
    for (from, to) in waits {
        if to.is_some_and(|to| to <= cur) {
            continue;
        }
        if from > cur {
            let due = schedule.add(cur, remaining);
            if due <= from {
                return Some(due);
            }
            remaining -= schedule.between(cur, from);
        }
        cur = to?;
    }
    Some(schedule.add(cur, remaining))
}

/// SLA clocks of a case. All of this derives from the case's own events.
impl Case {
    /// Where `kind`'s clock starts: `opened_at`, for resolution the last reopen.
    pub fn clock_start(&self, kind: SlaKind) -> Timestamp {
        match kind {
            SlaKind::FirstResponse => self.opened_at,
            SlaKind::Resolution => self.resolution_clock_start,
        }
    }

    /// When `secs` of business time will have run on `kind`'s clock; `None` without
    /// an SLA or while paused short of it. Ignores whether the clock stopped.
    fn clock_due(&self, schedule: &Schedule, kind: SlaKind, secs: i64) -> Option<Timestamp> {
        due_at(
            schedule,
            self.clock_start(kind),
            secs,
            &self.pauses,
            self.awaiting_customer_since,
        )
    }

    /// When the clock stopped: the first response; or `None` while it runs.
    fn clock_stopped(&self, kind: SlaKind) -> Option<Timestamp> {
        match kind {
            SlaKind::FirstResponse => self.first_response_at,
            SlaKind::Resolution => None,
        }
    }

    /// The pending deadline of `kind`: `None` without an SLA or target, once the clock
    /// stopped (responded, resolved, closed) or while paused, unless the deadline was
    /// reached before the wait began. A breached deadline stays, in the past.
    pub fn deadline(&self, kind: SlaKind) -> Option<Timestamp> {
        let sla = self.sla.as_ref()?;
        self.deadline_in(&sla.calendar.schedule(), kind)
    }

    fn deadline_in(&self, schedule: &Schedule, kind: SlaKind) -> Option<Timestamp> {
        let target = self.sla.as_ref()?.target_secs(kind)?;
        if self.status != Status::Open || self.clock_stopped(kind).is_some() {
            return None;
        }
        self.clock_due(schedule, kind, target)
    }

    /// The nearest pending deadline: how much time is left before a breach. Tier
    /// queues sort on it.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let sla = self.sla.as_ref().filter(|_| self.status == Status::Open)?;
        let schedule = sla.calendar.schedule();
        SlaKind::ALL
            .iter()
            .filter_map(|k| self.deadline_in(&schedule, *k))
            .min()
    }

    /// Whether `kind` can be recorded as breached at `now`; the deadline if so.
    pub fn sla_breach_due(&self, kind: SlaKind, now: Timestamp) -> Result<Timestamp, SlaRefusal> {
        let deadline = self.breach_deadline(kind)?;
        if now < deadline {
            return Err(SlaRefusal::NotDue { kind, at: deadline });
        }
        Ok(deadline)
    }

    /// The deadline whose passing breaches `kind`, if a breach is still possible.
    fn breach_deadline(&self, kind: SlaKind) -> Result<Timestamp, SlaRefusal> {
        let sla = self.sla.as_ref().ok_or(SlaRefusal::NoSla)?;
        let target = sla.target_secs(kind).ok_or(SlaRefusal::NoTarget(kind))?;
        if self.status != Status::Open {
            return Err(SlaRefusal::NotOpen);
        }
        if sla.breached.contains(&kind) {
            return Err(SlaRefusal::AlreadyBreached(kind));
        }
        let stopped = self.clock_stopped(kind);
        let Some(deadline) = self.clock_due(&sla.calendar.schedule(), kind, target) else {
            // Paused short of the deadline; a stop before it came in time.
            return Err(match stopped {
                Some(_) => SlaRefusal::Met(kind),
                None => SlaRefusal::Paused(kind),
            });
        };
        if stopped.is_some_and(|t| t < deadline) {
            return Err(SlaRefusal::Met(kind));
        }
        Ok(deadline)
    }

    /// Whether escalation step `step` can run at `now`; the step if so.
    pub fn sla_step_due(&self, step: u32, now: Timestamp) -> Result<&EscalationStep, SlaRefusal> {
        let (s, due) = self.step_due_time(step)?;
        if now < due {
            return Err(SlaRefusal::NotDue {
                kind: s.clock,
                at: due,
            });
        }
        Ok(s)
    }

    /// When step `step` becomes due, if it still can run.
    fn step_due_time(&self, step: u32) -> Result<(&EscalationStep, Timestamp), SlaRefusal> {
        let sla = self.sla.as_ref().ok_or(SlaRefusal::NoSla)?;
        let s = sla
            .escalation
            .get(step as usize)
            .ok_or(SlaRefusal::NoSuchStep(step))?;
        if self.status != Status::Open {
            return Err(SlaRefusal::NotOpen);
        }
        if sla.escalated.contains(&step) {
            return Err(SlaRefusal::AlreadyRan(step));
        }
        if self.clock_stopped(s.clock).is_some() {
            return Err(SlaRefusal::ClockStopped(s.clock));
        }
        let secs = s.after_mins as i64 * 60;
        let due = self
            .clock_due(&sla.calendar.schedule(), s.clock, secs)
            .ok_or(SlaRefusal::Paused(s.clock))?;
        Ok((s, due))
    }

    /// The earliest instant at which [`sla_due`] will list something for this case
    /// as it is now (possibly in the past): when the server's scheduler should wake.
    /// `None` when nothing can become due without another event.
    pub fn next_sla_wakeup(&self) -> Option<Timestamp> {
        let steps = self.sla.as_ref().map_or(0, |s| s.escalation.len() as u32);
        let breaches = SlaKind::ALL
            .iter()
            .filter_map(|k| self.breach_deadline(*k).ok());
        let steps = (0..steps).filter_map(|i| self.step_due_time(i).ok().map(|(_, due)| due));
        breaches.chain(steps).min()
    }
}

/// The SLA commands due for `case` at `now`: breaches first, then escalation steps in
/// order. The server runs them as the system actor; each is re-checked by `decide`.
pub fn sla_due(case: &Case, now: Timestamp) -> Vec<Command> {
    let Some(sla) = &case.sla else {
        return Vec::new();
    };
    let breaches = SlaKind::ALL
        .into_iter()
        .filter(|k| case.sla_breach_due(*k, now).is_ok())
        .map(|kind| Command::RecordSlaBreach { kind });
    let steps = (0..sla.escalation.len() as u32)
        .filter(|i| case.sla_step_due(*i, now).is_ok())
        .map(|step| Command::RunSlaEscalation { step });
    breaches.chain(steps).collect()
}
