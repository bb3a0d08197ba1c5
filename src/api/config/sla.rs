//! SLA configuration in the API: business-hours calendars and SLA policies with
//! their escalation chains (inputs, conversion to the domain's records, and the
//! objects read back).

use async_graphql::{InputObject, Result, SimpleObject};

use crate::api::error::bad_input;
use crate::api::types::{Priority, Segment};
use crate::domain::calendar::fmt_hhmm;
use crate::domain::{Calendar, EscalationStep, SlaPolicy, WorkingHours};

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// Working time on one weekday, local `HH:MM` to `HH:MM` (end exclusive; `24:00` is
/// midnight at the end of the day).
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "WorkingHoursInput")]
pub struct WorkingHoursObj {
    pub weekday: Weekday,
    pub start: String,
    pub end: String,
}

/// A business-hours calendar: weekly hours and holidays in a fixed UTC offset
/// (daylight saving time is not modelled).
#[derive(InputObject)]
pub struct CalendarInput {
    pub id: String,
    /// Local time minus UTC, in minutes (60 for UTC+01:00).
    #[graphql(default)]
    pub utc_offset_minutes: i32,
    pub hours: Vec<WorkingHoursObj>,
    /// Local dates (`YYYY-MM-DD`) without working time.
    #[graphql(default)]
    pub holidays: Vec<String>,
}

/// One step of a time-based escalation chain: when a clock has run this long
/// (business minutes) without its target met, these actions happen once.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "EscalationStepInput")]
pub struct EscalationStepObj {
    pub after_minutes: u32,
    pub clock: crate::api::types::SlaKind,
    #[graphql(default)]
    pub raise_priority: bool,
    #[graphql(default)]
    pub notify_lead: bool,
    #[graphql(default)]
    pub escalate_tier: bool,
}

/// An SLA policy: targets for cases of some priorities and segments. Policies are
/// checked in order; the first that matches a case applies.
#[derive(InputObject)]
pub struct SlaPolicyInput {
    pub id: String,
    #[graphql(default)]
    pub name: String,
    /// Empty: any priority.
    #[graphql(default)]
    pub priorities: Vec<Priority>,
    /// Empty: any segment.
    #[graphql(default)]
    pub segments: Vec<Segment>,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    /// A calendar id; unset: the routed team's calendar, else 24x7.
    pub calendar: Option<String>,
    #[graphql(default)]
    pub escalation: Vec<EscalationStepObj>,
}

fn hhmm(s: &str) -> Result<u16> {
    crate::domain::calendar::parse_hhmm(s)
        .ok_or_else(|| bad_input(format!("`{s}` is not a time of day (HH:MM)")))
}

impl CalendarInput {
    pub(super) fn into_calendar(self) -> Result<Calendar> {
        let mut hours = Vec::with_capacity(self.hours.len());
        for h in self.hours {
            hours.push(WorkingHours {
                weekday: WEEKDAYS.iter().position(|d| *d == h.weekday).unwrap_or(0) as u8,
                start_minute: hhmm(&h.start)?,
                end_minute: hhmm(&h.end)?,
            });
        }
        Ok(Calendar {
            id: self.id.trim().to_string(),
            utc_offset_minutes: self.utc_offset_minutes,
            hours,
            holidays: self.holidays,
        })
    }
}

impl From<SlaPolicyInput> for SlaPolicy {
    fn from(p: SlaPolicyInput) -> Self {
        SlaPolicy {
            name: if p.name.trim().is_empty() {
                p.id.clone()
            } else {
                p.name
            },
            id: p.id,
            priorities: p.priorities.into_iter().map(Into::into).collect(),
            segments: p.segments.into_iter().map(Into::into).collect(),
            first_response_mins: p.first_response_minutes,
            resolution_mins: p.resolution_minutes,
            calendar: p.calendar,
            escalation: p
                .escalation
                .into_iter()
                .map(|s| EscalationStep {
                    after_mins: s.after_minutes,
                    clock: s.clock.into(),
                    raise_priority: s.raise_priority,
                    notify_lead: s.notify_lead,
                    escalate_tier: s.escalate_tier,
                })
                .collect(),
        }
    }
}

#[derive(SimpleObject)]
pub struct CalendarObj {
    pub id: String,
    pub utc_offset_minutes: i32,
    pub hours: Vec<WorkingHoursObj>,
    pub holidays: Vec<String>,
}

impl From<&Calendar> for CalendarObj {
    fn from(c: &Calendar) -> Self {
        CalendarObj {
            id: c.id.clone(),
            utc_offset_minutes: c.utc_offset_minutes,
            hours: c
                .hours
                .iter()
                .map(|h| WorkingHoursObj {
                    weekday: WEEKDAYS[(h.weekday as usize).min(6)],
                    start: fmt_hhmm(h.start_minute),
                    end: fmt_hhmm(h.end_minute),
                })
                .collect(),
            holidays: c.holidays.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct SlaPolicyObj {
    pub id: String,
    pub name: String,
    pub priorities: Vec<Priority>,
    pub segments: Vec<Segment>,
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    pub calendar: Option<String>,
    pub escalation: Vec<EscalationStepObj>,
}

impl From<&SlaPolicy> for SlaPolicyObj {
    fn from(p: &SlaPolicy) -> Self {
        SlaPolicyObj {
            id: p.id.clone(),
            name: p.name.clone(),
            priorities: p.priorities.iter().map(|x| (*x).into()).collect(),
            segments: p.segments.iter().map(|x| (*x).into()).collect(),
            first_response_minutes: p.first_response_mins,
            resolution_minutes: p.resolution_mins,
            calendar: p.calendar.clone(),
            escalation: p
                .escalation
                .iter()
                .map(|s| EscalationStepObj {
                    after_minutes: s.after_mins,
                    clock: s.clock.into(),
                    raise_priority: s.raise_priority,
                    notify_lead: s.notify_lead,
                    escalate_tier: s.escalate_tier,
                })
                .collect(),
        }
    }
}
