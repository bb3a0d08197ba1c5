//! Tests of the routing engine: evaluation order, every condition kind, the
//! explanation, validation, the standard rule set, and a property test against a
//! naive reference evaluator.

use proptest::prelude::*;

use super::*;
use crate::domain::command::MAX_TAG;
use crate::domain::{
    CaseId, Channel, Customer, OpenCase, Priority, RouteCase, Segment, Tier, TierLadder,
};

// ---------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------

fn case_id() -> CaseId {
    "01HZX3N8Q4T5V6W7X8Y9Z0ABCD".parse().expect("a valid ULID")
}

/// A plain B2C chat question; tests change what they need.
fn base_case() -> OpenCase {
    OpenCase {
        case_id: case_id(),
        subject: "A question".into(),
        body: "Hello there".into(),
        channel: Channel::Chat,
        customer: Customer {
            id: "cust-1".into(),
            name: "Ada".into(),
            segment: Segment::B2c,
            key_account: false,
        },
        language: "en".into(),
        priority: Priority::Normal,
        tags: vec![],
        requested_priority: None,
    }
}

fn case_with(change: impl FnOnce(&mut OpenCase)) -> OpenCase {
    let mut c = base_case();
    change(&mut c);
    c
}

fn text_case(channel: Channel, subject: &str, body: &str) -> OpenCase {
    case_with(|c| {
        c.channel = channel;
        c.subject = subject.into();
        c.body = body.into();
    })
}

fn to_tier(tier: &str) -> Actions {
    Actions {
        tier: Some(tier.into()),
        ..Actions::default()
    }
}

fn rule(id: &str, condition: Condition, actions: Actions) -> Rule {
    Rule {
        id: id.into(),
        name: format!("Rule {id}"),
        enabled: true,
        condition,
        actions,
    }
}

fn default_actions() -> Actions {
    Actions {
        tier: Some("L1".into()),
        team: Some("general".into()),
        ..Actions::default()
    }
}

fn rule_set(rules: Vec<Rule>) -> RuleSet {
    RuleSet {
        version: 7,
        rules,
        default: default_actions(),
    }
}

/// Routes with both the one-off and the compiled path and checks they agree.
fn route(set: &RuleSet, case: &OpenCase) -> RouteDecision {
    let decision = set.route(case);
    if let Ok(compiled) = set.compile() {
        assert_eq!(compiled.route(case), decision, "compiled routing differs");
    }
    decision
}

/// Whether `condition` matches `case`, with the reason the engine gives.
fn check(condition: Condition, case: &OpenCase) -> (bool, String) {
    let set = rule_set(vec![rule("r", condition, to_tier("L2"))]);
    let d = route(&set, case);
    let line = d.explanation[0].clone();
    let matched = d.rule_id.is_some();
    let reason = line
        .split_once(": ")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    assert_eq!(
        line.starts_with("rule r 'Rule r' matched: "),
        matched,
        "explanation disagrees with the decision: {line}"
    );
    (matched, reason)
}

fn matches(condition: Condition, case: &OpenCase) -> bool {
    check(condition, case).0
}

fn ladder() -> TierLadder {
    TierLadder::standard()
}

fn invalid(set: &RuleSet) -> RuleError {
    set.validate(&ladder(), None)
        .expect_err("the rule set should be rejected")
}

fn teams(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------
// Order, first match wins, disabled rules, default
// ---------------------------------------------------------------------------------

#[test]
fn the_first_matching_rule_wins_and_later_rules_never_run() {
    let set = rule_set(vec![
        rule(
            "r1",
            Condition::Channel(vec![Channel::Email]),
            to_tier("L3"),
        ),
        rule("r2", Condition::Channel(vec![Channel::Chat]), to_tier("L2")),
        rule("r3", Condition::Channel(vec![Channel::Chat]), to_tier("L3")),
        rule("r4", Condition::regex("(invalid"), to_tier("L3")),
    ]);
    let d = route(&set, &base_case());
    assert_eq!(d.rule_id.as_deref(), Some("r2"));
    assert_eq!(d.rule_name.as_deref(), Some("Rule r2"));
    assert_eq!(d.actions, to_tier("L2"));
    assert_eq!(d.rule_set_version, 7);
    // r3 (which also matches) and r4 were never checked.
    assert_eq!(d.explanation.len(), 3, "{:?}", d.explanation);
    assert!(d.explanation[0].starts_with("rule r1 'Rule r1' did not match"));
    assert!(d.explanation[1].starts_with("rule r2 'Rule r2' matched"));
    assert!(!d
        .explanation
        .iter()
        .any(|l| l.contains("r3") || l.contains("r4")));
}

#[test]
fn order_decides_between_overlapping_rules() {
    let chat = rule(
        "chat",
        Condition::Channel(vec![Channel::Chat]),
        to_tier("L2"),
    );
    let b2c = rule("b2c", Condition::Segment(Segment::B2c), to_tier("L3"));
    let a = route(&rule_set(vec![chat.clone(), b2c.clone()]), &base_case());
    let b = route(&rule_set(vec![b2c, chat]), &base_case());
    assert_eq!(a.rule_id.as_deref(), Some("chat"));
    assert_eq!(a.actions.tier.as_deref(), Some("L2"));
    assert_eq!(b.rule_id.as_deref(), Some("b2c"));
    assert_eq!(b.actions.tier.as_deref(), Some("L3"));
}

#[test]
fn disabled_rules_are_skipped() {
    let mut off = rule(
        "off",
        Condition::Channel(vec![Channel::Chat]),
        to_tier("L3"),
    );
    off.enabled = false;
    let on = rule("on", Condition::Segment(Segment::B2c), to_tier("L2"));
    let d = route(&rule_set(vec![off.clone(), on]), &base_case());
    assert_eq!(d.rule_id.as_deref(), Some("on"));
    assert_eq!(d.explanation[0], "rule off 'Rule off' skipped: disabled");

    // Only a disabled rule matches: the default route applies.
    let d = route(&rule_set(vec![off]), &base_case());
    assert_eq!(d.rule_id, None);
    assert_eq!(d.actions, default_actions());
}

#[test]
fn no_match_takes_the_default_route() {
    let set = rule_set(vec![rule(
        "r1",
        Condition::Channel(vec![Channel::Phone]),
        to_tier("L3"),
    )]);
    let d = route(&set, &base_case());
    assert_eq!(d.rule_id, None);
    assert_eq!(d.rule_name, None);
    assert_eq!(d.actions, default_actions());
    assert_eq!(
        d.explanation,
        vec![
            "rule r1 'Rule r1' did not match: channel CHAT not in [PHONE]".to_string(),
            "no rule matched; default route: tier L1, team general".to_string(),
        ]
    );
    // An empty rule set always takes the default route.
    let d = route(&rule_set(vec![]), &base_case());
    assert_eq!(d.actions, default_actions());
    assert_eq!(d.explanation.len(), 1);
}

#[test]
fn a_rule_without_a_tier_gets_the_default_tier_but_nothing_else() {
    let actions = Actions {
        tags: vec!["vip".into()],
        priority: Some(Priority::High),
        ..Actions::default()
    };
    let set = rule_set(vec![rule("r1", Condition::KeyAccount(false), actions)]);
    let d = route(&set, &base_case());
    assert_eq!(d.rule_id.as_deref(), Some("r1"));
    assert_eq!(
        d.actions,
        Actions {
            tier: Some("L1".into()),
            team: None,
            priority: Some(Priority::High),
            tags: vec!["vip".into()],
            ..Actions::default()
        }
    );
    assert_eq!(
        d.explanation[1],
        "routed by rule r1: tier L1 (the default route's), priority HIGH, tags [vip]"
    );
}

#[test]
fn the_decision_becomes_the_domains_route_command() {
    let actions = Actions {
        tier: Some("L2".into()),
        team: Some("billing".into()),
        priority: Some(Priority::Urgent),
        tags: vec!["sensitive".into()],
        sensitive: true,
        start_swarm: true,
        auto_assign: true,
        needs_skills: vec!["billing".into()],
    };
    let set = rule_set(vec![rule("r1", Condition::KeyAccount(false), actions)]);
    let d = route(&set, &base_case());
    assert_eq!(
        d.to_route_case(),
        Ok(RouteCase {
            tier: Tier::new("L2"),
            team: Some("billing".into()),
            priority: Some(Priority::Urgent),
            tags: vec!["sensitive".into()],
            sensitive: true,
            rule_id: Some("r1".into()),
            rule_set_version: Some(7),
        })
    );
    let d = route(&rule_set(vec![]), &base_case());
    let rc = d.to_route_case().expect("the default names a tier");
    assert_eq!(rc.tier, Tier::new("L1"));
    assert_eq!(rc.team.as_deref(), Some("general"));
    assert_eq!(rc.rule_id, None);
    assert_eq!(rc.rule_set_version, Some(7));
    assert_eq!(rc.priority, None);
    assert!(!rc.sensitive);

    // An unvalidated set without a default tier cannot produce a route command.
    let mut set = rule_set(vec![]);
    set.default.tier = None;
    assert_eq!(
        set.route(&base_case()).to_route_case(),
        Err(RuleError::DefaultWithoutTier)
    );
}

// ---------------------------------------------------------------------------------
// Condition kinds
// ---------------------------------------------------------------------------------

#[test]
fn channel_condition() {
    let social = Condition::Channel(vec![Channel::SocialPublic, Channel::SocialDm]);
    let dm = text_case(Channel::SocialDm, "s", "b");
    assert_eq!(
        check(social.clone(), &dm),
        (
            true,
            "channel SOCIAL_DM in [SOCIAL_PUBLIC, SOCIAL_DM]".to_string()
        )
    );
    assert_eq!(
        check(social, &base_case()),
        (
            false,
            "channel CHAT not in [SOCIAL_PUBLIC, SOCIAL_DM]".to_string()
        )
    );
}

#[test]
fn keywords_match_whole_words_case_insensitively() {
    let kw = |w: &[&str]| Condition::keywords(w);
    let c = text_case(
        Channel::Email,
        "REFUND please!",
        "My login is NOT-working, again.",
    );
    assert!(matches(kw(&["refund"]), &c));
    assert!(matches(kw(&["Refund"]), &c));
    assert!(matches(kw(&["login"]), &c));
    assert!(
        matches(kw(&["not working"]), &c),
        "phrases ignore punctuation"
    );
    assert!(matches(kw(&["  not   working "]), &c));
    assert!(matches(kw(&["xyz", "again"]), &c), "any of the keywords");
    // Whole words only: no substrings, no inflections.
    assert!(!matches(kw(&["refunds"]), &c));
    assert!(!matches(kw(&["fund"]), &c));
    assert!(!matches(kw(&["log"]), &c));
    assert!(!matches(kw(&["login again"]), &c), "words must be adjacent");
    assert!(matches(kw(&["working again"]), &c));
    let charged = text_case(Channel::Email, "Why was I charged twice??", "");
    assert!(!matches(kw(&["charge"]), &charged));
    assert!(matches(kw(&["charged"]), &charged));
    // Unicode letters are word characters and case-fold.
    let umlaut = text_case(Channel::Email, "ÜBERWEISUNG fehlt", "");
    assert!(matches(kw(&["überweisung"]), &umlaut));
    assert!(!matches(kw(&["berweisung"]), &umlaut));
}

#[test]
fn keywords_search_only_the_chosen_fields() {
    let c = text_case(Channel::Email, "refund", "outage");
    let only = |w: &str, in_subject: bool, in_body: bool| Condition::Keywords {
        words: vec![w.into()],
        in_subject,
        in_body,
    };
    assert!(matches(only("refund", true, false), &c));
    assert!(!matches(only("refund", false, true), &c));
    assert!(matches(only("outage", false, true), &c));
    assert!(!matches(only("outage", true, false), &c));
    assert_eq!(
        check(only("outage", false, true), &c).1,
        "keyword 'outage' in body"
    );
    assert_eq!(
        check(only("refund", true, true), &c).1,
        "keyword 'refund' in subject"
    );
    assert_eq!(
        check(Condition::keywords(&["a", "b c"]), &c).1,
        "no keyword of ['a', 'b c'] in subject or body"
    );
    assert_eq!(
        check(only("x", true, false), &c).1,
        "no keyword of ['x'] in subject"
    );
}

#[test]
fn regex_condition() {
    let c = text_case(
        Channel::Email,
        "Order #12345 missing",
        "Where is my PARCEL?",
    );
    assert!(matches(Condition::regex(r"#\d{5}\b"), &c));
    assert!(!matches(Condition::regex(r"#\d{6}"), &c));
    // Case-sensitive unless the pattern says otherwise.
    assert!(!matches(Condition::regex("parcel"), &c));
    assert!(matches(Condition::regex("(?i)parcel"), &c));
    let body_only = Condition::Regex {
        pattern: "Order".into(),
        in_subject: false,
        in_body: true,
    };
    assert_eq!(
        check(body_only, &c),
        (false, "regex /Order/ does not match body".to_string())
    );
    assert_eq!(
        check(Condition::regex("PARCEL"), &c),
        (true, "regex /PARCEL/ matches body".to_string())
    );
}

#[test]
fn an_invalid_regex_never_matches_in_an_unvalidated_rule_set() {
    let set = rule_set(vec![
        rule("bad", Condition::regex("(unclosed"), to_tier("L3")),
        rule(
            "bad-not",
            Condition::negate(Condition::regex("(")),
            to_tier("L3"),
        ),
    ]);
    assert!(matches!(
        set.compile(),
        Err(RuleError::InvalidRegex { ref rule, .. }) if rule == "bad"
    ));
    let d = set.route(&base_case());
    assert_eq!(d.rule_id.as_deref(), Some("bad-not"));
    assert_eq!(
        d.explanation[0],
        "rule bad 'Rule bad' did not match: regex /(unclosed/ is invalid"
    );
}

#[test]
fn segment_condition() {
    let b2b = case_with(|c| c.customer.segment = Segment::B2b);
    assert_eq!(
        check(Condition::Segment(Segment::B2b), &b2b),
        (true, "segment B2B".to_string())
    );
    assert_eq!(
        check(Condition::Segment(Segment::B2b), &base_case()),
        (false, "segment B2C, not B2B".to_string())
    );
    assert!(matches(Condition::Segment(Segment::B2c), &base_case()));
}

#[test]
fn key_account_condition() {
    let key = case_with(|c| c.customer.key_account = true);
    assert_eq!(
        check(Condition::KeyAccount(true), &key),
        (true, "customer is a key account".to_string())
    );
    assert_eq!(
        check(Condition::KeyAccount(true), &base_case()),
        (false, "customer is not a key account".to_string())
    );
    assert!(matches(Condition::KeyAccount(false), &base_case()));
    assert!(!matches(Condition::KeyAccount(false), &key));
}

#[test]
fn language_condition() {
    let lang = |l: &str| case_with(|c| c.language = l.into());
    let de = || Condition::Language(vec!["de".into(), "FR".into()]);
    assert!(matches(de(), &lang("de")));
    assert!(matches(de(), &lang(" DE ")));
    assert!(matches(de(), &lang("de-AT")), "primary subtag");
    assert!(matches(de(), &lang("de_CH")));
    assert!(matches(de(), &lang("fr")));
    assert!(!matches(de(), &lang("den")), "not a mere prefix");
    assert!(!matches(de(), &lang("en")));
    let at = Condition::Language(vec!["de-AT".into()]);
    assert!(matches(at.clone(), &lang("de-at")));
    assert!(
        !matches(at, &lang("de")),
        "a region does not match the bare language"
    );
    // A blank language is English, as the domain opens it.
    assert!(matches(Condition::Language(vec!["en".into()]), &lang("")));
    assert_eq!(
        check(de(), &lang("en-GB")),
        (false, "language en-gb not in [de, fr]".to_string())
    );
    assert_eq!(
        check(de(), &lang("de-AT")),
        (true, "language de-at in [de, fr]".to_string())
    );
}

#[test]
fn has_tag_condition() {
    let tagged = case_with(|c| c.tags = vec![" VIP ".into(), "beta".into()]);
    assert_eq!(
        check(Condition::HasTag("vip".into()), &tagged),
        (true, "tag 'vip' present".to_string())
    );
    assert!(matches(Condition::HasTag("Beta".into()), &tagged));
    assert_eq!(
        check(Condition::HasTag("gold".into()), &tagged),
        (false, "no tag 'gold'".to_string())
    );
    assert!(!matches(Condition::HasTag("vip".into()), &base_case()));
}

#[test]
fn priority_condition() {
    let urgent = case_with(|c| c.priority = Priority::Urgent);
    let hot = || Condition::Priority(vec![Priority::Urgent, Priority::High]);
    assert_eq!(
        check(hot(), &urgent),
        (true, "priority URGENT in [URGENT, HIGH]".to_string())
    );
    assert_eq!(
        check(hot(), &base_case()),
        (false, "priority NORMAL not in [URGENT, HIGH]".to_string())
    );
}

#[test]
fn all_any_not_combine() {
    let chat = || Condition::Channel(vec![Channel::Chat]);
    let email = || Condition::Channel(vec![Channel::Email]);
    let b2c = || Condition::Segment(Segment::B2c);
    let c = base_case();
    assert!(matches(Condition::All(vec![chat(), b2c()]), &c));
    assert!(!matches(Condition::All(vec![chat(), email()]), &c));
    assert!(matches(Condition::Any(vec![email(), chat()]), &c));
    assert!(!matches(
        Condition::Any(vec![email(), Condition::negate(b2c())]),
        &c
    ));
    assert!(matches(Condition::negate(email()), &c));
    assert!(!matches(Condition::negate(chat()), &c));
    assert!(matches(Condition::negate(Condition::negate(chat())), &c));
    // Nested: chat and not (email or B2B) and (urgent or tag vip or B2C).
    let nested = Condition::All(vec![
        chat(),
        Condition::negate(Condition::Any(vec![
            email(),
            Condition::Segment(Segment::B2b),
        ])),
        Condition::Any(vec![
            Condition::Priority(vec![Priority::Urgent]),
            Condition::HasTag("vip".into()),
            b2c(),
        ]),
    ]);
    assert_eq!(
        check(nested.clone(), &c),
        (
            true,
            "channel CHAT in [CHAT]; no alternative matched (channel CHAT not in [EMAIL]; \
             segment B2C, not B2B); segment B2C"
                .to_string()
        )
    );
    let b2b = case_with(|c| c.customer.segment = Segment::B2b);
    assert_eq!(
        check(nested, &b2b),
        (false, "excluded: segment B2B".to_string())
    );
    // Reasons: All stops at the first failure, Any at the first success.
    assert_eq!(
        check(Condition::All(vec![email(), chat()]), &c).1,
        "channel CHAT not in [EMAIL]"
    );
    assert_eq!(
        check(Condition::Any(vec![chat(), email()]), &c).1,
        "channel CHAT in [CHAT]"
    );
    // Unvalidated empty combinators: All of nothing holds, Any of nothing does not.
    assert!(matches(Condition::All(vec![]), &c));
    assert!(!matches(Condition::Any(vec![]), &c));
}

// ---------------------------------------------------------------------------------
// Explanation
// ---------------------------------------------------------------------------------

#[test]
fn the_explanation_says_why_each_checked_rule_did_or_did_not_match() {
    let mut disabled = rule("r0", Condition::KeyAccount(false), to_tier("L3"));
    disabled.enabled = false;
    let set = RuleSet {
        version: 3,
        rules: vec![
            disabled,
            Rule {
                id: "r1".into(),
                name: "Billing on social".into(),
                enabled: true,
                condition: Condition::All(vec![
                    Condition::Channel(vec![Channel::SocialPublic, Channel::SocialDm]),
                    Condition::keywords(&["refund", "invoice"]),
                ]),
                actions: Actions {
                    tier: Some("L2".into()),
                    team: Some("billing".into()),
                    tags: vec!["sensitive".into()],
                    sensitive: true,
                    ..Actions::default()
                },
            },
            rule("r2", Condition::KeyAccount(false), to_tier("L3")),
        ],
        default: default_actions(),
    };
    let post = text_case(
        Channel::SocialPublic,
        "@shop help",
        "I want a refund for order 7",
    );
    assert_eq!(
        route(&set, &post).explanation,
        vec![
            "rule r0 'Rule r0' skipped: disabled",
            "rule r1 'Billing on social' matched: channel SOCIAL_PUBLIC in \
             [SOCIAL_PUBLIC, SOCIAL_DM]; keyword 'refund' in body",
            "routed by rule r1: tier L2, team billing, tags [sensitive], sensitive (private channel)",
        ]
    );
    let email = text_case(Channel::Email, "refund", "");
    assert_eq!(
        route(&set, &email).explanation,
        vec![
            "rule r0 'Rule r0' skipped: disabled",
            "rule r1 'Billing on social' did not match: channel EMAIL not in \
             [SOCIAL_PUBLIC, SOCIAL_DM]",
            "rule r2 'Rule r2' matched: customer is not a key account",
            "routed by rule r2: tier L3",
        ]
    );
    let quiet = text_case(Channel::SocialDm, "hi", "just saying hello");
    let d = route(&set, &quiet);
    assert_eq!(
        d.explanation[1],
        "rule r1 'Billing on social' did not match: no keyword of ['refund', 'invoice'] \
         in subject or body"
    );
}

// ---------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------

#[test]
fn a_sound_rule_set_validates_and_compiles() {
    let set = rule_set(vec![
        rule("r1", Condition::regex(r"(?i)\border\s+#\d+"), to_tier("L2")),
        rule(
            "r2",
            Condition::All(vec![
                Condition::Language(vec!["de".into()]),
                Condition::HasTag("vip".into()),
                Condition::Priority(vec![Priority::High]),
            ]),
            Actions {
                tier: None,
                team: Some("general".into()),
                tags: vec!["de".into(), "team:dach".into()],
                ..Actions::default()
            },
        ),
    ]);
    assert_eq!(set.validate(&ladder(), None), Ok(()));
    assert_eq!(
        set.validate(&ladder(), Some(&teams(&["general", "billing"]))),
        Ok(())
    );
    let compiled = set.compile().expect("compiles");
    assert_eq!(compiled.version(), 7);
    assert_eq!(compiled.rule_set(), &set);
}

#[test]
fn validation_rejects_unknown_tiers() {
    let set = rule_set(vec![rule("r1", Condition::KeyAccount(true), to_tier("L9"))]);
    let err = invalid(&set);
    assert_eq!(
        err,
        RuleError::UnknownTier {
            origin: RuleOrigin::Rule("r1".into()),
            tier: "L9".into()
        }
    );
    assert_eq!(err.to_string(), "rule `r1`: tier `L9` is not configured");
    assert_eq!(err.code().name(), "BAD_USER_INPUT");

    let mut set = rule_set(vec![]);
    set.default.tier = Some("L7".into());
    assert_eq!(
        invalid(&set).to_string(),
        "the default route: tier `L7` is not configured"
    );
    // A two-tier shop has no L2.
    let small = TierLadder::new(["L0", "L1"]).unwrap();
    let set = rule_set(vec![rule("r1", Condition::KeyAccount(true), to_tier("L2"))]);
    assert!(matches!(
        set.validate(&small, None),
        Err(RuleError::UnknownTier { .. })
    ));
}

#[test]
fn validation_rejects_unknown_or_malformed_teams() {
    let with_team = |team: &str| {
        rule_set(vec![rule(
            "r1",
            Condition::KeyAccount(true),
            Actions {
                tier: Some("L2".into()),
                team: Some(team.into()),
                ..Actions::default()
            },
        )])
    };
    let known = teams(&["general", "billing"]);
    assert_eq!(
        with_team("billing").validate(&ladder(), Some(&known)),
        Ok(())
    );
    let err = with_team("fraud")
        .validate(&ladder(), Some(&known))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule `r1`: team `fraud` is not a known team"
    );
    // Without a team list any well-formed team is accepted.
    assert_eq!(with_team("fraud").validate(&ladder(), None), Ok(()));
    assert!(matches!(
        invalid(&with_team("  ")),
        RuleError::InvalidTeam { .. }
    ));
    assert!(matches!(
        invalid(&with_team(&"x".repeat(65))),
        RuleError::InvalidTeam { .. }
    ));
    // The default's team is checked too.
    let set = rule_set(vec![]);
    assert_eq!(
        set.validate(&ladder(), Some(&teams(&["billing"]))),
        Err(RuleError::UnknownTeam {
            origin: RuleOrigin::Default,
            team: "general".into()
        })
    );
}

#[test]
fn validation_rejects_invalid_tags() {
    for bad in ["", "two words", "semi;colon", &"t".repeat(MAX_TAG + 1)] {
        let set = rule_set(vec![rule(
            "r1",
            Condition::KeyAccount(true),
            Actions {
                tags: vec!["ok".into(), bad.into()],
                ..to_tier("L2")
            },
        )]);
        assert_eq!(
            invalid(&set),
            RuleError::InvalidTag {
                origin: RuleOrigin::Rule("r1".into()),
                tag: bad.into()
            },
            "{bad:?}"
        );
    }
}

#[test]
fn validation_rejects_invalid_regexes() {
    let set = rule_set(vec![rule("r1", Condition::regex("a(b"), to_tier("L2"))]);
    let err = invalid(&set);
    assert!(
        matches!(&err, RuleError::InvalidRegex { rule, pattern, .. } if rule == "r1" && pattern == "a(b"),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .starts_with("rule `r1`: invalid regex `a(b`: "));
    // Too long, or too big once compiled.
    let long = rule_set(vec![rule(
        "r1",
        Condition::regex("a".repeat(1025)),
        to_tier("L2"),
    )]);
    assert!(matches!(invalid(&long), RuleError::InvalidRegex { .. }));
    let huge = rule_set(vec![rule(
        "r1",
        Condition::regex(r"\w{1000}{1000}"),
        to_tier("L2"),
    )]);
    assert!(matches!(invalid(&huge), RuleError::InvalidRegex { .. }));
    // Nested regexes are checked as well.
    let nested = rule_set(vec![rule(
        "r1",
        Condition::negate(Condition::Any(vec![Condition::regex("[")])),
        to_tier("L2"),
    )]);
    assert!(matches!(invalid(&nested), RuleError::InvalidRegex { .. }));
}

#[test]
fn validation_rejects_empty_conditions() {
    let kw = |words: Vec<&str>, in_subject, in_body| Condition::Keywords {
        words: words.into_iter().map(String::from).collect(),
        in_subject,
        in_body,
    };
    let cases: Vec<(Condition, &str)> = vec![
        (Condition::All(vec![]), "All has no conditions"),
        (Condition::Any(vec![]), "Any has no conditions"),
        (Condition::Channel(vec![]), "the channel list is empty"),
        (kw(vec![], true, true), "the keyword list is empty"),
        (
            kw(vec!["refund", " ?! "], true, true),
            "keyword ` ?! ` has no letters or digits",
        ),
        (
            kw(vec!["refund"], false, false),
            "a keyword condition searches neither subject nor body",
        ),
        (Condition::regex(""), "the regex pattern is empty"),
        (
            Condition::Regex {
                pattern: "x".into(),
                in_subject: false,
                in_body: false,
            },
            "a regex condition searches neither subject nor body",
        ),
        (Condition::Language(vec![]), "the language list is empty"),
        (
            Condition::Language(vec!["de".into(), " ".into()]),
            "a language is blank",
        ),
        (Condition::HasTag(" ".into()), "the tag is blank"),
        (Condition::Priority(vec![]), "the priority list is empty"),
        (
            Condition::negate(Condition::All(vec![
                Condition::KeyAccount(true),
                Condition::Any(vec![]),
            ])),
            "Any has no conditions",
        ),
    ];
    for (condition, what) in cases {
        let set = rule_set(vec![
            rule("fine", Condition::KeyAccount(true), to_tier("L2")),
            rule("r9", condition.clone(), to_tier("L2")),
        ]);
        let err = invalid(&set);
        assert_eq!(
            err,
            RuleError::EmptyCondition {
                rule: "r9".into(),
                what: what.into()
            },
            "{condition:?}"
        );
        assert_eq!(err.to_string(), format!("rule `r9`: {what}"));
        assert_eq!(set.compile().unwrap_err(), err);
    }
}

#[test]
fn validation_rejects_empty_and_duplicate_ids() {
    let set = rule_set(vec![
        rule("r1", Condition::KeyAccount(true), to_tier("L2")),
        rule(" ", Condition::KeyAccount(true), to_tier("L2")),
    ]);
    assert_eq!(invalid(&set), RuleError::EmptyId { index: 2 });
    assert_eq!(invalid(&set).to_string(), "rule #2 has an empty id");
    assert_eq!(set.compile().unwrap_err(), RuleError::EmptyId { index: 2 });

    let set = rule_set(vec![
        rule("r1", Condition::KeyAccount(true), to_tier("L2")),
        rule("r2", Condition::KeyAccount(true), to_tier("L2")),
        rule("r1", Condition::KeyAccount(false), to_tier("L3")),
    ]);
    assert_eq!(invalid(&set), RuleError::DuplicateId("r1".into()));
    assert_eq!(
        invalid(&set).to_string(),
        "rule id `r1` is used by more than one rule"
    );
    assert!(set.compile().is_err());
}

#[test]
fn validation_requires_a_default_tier() {
    for tier in [None, Some("".to_string()), Some("  ".to_string())] {
        let mut set = rule_set(vec![]);
        set.default.tier = tier;
        assert_eq!(invalid(&set), RuleError::DefaultWithoutTier);
        assert_eq!(set.compile().unwrap_err(), RuleError::DefaultWithoutTier);
    }
    assert_eq!(
        RuleError::DefaultWithoutTier.to_string(),
        "the default route must name a tier"
    );
}

#[test]
fn validation_keeps_sensitive_cases_at_or_above_the_floor() {
    let sensitive = |tier: Option<&str>| Actions {
        tier: tier.map(String::from),
        sensitive: true,
        ..Actions::default()
    };
    let set = rule_set(vec![rule(
        "r1",
        Condition::KeyAccount(true),
        sensitive(Some("L1")),
    )]);
    let err = invalid(&set);
    assert_eq!(
        err,
        RuleError::SensitiveBelowFloor {
            origin: RuleOrigin::Rule("r1".into()),
            tier: "L1".into(),
            floor: "L2".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "rule `r1` marks cases sensitive but routes them to tier `L1`; sensitive cases \
         must go to `L2` or above"
    );
    // A rule without a tier inherits the default's L1: still too low.
    let set = rule_set(vec![rule(
        "r1",
        Condition::KeyAccount(true),
        sensitive(None),
    )]);
    assert!(matches!(
        invalid(&set),
        RuleError::SensitiveBelowFloor { .. }
    ));
    // L2 and L3 are fine.
    for tier in ["L2", "L3"] {
        let set = rule_set(vec![rule(
            "r1",
            Condition::KeyAccount(true),
            sensitive(Some(tier)),
        )]);
        assert_eq!(set.validate(&ladder(), None), Ok(()));
    }
    // The default route too.
    let mut set = rule_set(vec![]);
    set.default.sensitive = true;
    assert!(matches!(
        invalid(&set),
        RuleError::SensitiveBelowFloor {
            origin: RuleOrigin::Default,
            ..
        }
    ));
}

#[test]
fn validation_rejects_public_routing_of_sensitive_social_matters() {
    let social = || Condition::Channel(vec![Channel::SocialPublic]);
    let billing = || Condition::keywords(&["where", "billing address"]);
    let private_l2 = Actions {
        sensitive: true,
        ..to_tier("L2")
    };
    let bad = rule_set(vec![rule(
        "billing-social",
        Condition::All(vec![social(), billing()]),
        to_tier("L1"),
    )]);
    let err = invalid(&bad);
    assert_eq!(
        err,
        RuleError::SensitiveOnSocial {
            rule: "billing-social".into(),
            keyword: "billing address".into(),
            floor: "L2".into()
        }
    );
    assert!(err
        .to_string()
        .starts_with("rule `billing-social` can match social posts mentioning `billing address`"));
    // High enough but not moved to a private channel.
    let public_l3 = rule_set(vec![rule(
        "r1",
        Condition::All(vec![social(), billing()]),
        to_tier("L3"),
    )]);
    assert!(matches!(
        invalid(&public_l3),
        RuleError::SensitiveOnSocial { .. }
    ));
    // A rule on every channel (no channel condition) can match social posts too, and
    // so can one that only excludes email.
    for condition in [
        billing(),
        Condition::All(vec![
            Condition::negate(Condition::Channel(vec![Channel::Email])),
            billing(),
        ]),
        Condition::Any(vec![social(), billing()]),
    ] {
        let set = rule_set(vec![rule("r1", condition.clone(), to_tier("L1"))]);
        assert!(
            matches!(invalid(&set), RuleError::SensitiveOnSocial { .. }),
            "{condition:?}"
        );
    }
    // Accepted: private at L2; off social channels; the keyword only under a Not;
    // no sensitive keyword at all.
    let ok: Vec<(Condition, Actions)> = vec![
        (
            Condition::All(vec![social(), billing()]),
            private_l2.clone(),
        ),
        (
            Condition::All(vec![Condition::Channel(vec![Channel::Email]), billing()]),
            to_tier("L1"),
        ),
        (
            Condition::All(vec![
                Condition::negate(Condition::Channel(vec![
                    Channel::SocialPublic,
                    Channel::SocialDm,
                ])),
                billing(),
            ]),
            to_tier("L1"),
        ),
        (
            Condition::All(vec![social(), Condition::negate(billing())]),
            to_tier("L1"),
        ),
        (
            Condition::All(vec![social(), Condition::keywords(&["opening hours"])]),
            to_tier("L1"),
        ),
    ];
    for (condition, actions) in ok {
        let set = rule_set(vec![rule("r1", condition.clone(), actions)]);
        assert_eq!(set.validate(&ladder(), None), Ok(()), "{condition:?}");
    }
    // Disabled rules are checked as well.
    let mut off = bad.clone();
    off.rules[0].enabled = false;
    assert!(matches!(invalid(&off), RuleError::SensitiveOnSocial { .. }));
}

// ---------------------------------------------------------------------------------
// The standard rule set
// ---------------------------------------------------------------------------------

#[test]
fn the_standard_set_routes_the_overnight_cases() {
    let set = RuleSet::standard(&ladder());
    let compiled = set.compile().expect("the standard set compiles");

    let bank_holiday = case_with(|c| {
        c.subject = "Are you open on the bank holiday Monday?".into();
        c.body = "".into();
        c.channel = Channel::Chat;
        c.priority = Priority::Low;
    });
    let d = compiled.route(&bank_holiday);
    assert_eq!(d.rule_id, None);
    assert_eq!(d.actions.tier.as_deref(), Some("L1"));
    assert_eq!(d.actions.team.as_deref(), Some("general"));
    assert!(!d.actions.sensitive);
    let rc = d.to_route_case().unwrap();
    assert_eq!(rc.tier, Tier::new("L1"));
    assert_eq!(rc.priority, None, "keeps its low priority");

    let charged = text_case(
        Channel::SocialDm,
        "Why was I charged twice this month??",
        "",
    );
    let d = compiled.route(&charged);
    assert_eq!(d.rule_id.as_deref(), Some("sensitive-social"));
    assert_eq!(d.actions.tier.as_deref(), Some("L2"));
    assert!(d.actions.sensitive);
    assert_eq!(d.actions.tags, vec!["sensitive".to_string()]);
    let rc = d.to_route_case().unwrap();
    assert_eq!(rc.tier, Tier::new("L2"));
    assert!(rc.sensitive);
    assert_eq!(rc.tags, vec!["sensitive".to_string()]);
    assert_eq!(rc.rule_id.as_deref(), Some("sensitive-social"));
    assert_eq!(rc.rule_set_version, Some(1));
    assert_eq!(
        d.explanation[0],
        "rule sensitive-social 'Billing, account or health on social' matched: channel \
         SOCIAL_DM in [SOCIAL_PUBLIC, SOCIAL_DM]; keyword 'charged' in subject"
    );
}

#[test]
fn the_standard_set_moves_every_sensitive_topic_off_social_channels() {
    let set = RuleSet::standard(&ladder()).compile().unwrap();
    for body in [
        "I need a REFUND",
        "my invoice is wrong",
        "can't log in since yesterday",
        "forgot my password",
        "my card was declined",
        "is my medical history safe?",
        "prescription not delivered",
    ] {
        for channel in [Channel::SocialPublic, Channel::SocialDm] {
            let d = set.route(&text_case(channel, "help", body));
            assert_eq!(d.rule_id.as_deref(), Some("sensitive-social"), "{body}");
            assert!(d.actions.sensitive);
        }
        // The same words by email are not a social matter.
        let d = set.route(&text_case(Channel::Email, "help", body));
        assert_ne!(d.rule_id.as_deref(), Some("sensitive-social"));
        assert!(!d.actions.sensitive);
    }
    // Sensitive rule comes before the key-account rule.
    let key_post = case_with(|c| {
        c.channel = Channel::SocialPublic;
        c.body = "Where is the invoice?".into();
        c.customer.segment = Segment::B2b;
        c.customer.key_account = true;
    });
    assert_eq!(
        set.route(&key_post).rule_id.as_deref(),
        Some("sensitive-social")
    );
}

#[test]
fn the_standard_set_routes_key_accounts_and_incidents() {
    let set = RuleSet::standard(&ladder()).compile().unwrap();
    let key = case_with(|c| {
        c.customer.segment = Segment::B2b;
        c.customer.key_account = true;
    });
    let d = set.route(&key);
    assert_eq!(d.rule_id.as_deref(), Some("key-accounts"));
    assert_eq!(d.actions.tier.as_deref(), Some("L2"));
    assert_eq!(d.actions.team.as_deref(), Some("key-accounts"));
    assert_eq!(d.actions.priority, Some(Priority::High));
    // B2B without the key-account flag, or a B2C "key account", is general.
    let plain_b2b = case_with(|c| c.customer.segment = Segment::B2b);
    assert_eq!(set.route(&plain_b2b).rule_id, None);
    let b2c_key = case_with(|c| c.customer.key_account = true);
    assert_eq!(set.route(&b2c_key).rule_id, None);

    let outage = case_with(|c| {
        c.subject = "Checkout is DOWN".into();
        c.priority = Priority::Urgent;
    });
    let d = set.route(&outage);
    assert_eq!(d.rule_id.as_deref(), Some("incident"));
    assert_eq!(d.actions.tier.as_deref(), Some("L2"));
    assert_eq!(d.actions.team.as_deref(), Some("incident"));
    assert_eq!(d.actions.priority, Some(Priority::Urgent));
    let not_working = case_with(|c| {
        c.body = "The app is not working at all".into();
        c.priority = Priority::Urgent;
    });
    assert_eq!(set.route(&not_working).rule_id.as_deref(), Some("incident"));
    // Not urgent, or urgent without outage words: the front line.
    let calm = case_with(|c| c.subject = "Checkout is down".into());
    assert_eq!(set.route(&calm).rule_id, None);
    let urgent = case_with(|c| c.priority = Priority::Urgent);
    assert_eq!(set.route(&urgent).rule_id, None);
    assert!(OUTAGE_KEYWORDS.contains(&"not working"));
}

#[test]
fn the_standard_set_adapts_to_the_ladder_and_always_validates() {
    let known = teams(STANDARD_TEAMS);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["L0", "L1", "L2", "L3"], "L2", "L1"),
        (vec!["L0", "L1", "L2", "L3", "L4"], "L2", "L1"),
        (vec!["L0", "L1"], "L1", "L1"),
        (vec!["L0", "L1", "L3"], "L3", "L1"),
        (vec!["L0", "L2", "L3"], "L2", "L2"),
        (vec!["L0"], "L0", "L0"),
        (vec!["front", "back", "experts"], "experts", "front"),
    ];
    for (names, floor, front) in cases {
        let tiers = TierLadder::new(names.clone()).unwrap();
        assert_eq!(sensitive_floor(&tiers), Tier::new(floor), "{names:?}");
        assert_eq!(front_line(&tiers), Tier::new(front), "{names:?}");
        let set = RuleSet::standard(&tiers);
        assert_eq!(set.validate(&tiers, Some(&known)), Ok(()), "{names:?}");
        assert_eq!(set.rules[0].id, "sensitive-social", "sensitive rule first");
        assert_eq!(set.rules[0].actions.tier.as_deref(), Some(floor));
        assert!(set.rules[0].actions.sensitive);
        assert_eq!(set.default.tier.as_deref(), Some(front));
        assert_eq!(set.default.team.as_deref(), Some("general"));
    }
    // Teams the admin has not created are reported.
    let set = RuleSet::standard(&ladder());
    assert!(matches!(
        set.validate(&ladder(), Some(&teams(&["general"]))),
        Err(RuleError::UnknownTeam { .. })
    ));
}

#[test]
fn the_sensitive_rule_passes_the_social_check_and_weakening_it_fails() {
    let mut set = RuleSet::standard(&ladder());
    set.rules[0].actions.sensitive = false;
    assert!(matches!(
        invalid(&set),
        RuleError::SensitiveOnSocial { ref rule, .. } if rule == "sensitive-social"
    ));
    let mut set = RuleSet::standard(&ladder());
    set.rules[0].actions.tier = Some("L1".into());
    assert!(matches!(
        invalid(&set),
        RuleError::SensitiveBelowFloor { .. }
    ));
}

#[test]
fn rule_sets_and_decisions_round_trip_through_postcard_and_json() {
    let mut set = RuleSet::standard(&ladder());
    set.rules.push(rule(
        "mixed",
        Condition::Any(vec![
            Condition::negate(Condition::regex("(?i)x+")),
            Condition::Language(vec!["de".into()]),
            Condition::HasTag("vip".into()),
            Condition::Keywords {
                words: vec!["a".into()],
                in_subject: false,
                in_body: true,
            },
        ]),
        Actions {
            start_swarm: true,
            auto_assign: true,
            ..Actions::default()
        },
    ));
    let bytes = postcard::to_allocvec(&set).unwrap();
    assert_eq!(postcard::from_bytes::<RuleSet>(&bytes).unwrap(), set);
    let json = serde_json::to_string(&set).unwrap();
    assert_eq!(serde_json::from_str::<RuleSet>(&json).unwrap(), set);

    let d = set.route(&text_case(Channel::SocialPublic, "refund", ""));
    let bytes = postcard::to_allocvec(&d).unwrap();
    assert_eq!(postcard::from_bytes::<RouteDecision>(&bytes).unwrap(), d);
}

// ---------------------------------------------------------------------------------
// Property: exactly the first enabled matching rule routes, else the default
// ---------------------------------------------------------------------------------

const CHANNELS: [Channel; 4] = [
    Channel::Email,
    Channel::Chat,
    Channel::SocialPublic,
    Channel::SocialDm,
];
const KEYWORDS: [&str; 4] = ["refund", "outage", "hello", "not working"];
const PATTERNS: [&str; 3] = ["(?i)refund", "^Hello", "out.ge"];
const TAGS: [&str; 2] = ["vip", "new"];
const PRIORITIES: [Priority; 4] = [
    Priority::Urgent,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

/// The naive reference: a direct reading of the documented semantics.
fn reference_matches(condition: &Condition, case: &OpenCase) -> bool {
    // Text as " w1 w2 ... " of lower-cased alphanumeric runs; a phrase matches when
    // " p1 p2 " occurs in it.
    fn padded(text: &str) -> String {
        let lower = text.to_lowercase();
        let ws: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        format!(" {} ", ws.join(" "))
    }
    match condition {
        Condition::All(cs) => cs.iter().all(|c| reference_matches(c, case)),
        Condition::Any(cs) => cs.iter().any(|c| reference_matches(c, case)),
        Condition::Not(c) => !reference_matches(c, case),
        Condition::Channel(cs) => cs.contains(&case.channel),
        Condition::Keywords {
            words,
            in_subject,
            in_body,
        } => words.iter().any(|w| {
            let needle = padded(w);
            needle.trim() != ""
                && ((*in_subject && padded(&case.subject).contains(&needle))
                    || (*in_body && padded(&case.body).contains(&needle)))
        }),
        Condition::Regex {
            pattern,
            in_subject,
            in_body,
        } => match regex::Regex::new(pattern) {
            Ok(r) => {
                (*in_subject && r.is_match(&case.subject)) || (*in_body && r.is_match(&case.body))
            }
            Err(_) => false,
        },
        Condition::Segment(s) => case.customer.segment == *s,
        Condition::KeyAccount(k) => case.customer.key_account == *k,
        Condition::Language(ls) => {
            let mut lang = case.language.trim().to_lowercase();
            if lang.is_empty() {
                lang = "en".into();
            }
            let primary = lang.split('-').next().unwrap_or_default().to_string();
            ls.iter().any(|l| {
                let l = l.trim().to_lowercase();
                l == lang || (!l.contains('-') && l == primary)
            })
        }
        Condition::HasTag(t) => case
            .tags
            .iter()
            .any(|x| x.trim().eq_ignore_ascii_case(t.trim())),
        Condition::Priority(ps) => ps.contains(&case.priority),
    }
}

fn leaf() -> impl Strategy<Value = Condition> {
    prop_oneof![
        proptest::sample::subsequence(CHANNELS.to_vec(), 1..=3).prop_map(Condition::Channel),
        (
            proptest::sample::subsequence(KEYWORDS.to_vec(), 1..=2),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(ws, in_subject, in_body)| Condition::Keywords {
                words: ws.into_iter().map(String::from).collect(),
                in_subject,
                in_body,
            }),
        (
            proptest::sample::select(PATTERNS.to_vec()),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(p, in_subject, in_body)| Condition::Regex {
                pattern: p.into(),
                in_subject,
                in_body,
            }),
        prop_oneof![Just(Segment::B2b), Just(Segment::B2c)].prop_map(Condition::Segment),
        any::<bool>().prop_map(Condition::KeyAccount),
        proptest::sample::subsequence(vec!["en", "de", "fr-CA"], 1..=2)
            .prop_map(|ls| Condition::Language(ls.into_iter().map(String::from).collect())),
        proptest::sample::select(TAGS.to_vec()).prop_map(|t| Condition::HasTag(t.into())),
        proptest::sample::subsequence(PRIORITIES.to_vec(), 1..=2).prop_map(Condition::Priority),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Condition::All),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Condition::Any),
            inner.prop_map(Condition::negate),
        ]
    })
}

fn actions() -> impl Strategy<Value = Actions> {
    (
        proptest::option::of(proptest::sample::select(vec!["L1", "L2", "L3"])),
        proptest::option::of(proptest::sample::select(vec!["general", "billing"])),
        proptest::option::of(proptest::sample::select(PRIORITIES.to_vec())),
        proptest::sample::subsequence(TAGS.to_vec(), 0..=2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(tier, team, priority, tags, sensitive, start_swarm)| Actions {
                tier: tier.map(String::from),
                team: team.map(String::from),
                priority,
                tags: tags.into_iter().map(String::from).collect(),
                sensitive,
                start_swarm,
                auto_assign: !start_swarm,
                needs_skills: if sensitive {
                    vec!["billing".into()]
                } else {
                    vec![]
                },
            },
        )
}

fn arb_rule_set() -> impl Strategy<Value = RuleSet> {
    (
        proptest::collection::vec((condition(), actions(), any::<bool>()), 0..6),
        any::<u64>(),
    )
        .prop_map(|(rules, version)| RuleSet {
            version,
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(i, (condition, actions, enabled))| Rule {
                    id: format!("r{i}"),
                    name: format!("rule number {i}"),
                    enabled,
                    condition,
                    actions,
                })
                .collect(),
            default: default_actions(),
        })
}

fn arb_text() -> impl Strategy<Value = String> {
    let vocabulary = vec![
        "refund",
        "REFUND!",
        "Refunded",
        "outage",
        "out-age",
        "Hello",
        "hello,",
        "not",
        "working",
        "NOT-WORKING",
        "please",
        "?",
        "",
    ];
    proptest::collection::vec(proptest::sample::select(vocabulary), 0..6)
        .prop_map(|ws| ws.join(" "))
}

fn arb_case() -> impl Strategy<Value = OpenCase> {
    (
        arb_text(),
        arb_text(),
        proptest::sample::select(vec![
            Channel::Email,
            Channel::Chat,
            Channel::SocialPublic,
            Channel::SocialDm,
            Channel::Bot,
        ]),
        prop_oneof![Just(Segment::B2b), Just(Segment::B2c)],
        any::<bool>(),
        proptest::sample::select(vec![
            "en", "EN", "", "eng", "de", "de-AT", "fr", "fr-CA", "fr-ca",
        ]),
        proptest::sample::select(PRIORITIES.to_vec()),
        proptest::sample::subsequence(vec!["vip", " VIP ", "new", "old"], 0..=2),
    )
        .prop_map(
            |(subject, body, channel, segment, key_account, language, priority, tags)| OpenCase {
                case_id: case_id(),
                subject,
                body,
                channel,
                customer: Customer {
                    id: "c".into(),
                    name: "C".into(),
                    segment,
                    key_account,
                },
                language: language.into(),
                priority,
                tags: tags.into_iter().map(String::from).collect(),
                requested_priority: None,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn exactly_the_first_enabled_matching_rule_routes(set in arb_rule_set(), case in arb_case()) {
        let decision = set.route(&case);
        let first = set
            .rules
            .iter()
            .position(|r| r.enabled && reference_matches(&r.condition, &case));
        match first {
            Some(i) => {
                let r = &set.rules[i];
                let mut expected = r.actions.clone();
                if expected.tier.is_none() {
                    expected.tier = set.default.tier.clone();
                }
                prop_assert_eq!(decision.rule_id.as_deref(), Some(r.id.as_str()));
                prop_assert_eq!(decision.rule_name.as_deref(), Some(r.name.as_str()));
                prop_assert_eq!(&decision.actions, &expected);
            }
            None => {
                prop_assert_eq!(&decision.rule_id, &None);
                prop_assert_eq!(&decision.rule_name, &None);
                prop_assert_eq!(&decision.actions, &set.default);
            }
        }
        prop_assert_eq!(decision.rule_set_version, set.version);
        prop_assert!(decision.actions.tier.is_some());

        // One line per rule checked (all of them up to the winner), then a summary.
        let checked = first.map_or(set.rules.len(), |i| i + 1);
        prop_assert_eq!(decision.explanation.len(), checked + 1);
        for (r, line) in set.rules.iter().zip(&decision.explanation).take(checked) {
            let label = format!("rule {} '{}' ", r.id, r.name);
            prop_assert!(line.starts_with(&label), "{}", line);
            let verdict = &line[label.len()..];
            let expected = if !r.enabled {
                "skipped: disabled"
            } else if reference_matches(&r.condition, &case) {
                "matched: "
            } else {
                "did not match: "
            };
            prop_assert!(verdict.starts_with(expected), "{}", line);
        }

        // The compiled form decides identically whenever the set compiles.
        if let Ok(compiled) = set.compile() {
            prop_assert_eq!(compiled.route(&case), decision.clone());
        }
        // And the decision is a valid route command.
        let rc = decision.to_route_case().unwrap();
        prop_assert_eq!(Some(rc.tier.0.into()), decision.actions.tier.clone());
    }
}

/// `Not` wrapped `levels` times around a channel condition.
fn nested_not(levels: usize) -> Condition {
    let mut c = Condition::Channel(vec![Channel::Email]);
    for _ in 0..levels {
        c = Condition::negate(c);
    }
    c
}

#[test]
fn conditions_nest_at_most_max_condition_depth_levels() {
    let ladder = TierLadder::standard();
    assert_eq!(nested_not(0).depth(), 1);
    assert_eq!(nested_not(1000).depth(), 1001);
    let all = Condition::All(vec![nested_not(2), Condition::Any(vec![nested_not(5)])]);
    assert_eq!(all.depth(), 8);
    let ok = rule_set(vec![rule(
        "r",
        nested_not(MAX_CONDITION_DEPTH - 1),
        to_tier("L1"),
    )]);
    assert_eq!(ok.validate(&ladder, None), Ok(()));
    let deep = rule_set(vec![rule(
        "r",
        nested_not(MAX_CONDITION_DEPTH),
        to_tier("L1"),
    )]);
    assert_eq!(
        deep.validate(&ladder, None),
        Err(RuleError::ConditionTooDeep {
            rule: "r".into(),
            depth: MAX_CONDITION_DEPTH + 1
        })
    );
    assert!(deep.compile().is_err());
}
