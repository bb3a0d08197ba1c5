//! The `swarmdesk.toml` seed: the configuration a fresh store starts with.
//!
//! Read once, at the first start of an empty store (`serve --config FILE`); after
//! that the configuration lives in the log and changes through the API, and the file
//! is ignored. Every field is optional:
//!
//! Keys and enum values are spelled as in the GraphQL API (`maxCases`, `keyAccount`,
//! `SOCIAL_DM`, `B2B`, a condition as `ConditionInput`'s one key: `all`, `keywords`,
//! ...). Files in the earlier spellings (`max_cases`, `SocialDm`, `{ All = [...] }`,
//! `weekday = 0`) still load.
//!
//! ```toml
//! tiers = ["L0", "L1", "L2", "L3"]   # lowest first
//!
//! [[calendars]]                      # business hours, for SLA clocks
//! id = "business-hours"
//! utcOffsetMinutes = 60
//! hours = [{ weekday = "MONDAY", start = "09:00", end = "17:00" }]
//! holidays = ["2026-12-25"]
//!
//! [[teams]]                          # replaces the standard teams when given
//! name = "billing"
//! tier = "L2"
//! calendar = "business-hours"
//!
//! [[agents]]
//! id = "alice"
//! name = "Alice Moreau"
//! teams = ["general"]
//! languages = ["en", "fr"]
//! maxCases = 8
//!
//! [rules]                            # replaces the standard rule set when given
//! default = { tier = "L1", team = "general" }
//! [[rules.rules]]
//! id = "billing"
//! name = "Billing questions"
//! condition = { all = [
//!   { channel = ["SOCIAL_DM", "EMAIL"] },
//!   { keywords = { words = ["invoice", "refund"], inSubject = true, inBody = true } },
//! ] }
//! actions = { tier = "L2", team = "billing", sensitive = true, autoAssign = true }
//!
//! [[slaPolicies]]                    # in order; the first matching one applies
//! id = "b2b-urgent"
//! priorities = ["URGENT"]
//! segments = ["B2B"]
//! firstResponseMinutes = 30
//! calendar = "business-hours"
//! escalation = [{ afterMinutes = 15, clock = "FIRST_RESPONSE", notifyLead = true }]
//!
//! [[customers]]                      # the customer directory: segment, key account
//! id = "initech"
//! name = "Initech"
//! segment = "B2B"
//! keyAccount = true
//!
//! [swarming]                         # who answers SEVERITY_1 swarms first, by shift
//! rapid_responders = ["alice", "bob"]
//! shift_hours = 24                   # default 168 (a week)
//! rotation_start = "2026-01-05T08:00:00Z"  # default Monday 1970-01-05 00:00 UTC
//! ```
//!
//! `examples/swarmdesk.toml` is a complete, tested example.

use serde::Deserialize;

use super::{Agent, ConfigError, ConfigSeed, Team};
use crate::domain::{AgentId, Calendar, Customer, SlaPolicy, TierLadder};
use crate::routing::{Actions, Rule, RuleSet};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileSeed {
    tiers: Option<Vec<String>>,
    teams: Option<Vec<FileTeam>>,
    #[serde(default)]
    agents: Vec<FileAgent>,
    rules: Option<FileRules>,
    #[serde(default)]
    calendars: Vec<Calendar>,
    #[serde(default, alias = "sla_policies")]
    sla_policies: Vec<SlaPolicy>,
    #[serde(default)]
    customers: Vec<FileCustomer>,
    skills: Option<FileSkills>,
    swarming: Option<FileSwarming>,
}

/// `[swarming] rapid_responders = ["agent", ...]`, with `shift_hours` (default 168,
/// a week) and `rotation_start` (an RFC 3339 time, default Monday 1970-01-05 00:00 UTC).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSwarming {
    #[serde(default, alias = "rapidResponders")]
    rapid_responders: Vec<String>,
    #[serde(alias = "shiftHours")]
    shift_hours: Option<u32>,
    #[serde(alias = "rotationStart")]
    rotation_start: Option<String>,
}

/// `[skills] map = { tag-or-keyword = ["skill", ...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSkills {
    #[serde(default)]
    map: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileCustomer {
    id: String,
    name: Option<String>,
    /// `B2B` or `B2C`.
    segment: String,
    #[serde(default, alias = "key_account")]
    key_account: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileTeam {
    name: String,
    tier: String,
    #[serde(default)]
    description: String,
    calendar: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileAgent {
    id: String,
    name: Option<String>,
    #[serde(default)]
    tiers: Vec<String>,
    #[serde(default)]
    teams: Vec<String>,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default = "default_capacity", alias = "max_cases")]
    max_cases: u32,
}

fn default_capacity() -> u32 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileRules {
    #[serde(default)]
    rules: Vec<Rule>,
    default: Actions,
}

/// Parses a seed file; `tiers` (and the default route) from the command line apply
/// when the file does not set them.
pub fn parse(
    text: &str,
    fallback_tiers: &TierLadder,
    default_tier: Option<&str>,
    default_team: Option<&str>,
) -> Result<ConfigSeed, ConfigError> {
    let file: FileSeed =
        toml::from_str(text).map_err(|e| ConfigError::Invalid(format!("swarmdesk.toml: {e}")))?;
    let tiers = match file.tiers {
        Some(t) => TierLadder::new(t)?,
        None => fallback_tiers.clone(),
    };
    let mut seed = ConfigSeed::standard(tiers, default_tier, default_team);
    if let Some(teams) = file.teams {
        seed.teams = teams
            .into_iter()
            .map(|t| Team {
                name: t.name,
                tier: t.tier,
                description: t.description,
                calendar: t.calendar,
            })
            .collect();
    }
    for a in file.agents {
        let id = AgentId::new(a.id.as_str())?;
        seed.agents.push(Agent {
            name: a.name.unwrap_or_else(|| a.id.clone()),
            id,
            tiers: a.tiers,
            teams: a.teams,
            skills: a.skills,
            languages: a.languages,
            max_cases: a.max_cases,
        });
    }
    if let Some(r) = file.rules {
        seed.rules = RuleSet {
            version: 1,
            rules: r.rules,
            default: r.default,
        };
    }
    seed.calendars = file.calendars;
    seed.sla_policies = file.sla_policies;
    for c in file.customers {
        seed.customers.push(Customer {
            name: c.name.unwrap_or_else(|| c.id.clone()),
            segment: c.segment.parse()?,
            key_account: c.key_account,
            id: c.id,
        });
    }
    if let Some(skills) = file.skills {
        seed.skill_map = skills
            .map
            .into_iter()
            .map(|(term, skills)| super::skills::SkillMapping { term, skills })
            .collect();
    }
    if let Some(sw) = file.swarming {
        let mut rotation = super::rotation::RapidRotation::default();
        for r in sw.rapid_responders {
            rotation.responders.push(
                AgentId::new(r.trim()).map_err(|e| {
                    ConfigError::Invalid(format!("[swarming] rapid_responders: {e}"))
                })?,
            );
        }
        if let Some(h) = sw.shift_hours {
            rotation.shift_hours = h;
        }
        if let Some(t) = sw.rotation_start {
            rotation.start = crate::domain::Timestamp::parse_rfc3339(&t)
                .map_err(|e| ConfigError::Invalid(format!("[swarming] rotation_start: {e}")))?;
        }
        seed.rapid_rotation = rotation;
    }
    // Check the whole seed now, so a bad file fails at start with a clear message.
    seed.events()?;
    Ok(seed)
}
