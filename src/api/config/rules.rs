//! Routing rules in the API: the rule-set inputs (conditions, actions), their
//! conversion to the routing engine's [`RuleSet`], and the rule set as read back
//! (`RuleSetObj`, conditions as JSON in the input's shape).

use async_graphql::{InputObject, Json, OneofObject, SimpleObject};

use crate::api::types::{Channel, Priority, Segment};
use crate::routing::{Actions, Condition, Rule, RuleSet};

/// A routing condition: set exactly one field. `all`/`any`/`not` combine others.
#[derive(OneofObject)]
pub enum ConditionInput {
    /// Every condition holds.
    All(Vec<ConditionInput>),
    /// At least one condition holds.
    Any(Vec<ConditionInput>),
    /// The condition does not hold.
    Not(Box<ConditionInput>),
    /// The case arrived on one of these channels.
    Channel(Vec<Channel>),
    /// One of these words occurs (case-insensitive, whole words).
    Keywords(TextMatchInput),
    /// The regular expression (Rust syntax) matches; add `(?i)` to ignore case.
    Regex(RegexInput),
    Segment(Segment),
    KeyAccount(bool),
    /// The case's language is one of these (`de` also matches `de-AT`).
    Language(Vec<String>),
    /// The case was opened with this tag.
    HasTag(String),
    /// The case was opened with one of these priorities.
    Priority(Vec<Priority>),
}

#[derive(InputObject)]
pub struct TextMatchInput {
    pub words: Vec<String>,
    #[graphql(default = true)]
    pub in_subject: bool,
    #[graphql(default = true)]
    pub in_body: bool,
}

#[derive(InputObject)]
pub struct RegexInput {
    pub pattern: String,
    #[graphql(default = true)]
    pub in_subject: bool,
    #[graphql(default = true)]
    pub in_body: bool,
}

/// What a matching rule does. Unset fields leave the case as opened; a rule without
/// a tier gets the default route's.
#[derive(InputObject)]
pub struct RuleActionsInput {
    pub tier: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// Billing, account or health data: private channel, at least the sensitive tier.
    #[graphql(default)]
    pub sensitive: bool,
    /// Start a swarm led by the least loaded eligible agent of the team.
    #[graphql(default)]
    pub start_swarm: bool,
    /// Assign the least loaded eligible agent of the team.
    #[graphql(default)]
    pub auto_assign: bool,
    /// Skills the new case needs (recorded as its needed skills, source `RULE`).
    #[graphql(default)]
    pub needs_skills: Vec<String>,
}

#[derive(InputObject)]
pub struct RuleInput {
    pub id: String,
    #[graphql(default)]
    pub name: String,
    #[graphql(default = true)]
    pub enabled: bool,
    pub condition: ConditionInput,
    pub actions: RuleActionsInput,
}

/// An ordered rule set: the first enabled rule that matches routes the case; none
/// matching, the default route applies.
#[derive(InputObject)]
pub struct RuleSetInput {
    pub rules: Vec<RuleInput>,
    pub default: RuleActionsInput,
}

impl From<ConditionInput> for Condition {
    fn from(c: ConditionInput) -> Self {
        let many = |cs: Vec<ConditionInput>| cs.into_iter().map(Into::into).collect();
        match c {
            ConditionInput::All(cs) => Condition::All(many(cs)),
            ConditionInput::Any(cs) => Condition::Any(many(cs)),
            ConditionInput::Not(c) => Condition::Not(Box::new((*c).into())),
            ConditionInput::Channel(cs) => {
                Condition::Channel(cs.into_iter().map(Into::into).collect())
            }
            ConditionInput::Keywords(k) => Condition::Keywords {
                words: k.words,
                in_subject: k.in_subject,
                in_body: k.in_body,
            },
            ConditionInput::Regex(r) => Condition::Regex {
                pattern: r.pattern,
                in_subject: r.in_subject,
                in_body: r.in_body,
            },
            ConditionInput::Segment(s) => Condition::Segment(s.into()),
            ConditionInput::KeyAccount(k) => Condition::KeyAccount(k),
            ConditionInput::Language(l) => Condition::Language(l),
            ConditionInput::HasTag(t) => Condition::HasTag(t),
            ConditionInput::Priority(ps) => {
                Condition::Priority(ps.into_iter().map(Into::into).collect())
            }
        }
    }
}

impl From<RuleActionsInput> for Actions {
    fn from(a: RuleActionsInput) -> Self {
        Actions {
            tier: a.tier,
            team: a.team,
            priority: a.priority.map(Into::into),
            tags: a.tags,
            sensitive: a.sensitive,
            start_swarm: a.start_swarm,
            auto_assign: a.auto_assign,
            needs_skills: a.needs_skills,
        }
    }
}

impl From<RuleSetInput> for RuleSet {
    fn from(r: RuleSetInput) -> Self {
        RuleSet {
            version: 0,
            rules: r
                .rules
                .into_iter()
                .map(|r| Rule {
                    name: if r.name.trim().is_empty() {
                        r.id.clone()
                    } else {
                        r.name
                    },
                    id: r.id,
                    enabled: r.enabled,
                    condition: r.condition.into(),
                    actions: r.actions.into(),
                })
                .collect(),
            default: r.default.into(),
        }
    }
}

/// A routing condition, as JSON in the shape of `ConditionInput` (so it can be sent
/// back as is), e.g. `{"all": [{"channel": ["SOCIAL_DM"]}, {"keywords": {...}}]}`.
/// A condition in `ConditionInput`'s form: [`Condition`]'s JSON is spelled that way.
fn condition_json(c: &Condition) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or_default()
}

/// What a rule (or the default route) does.
#[derive(SimpleObject)]
pub struct RuleActionsObj {
    pub tier: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub sensitive: bool,
    pub start_swarm: bool,
    pub auto_assign: bool,
    /// Skills the new case needs.
    pub needs_skills: Vec<String>,
}

impl From<&Actions> for RuleActionsObj {
    fn from(a: &Actions) -> Self {
        RuleActionsObj {
            tier: a.tier.clone(),
            team: a.team.clone(),
            priority: a.priority.map(Into::into),
            tags: a.tags.clone(),
            sensitive: a.sensitive,
            start_swarm: a.start_swarm,
            auto_assign: a.auto_assign,
            needs_skills: a.needs_skills.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct RuleObj {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// In the shape of `ConditionInput`.
    pub condition: Json<serde_json::Value>,
    pub actions: RuleActionsObj,
}

/// An ordered rule set and its version (recorded on every case it routed).
#[derive(SimpleObject)]
pub struct RuleSetObj {
    pub version: u64,
    pub rules: Vec<RuleObj>,
    pub default: RuleActionsObj,
}

impl From<&RuleSet> for RuleSetObj {
    fn from(r: &RuleSet) -> Self {
        RuleSetObj {
            version: r.version,
            rules: r
                .rules
                .iter()
                .map(|r| RuleObj {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    enabled: r.enabled,
                    condition: Json(condition_json(&r.condition)),
                    actions: (&r.actions).into(),
                })
                .collect(),
            default: (&r.default).into(),
        }
    }
}
