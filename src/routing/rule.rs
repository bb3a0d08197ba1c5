//! The serializable rule set and its validation.
//!
//! A [`RuleSet`] is what an admin edits and what gets stored (with postcard, so the
//! types avoid serde attributes that need a self-describing format). Before a rule
//! set is accepted, [`RuleSet::validate`] checks it against the tier ladder in force
//! and, optionally, the known teams; evaluation lives in [`super::engine`].

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::engine;
use super::standard::{sensitive_floor, sensitive_keyword_in};
use crate::domain::command::MAX_TAG;
use crate::domain::{Channel, Priority, Segment, Tier, TierLadder};

/// Longest team name, in bytes (the domain's limit on a routed case's team).
pub const MAX_TEAM: usize = 64;

/// Deepest nesting of conditions in a rule (a leaf alone is depth 1, `Not(leaf)` is
/// 2). Validation refuses deeper ones, so no rule set in the log is deep enough for
/// the recursive evaluation, compilation or encoding of conditions to exhaust a stack.
pub const MAX_CONDITION_DEPTH: usize = 32;

/// When a rule applies. Leaves test one property of the new case; `All`, `Any` and
/// `Not` combine them. See the [module docs](super) for how text is matched.
///
/// In JSON and TOML a condition is spelled as the GraphQL `ConditionInput`: one
/// camelCase key (`all`, `any`, `not`, `channel`, `keywords`, `regex`, `segment`,
/// `keyAccount`, `language`, `hasTag`, `priority`) with camelCase fields
/// (`inSubject`, `inBody`). The Rust spellings (`All`, `in_subject`, ...) are still
/// read. postcard stores variants by index, so the names never reach the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Condition {
    /// Every condition holds (short-circuits on the first that does not).
    #[serde(alias = "All")]
    All(Vec<Condition>),
    /// At least one condition holds (short-circuits on the first that does).
    #[serde(alias = "Any")]
    Any(Vec<Condition>),
    /// The condition does not hold.
    #[serde(alias = "Not")]
    Not(Box<Condition>),
    /// The case arrived on any of these channels.
    #[serde(alias = "Channel")]
    Channel(Vec<Channel>),
    /// Any of these keywords occurs, case-insensitively and as whole words, in the
    /// subject (if `in_subject`) or the body (if `in_body`).
    #[serde(alias = "Keywords")]
    Keywords {
        words: Vec<String>,
        #[serde(alias = "in_subject", default = "yes")]
        in_subject: bool,
        #[serde(alias = "in_body", default = "yes")]
        in_body: bool,
    },
    /// The regex matches somewhere in the subject (if `in_subject`) or the body (if
    /// `in_body`). Case-sensitive unless the pattern says `(?i)`.
    #[serde(alias = "Regex")]
    Regex {
        pattern: String,
        #[serde(alias = "in_subject", default = "yes")]
        in_subject: bool,
        #[serde(alias = "in_body", default = "yes")]
        in_body: bool,
    },
    /// The customer is in this segment.
    #[serde(alias = "Segment")]
    Segment(Segment),
    /// The customer's key-account flag equals this value.
    #[serde(alias = "KeyAccount")]
    KeyAccount(bool),
    /// The case's language is one of these (exactly or by primary subtag).
    #[serde(alias = "Language")]
    Language(Vec<String>),
    /// The case was opened with this tag.
    #[serde(alias = "HasTag")]
    HasTag(String),
    /// The case was opened with any of these priorities.
    #[serde(alias = "Priority")]
    Priority(Vec<Priority>),
}

/// `inSubject` and `inBody` default to true, as in the GraphQL API.
fn yes() -> bool {
    true
}

impl Condition {
    /// Any of `words` in the subject or the body.
    pub fn keywords<S: AsRef<str>>(words: &[S]) -> Condition {
        Condition::Keywords {
            words: words.iter().map(|w| w.as_ref().to_string()).collect(),
            in_subject: true,
            in_body: true,
        }
    }

    /// `pattern` matches the subject or the body.
    pub fn regex(pattern: impl Into<String>) -> Condition {
        Condition::Regex {
            pattern: pattern.into(),
            in_subject: true,
            in_body: true,
        }
    }

    /// The negation of `condition`.
    pub fn negate(condition: Condition) -> Condition {
        Condition::Not(Box::new(condition))
    }

    /// How deep the condition nests (a leaf is 1). Iterative, so any tree can be
    /// measured.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((c, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            match c {
                Condition::All(cs) | Condition::Any(cs) => {
                    stack.extend(cs.iter().map(|c| (c, depth + 1)))
                }
                Condition::Not(c) => stack.push((c, depth + 1)),
                _ => {}
            }
        }
        deepest
    }
}

/// What a matching rule (or the default route) does to the new case. Unset fields
/// leave the case as it is, except `tier`: a rule without one gets the default
/// route's tier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
// Missing fields take their defaults in self-describing formats (the TOML seed);
// postcard always writes every field, so stored rule sets are unaffected.
#[serde(default, rename_all = "camelCase")]
pub struct Actions {
    /// The tier to route to, by name on the ladder in force.
    pub tier: Option<String>,
    /// The team within the tier.
    pub team: Option<String>,
    /// Overrides the priority the case was opened with.
    pub priority: Option<Priority>,
    /// Tags added to the case.
    pub tags: Vec<String>,
    /// The case involves billing, account or health data: it moves to a private
    /// channel and is handled at the sensitive tier or above.
    pub sensitive: bool,
    /// Ask the service to start a swarm on the case.
    #[serde(alias = "start_swarm")]
    pub start_swarm: bool,
    /// Ask the service to assign an agent of the team automatically.
    #[serde(alias = "auto_assign")]
    pub auto_assign: bool,
    /// Skills the case needs (for the expert finder), recorded on the new case as
    /// `CaseSkillsSet` with source `RULE`. Added in `RulesSet` v2.
    #[serde(alias = "needs_skills")]
    pub needs_skills: Vec<String>,
}

/// One if/then rule. Rules are checked in the order of [`RuleSet::rules`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Stable, unique, non-empty id; recorded on the routed case.
    pub id: String,
    /// A human-readable name for admins and explanations.
    pub name: String,
    /// Disabled rules are skipped as if absent.
    pub enabled: bool,
    pub condition: Condition,
    pub actions: Actions,
}

/// The ordered rules in force, plus the route for cases no rule matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSet {
    /// Bumped on every change; recorded on each routed case.
    pub version: u64,
    /// Checked in this order; the first enabled rule that matches wins.
    pub rules: Vec<Rule>,
    /// The route when no rule matches. Must name a tier; it is also the tier of a
    /// matching rule that names none.
    pub default: Actions,
}

/// Where in a rule set a problem is: a rule (by id) or the default route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOrigin {
    Rule(String),
    Default,
}

impl fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleOrigin::Rule(id) => write!(f, "rule `{id}`"),
            RuleOrigin::Default => f.write_str("the default route"),
        }
    }
}

/// Why a rule set was rejected. Messages name the rule.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RuleError {
    /// Rule number `index` (1-based) has an empty id.
    #[error("rule #{index} has an empty id")]
    EmptyId { index: usize },
    #[error("rule id `{0}` is used by more than one rule")]
    DuplicateId(String),
    #[error("the default route must name a tier")]
    DefaultWithoutTier,
    #[error("rule `{rule}`: conditions nest {depth} deep; at most {MAX_CONDITION_DEPTH} levels")]
    ConditionTooDeep { rule: String, depth: usize },
    #[error("{origin}: tier `{tier}` is not configured")]
    UnknownTier { origin: RuleOrigin, tier: String },
    #[error("{origin}: team `{team}` is not a known team")]
    UnknownTeam { origin: RuleOrigin, team: String },
    #[error("{origin}: team names must have 1-{MAX_TEAM} bytes, got `{team}`")]
    InvalidTeam { origin: RuleOrigin, team: String },
    #[error("{origin}: `{tag}` is not a valid tag (1-{MAX_TAG} letters, digits, - _ : . /)")]
    InvalidTag { origin: RuleOrigin, tag: String },
    #[error("{origin}: needsSkills: {message}")]
    InvalidSkills { origin: RuleOrigin, message: String },
    /// A condition that can never be meaningful: an empty list, an empty keyword, a
    /// text condition that searches neither subject nor body.
    #[error("rule `{rule}`: {what}")]
    EmptyCondition { rule: String, what: String },
    #[error("rule `{rule}`: invalid regex `{pattern}`: {message}")]
    InvalidRegex {
        rule: String,
        pattern: String,
        message: String,
    },
    /// Sensitive cases must be handled at the sensitive floor or above.
    #[error(
        "{origin} marks cases sensitive but routes them to tier `{tier}`; \
         sensitive cases must go to `{floor}` or above"
    )]
    SensitiveBelowFloor {
        origin: RuleOrigin,
        tier: String,
        floor: String,
    },
    /// The domain's must: billing, account or health matters on social channels
    /// move to a private channel at the sensitive floor or above.
    #[error(
        "rule `{rule}` can match social posts mentioning `{keyword}` but does not move \
         them to a private channel at `{floor}` or above: set `sensitive` and a tier at \
         or above `{floor}`, or exclude the social channels"
    )]
    SensitiveOnSocial {
        rule: String,
        keyword: String,
        floor: String,
    },
}

impl RuleError {
    /// The stable API code: a rejected rule set is always bad input.
    pub fn code(&self) -> crate::code::Code {
        crate::code::Code::BadUserInput
    }
}

impl RuleSet {
    /// Checks the rule set against the tiers in force and, when given, the teams that
    /// exist; returns the first problem found.
    ///
    /// Checked: the default route names a tier; rule ids are non-empty and unique;
    /// conditions nest at most [`MAX_CONDITION_DEPTH`] levels;
    /// conditions are not empty (no empty `All`/`Any`/channel/keyword/language/
    /// priority lists, no blank keyword, tag or pattern, text conditions search the
    /// subject or body) and regexes compile; tiers exist on the ladder; teams are
    /// well-formed and (if `known_teams` is given) known; tags are valid; a rule or
    /// default that marks cases sensitive routes them to [`sensitive_floor`] or above;
    /// and a rule that can match a social channel (`SocialPublic` or `SocialDm`) and
    /// looks for a billing/account/health keyword (one of [`SENSITIVE_KEYWORDS`](super::SENSITIVE_KEYWORDS), not
    /// under a `Not`) must be sensitive and at the floor or above. Disabled rules are
    /// checked too, so enabling one later cannot break the set.
    pub fn validate(
        &self,
        tiers: &TierLadder,
        known_teams: Option<&[String]>,
    ) -> Result<(), RuleError> {
        self.check_structure()?;
        engine::compile_rules(self, true)?;
        let floor = sensitive_floor(tiers);
        let default_tier = self
            .default
            .tier
            .as_deref()
            .ok_or(RuleError::DefaultWithoutTier)?;
        let default_tier = check_actions(
            RuleOrigin::Default,
            &self.default,
            default_tier,
            tiers,
            known_teams,
            &floor,
        )?;
        for rule in &self.rules {
            let origin = RuleOrigin::Rule(rule.id.clone());
            let tier = rule
                .actions
                .tier
                .as_deref()
                .unwrap_or(default_tier.as_str());
            let tier = check_actions(origin, &rule.actions, tier, tiers, known_teams, &floor)?;
            check_social_sensitive(rule, &tier, tiers, &floor)?;
        }
        Ok(())
    }

    /// The checks that need neither the ladder nor the conditions' contents: a tier
    /// on the default route, non-empty unique ids.
    pub(crate) fn check_structure(&self) -> Result<(), RuleError> {
        if self
            .default
            .tier
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
        {
            return Err(RuleError::DefaultWithoutTier);
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.id.trim().is_empty() {
                return Err(RuleError::EmptyId { index: i + 1 });
            }
            if self.rules[..i].iter().any(|r| r.id == rule.id) {
                return Err(RuleError::DuplicateId(rule.id.clone()));
            }
            let depth = rule.condition.depth();
            if depth > MAX_CONDITION_DEPTH {
                return Err(RuleError::ConditionTooDeep {
                    rule: rule.id.clone(),
                    depth,
                });
            }
        }
        Ok(())
    }
}

/// Checks one set of actions whose effective tier is `tier`; returns that tier.
fn check_actions(
    origin: RuleOrigin,
    actions: &Actions,
    tier: &str,
    tiers: &TierLadder,
    known_teams: Option<&[String]>,
    floor: &Tier,
) -> Result<Tier, RuleError> {
    let tier = tiers.get(tier).map_err(|_| RuleError::UnknownTier {
        origin: origin.clone(),
        tier: tier.to_string(),
    })?;
    if let Some(team) = &actions.team {
        let t = team.trim();
        if t.is_empty() || t.len() > MAX_TEAM {
            return Err(RuleError::InvalidTeam {
                origin,
                team: team.clone(),
            });
        }
        if let Some(known) = known_teams {
            if !known.iter().any(|k| k.trim() == t) {
                return Err(RuleError::UnknownTeam {
                    origin,
                    team: team.clone(),
                });
            }
        }
    }
    for tag in &actions.tags {
        if !valid_tag(tag) {
            return Err(RuleError::InvalidTag {
                origin,
                tag: tag.clone(),
            });
        }
    }
    if let Err(e) = crate::domain::swarming::decide::skills(&actions.needs_skills) {
        return Err(RuleError::InvalidSkills {
            origin,
            message: e.to_string(),
        });
    }
    if actions.sensitive && tiers.rank(&tier) < tiers.rank(floor) {
        return Err(RuleError::SensitiveBelowFloor {
            origin,
            tier: tier.0.into(),
            floor: floor.0.to_string(),
        });
    }
    Ok(tier)
}

/// The domain's tag rule (see `decide`): 1-64 letters, digits, `- _ : . /` after
/// trimming and lower-casing.
fn valid_tag(tag: &str) -> bool {
    let t = tag.trim().to_lowercase();
    let ok = |c: char| c.is_alphanumeric() || "-_:./".contains(c);
    !t.is_empty() && t.len() <= MAX_TAG && t.chars().all(ok)
}

fn check_social_sensitive(
    rule: &Rule,
    tier: &Tier,
    tiers: &TierLadder,
    floor: &Tier,
) -> Result<(), RuleError> {
    let social = bit(Channel::SocialPublic) | bit(Channel::SocialDm);
    if possible_channels(&rule.condition) & social == 0 {
        return Ok(());
    }
    let Some(keyword) = sensitive_keyword(&rule.condition, true) else {
        return Ok(());
    };
    if rule.actions.sensitive && tiers.rank(tier) >= tiers.rank(floor) {
        return Ok(());
    }
    Err(RuleError::SensitiveOnSocial {
        rule: rule.id.clone(),
        keyword: keyword.to_string(),
        floor: floor.0.to_string(),
    })
}

const ALL_CHANNELS: [Channel; 7] = [
    Channel::Email,
    Channel::Chat,
    Channel::Phone,
    Channel::Portal,
    Channel::SocialPublic,
    Channel::SocialDm,
    Channel::Bot,
];
const EVERY_CHANNEL: u8 = (1 << ALL_CHANNELS.len()) - 1;

fn bit(channel: Channel) -> u8 {
    let i = ALL_CHANNELS
        .iter()
        .position(|c| *c == channel)
        .expect("every channel is listed");
    1 << i
}

fn channel_set(channels: &[Channel]) -> u8 {
    channels.iter().fold(0, |acc, c| acc | bit(*c))
}

/// Channels on which `condition` may hold for some case (an over-approximation).
fn possible_channels(condition: &Condition) -> u8 {
    match condition {
        Condition::Channel(cs) => channel_set(cs),
        Condition::All(cs) => cs
            .iter()
            .fold(EVERY_CHANNEL, |a, c| a & possible_channels(c)),
        Condition::Any(cs) => cs.iter().fold(0, |a, c| a | possible_channels(c)),
        Condition::Not(c) => EVERY_CHANNEL & !certain_channels(c),
        _ => EVERY_CHANNEL,
    }
}

/// Channels on which `condition` holds for every case (an under-approximation).
fn certain_channels(condition: &Condition) -> u8 {
    match condition {
        Condition::Channel(cs) => channel_set(cs),
        Condition::All(cs) => cs
            .iter()
            .fold(EVERY_CHANNEL, |a, c| a & certain_channels(c)),
        Condition::Any(cs) => cs.iter().fold(0, |a, c| a | certain_channels(c)),
        Condition::Not(c) => EVERY_CHANNEL & !possible_channels(c),
        _ => 0,
    }
}

/// A keyword the condition looks for (not under an odd number of `Not`s) that
/// contains one of [`SENSITIVE_KEYWORDS`](super::SENSITIVE_KEYWORDS).
fn sensitive_keyword(condition: &Condition, positive: bool) -> Option<&str> {
    match condition {
        Condition::All(cs) | Condition::Any(cs) => {
            cs.iter().find_map(|c| sensitive_keyword(c, positive))
        }
        Condition::Not(c) => sensitive_keyword(c, !positive),
        Condition::Keywords { words: ws, .. } if positive => ws
            .iter()
            .find(|w| sensitive_keyword_in(w).is_some())
            .map(String::as_str),
        _ => None,
    }
}

/// The rule sets stored by `RulesSet` v1, before actions had `needs_skills`: frozen
/// (postcard is positional), read back by upcasting to this build's [`RuleSet`].
pub mod v1 {
    use serde::{Deserialize, Serialize};

    use super::{Condition, Priority};

    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Actions {
        pub tier: Option<String>,
        pub team: Option<String>,
        pub priority: Option<Priority>,
        pub tags: Vec<String>,
        pub sensitive: bool,
        #[serde(alias = "start_swarm")]
        pub start_swarm: bool,
        #[serde(alias = "auto_assign")]
        pub auto_assign: bool,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Rule {
        pub id: String,
        pub name: String,
        pub enabled: bool,
        pub condition: Condition,
        pub actions: Actions,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RuleSet {
        pub version: u64,
        pub rules: Vec<Rule>,
        pub default: Actions,
    }

    impl From<Actions> for super::Actions {
        fn from(a: Actions) -> Self {
            super::Actions {
                tier: a.tier,
                team: a.team,
                priority: a.priority,
                tags: a.tags,
                sensitive: a.sensitive,
                start_swarm: a.start_swarm,
                auto_assign: a.auto_assign,
                needs_skills: Vec::new(),
            }
        }
    }

    impl From<RuleSet> for super::RuleSet {
        fn from(r: RuleSet) -> Self {
            super::RuleSet {
                version: r.version,
                rules: r
                    .rules
                    .into_iter()
                    .map(|r| super::Rule {
                        id: r.id,
                        name: r.name,
                        enabled: r.enabled,
                        condition: r.condition,
                        actions: r.actions.into(),
                    })
                    .collect(),
                default: r.default.into(),
            }
        }
    }
}
