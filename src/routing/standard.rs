//! The shipped default rule set, [`RuleSet::standard`], built for the ladder in force.
//!
//! | # | id | when | then |
//! |---|---|---|---|
//! | 1 | `sensitive-social` | channel `SocialPublic` or `SocialDm` **and** a [`SENSITIVE_KEYWORDS`] keyword in subject or body | tier [`sensitive_floor`], `sensitive` (move to a private channel), tag `sensitive` |
//! | 2 | `key-accounts` | segment B2B **and** key account | tier [`sensitive_floor`], team `key-accounts`, priority High |
//! | 3 | `incident` | an [`OUTAGE_KEYWORDS`] keyword in subject or body **and** the case was opened Urgent | tier [`sensitive_floor`], team `incident`, priority Urgent, tag `incident` |
//! | — | default | no rule matched | tier [`front_line`], team `general` |
//!
//! Rule 1 comes first because it is the domain's **must**: billing, account and health
//! matters seen on social channels leave the public channel and go to the second
//! line, before any other rule can route them elsewhere. So a key account asking
//! about an invoice on a public post is handled as sensitive, not by rule 2.
//!
//! "L2" here means [`sensitive_floor`]: `L2`, or the lowest tier named `L<n>` with
//! n ≥ 2 on the ladder, or the top tier of a ladder that has none; "L1" means
//! [`front_line`]: `L1`, or the lowest tier not named `L0`.

use super::engine::RouteDecision;
use super::rule::{Actions, Condition, Rule, RuleSet};
use crate::domain::{Channel, OpenCase, Priority, Segment, Tier, TierLadder};

/// Words that signal billing, account or (protected) health data. Keywords match
/// whole words, so inflected forms are listed separately.
pub const SENSITIVE_KEYWORDS: &[&str] = &[
    "charge",
    "charged",
    "charges",
    "overcharged",
    "refund",
    "refunds",
    "invoice",
    "invoices",
    "billing",
    "bill",
    "billed",
    "payment",
    "payments",
    "card",
    "password",
    "account",
    "login",
    "log in",
    "diagnosis",
    "prescription",
    "medical",
    "health",
];

/// Words that signal an outage.
pub const OUTAGE_KEYWORDS: &[&str] = &["outage", "down", "not working", "offline", "unavailable"];

/// The teams the standard rule set routes to.
pub const STANDARD_TEAMS: &[&str] = &["general", "key-accounts", "incident"];

/// The version of the standard rule set.
pub const STANDARD_VERSION: u64 = 1;

/// The lowest tier that may handle sensitive (billing, account, health) cases: `L2`
/// if configured, else the lowest tier named `L<n>` with n ≥ 2, else the top tier.
/// The domain computes it ([`TierLadder::sensitive_floor`]) so that `decide` keeps
/// every sensitive case at or above it.
pub fn sensitive_floor(tiers: &TierLadder) -> Tier {
    tiers.sensitive_floor().clone()
}

/// The front-line tier new cases go to by default: `L1` if configured, else the
/// lowest tier that is not `L0` (self-service), else the only tier there is.
pub fn front_line(tiers: &TierLadder) -> Tier {
    if let Ok(t) = tiers.get("L1") {
        return t;
    }
    let all = tiers.tiers();
    all.iter()
        .find(|t| t.level() != Some(0))
        .unwrap_or(&all[0])
        .clone()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl RuleSet {
    /// The shipped default rule set for `tiers`; see the [module docs](crate::routing::standard)
    /// for its rules. It passes [`RuleSet::validate`] on any ladder, with teams
    /// [`STANDARD_TEAMS`].
    pub fn standard(tiers: &TierLadder) -> RuleSet {
        let floor = sensitive_floor(tiers).0.to_string();
        RuleSet {
            version: STANDARD_VERSION,
            rules: vec![
                Rule {
                    id: "sensitive-social".into(),
                    name: "Billing, account or health on social".into(),
                    enabled: true,
                    condition: Condition::All(vec![
                        Condition::Channel(vec![Channel::SocialPublic, Channel::SocialDm]),
                        Condition::keywords(SENSITIVE_KEYWORDS),
                    ]),
                    actions: Actions {
                        tier: Some(floor.clone()),
                        tags: vec!["sensitive".into()],
                        sensitive: true,
                        ..Actions::default()
                    },
                },
                Rule {
                    id: "key-accounts".into(),
                    name: "B2B key accounts".into(),
                    enabled: true,
                    condition: Condition::All(vec![
                        Condition::Segment(Segment::B2b),
                        Condition::KeyAccount(true),
                    ]),
                    actions: Actions {
                        tier: Some(floor.clone()),
                        team: Some("key-accounts".into()),
                        priority: Some(Priority::High),
                        ..Actions::default()
                    },
                },
                Rule {
                    id: "incident".into(),
                    name: "Urgent outage reports".into(),
                    enabled: true,
                    condition: Condition::All(vec![
                        Condition::keywords(OUTAGE_KEYWORDS),
                        Condition::Priority(vec![Priority::Urgent]),
                    ]),
                    actions: Actions {
                        tier: Some(floor),
                        team: Some("incident".into()),
                        priority: Some(Priority::Urgent),
                        tags: strings(&["incident"]),
                        ..Actions::default()
                    },
                },
            ],
            default: Actions {
                tier: Some(front_line(tiers).0.into()),
                team: Some("general".into()),
                ..Actions::default()
            },
        }
    }
}

/// The first of [`SENSITIVE_KEYWORDS`] that `text` contains as whole words.
pub fn sensitive_keyword_in(text: &str) -> Option<&'static str> {
    let text = super::engine::words(text);
    SENSITIVE_KEYWORDS.iter().copied().find(|k| {
        let k = super::engine::words(k);
        !k.is_empty() && text.windows(k.len()).any(|w| w == k.as_slice())
    })
}

/// The domain's **must**, enforced after the rules whatever their order: a case on a
/// public or direct social channel whose subject or body mentions billing, account or
/// health data is routed sensitive (private channel) at [`sensitive_floor`] or above.
/// When this raises the tier, the rule's team (of the lower tier) is dropped. The
/// decision's explanation says so.
pub fn enforce_sensitive_floor(decision: &mut RouteDecision, case: &OpenCase, tiers: &TierLadder) {
    if !matches!(case.channel, Channel::SocialPublic | Channel::SocialDm) {
        return;
    }
    let floor = sensitive_floor(tiers);
    let rank = |t: &Option<String>| t.as_deref().and_then(|t| tiers.rank(&Tier::new(t)));
    let below = rank(&decision.actions.tier) < tiers.rank(&floor);
    if decision.actions.sensitive && !below {
        return;
    }
    let text = format!("{}\n{}", case.subject, case.body);
    let Some(keyword) = sensitive_keyword_in(&text) else {
        return;
    };
    decision.actions.sensitive = true;
    if below {
        decision.actions.tier = Some(floor.0.to_string());
        decision.actions.team = None;
    }
    decision.explanation.push(format!(
        "social post mentions `{keyword}`: kept private at tier {} (billing, account and \
         health data must leave social channels)",
        decision.actions.tier.as_deref().unwrap_or_default()
    ));
}
