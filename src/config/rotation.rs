//! The rapid-responder rotation: who answers first when a swarm becomes
//! `SEVERITY_1` (`[swarming] rapid_responders = [...]` in a seed file,
//! `setRapidRotation` in the API, the `RapidRotationSet` event).
//!
//! The rule is an on-call order by the clock: time is cut into shifts of
//! `shift_hours` counted from `start`; shift `n` (0 the one starting at `start`,
//! negative before it) belongs to `responders[n mod len]`. The next in rotation is
//! the following responder, wrapping around. Pure: the payload, its validation and
//! who is on call at an instant.

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};
use crate::domain::{AgentId, Timestamp};

/// Most responders in one rotation.
pub const MAX_RESPONDERS: usize = 100;
/// Longest shift: a year.
pub const MAX_SHIFT_HOURS: u32 = 8760;
/// Shifts last a week unless configured otherwise.
pub const DEFAULT_SHIFT_HOURS: u32 = 168;
/// Shifts are counted from Monday 1970-01-05 00:00 UTC unless configured otherwise,
/// so weekly shifts start on Mondays and daily ones at midnight UTC.
pub const DEFAULT_START: Timestamp = Timestamp(4 * 86_400 * 1_000_000);

/// The rotation in force (replacing the previous one); no responders: no rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RapidRotation {
    /// The on-call order: each holds one shift, then the next takes over.
    pub responders: Vec<AgentId>,
    #[serde(alias = "shift_hours")]
    pub shift_hours: u32,
    /// When shift 0 starts.
    pub start: Timestamp,
}

impl Default for RapidRotation {
    fn default() -> Self {
        RapidRotation {
            responders: Vec::new(),
            shift_hours: DEFAULT_SHIFT_HOURS,
            start: DEFAULT_START,
        }
    }
}

impl RapidRotation {
    /// The shift `now` falls in (negative before `start`).
    pub fn shift_at(&self, now: Timestamp) -> i64 {
        let len = i64::from(self.shift_hours.max(1)) * 3_600_000_000;
        (now.0 - self.start.0).div_euclid(len)
    }

    /// Every responder, the one on call at `now` first, then the next in rotation
    /// and so on (wrapping around). Empty without a rotation.
    pub fn order_at(&self, now: Timestamp) -> Vec<AgentId> {
        let n = self.responders.len();
        if n == 0 {
            return Vec::new();
        }
        let first = usize::try_from(self.shift_at(now).rem_euclid(n as i64)).unwrap_or(0);
        self.responders[first..]
            .iter()
            .chain(&self.responders[..first])
            .cloned()
            .collect()
    }

    /// The responder on call at `now`.
    pub fn on_call(&self, now: Timestamp) -> Option<AgentId> {
        self.order_at(now).into_iter().next()
    }
}

/// Checks a proposed rotation against the directory: every responder an agent in
/// it, each once, at most [`MAX_RESPONDERS`]; shifts of 1 to [`MAX_SHIFT_HOURS`] hours.
pub fn checked(config: &Config, rotation: RapidRotation) -> Result<RapidRotation, ConfigError> {
    if rotation.responders.len() > MAX_RESPONDERS {
        return Err(ConfigError::Invalid(format!(
            "a rapid-responder rotation holds at most {MAX_RESPONDERS} responders"
        )));
    }
    if !(1..=MAX_SHIFT_HOURS).contains(&rotation.shift_hours) {
        return Err(ConfigError::Invalid(format!(
            "rapid-responder shifts last 1 to {MAX_SHIFT_HOURS} hours, not {}",
            rotation.shift_hours
        )));
    }
    for (i, r) in rotation.responders.iter().enumerate() {
        if !config.agents.contains_key(r) {
            return Err(ConfigError::Invalid(format!(
                "rapid responder `{r}` is not an agent in the directory"
            )));
        }
        if rotation.responders[..i].contains(r) {
            return Err(ConfigError::Invalid(format!(
                "rapid responder `{r}` is listed twice"
            )));
        }
    }
    Ok(rotation)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn rotation(names: &[&str], shift_hours: u32, start: Timestamp) -> RapidRotation {
        RapidRotation {
            responders: names.iter().map(|n| AgentId::new(*n).unwrap()).collect(),
            shift_hours,
            start,
        }
    }

    fn names(order: Vec<AgentId>) -> Vec<String> {
        order.into_iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_responder_on_call_is_counted_in_whole_shifts_from_the_start() {
        // Daily shifts from T: ana on day 0, ben on day 1, cy on day 2, ana again on day 3.
        let t = Timestamp(1_767_571_200_000_000); // Monday 2026-01-05 00:00 UTC
        let r = rotation(&["ana", "ben", "cy"], 24, t);
        let at = |h: i64| r.on_call(Timestamp(t.0 + h * HOUR)).unwrap().to_string();
        assert_eq!(at(0), "ana");
        assert_eq!(at(23), "ana");
        assert_eq!(at(24), "ben");
        assert_eq!(at(49), "cy");
        assert_eq!(at(72), "ana");
        // Before the start the order runs backwards: the day before is cy's.
        assert_eq!(at(-1), "cy");
        assert_eq!(
            names(r.order_at(Timestamp(t.0 + 30 * HOUR))),
            ["ben", "cy", "ana"]
        );
    }

    #[test]
    fn by_default_shifts_are_weeks_from_a_monday() {
        let r = RapidRotation {
            responders: ["ana", "ben"].map(|n| AgentId::new(n).unwrap()).into(),
            ..Default::default()
        };
        // Monday 2026-01-05 is 20458 days after the epoch, 20454 after 1970-01-05:
        // week 20454 / 7 = 2922, even, so ana's; the Sunday before (week 2921) is ben's.
        let monday = Timestamp(1_767_571_200_000_000);
        assert_eq!(r.shift_at(monday), 2922);
        assert_eq!(r.on_call(monday).unwrap().as_str(), "ana");
        assert_eq!(r.on_call(Timestamp(monday.0 - 1)).unwrap().as_str(), "ben");
        assert!(RapidRotation::default().on_call(monday).is_none());
    }

    #[test]
    fn a_rotation_names_directory_agents_once_with_a_sane_shift() {
        let mut config = Config::empty();
        for id in ["ana", "ben"] {
            config.agents.insert(
                AgentId::new(id).unwrap(),
                super::super::Agent {
                    id: AgentId::new(id).unwrap(),
                    name: id.into(),
                    tiers: vec!["L1".into()],
                    teams: Vec::new(),
                    skills: Vec::new(),
                    languages: Vec::new(),
                    max_cases: 5,
                },
            );
        }
        let ok = rotation(&["ben", "ana"], 24, DEFAULT_START);
        assert_eq!(checked(&config, ok.clone()), Ok(ok));
        for bad in [
            rotation(&["ana", "zoe"], 24, DEFAULT_START),
            rotation(&["ana", "ana"], 24, DEFAULT_START),
            rotation(&["ana"], 0, DEFAULT_START),
            rotation(&["ana"], MAX_SHIFT_HOURS + 1, DEFAULT_START),
        ] {
            assert!(checked(&config, bad.clone()).is_err(), "{bad:?}");
        }
    }
}
