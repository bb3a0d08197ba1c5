//! The expert finder against a scripted directory whose expected picks are worked
//! out by hand in each test's comment.

use super::*;
use crate::domain::event::{AgentRef, CaseOpened, CaseRouted, CaseSkillsSet, SwarmStarted};
use crate::domain::swarming::SkillSource;
use crate::domain::{CaseEvent, Channel, Customer, Priority, Segment, Timestamp};

fn id(a: &str) -> AgentId {
    AgentId::new(a).unwrap()
}

fn expert(a: &str, tiers: &[&str], skills: &[&str], langs: &[&str], capacity: u32) -> Expert {
    Expert {
        id: id(a),
        name: a.to_uppercase(),
        tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        languages: langs.iter().map(|s| s.to_string()).collect(),
        capacity,
    }
}

/// ana: L2 saml+billing but full (5/5); ben: saml+billing but only L1; cleo: L3 saml,
/// 1/5, English; dan: L2 saml, 0/5 but away; eva: L2 billing+refunds 2/4, German;
/// finn: L2 billing 0/4, German; gus: L2 saml+okta 3/6, German, helped twice; hal:
/// L2, no skills, 0/3, German.
fn directory() -> Vec<Expert> {
    vec![
        expert("ana", &["L2"], &["saml", "billing"], &["de"], 5),
        expert("ben", &["L1"], &["saml", "billing"], &["de"], 5),
        expert("cleo", &["L3"], &["saml"], &["en"], 5),
        expert("dan", &["L2"], &["saml"], &["en"], 5),
        expert("eva", &["L2"], &["billing", "refunds"], &["de"], 4),
        expert("finn", &["L2"], &["billing"], &["de", "en"], 4),
        expert("gus", &["L2"], &["saml", "okta"], &["de"], 6),
        expert("hal", &["L2"], &[], &["de"], 3),
    ]
}

fn facts() -> Facts {
    Facts {
        loads: [("ana", 5), ("cleo", 1), ("eva", 2), ("gus", 3)]
            .into_iter()
            .map(|(a, n)| (id(a), n))
            .collect(),
        presence: [(id("dan"), Presence::Away)].into_iter().collect(),
        past: [(id("gus"), 2)].into_iter().collect(),
        include_unavailable: false,
        rotation: Vec::new(),
    }
}

/// A German-speaking L2 case needing `skills`, with `more` events after routing.
fn case(skills: &[&str], more: Vec<CaseEvent>) -> Case {
    let mut events = vec![
        CaseEvent::Opened(CaseOpened {
            case_id: "01HZX3N8Q4T5V6W7X8Y9Z0ABCD".parse().unwrap(),
            subject: "SSO login loops, invoice wrong".into(),
            body: String::new(),
            channel: Channel::Email,
            customer: Customer {
                id: "initech".into(),
                name: "Initech".into(),
                segment: Segment::B2b,
                key_account: true,
            },
            language: "de".into(),
            priority: Priority::High,
            tags: vec!["sso".into()],
            requested_priority: None,
        }),
        CaseEvent::Routed(CaseRouted {
            tier: Tier::new("L2"),
            team: None,
            priority: None,
            tags: vec![],
            sensitive: false,
            rule_id: None,
            rule_set_version: None,
        }),
    ];
    if !skills.is_empty() {
        events.push(CaseEvent::SkillsSet(CaseSkillsSet {
            skills: skills.iter().map(|s| s.to_string()).collect(),
            source: SkillSource::Staff,
            rule_id: None,
        }));
    }
    events.extend(more);
    Case::fold(
        events
            .iter()
            .zip(1..)
            .map(|(e, v)| (e, v, Timestamp::from_unix_micros(v as i64))),
    )
}

fn ids(s: &[Suggestion]) -> Vec<&str> {
    s.iter().map(|x| x.agent.as_str()).collect()
}

#[test]
fn covers_saml_and_billing_with_the_two_a_person_would_pick() {
    // Eligible: cleo, eva, finn, gus, hal (ana is full, ben's tier is too low, dan is
    // away). Nobody has both skills. Round 1, one skill each: the German speakers
    // eva, finn, gus tie; finn has the lowest load (0/4) -> finn covers billing.
    // Round 2, saml: cleo (1/5, English) or gus (3/6, German) -> gus by language.
    let c = case(&["saml", "billing"], vec![]);
    let got = suggest(&c, &directory(), &facts(), &TierLadder::standard(), 2);
    assert_eq!(ids(&got), ["finn", "gus"]);
    assert_eq!(got[0].covers, ["billing"]);
    assert_eq!(got[1].covers, ["saml"]);
    assert_eq!((got[1].load, got[1].capacity), (3, 6));
    assert_eq!(got[1].past_contribution, 2);
    assert_eq!(got[1].languages, ["de"]);
    assert_eq!(got[1].presence, Presence::Available);
    assert_eq!(
        got[1].why,
        "covers saml; 3 of 6 cases; speaks de; helped on 2 similar case(s)"
    );
    assert!(got[0].why.starts_with("covers billing; 0 of 4 cases"));
}

#[test]
fn after_the_cover_the_rest_follow_by_skills_language_and_load() {
    // Remaining with a needed skill: eva (billing, German) before cleo (saml,
    // English); hal has no needed skill.
    let c = case(&["saml", "billing"], vec![]);
    let got = suggest(&c, &directory(), &facts(), &TierLadder::standard(), 10);
    assert_eq!(ids(&got), ["finn", "gus", "eva", "cleo"]);
    assert!(got[2].why.contains("already covered"), "{}", got[2].why);
}

#[test]
fn one_agent_covering_everything_is_enough() {
    // Free ana up: she alone covers both skills.
    let mut f = facts();
    f.loads.remove(&id("ana"));
    let c = case(&["saml", "billing"], vec![]);
    let got = suggest(&c, &directory(), &f, &TierLadder::standard(), 1);
    assert_eq!(ids(&got), ["ana"]);
    assert_eq!(got[0].covers, ["billing", "saml"]);
}

#[test]
fn unavailable_agents_only_when_asked() {
    let mut f = facts();
    f.include_unavailable = true;
    // dan (away, 0/5, English) now competes for saml with cleo (1/5, English) and gus
    // (German): gus still wins on language; dan comes before cleo on load.
    let c = case(&["saml", "billing"], vec![]);
    let got = suggest(&c, &directory(), &f, &TierLadder::standard(), 10);
    assert_eq!(ids(&got), ["finn", "gus", "eva", "dan", "cleo"]);
    assert!(got[3].why.ends_with("; away"), "{}", got[3].why);
}

#[test]
fn without_skills_it_proposes_the_least_loaded_in_the_cases_tier() {
    // L2 workers, eligible: eva 2/4, finn 0/4, gus 3/6 (helped twice), hal 0/3.
    // Ratios: finn 0 = hal 0 (finn's id first), then gus 1/2 = eva 1/2, gus first
    // on past contribution. cleo works L3 only.
    let c = case(&[], vec![]);
    let got = suggest(&c, &directory(), &facts(), &TierLadder::standard(), 10);
    assert_eq!(ids(&got), ["finn", "hal", "gus", "eva"]);
    assert!(
        got[0].why.starts_with("least loaded in L2"),
        "{}",
        got[0].why
    );
    assert!(got[0].covers.is_empty());
}

#[test]
fn nobody_with_a_needed_skill_degrades_too() {
    let c = case(&["mainframe"], vec![]);
    let got = suggest(&c, &directory(), &facts(), &TierLadder::standard(), 2);
    assert_eq!(ids(&got), ["finn", "hal"]);
    assert!(got[0].why.contains("nobody available has a needed skill"));
}

#[test]
fn an_empty_directory_suggests_nobody() {
    let c = case(&["saml"], vec![]);
    assert!(suggest(&c, &[], &facts(), &TierLadder::standard(), 5).is_empty());
    assert!(suggest(&c, &directory(), &facts(), &TierLadder::standard(), 0).is_empty());
}

#[test]
fn members_and_invitees_are_not_proposed_again() {
    let more = vec![
        CaseEvent::SwarmStarted(SwarmStarted {
            lead: id("finn"),
            reason: "x".into(),
        }),
        CaseEvent::SwarmJoined(AgentRef { agent: id("eva") }),
    ];
    let c = case(&["saml", "billing"], more);
    let got = suggest(&c, &directory(), &facts(), &TierLadder::standard(), 10);
    // billing is covered by nobody left but the full ana and the L1 ben: gus, then cleo.
    assert_eq!(ids(&got), ["gus", "cleo"]);
}

#[test]
fn the_same_inputs_give_the_same_answer_in_any_directory_order() {
    let c = case(&["saml", "billing"], vec![]);
    let ladder = TierLadder::standard();
    let want = suggest(&c, &directory(), &facts(), &ladder, 10);
    let mut reversed = directory();
    reversed.reverse();
    assert_eq!(suggest(&c, &reversed, &facts(), &ladder, 10), want);
    reversed.rotate_left(3);
    assert_eq!(suggest(&c, &reversed, &facts(), &ladder, 10), want);
}

#[test]
fn past_contributions_count_help_on_similar_cases() {
    use crate::domain::event::{HelpAccepted, HelpOffered, HelpRequested};
    let target = case(&["saml"], vec![]);
    // A similar case (needs saml) where gus accepted help for alice.
    let similar = case(
        &["saml"],
        vec![
            CaseEvent::HelpRequested(HelpRequested {
                request_id: 1,
                by: id("alice"),
                skills: vec!["saml".into()],
                note: String::new(),
            }),
            CaseEvent::HelpOffered(HelpOffered {
                request_id: 1,
                by: id("gus"),
            }),
            CaseEvent::HelpAccepted(HelpAccepted {
                request_id: 1,
                helper: id("gus"),
                by: id("alice"),
            }),
        ],
    );
    let mut similar = similar;
    similar.id = Some("01HZX3N8Q4T5V6W7X8Y9Z0ABCE".parse().unwrap());
    let past = past_contributions(&target, [&similar, &target]);
    assert_eq!(past.get(&id("gus")), Some(&1));
    assert_eq!(past.len(), 1, "the case itself does not count: {past:?}");
}

/// A `SEVERITY_1` swarm led by hal on the case needing `skills`.
fn severity_1(skills: &[&str], more: Vec<CaseEvent>) -> Case {
    use crate::domain::event::SwarmTypeSet;
    use crate::domain::swarming::SwarmType;
    let mut events = vec![
        CaseEvent::SwarmStarted(SwarmStarted {
            lead: id("hal"),
            reason: "outage".into(),
        }),
        CaseEvent::SwarmTypeSet(SwarmTypeSet {
            swarm_type: SwarmType::Severity1,
            reason: "outage".into(),
        }),
    ];
    events.extend(more);
    case(skills, events)
}

fn rotation(order: &[&str]) -> Facts {
    Facts {
        rotation: order.iter().map(|a| id(a)).collect(),
        ..facts()
    }
}

#[test]
fn a_severity_1_swarm_gets_the_responder_on_call_first() {
    // On call: eva (2/4, billing), then cleo. Without the rotation the cover is finn
    // (billing) then gus (saml); with it eva comes first, covering billing, and the
    // greedy step only needs saml: gus (German) over cleo.
    let c = severity_1(&["saml", "billing"], vec![]);
    let got = suggest(
        &c,
        &directory(),
        &rotation(&["eva", "cleo"]),
        &TierLadder::standard(),
        3,
    );
    assert_eq!(ids(&got), ["eva", "gus", "finn"]);
    assert_eq!(
        got[0].why,
        "rapid responder on call, covers billing; 2 of 4 cases; speaks de"
    );
    assert_eq!(
        got[1].why,
        "covers saml; 3 of 6 cases; speaks de; helped on 2 similar case(s)"
    );
    assert!(got[2].why.contains("already covered"), "{}", got[2].why);
}

#[test]
fn an_ineligible_responder_on_call_passes_to_the_next_in_rotation() {
    // hal, a responder, already leads the swarm: it has its responder, and nobody
    // is put first even though dan is on call.
    let c = severity_1(&["saml"], vec![]);
    let got = suggest(
        &c,
        &directory(),
        &rotation(&["dan", "ana", "ben", "hal"]),
        &TierLadder::standard(),
        5,
    );
    assert_eq!(ids(&got)[0], "gus", "the usual cover: {got:?}");
    // Without hal: dan (away), ana (full), ben (tier L1, too low) are passed over;
    // finn (0/4) is the next eligible one.
    let got = suggest(
        &c,
        &directory(),
        &rotation(&["dan", "ana", "ben", "finn", "eva"]),
        &TierLadder::standard(),
        1,
    );
    assert_eq!(ids(&got), ["finn"]);
    assert_eq!(
        got[0].why,
        "next rapid responder in rotation (on call: dan, not eligible now); 0 of 4 cases; speaks de"
    );
    // Asked for unavailable agents too, dan (away) is proposed himself.
    let mut f = rotation(&["dan", "finn"]);
    f.include_unavailable = true;
    let got = suggest(&c, &directory(), &f, &TierLadder::standard(), 1);
    assert_eq!(ids(&got), ["dan"]);
    assert!(got[0]
        .why
        .starts_with("rapid responder on call, covers saml"));
}

#[test]
fn the_rotation_only_applies_to_severity_1_swarms() {
    // The same case as a plain swarm (and with no swarm) ignores the rotation.
    let plain = case(
        &["saml", "billing"],
        vec![CaseEvent::SwarmStarted(SwarmStarted {
            lead: id("hal"),
            reason: "x".into(),
        })],
    );
    let got = suggest(
        &plain,
        &directory(),
        &rotation(&["eva"]),
        &TierLadder::standard(),
        2,
    );
    assert_eq!(ids(&got), ["finn", "gus"]);
    // With no needed skill, the responder comes before the least loaded of the tier.
    let c = severity_1(&[], vec![]);
    let got = suggest(
        &c,
        &directory(),
        &rotation(&["gus"]),
        &TierLadder::standard(),
        3,
    );
    assert_eq!(ids(&got), ["gus", "finn", "eva"]);
    assert!(
        got[0].why.starts_with("rapid responder on call; 3 of 6"),
        "{}",
        got[0].why
    );
}
