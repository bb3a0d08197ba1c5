//! The tier ladder. Businesses run different numbers of tiers (a small shop may have
//! only L0 and L1; an integrator adds an L4 vendor tier), so tiers are configuration:
//! an ordered list of names, lowest first. Escalation moves up the list.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

use super::error::DomainError;

/// A tier's name, e.g. `L2`. Its rank comes from the ladder it is part of. Held
/// inline up to 24 bytes (encoded as a string, as before).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tier(pub CompactString);

impl Tier {
    pub fn new(name: impl Into<String>) -> Self {
        Tier(name.into().into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ordered tiers in force, lowest (self-service) first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLadder {
    tiers: Vec<Tier>,
}

impl TierLadder {
    /// A ladder from names, lowest first. Names must be unique, non-empty, and there
    /// must be at least one.
    pub fn new<I, S>(names: I) -> Result<Self, DomainError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tiers: Vec<Tier> = names
            .into_iter()
            .map(|n| Tier(n.into().trim().into()))
            .collect();
        if tiers.is_empty() {
            return Err(DomainError::Invalid("at least one tier is required".into()));
        }
        for (i, t) in tiers.iter().enumerate() {
            if t.0.is_empty() || t.0.len() > 32 {
                return Err(DomainError::Invalid(
                    "tier names must have 1-32 characters".into(),
                ));
            }
            if tiers[..i].contains(t) {
                return Err(DomainError::Invalid(format!("tier `{t}` is listed twice")));
            }
        }
        Ok(TierLadder { tiers })
    }

    /// L0 self-service, L1 front line, L2 specialists, L3 experts.
    pub fn standard() -> Self {
        TierLadder::new(["L0", "L1", "L2", "L3"]).expect("static ladder is valid")
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The tier's position, 0 for the lowest; `None` if it is not on this ladder.
    pub fn rank(&self, tier: &Tier) -> Option<usize> {
        self.tiers.iter().position(|t| t == tier)
    }

    /// Looks a tier up by name, with a clear error if it is not configured.
    pub fn get(&self, name: &str) -> Result<Tier, DomainError> {
        self.tiers
            .iter()
            .find(|t| t.0 == name)
            .cloned()
            .ok_or_else(|| DomainError::UnknownTier(name.to_string()))
    }

    pub fn above(&self, tier: &Tier) -> Option<&Tier> {
        self.rank(tier).and_then(|r| self.tiers.get(r + 1))
    }

    pub fn below(&self, tier: &Tier) -> Option<&Tier> {
        self.rank(tier)
            .and_then(|r| r.checked_sub(1))
            .map(|r| &self.tiers[r])
    }

    pub fn top(&self) -> &Tier {
        self.tiers.last().expect("ladder is never empty")
    }

    /// The sensitive floor: the lowest tier that may handle sensitive (billing,
    /// account, health) cases. `L2` if configured, else the lowest tier named `L<n>`
    /// with n ≥ 2, else the top tier. A sensitive case never sits below it.
    pub fn sensitive_floor(&self) -> &Tier {
        if let Some(t) = self.tiers.iter().find(|t| t.0 == "L2") {
            return t;
        }
        self.tiers
            .iter()
            .find(|t| t.level().is_some_and(|n| n >= 2))
            .unwrap_or_else(|| self.top())
    }

    /// Whether `tier` is at or above the sensitive floor (`false` for a tier not on
    /// this ladder).
    pub fn allows_sensitive(&self, tier: &Tier) -> bool {
        matches!(
            (self.rank(tier), self.rank(self.sensitive_floor())),
            (Some(t), Some(f)) if t >= f
        )
    }
}

impl Tier {
    /// `n` for a tier named `L<n>` (or `l<n>`), the conventional names.
    pub fn level(&self) -> Option<u32> {
        let digits = self
            .0
            .strip_prefix('L')
            .or_else(|| self.0.strip_prefix('l'))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

/// Which tier each configured team works, in the configuration's order of
/// preference. A case's team, when it has one, always works the case's tier: when a
/// case moves to another tier (an escalation, a de-escalation, an SLA step) it goes
/// to that tier's *default team*, the first team here that works it, or to no team
/// when none does ([`TierTeams::default_for`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierTeams {
    /// (team, tier), the default team of each tier first.
    teams: Vec<(String, Tier)>,
}

impl TierTeams {
    /// Teams and their tiers, most preferred first (a team listed twice keeps its
    /// first entry).
    pub fn new(teams: impl IntoIterator<Item = (String, Tier)>) -> Self {
        let mut out: Vec<(String, Tier)> = Vec::new();
        for (team, tier) in teams {
            if !out.iter().any(|(t, _)| *t == team) {
                out.push((team, tier));
            }
        }
        TierTeams { teams: out }
    }

    /// The tier `team` works, if it is a known team.
    pub fn tier_of(&self, team: &str) -> Option<&Tier> {
        self.teams.iter().find(|(t, _)| t == team).map(|(_, r)| r)
    }

    /// Whether `team` is known and works `tier`.
    pub fn works(&self, team: &str, tier: &Tier) -> bool {
        self.tier_of(team) == Some(tier)
    }

    /// The team a case moved to `tier` goes to: the first team that works it, or none.
    pub fn default_for(&self, tier: &Tier) -> Option<&str> {
        self.teams
            .iter()
            .find(|(_, r)| r == tier)
            .map(|(t, _)| t.as_str())
    }
}
