//! Configuration decisions: every change checked against what is in force, and a
//! refused change produces no event.

use super::*;
use crate::domain::calendar::Calendar;
use crate::domain::{Channel, Customer, OpenCase, Priority, Segment};
use crate::routing::{Actions, Condition, Rule};

fn standard() -> Config {
    ConfigSeed::standard(TierLadder::standard(), None, None)
        .config()
        .unwrap()
}

fn apply(config: &mut Config, command: ConfigCommand) -> Result<(), ConfigError> {
    for e in decide(config, command)? {
        let v = config.version + 1;
        config.apply(&e, v);
    }
    Ok(())
}

fn agent(id: &str, teams: &[&str], tiers: &[&str], max: u32) -> Agent {
    Agent {
        id: AgentId::new(id).unwrap(),
        name: id.to_uppercase(),
        tiers: tiers.iter().map(|t| t.to_string()).collect(),
        teams: teams.iter().map(|t| t.to_string()).collect(),
        skills: vec![],
        languages: vec!["en".into()],
        max_cases: max,
    }
}

fn team(name: &str, tier: &str) -> Team {
    Team {
        name: name.into(),
        tier: tier.into(),
        description: String::new(),
        calendar: None,
    }
}

fn case(subject: &str, channel: Channel) -> OpenCase {
    OpenCase {
        case_id: crate::domain::CaseId(ulid::Ulid::nil()),
        subject: subject.into(),
        body: String::new(),
        channel,
        customer: Customer {
            id: "c1".into(),
            name: "C".into(),
            segment: Segment::B2c,
            key_account: false,
        },
        language: "en".into(),
        priority: Priority::Normal,
        tags: vec![],
        requested_priority: None,
    }
}

#[test]
fn standard_seed_sets_tiers_teams_and_versioned_rules() {
    let c = standard();
    assert_eq!(c.tiers, TierLadder::standard());
    assert_eq!(c.team_names(), vec!["general", "incident", "key-accounts"]);
    assert_eq!(c.teams["general"].tier, "L1");
    assert_eq!(c.teams["key-accounts"].tier, "L2");
    assert_eq!(c.rule_set().version, 1);
    // one event per tier set, team and rule set
    assert_eq!(c.version, 5);
}

#[test]
fn a_team_must_work_a_configured_tier_and_be_new() {
    let mut c = standard();
    let err = decide(&c, ConfigCommand::CreateTeam(team("vendor", "L4"))).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
    assert!(decide(&c, ConfigCommand::CreateTeam(team("general", "L1"))).is_err());
    apply(&mut c, ConfigCommand::CreateTeam(team(" billing ", "L2"))).unwrap();
    assert_eq!(c.teams["billing"].tier, "L2");
}

#[test]
fn a_team_with_members_or_routed_to_cannot_be_removed() {
    let mut c = standard();
    apply(
        &mut c,
        ConfigCommand::AddAgent(agent("alice", &["general"], &[], 5)),
    )
    .unwrap();
    let err = decide(&c, ConfigCommand::RemoveTeam("general".into())).unwrap_err();
    assert!(err.to_string().contains("alice"), "{err}");
    let err = decide(&c, ConfigCommand::RemoveTeam("incident".into())).unwrap_err();
    assert!(err.to_string().contains("rule `incident`"), "{err}");
    apply(&mut c, ConfigCommand::CreateTeam(team("spare", "L3"))).unwrap();
    apply(&mut c, ConfigCommand::RemoveTeam("spare".into())).unwrap();
    assert!(!c.teams.contains_key("spare"));
}

#[test]
fn agents_need_known_teams_tiers_and_a_sane_capacity() {
    let c = standard();
    let unknown_team = decide(&c, ConfigCommand::AddAgent(agent("a", &["nope"], &[], 5)));
    assert!(matches!(unknown_team, Err(ConfigError::NotFound(_))));
    let unknown_tier = decide(&c, ConfigCommand::AddAgent(agent("a", &[], &["L9"], 5)));
    assert!(matches!(unknown_tier, Err(ConfigError::Invalid(_))));
    let nothing = decide(&c, ConfigCommand::AddAgent(agent("a", &[], &[], 5)));
    assert!(matches!(nothing, Err(ConfigError::Invalid(_))));
    let zero = decide(
        &c,
        ConfigCommand::AddAgent(agent("a", &["general"], &[], 0)),
    );
    assert!(matches!(zero, Err(ConfigError::Invalid(_))));
    let missing = decide(
        &c,
        ConfigCommand::UpdateAgent(agent("a", &["general"], &[], 3)),
    );
    assert!(matches!(missing, Err(ConfigError::NotFound(_))));
}

#[test]
fn agent_tiers_combine_their_own_and_their_teams() {
    let mut c = standard();
    apply(
        &mut c,
        ConfigCommand::AddAgent(agent("dana", &["key-accounts"], &["L3"], 5)),
    )
    .unwrap();
    let tiers: Vec<String> = c
        .agent_tiers(&AgentId::new("dana").unwrap())
        .into_iter()
        .map(|t| t.0.into())
        .collect();
    assert_eq!(tiers, vec!["L3", "L2"]);
    assert!(c.agent_tiers(&AgentId::new("ghost").unwrap()).is_empty());
}

#[test]
fn assignment_honours_tiers_and_capacity() {
    let mut c = standard();
    let alice = AgentId::new("alice").unwrap();
    // An empty directory lets anyone be assigned (fresh install).
    assert!(c
        .check_assignable(&alice, Some(&Tier::new("L3")), 99)
        .is_ok());
    apply(
        &mut c,
        ConfigCommand::AddAgent(agent("alice", &["general"], &[], 2)),
    )
    .unwrap();
    assert!(c
        .check_assignable(&alice, Some(&Tier::new("L1")), 1)
        .is_ok());
    let full = c
        .check_assignable(&alice, Some(&Tier::new("L1")), 2)
        .unwrap_err();
    assert!(full.to_string().contains("capacity"), "{full}");
    let tier = c
        .check_assignable(&alice, Some(&Tier::new("L2")), 0)
        .unwrap_err();
    assert!(
        tier.to_string().contains("does not work tier `L2`"),
        "{tier}"
    );
    let ghost = c.check_assignable(&AgentId::new("ghost").unwrap(), None, 0);
    assert!(matches!(ghost, Err(ConfigError::NotFound(_))));
}

#[test]
fn auto_assign_picks_the_least_loaded_eligible_agent_of_the_team() {
    let mut c = standard();
    apply(
        &mut c,
        ConfigCommand::AddAgent(agent("alice", &["general"], &[], 3)),
    )
    .unwrap();
    apply(
        &mut c,
        ConfigCommand::AddAgent(agent("bob", &["general"], &[], 3)),
    )
    .unwrap();
    apply(
        &mut c,
        ConfigCommand::AddAgent(agent("chen", &["key-accounts"], &[], 9)),
    )
    .unwrap();
    let l1 = Tier::new("L1");
    let loads = |a: &AgentId| match a.as_str() {
        "alice" => 2,
        "bob" => 1,
        _ => 0,
    };
    // chen is idle but not in the team.
    assert_eq!(
        c.least_loaded(&l1, Some("general"), "en", loads)
            .unwrap()
            .as_str(),
        "bob"
    );
    // bob full: alice.
    let bob_full = |a: &AgentId| if a.as_str() == "bob" { 3 } else { 2 };
    assert_eq!(
        c.least_loaded(&l1, Some("general"), "en", bob_full)
            .unwrap()
            .as_str(),
        "alice"
    );
    assert!(c.least_loaded(&l1, Some("general"), "en", |_| 3).is_none());
}

#[test]
fn rules_are_validated_versioned_moved_and_toggled() {
    let mut c = standard();
    let mut bad = c.rule_set().clone();
    bad.rules[0].actions.tier = Some("L9".into());
    assert!(matches!(
        decide(
            &c,
            ConfigCommand::SetRules {
                rules: bad,
                expected_version: None
            }
        ),
        Err(ConfigError::Rules(_))
    ));
    let mut unknown_team = c.rule_set().clone();
    unknown_team.rules[1].actions.team = Some("nobody".into());
    assert!(decide(
        &c,
        ConfigCommand::SetRules {
            rules: unknown_team,
            expected_version: None
        }
    )
    .is_err());

    apply(
        &mut c,
        ConfigCommand::MoveRule {
            rule_id: "incident".into(),
            position: 0,
        },
    )
    .unwrap();
    assert_eq!(c.rule_set().version, 2);
    assert_eq!(c.rule_set().rules[0].id, "incident");
    apply(
        &mut c,
        ConfigCommand::EnableRule {
            rule_id: "key-accounts".into(),
            enabled: false,
        },
    )
    .unwrap();
    assert_eq!(c.rule_set().version, 3);
    assert!(
        !c.rule_set()
            .rules
            .iter()
            .find(|r| r.id == "key-accounts")
            .unwrap()
            .enabled
    );
    let past_end = ConfigCommand::MoveRule {
        rule_id: "incident".into(),
        position: 3,
    };
    assert!(decide(&c, past_end).is_err());
}

#[test]
fn a_new_rule_set_routes_later_cases() {
    let mut c = standard();
    let mut rules = c.rule_set().clone();
    apply(&mut c, ConfigCommand::CreateTeam(team("printers", "L2"))).unwrap();
    rules.rules.push(Rule {
        id: "printers".into(),
        name: "Printer trouble".into(),
        enabled: true,
        condition: Condition::keywords(&["printer"]),
        actions: Actions {
            tier: Some("L2".into()),
            team: Some("printers".into()),
            ..Actions::default()
        },
    });
    let before = c
        .rules
        .route(&case("My printer is on fire", Channel::Email));
    assert_eq!(before.rule_id, None);
    let stale = ConfigCommand::SetRules {
        rules: rules.clone(),
        expected_version: Some(7),
    };
    assert_eq!(
        decide(&c, stale).unwrap_err(),
        ConfigError::VersionConflict {
            expected: 7,
            current: 1
        }
    );
    let set = ConfigCommand::SetRules {
        rules,
        expected_version: Some(1),
    };
    apply(&mut c, set).unwrap();
    let after = c
        .rules
        .route(&case("My printer is on fire", Channel::Email));
    assert_eq!(after.rule_id.as_deref(), Some("printers"));
    assert_eq!(after.rule_set_version, 2);
}

#[test]
fn tiers_cannot_drop_one_in_use() {
    let c = standard();
    let err = decide(&c, ConfigCommand::SetTiers(vec!["L0".into(), "L1".into()])).unwrap_err();
    assert!(err.to_string().contains("L2"), "{err}");
    let ok = decide(
        &c,
        ConfigCommand::SetTiers(vec![
            "L0".into(),
            "L1".into(),
            "L2".into(),
            "L3".into(),
            "L4".into(),
        ]),
    )
    .unwrap();
    assert_eq!(ok.len(), 1);
}

#[test]
fn config_events_round_trip_through_both_encodings() {
    for e in ConfigSeed::standard(TierLadder::standard(), None, None)
        .events()
        .unwrap()
    {
        let back = ConfigEvent::decode(e.event_type(), e.schema_version(), &e.encode()).unwrap();
        assert_eq!(back, e);
        let json = ConfigEvent::from_json(e.event_type(), e.schema_version(), e.to_json()).unwrap();
        assert_eq!(json, e);
    }
}

#[test]
fn the_example_seed_file_parses_and_holds_together() {
    let text = include_str!("../../examples/swarmdesk.toml");
    let seed = file::parse(text, &TierLadder::standard(), None, None).unwrap();
    let c = seed.config().unwrap();
    assert!(c.teams.contains_key("billing"));
    assert!(c.agents.len() >= 5);
    let routed = c
        .rules
        .route(&case("Refund for a double charge", Channel::SocialPublic));
    assert_eq!(routed.actions.tier.as_deref(), Some("L2"));
    assert!(routed.actions.sensitive);
    let sso = c.rules.route(&case("Our SAML login loops", Channel::Email));
    assert_eq!(sso.rule_id.as_deref(), Some("sso"));
    assert_eq!(sso.actions.needs_skills, ["saml", "sso"]);
    let tags = ["vip".to_string()];
    assert_eq!(
        c.mapped_skills(&tags, &["The invoice is wrong"]),
        ["billing", "key-accounts"]
    );
    let rotation: Vec<&str> = c
        .rapid_rotation
        .responders
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(rotation, ["emeka", "dana"]);
    assert_eq!(c.rapid_rotation.shift_hours, 168);
    let initech = &c.customers["initech"];
    assert_eq!((initech.segment, initech.key_account), (Segment::B2b, true));
    assert!(!c.customers["globex"].key_account);
    // Complete: calendars (used by teams and policies) and SLA policies too.
    let hours = &c.sla.calendars["business-hours"];
    assert_eq!(hours.utc_offset_minutes, 60);
    assert_eq!(
        hours.hours[4],
        crate::domain::calendar::WorkingHours {
            weekday: 4,
            start_minute: 8 * 60,
            end_minute: 16 * 60
        }
    );
    assert!(c.sla.calendars.contains_key("incident-shifts"));
    assert_eq!(c.sla.team_calendars["incident"], "incident-shifts");
    let ids: Vec<&str> = c.sla.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["urgent", "key-accounts", "standard"]);
    let urgent = &c.sla.policies[0];
    assert_eq!(urgent.priorities, [Priority::Urgent]);
    assert_eq!(urgent.first_response_mins, Some(30));
    assert_eq!(
        urgent.escalation[0].clock,
        crate::domain::SlaKind::FirstResponse
    );
    assert!(urgent.escalation[0].notify_lead && !urgent.escalation[0].raise_priority);
    assert_eq!(c.sla.policies[1].segments, [Segment::B2b]);
}

/// The example is written in the API's spellings only (the old ones are for old files).
#[test]
fn the_example_seed_file_uses_the_api_spellings() {
    let text = include_str!("../../examples/swarmdesk.toml");
    for old in [
        "max_cases",
        "key_account",
        "in_subject",
        "auto_assign",
        "start_swarm",
        "sla_policies",
        "All =",
        "Channel =",
        "Keywords =",
        "\"SocialPublic\"",
        "\"B2b\"",
        "\"High\"",
    ] {
        assert!(
            !text.contains(old),
            "examples/swarmdesk.toml still says `{old}`"
        );
    }
}

/// FROZEN: a seed in the spellings of earlier builds (Rust enum names, snake_case)
/// loads, and means what the same file in the API's spellings means.
#[test]
fn an_old_style_seed_file_still_loads_the_same_configuration() {
    let old = include_str!("../../tests/fixtures/swarmdesk_v1.toml");
    let old = file::parse(old, &TierLadder::standard(), None, None)
        .unwrap()
        .config()
        .unwrap();
    let new = include_str!("../../examples/swarmdesk.toml");
    let new = file::parse(new, &TierLadder::standard(), None, None)
        .unwrap()
        .config()
        .unwrap();
    // `needsSkills` came after the v1 spellings: the example's are its only difference.
    let mut newer = new.rules.rule_set().clone();
    for r in &mut newer.rules {
        r.actions.needs_skills.clear();
    }
    assert_eq!(old.rules.rule_set(), &newer);
    assert_eq!(old.agents, new.agents);
    assert_eq!(old.customers, new.customers);
    assert_eq!(old.tiers, new.tiers);
    assert_eq!(
        old.teams.keys().collect::<Vec<_>>(),
        new.teams.keys().collect::<Vec<_>>()
    );
    // Old-style calendars and SLA policies (integers, snake_case) load as well.
    let seed = file::parse(
        r#"
        [[calendars]]
        id = "office"
        utc_offset_minutes = 60
        hours = [{ weekday = 0, start_minute = 540, end_minute = 1020 }]
        holidays = []
        [[sla_policies]]
        id = "urgent"
        name = "Urgent"
        priorities = ["Urgent"]
        segments = ["B2b"]
        first_response_mins = 30
        resolution_mins = 240
        calendar = "office"
        escalation = [{ after_mins = 15, clock = "FirstResponse", raise_priority = true, notify_lead = false, escalate_tier = false }]
        "#,
        &TierLadder::standard(),
        None,
        None,
    )
    .unwrap();
    let same = file::parse(
        r#"
        [[calendars]]
        id = "office"
        utcOffsetMinutes = 60
        hours = [{ weekday = "MONDAY", start = "09:00", end = "17:00" }]
        [[slaPolicies]]
        id = "urgent"
        name = "Urgent"
        priorities = ["URGENT"]
        segments = ["B2B"]
        firstResponseMinutes = 30
        resolutionMinutes = 240
        calendar = "office"
        escalation = [{ afterMinutes = 15, clock = "FIRST_RESPONSE", raisePriority = true }]
        "#,
        &TierLadder::standard(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(seed.calendars, same.calendars);
    assert_eq!(seed.sla_policies, same.sla_policies);
}

#[test]
fn a_seed_with_a_bad_weekday_or_time_says_which() {
    for (hours, says) in [
        (
            r#"{ weekday = "FUNDAY", start = "09:00", end = "17:00" }"#,
            "FUNDAY",
        ),
        (
            r#"{ weekday = "MONDAY", start = "9am", end = "17:00" }"#,
            "9am",
        ),
    ] {
        let text = format!("[[calendars]]\nid = \"c\"\nhours = [{hours}]\n");
        let err = file::parse(&text, &TierLadder::standard(), None, None).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn the_customer_directory_is_set_changed_and_removed() {
    let mut c = standard();
    let initech = Customer {
        id: " initech ".into(),
        name: "Initech".into(),
        segment: Segment::B2b,
        key_account: true,
    };
    apply(&mut c, ConfigCommand::SetCustomer(initech.clone())).unwrap();
    assert_eq!(c.customers["initech"].id, "initech");
    // The directory's record replaces what was sent for a listed customer.
    let claimed = Customer {
        id: "initech".into(),
        name: "whoever".into(),
        segment: Segment::B2c,
        key_account: false,
    };
    assert!(c.known_customer(claimed).key_account);
    let stranger = Customer {
        id: "stranger".into(),
        ..initech.clone()
    };
    assert_eq!(c.known_customer(stranger.clone()), stranger);
    // Changed in place; refused with a blank id; removed once.
    apply(
        &mut c,
        ConfigCommand::SetCustomer(Customer {
            key_account: false,
            ..initech.clone()
        }),
    )
    .unwrap();
    assert!(!c.customers["initech"].key_account);
    let blank = Customer {
        id: " ".into(),
        ..initech
    };
    assert!(matches!(
        decide(&c, ConfigCommand::SetCustomer(blank)),
        Err(ConfigError::Invalid(_))
    ));
    apply(&mut c, ConfigCommand::RemoveCustomer("initech".into())).unwrap();
    assert!(c.customers.is_empty());
    assert!(matches!(
        decide(&c, ConfigCommand::RemoveCustomer("initech".into())),
        Err(ConfigError::NotFound(_))
    ));
    let bad = file::parse(
        "[[customers]]\nid = \"x\"\nsegment = \"B2X\"\n",
        &TierLadder::standard(),
        None,
        None,
    );
    assert!(bad.unwrap_err().to_string().contains("B2X"));
}

#[test]
fn a_bad_seed_file_is_refused_with_a_clear_error() {
    let unknown_field = file::parse("tierz = [\"L1\"]", &TierLadder::standard(), None, None);
    assert!(unknown_field.unwrap_err().to_string().contains("tierz"));
    let bad_team = file::parse(
        "[[teams]]\nname = \"x\"\ntier = \"L7\"\n",
        &TierLadder::standard(),
        None,
        None,
    );
    assert!(bad_team.unwrap_err().to_string().contains("L7"));
    let parse = |text: &str| file::parse(text, &TierLadder::standard(), None, None);
    let stranger = parse("[swarming]\nrapid_responders = [\"zoe\"]\n");
    assert!(stranger.unwrap_err().to_string().contains("`zoe`"));
    let agent = "[[agents]]\nid = \"ana\"\ntiers = [\"L1\"]\n";
    let bad_start = parse(&format!(
        "{agent}[swarming]\nrapid_responders = [\"ana\"]\nrotation_start = \"monday\"\n"
    ));
    assert!(bad_start
        .unwrap_err()
        .to_string()
        .contains("rotation_start"));
    let seed = parse(&format!(
        "{agent}[swarming]\nrapid_responders = [\"ana\"]\nshift_hours = 12\n"
    ))
    .unwrap();
    assert_eq!(seed.rapid_rotation.shift_hours, 12);
    assert_eq!(seed.rapid_rotation.start, super::rotation::DEFAULT_START);
}

#[test]
fn a_rule_must_route_to_its_teams_tier() {
    let mut c = standard();
    let mut rules = c.rule_set().clone();
    rules.rules[2].actions.tier = Some("L1".into()); // `incident` team works L2
    let err = decide(
        &c,
        ConfigCommand::SetRules {
            rules,
            expected_version: None,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("team `incident` at tier `L1`"),
        "{err}"
    );
    // Moving a team away from the tier its rule routes to is refused too.
    let moved = decide(&c, ConfigCommand::UpdateTeam(team("key-accounts", "L3"))).unwrap_err();
    assert!(moved.to_string().contains("key-accounts"), "{moved}");
    apply(
        &mut c,
        ConfigCommand::UpdateTeam(team("key-accounts", "L2")),
    )
    .unwrap();
}

#[test]
fn social_posts_about_billing_stay_private_whatever_the_rule_order() {
    let mut c = standard();
    let mut rules = c.rule_set().clone();
    // A catch-all for social channels, put before the sensitive rule.
    rules.rules.insert(
        0,
        Rule {
            id: "social".into(),
            name: "Social front line".into(),
            enabled: true,
            condition: Condition::Channel(vec![Channel::SocialPublic, Channel::SocialDm]),
            actions: Actions {
                tier: Some("L1".into()),
                team: Some("general".into()),
                ..Actions::default()
            },
        },
    );
    apply(
        &mut c,
        ConfigCommand::SetRules {
            rules,
            expected_version: None,
        },
    )
    .unwrap();
    let refund = c.route(&case("Please refund me", Channel::SocialPublic));
    assert_eq!(refund.rule_id.as_deref(), Some("social"));
    assert!(refund.actions.sensitive);
    assert_eq!(refund.actions.tier.as_deref(), Some("L2"));
    // The L1 team does not follow: the floor tier's default team takes the case.
    assert_eq!(refund.actions.team.as_deref(), Some("incident"));
    assert!(refund.explanation.iter().any(|l| l.contains("`refund`")));
    // Other social posts follow the rule as written.
    let hello = c.route(&case("Love the new app", Channel::SocialPublic));
    assert!(!hello.actions.sensitive);
    assert_eq!(hello.actions.tier.as_deref(), Some("L1"));
    // Not a social channel: the rule's route stands (the standard rules decide).
    let email = c.route(&case("Please refund me", Channel::Email));
    assert!(!email.actions.sensitive);
}

#[test]
fn sensitive_social_cases_go_to_a_team_of_the_floor_tier() {
    // No rules and no teams: the floor still applies, and the case has no team.
    let mut c = ConfigSeed::minimal(TierLadder::standard(), "L1")
        .config()
        .unwrap();
    let overcharged = case("I was overcharged", Channel::SocialDm);
    let none = c.route(&overcharged);
    assert_eq!(none.actions.tier.as_deref(), Some("L2"));
    assert!(none.actions.sensitive);
    assert_eq!(none.actions.team, None);
    // Teams at the floor: the first by name is L2's default team.
    apply(&mut c, ConfigCommand::CreateTeam(team("incident", "L2"))).unwrap();
    apply(&mut c, ConfigCommand::CreateTeam(team("billing", "L2"))).unwrap();
    apply(&mut c, ConfigCommand::CreateTeam(team("general", "L1"))).unwrap();
    let routed = c.route(&overcharged);
    assert_eq!(routed.actions.tier.as_deref(), Some("L2"));
    assert_eq!(routed.actions.team.as_deref(), Some("billing"));
    assert_eq!(
        c.tier_teams().default_for(&Tier::new("L2")),
        Some("billing")
    );
    // The standard rules: `sensitive-social` names no team; the default route's
    // team is the front line's default team.
    let std = standard();
    let routed = std.route(&overcharged);
    assert_eq!(routed.rule_id.as_deref(), Some("sensitive-social"));
    assert_eq!(routed.actions.team.as_deref(), Some("incident"));
    assert_eq!(
        std.tier_teams().default_for(&Tier::new("L1")),
        Some("general")
    );
}

// ---------------------------------------------------------------------------------
// Golden fixture: configuration events written by v1 stay readable forever
// ---------------------------------------------------------------------------------

const FIXTURE_V1: &str = "tests/fixtures/config_events_v1.txt";
/// Lines written by the first build with `RulesSet` v2 (actions with `needsSkills`).
const FIXTURE_V2: &str = "tests/fixtures/config_events_v2.txt";
/// Lines written by the first build with `CustomerForgotten` (crypto-shredding).
const FIXTURE_ERASURE: &str = "tests/fixtures/config_events_erasure_v1.txt";

/// One of every configuration event type, as this build writes them.
fn every_config_event() -> Vec<ConfigEvent> {
    let mut events = ConfigSeed::standard(TierLadder::standard(), None, None)
        .events()
        .unwrap();
    events.push(ConfigEvent::AgentSaved(agent(
        "alice",
        &["general"],
        &["L1"],
        5,
    )));
    events.push(ConfigEvent::AgentRemoved(AgentRemoved {
        id: AgentId::new("alice").unwrap(),
    }));
    events.push(ConfigEvent::TeamRemoved(TeamRemoved {
        name: "incident".into(),
    }));
    events.push(ConfigEvent::CalendarSaved(Calendar {
        id: "office".into(),
        utc_offset_minutes: 60,
        hours: vec![crate::domain::WorkingHours {
            weekday: 0,
            start_minute: 540,
            end_minute: 1020,
        }],
        holidays: vec!["2026-12-25".into()],
    }));
    events.push(ConfigEvent::CalendarRemoved(CalendarRemoved {
        id: "office".into(),
    }));
    events.push(ConfigEvent::CustomerSaved(crate::domain::Customer {
        id: "initech".into(),
        name: "Initech".into(),
        segment: Segment::B2b,
        key_account: true,
    }));
    events.push(ConfigEvent::CustomerRemoved(super::CustomerRemoved {
        id: "initech".into(),
    }));
    events.push(ConfigEvent::CustomerForgotten(super::CustomerForgotten {
        id: "initech".into(),
        reason: "GDPR Art. 17 request".into(),
        key_destroyed: true,
    }));
    let mut skilled = crate::routing::RuleSet::standard(&TierLadder::standard());
    skilled.version = 2;
    skilled.rules[0].actions.needs_skills = vec!["billing".into(), "privacy".into()];
    events.push(ConfigEvent::RulesSet(skilled));
    events.push(ConfigEvent::SkillMapSet(super::skills::SkillMapSet {
        entries: vec![super::skills::SkillMapping {
            term: "saml".into(),
            skills: vec!["saml".into(), "sso".into()],
        }],
    }));
    events.push(ConfigEvent::RapidRotationSet(
        super::rotation::RapidRotation {
            responders: vec![AgentId::new("alice").unwrap(), AgentId::new("bob").unwrap()],
            shift_hours: 24,
            start: crate::domain::Timestamp(1_767_600_000_000_000),
        },
    ));
    events.push(ConfigEvent::SlaPoliciesSet(SlaPoliciesSet {
        policies: vec![SlaPolicy {
            id: "urgent".into(),
            name: "Urgent".into(),
            priorities: vec![Priority::Urgent],
            segments: vec![Segment::B2b],
            first_response_mins: Some(30),
            resolution_mins: None,
            calendar: Some("24x7".into()),
            escalation: vec![crate::domain::EscalationStep {
                after_mins: 15,
                clock: crate::domain::SlaKind::FirstResponse,
                raise_priority: true,
                notify_lead: true,
                escalate_tier: false,
            }],
        }],
    }));
    events
}

/// `type \t version \t payload hex \t payload JSON` per line.
fn fixture_line(e: &ConfigEvent) -> String {
    let hex: String = e.encode().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}\t{}\t{}\t{}",
        e.event_type(),
        e.schema_version(),
        hex,
        e.to_json()
    )
}

/// Every line of the frozen fixtures decodes to the value it was written from (its
/// JSON), whatever this build has become; lines of the version this build still
/// writes keep their bytes. `SWARMDESK_WRITE_FIXTURES=1` writes the v2 file (only
/// ever for a new schema version's lines).
#[test]
fn config_fixtures_stay_readable() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("SWARMDESK_WRITE_FIXTURES").is_some() {
        let lines: Vec<String> = every_config_event()
            .iter()
            .filter(|e| match e {
                ConfigEvent::RulesSet(r) => {
                    r.rules.iter().any(|r| !r.actions.needs_skills.is_empty())
                }
                ConfigEvent::SkillMapSet(_) | ConfigEvent::RapidRotationSet(_) => true,
                _ => false,
            })
            .map(fixture_line)
            .collect();
        std::fs::write(root.join(FIXTURE_V2), lines.join("\n") + "\n").unwrap();
    }
    let mut types = std::collections::BTreeSet::new();
    let mut rules_v2 = 0;
    for file in [FIXTURE_V1, FIXTURE_V2, FIXTURE_ERASURE] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "malformed fixture line `{line}`");
            let version: u16 = f[1].parse().unwrap();
            let bytes: Vec<u8> = (0..f[2].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[2][i..i + 2], 16).unwrap())
                .collect();
            let decoded = ConfigEvent::decode(f[0], version, &bytes)
                .unwrap_or_else(|e| panic!("v{version} `{}` is no longer readable: {e}", f[0]));
            // The JSON is that build's spelling: it must still be read as the same event.
            let json: serde_json::Value = serde_json::from_str(f[3]).unwrap();
            assert_eq!(
                ConfigEvent::from_json(f[0], version, json).ok().as_ref(),
                Some(&decoded),
                "`{}` v{version} decodes to something else",
                f[0]
            );
            if decoded.schema_version() == version {
                let hex: String = decoded
                    .encode()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(hex, f[2], "`{}` bytes changed", f[0]);
            }
            if let (ConfigEvent::RulesSet(r), 1) = (&decoded, version) {
                // Upcast from v1: no rule needed skills then.
                assert!(r.rules.iter().all(|r| r.actions.needs_skills.is_empty()));
            }
            if let (ConfigEvent::RulesSet(r), 2) = (&decoded, version) {
                assert_eq!(r.rules[0].actions.needs_skills, ["billing", "privacy"]);
                rules_v2 += 1;
            }
            types.insert(f[0].to_string());
        }
    }
    assert_eq!(
        rules_v2, 1,
        "the v2 fixture holds a RulesSet with needsSkills"
    );
    let all: std::collections::BTreeSet<String> =
        ConfigEvent::TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        types, all,
        "the fixtures have every configuration event type"
    );
}

// ---------------------------------------------------------------------------------
// Erasure: a forgotten customer's directory entry keeps its segment, loses its name
// ---------------------------------------------------------------------------------

#[test]
fn a_forgotten_customer_keeps_their_entry_without_a_name() {
    let mut config = Config::empty();
    let globex = crate::domain::Customer {
        id: "globex".into(),
        name: "Globex Corporation".into(),
        segment: Segment::B2b,
        key_account: true,
    };
    config.apply(&ConfigEvent::CustomerSaved(globex.clone()), 1);
    let forgotten = super::CustomerForgotten::checked("globex", "  GDPR Art. 17  ", true).unwrap();
    assert_eq!(forgotten.reason, "GDPR Art. 17");
    config.apply(&ConfigEvent::CustomerForgotten(forgotten), 2);
    let entry = &config.customers["globex"];
    assert_eq!(entry.name, crate::shred::ERASED);
    assert_eq!((entry.segment, entry.key_account), (Segment::B2b, true));
    // A reason is required, and bounded; so is the id.
    for (id, reason) in [
        ("globex", " "),
        ("globex", &"x".repeat(501)[..]),
        ("", "why"),
    ] {
        assert!(
            matches!(
                super::CustomerForgotten::checked(id, reason, true),
                Err(ConfigError::Invalid(_))
            ),
            "{id:?} {reason:?}"
        );
    }
}
