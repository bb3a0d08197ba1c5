//! Realistic sample data for `swarmdesk demo` and `serve --demo`: a few hundred cases
//! across tiers over the last three days, with escalations, swarms (with raised hands,
//! and knowledge captured when a swarmed case is resolved), a severity-1 outage whose
//! swarm has a communicator and is overdue for its status update, sensitive billing
//! cases, and domain.md's overnight example: a run of bank-holiday opening-hours
//! questions and one customer frantically asking why they were overcharged. The
//! outage's rapid responder comes from the rotation (emeka and gustav, daily shifts);
//! standing swarms triage the new cases (`general` and `billing` dispatch) and work
//! the ageing ones (`general` backlog).
//!
//! Everything goes through the command service, so the sample is made of the same
//! decided events real use produces. A fixed seed makes it the same every time.
//!
//! Over 600 lines because the sample is mostly data (the overnight example's script,
//! the generator's subjects, customers and agents), kept beside the code that writes
//! it.

use crate::app::{AppError, Desk, WriteOptions};
use crate::clock::{Clock, ManualClock};
use crate::config::{Agent, ConfigSeed, Team};
use crate::domain::presence::Presence;
use crate::domain::standing::StandingKind;
use crate::domain::{
    Actor, AgentId, Calendar, CaseId, Channel, Command, Customer, EscalationStep, MessageKind,
    OpenCase, Priority, Role, RouteCase, Segment, SlaKind, SlaPolicy, Tier, TierLadder, Timestamp,
    WorkingHours,
};

/// Agents of the sample, with their tier.
pub const AGENTS: &[(&str, &str)] = &[
    ("alice", "L1"),
    ("bob", "L1"),
    ("chen", "L1"),
    ("dana", "L2"),
    ("emeka", "L2"),
    ("farah", "L3"),
    ("gustav", "L3"),
];

const TOPICS: &[(&str, &str, Priority, &[&str])] = &[
    (
        "Password reset link expired",
        "The reset email link says it has expired, twice now.",
        Priority::Normal,
        &["account"],
    ),
    (
        "Cannot log in after update",
        "Since this morning's update the login page loops back to itself.",
        Priority::High,
        &["login"],
    ),
    (
        "How do I export my invoices?",
        "Where can I download all invoices for last year as PDF?",
        Priority::Low,
        &["billing", "how-to"],
    ),
    (
        "API returns 502 on bulk import",
        "POST /v2/import fails with 502 for files over 20 MB.",
        Priority::High,
        &["api", "import"],
    ),
    (
        "SSO with Okta stopped working",
        "SAML assertions are rejected with 'audience mismatch' since Friday.",
        Priority::Urgent,
        &["sso", "integration"],
    ),
    (
        "Dashboard very slow",
        "The analytics dashboard takes over a minute to load for our team.",
        Priority::Normal,
        &["performance"],
    ),
    (
        "Feature question: scheduled reports",
        "Can reports be emailed every Monday automatically?",
        Priority::Low,
        &["how-to"],
    ),
    (
        "Webhook deliveries delayed",
        "Webhooks arrive 10-15 minutes late for the last two days.",
        Priority::High,
        &["webhooks"],
    ),
    (
        "Data sync conflict with ERP",
        "Custom field mapping to our SAP instance duplicates orders.",
        Priority::High,
        &["integration", "erp"],
    ),
    (
        "Mobile app crashes on upload",
        "Android app crashes when attaching photos larger than 8 MB.",
        Priority::Normal,
        &["mobile"],
    ),
    (
        "Unlock my account",
        "Account locked after too many attempts; I need access for payroll today.",
        Priority::High,
        &["account"],
    ),
    (
        "Explain usage-based pricing",
        "How are API calls counted towards our monthly plan?",
        Priority::Low,
        &["billing", "how-to"],
    ),
];

const CUSTOMERS: &[(&str, &str, Segment, bool)] = &[
    ("acme", "Acme Corp", Segment::B2b, true),
    ("globex", "Globex Ltd", Segment::B2b, false),
    ("initech", "Initech", Segment::B2b, true),
    ("umbrella", "Umbrella Health", Segment::B2b, false),
    ("jane.doe", "Jane Doe", Segment::B2c, false),
    ("raj.patel", "Raj Patel", Segment::B2c, false),
    ("li.wei", "Li Wei", Segment::B2c, false),
    ("maria.garcia", "Maria Garcia", Segment::B2c, false),
];

const CHANNELS: &[Channel] = &[
    Channel::Email,
    Channel::Chat,
    Channel::Portal,
    Channel::Phone,
    Channel::SocialDm,
    Channel::Email,
];

/// A small deterministic generator (xorshift64*), so the sample (and the test
/// suite's generated scenarios) are reproducible without a dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A generator whose state is exactly `state` (non-zero).
    pub fn with_state(state: u64) -> Self {
        Rng(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// What the sample created.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub cases: usize,
    pub swarms: usize,
    pub events: u64,
    /// The overcharged customer's case.
    pub overcharged: Option<CaseId>,
    /// The bank-holiday questions.
    pub holiday_questions: Vec<CaseId>,
    /// Articles captured on resolved swarmed cases.
    pub articles: usize,
    /// The outage worked by a `SEVERITY_1` swarm, overdue for a status update.
    pub severity_1: Option<CaseId>,
    /// Who joined the outage as the rapid responder the finder proposed from the
    /// rotation.
    pub rapid_responder: Option<AgentId>,
}

/// The demo's rapid-responder rotation: daily shifts from midnight UTC.
const DEMO_ROTATION: &[&str] = &["emeka", "gustav"];

/// The demo's standing swarms: (agent, team, kind).
const DEMO_STANDING: &[(&str, &str, StandingKind)] = &[
    ("alice", "general", StandingKind::Dispatch),
    ("bob", "general", StandingKind::Dispatch),
    ("dana", "billing", StandingKind::Dispatch),
    ("chen", "general", StandingKind::Backlog),
];

/// The demo articles' advice.
const KNOWLEDGE_STEPS: &str =
    "reproduce on staging, compare the config export with the customer's, fix the mapping.";

/// The demo's configuration: `base` plus a `billing` team at the sensitive floor, the
/// sample's agents (those whose tier the ladder has) in the directory, and the
/// sample's customers (e.g. `initech`, a B2B key account) in the customer directory.
pub fn seed(base: &ConfigSeed) -> ConfigSeed {
    let mut seed = base.clone();
    let ladder =
        TierLadder::new(seed.tiers.iter().cloned()).unwrap_or_else(|_| TierLadder::standard());
    let floor = crate::routing::sensitive_floor(&ladder).0.to_string();
    if !seed.teams.iter().any(|t| t.name == "billing") {
        seed.teams.push(Team {
            name: "billing".into(),
            tier: floor,
            description: "Invoices, refunds and charges".into(),
            calendar: None,
        });
    }
    if seed.sla_policies.is_empty() {
        seed.calendars.push(business_hours());
        seed.sla_policies = sla_policies();
    }
    // The demo customers' segments and key accounts live in the customer directory:
    // routing trusts it, not what a customer says when opening a case.
    for (id, name, segment, key_account) in CUSTOMERS {
        if !seed.customers.iter().any(|c| c.id == *id) {
            seed.customers.push(Customer {
                id: id.to_string(),
                name: name.to_string(),
                segment: *segment,
                key_account: *key_account,
            });
        }
    }
    for (id, tier) in AGENTS {
        if ladder.get(tier).is_err() || seed.agents.iter().any(|a| a.id.as_str() == *id) {
            continue;
        }
        let teams = seed
            .teams
            .iter()
            .filter(|t| t.tier == *tier)
            .map(|t| t.name.clone())
            .collect();
        seed.agents.push(Agent {
            id: AgentId::new(*id).expect("static agent ids are valid"),
            name: id.to_string(),
            tiers: vec![tier.to_string()],
            teams,
            skills: DEMO_SKILLS
                .iter()
                .filter(|(a, _)| a == id)
                .flat_map(|(_, skills)| skills.iter().map(|s| s.to_string()))
                .collect(),
            languages: vec!["en".into()],
            max_cases: 200,
        });
    }
    // Needed skills: the billing rule asks for billing, and the skill map adds the
    // skills of a case's tags and words.
    if let Some(rule) = seed.rules.rules.iter_mut().find(|r| r.id == "billing") {
        if rule.actions.needs_skills.is_empty() {
            rule.actions.needs_skills = vec!["billing".into()];
        }
    }
    if seed.rapid_rotation.responders.is_empty() {
        let responders: Vec<AgentId> = DEMO_ROTATION
            .iter()
            .filter(|a| seed.agents.iter().any(|x| x.id.as_str() == **a))
            .map(|a| AgentId::new(*a).expect("static agent ids are valid"))
            .collect();
        seed.rapid_rotation = crate::config::rotation::RapidRotation {
            responders,
            shift_hours: 24,
            ..Default::default()
        };
    }
    if seed.skill_map.is_empty() {
        seed.skill_map = DEMO_SKILL_MAP
            .iter()
            .map(|(term, skills)| crate::config::skills::SkillMapping {
                term: term.to_string(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
    }
    seed
}

/// The demo agents' skills, for the expert finder.
const DEMO_SKILLS: &[(&str, &[&str])] = &[
    ("dana", &["billing"]),
    ("emeka", &["billing", "accounts"]),
    ("farah", &["sso", "saml"]),
    ("gustav", &["billing", "sso"]),
];

/// The demo's skill map: tags and keywords to needed skills.
const DEMO_SKILL_MAP: &[(&str, &[&str])] = &[
    ("invoice", &["billing"]),
    ("refund", &["billing"]),
    ("password", &["accounts"]),
    ("login", &["accounts"]),
    ("overcharged", &["billing"]),
];

/// The demo agents' presence at the end of the sample (the others are available).
const DEMO_PRESENCE: &[(&str, Presence)] = &[("emeka", Presence::Busy), ("gustav", Presence::Away)];

/// Monday to Friday, 08:00-18:00 UTC, closed on the bank holidays of the sample.
fn business_hours() -> Calendar {
    Calendar {
        id: "business-hours".into(),
        utc_offset_minutes: 0,
        hours: (0..5)
            .map(|weekday| WorkingHours {
                weekday,
                start_minute: 8 * 60,
                end_minute: 18 * 60,
            })
            .collect(),
        holidays: vec![
            "2026-12-25".into(),
            "2026-12-28".into(),
            "2027-01-01".into(),
        ],
    }
}

/// Urgent and high cases run around the clock with an escalation chain; normal and
/// low ones follow business hours.
fn sla_policies() -> Vec<SlaPolicy> {
    let step = |after_mins, raise_priority, notify_lead, escalate_tier| EscalationStep {
        after_mins,
        clock: SlaKind::FirstResponse,
        raise_priority,
        notify_lead,
        escalate_tier,
    };
    let policy =
        |id: &str, p: Priority, first, resolve, calendar: Option<&str>, escalation| SlaPolicy {
            id: id.into(),
            name: format!("{} priority", p.as_str().to_lowercase()),
            priorities: vec![p],
            segments: Vec::new(),
            first_response_mins: Some(first),
            resolution_mins: Some(resolve),
            calendar: calendar.map(str::to_owned),
            escalation,
        };
    vec![
        policy(
            "urgent",
            Priority::Urgent,
            30,
            8 * 60,
            Some("24x7"),
            vec![step(15, false, true, false), step(60, false, true, true)],
        ),
        policy(
            "high",
            Priority::High,
            2 * 60,
            24 * 60,
            Some("24x7"),
            vec![
                step(2 * 60, true, true, false),
                step(4 * 60, false, false, true),
            ],
        ),
        policy(
            "normal",
            Priority::Normal,
            8 * 60,
            3 * 24 * 60,
            Some("business-hours"),
            Vec::new(),
        ),
        policy(
            "low",
            Priority::Low,
            24 * 60,
            5 * 24 * 60,
            Some("business-hours"),
            Vec::new(),
        ),
    ]
}

/// Dana (L2) and Farah (L3) lead their tiers; the others are agents.
fn agent(id: &str) -> Actor {
    let role = if id == "dana" || id == "farah" {
        Role::Lead
    } else {
        Role::Agent
    };
    Actor::new(id, role).expect("static agent ids are valid")
}

fn tier_agents(tier: &str) -> Vec<Actor> {
    AGENTS
        .iter()
        .filter(|(_, t)| *t == tier)
        .map(|(id, _)| agent(id))
        .collect()
}

/// How long the overnight example takes, from its first question to the overcharged
/// customer's case.
const OVERNIGHT_SECS: i64 = 6 * 400 + 300;

/// Appends the sample through `app`, whose clock must be `clock`. `cases` sets how many
/// ordinary cases to create besides the overnight example, which ends a minute before
/// `end` (when ordinary cases leave room for it), so that a server started at `end`
/// finds it fresh: its SLA deadlines still ahead, as the README's tour describes.
pub async fn load(
    app: &Desk,
    clock: &ManualClock,
    cases: usize,
    end: Timestamp,
) -> Result<DemoSummary, AppError> {
    let mut rng = Rng::with_state(0x5eed_cafe_f00d_d00d);
    let mut summary = DemoSummary::default();
    let system = Actor::system();
    let opts = WriteOptions::default;
    let tiers = app.tiers();
    let has = |t: &str| tiers.get(t).is_ok();

    for n in 0..cases {
        clock.advance_secs(30 + rng.below(600) as i64);
        let (subject, body, priority, tags) = TOPICS[rng.below(TOPICS.len())];
        let (cid, cname, segment, key_account) = CUSTOMERS[rng.below(CUSTOMERS.len())];
        let customer_actor = Actor::new(cid, Role::Customer)?;
        let open = OpenCase {
            case_id: CaseId(ulid::Ulid::nil()),
            subject: subject.into(),
            body: body.into(),
            channel: CHANNELS[rng.below(CHANNELS.len())],
            customer: Customer {
                id: cid.into(),
                name: cname.into(),
                segment,
                key_account,
            },
            language: "en".into(),
            priority,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            requested_priority: None,
        };
        let w = app.open_case(&customer_actor, open, opts()).await?;
        let id = w.case.id.expect("opened case has an id");
        summary.cases += 1;
        // The case's first owner works the tier the rules routed it to.
        let routed_to = w.case.tier.as_ref().map_or("L1", |t| {
            AGENTS
                .iter()
                .map(|(_, t)| *t)
                .find(|x| *x == t.as_str())
                .unwrap_or("L1")
        });
        let l1 = tier_agents(routed_to);
        let first = &l1[rng.below(l1.len())];
        app.execute(
            first,
            id,
            Command::Assign {
                agent: first.id.clone(),
            },
            opts(),
        )
        .await?;
        // The customer's priority was a request; the owner grants a more urgent one.
        if priority < w.case.priority {
            app.execute(
                first,
                id,
                Command::ChangePriority {
                    priority,
                    reason: "triage: the customer's request is justified".into(),
                },
                opts(),
            )
            .await?;
        }
        app.execute(
            first,
            id,
            Command::PostMessage {
                kind: MessageKind::PublicReply,
                body: "Thanks for reaching out, looking into it now.".into(),
            },
            opts(),
        )
        .await?;
        // About 80% stay at L1, 15% reach L2, 5% reach L3, as the domain's targets
        // (cases the rules sent higher straight away stay where they are).
        let roll = rng.below(100);
        let mut at = routed_to;
        if at == "L1" && roll >= 80 && has("L2") {
            clock.advance_secs(120 + rng.below(900) as i64);
            app.execute(
                first,
                id,
                Command::Escalate {
                    to: None,
                    reason: "needs a specialist".into(),
                },
                opts(),
            )
            .await?;
            at = "L2";
            let l2 = tier_agents("L2");
            let a = &l2[rng.below(l2.len())];
            app.execute(
                a,
                id,
                Command::Assign {
                    agent: a.id.clone(),
                },
                opts(),
            )
            .await?;
            app.execute(
                a,
                id,
                Command::PostMessage {
                    kind: MessageKind::InternalNote,
                    body: "Reproduced on staging; checking logs.".into(),
                },
                opts(),
            )
            .await?;
            if roll >= 95 && has("L3") {
                clock.advance_secs(120 + rng.below(1200) as i64);
                app.execute(
                    a,
                    id,
                    Command::Escalate {
                        to: None,
                        reason: "looks like a product bug".into(),
                    },
                    opts(),
                )
                .await?;
                at = "L3";
            }
        }
        // Complex B2B problems are swarmed rather than passed along.
        let swarmed = segment == Segment::B2b && at != "L1" && rng.chance(50);
        if swarmed {
            swarm(app, clock, id, &mut rng).await?;
            summary.swarms += 1;
        }
        // Older cases are mostly resolved; the newest are still in the queues.
        if n < cases * 2 / 3 && rng.chance(85) {
            clock.advance_secs(120 + rng.below(600) as i64);
            let resolver = tier_agents(at)
                .into_iter()
                .next()
                .unwrap_or_else(|| first.clone());
            app.execute(
                &resolver,
                id,
                Command::Resolve {
                    resolution: "Fixed; see the public reply for the steps.".into(),
                },
                opts(),
            )
            .await?;
            // What a swarm learned is written up for the next agent.
            if swarmed {
                app.execute(
                    &resolver,
                    id,
                    Command::CaptureKnowledge {
                        title: format!("How we fixed: {subject}"),
                        body: format!("{body}\n\nWhat worked: {KNOWLEDGE_STEPS}"),
                        tags: tags.iter().map(|t| t.to_string()).collect(),
                    },
                    opts(),
                )
                .await?;
                summary.articles += 1;
            }
            if rng.chance(60) {
                app.execute(
                    &system,
                    id,
                    Command::Close {
                        reason: "no reply within 3 days".into(),
                    },
                    opts(),
                )
                .await?;
            }
        }
    }

    let (outage, responder) = outage(app, clock).await?;
    summary.severity_1 = Some(outage);
    summary.rapid_responder = responder;

    // Overnight: bank-holiday opening-hours questions, and one overcharged customer,
    // the last of them a minute before `end`.
    let overnight = end.plus_secs(-(OVERNIGHT_SECS + 60));
    if overnight > clock.now() {
        clock.set(overnight);
    }
    for who in [
        "jane.doe",
        "raj.patel",
        "li.wei",
        "maria.garcia",
        "tom.h",
        "anna.k",
    ] {
        clock.advance_secs(400);
        let open = OpenCase {
            case_id: CaseId(ulid::Ulid::nil()),
            subject: "Are you open on the bank holiday Monday?".into(),
            body: "Do your opening hours change on the bank holiday?".into(),
            channel: Channel::Chat,
            customer: Customer {
                id: who.into(),
                name: who.into(),
                segment: Segment::B2c,
                key_account: false,
            },
            language: "en".into(),
            priority: Priority::Low,
            tags: vec!["opening-hours".into()],
            requested_priority: None,
        };
        let w = app
            .open_case(&Actor::new(who, Role::Customer)?, open, opts())
            .await?;
        summary.holiday_questions.extend(w.case.id);
        summary.cases += 1;
    }
    clock.advance_secs(300);
    let overcharged = OpenCase {
        case_id: CaseId(ulid::Ulid::nil()),
        subject: "Why was I charged twice this month??".into(),
        body:
            "My card was charged twice for the same plan, rent is due tomorrow, please refund ASAP!"
                .into(),
        channel: Channel::SocialDm,
        customer: Customer {
            id: "sam.okafor".into(),
            name: "Sam Okafor".into(),
            segment: Segment::B2c,
            key_account: false,
        },
        language: "en".into(),
        priority: Priority::Urgent,
        tags: vec!["billing".into(), "overcharge".into()],
        requested_priority: None,
    };
    let w = app
        .open_case(
            &Actor::new("sam.okafor", Role::Customer)?,
            overcharged,
            opts(),
        )
        .await?;
    let id = w.case.id.expect("opened case has an id");
    if has("L2") {
        // Billing data must leave the social channel: private, at least L2.
        let route = RouteCase {
            tier: Tier::new("L2"),
            team: Some("billing".into()),
            priority: Some(Priority::Urgent),
            tags: vec!["sensitive".into()],
            sensitive: true,
            rule_id: None,
            rule_set_version: None,
        };
        app.execute(&system, id, Command::Route(route), opts())
            .await?;
    }
    summary.overcharged = Some(id);
    summary.cases += 1;
    let config = app.config();
    for (who, team, kind) in DEMO_STANDING {
        let listed = config.agents.keys().any(|a| a.as_str() == *who);
        if listed && config.teams.contains_key(*team) {
            app.change_standing(&agent(who), team, *kind, true).await?;
        }
    }
    for (agent, presence) in DEMO_PRESENCE {
        if app.config().agents.keys().any(|a| a.as_str() == *agent) {
            app.set_presence(&Actor::new(agent, Role::Agent)?, *presence)
                .await?;
        }
    }
    summary.events = app.store().head();
    Ok(summary)
}

/// An outage: a `SEVERITY_1` swarm led by dana with farah on communications, joined
/// by the rapid responder the expert finder proposes first (the one on call in the
/// rotation), one status update to the customer, then none for longer than the
/// interval, so the scheduler has recorded `StatusUpdateDue`. Returns the case and
/// its rapid responder.
async fn outage(app: &Desk, clock: &ManualClock) -> Result<(CaseId, Option<AgentId>), AppError> {
    let opts = WriteOptions::default;
    let open = OpenCase {
        case_id: CaseId(ulid::Ulid::nil()),
        subject: "Checkout is down for all our shoppers".into(),
        body: "Every payment fails with a gateway timeout since 10 minutes ago.".into(),
        channel: Channel::Phone,
        customer: Customer {
            id: "initech".into(),
            name: "Initech".into(),
            segment: Segment::B2b,
            key_account: true,
        },
        language: "en".into(),
        priority: Priority::Urgent,
        tags: vec!["outage".into(), "checkout".into()],
        requested_priority: None,
    };
    let w = app.open_case(&Actor::system(), open, opts()).await?;
    let id = w.case.id.expect("opened case has an id");
    let lead = agent("dana");
    let comms = agent("farah");
    let steps = [
        (
            &lead,
            Command::StartSwarm {
                lead: lead.id.clone(),
                reason: "checkout outage".into(),
            },
        ),
        (
            &lead,
            Command::JoinSwarm {
                agent: comms.id.clone(),
            },
        ),
        (
            &lead,
            Command::SetSwarmType {
                swarm_type: crate::domain::swarming::SwarmType::Severity1,
                reason: "every shopper is affected".into(),
            },
        ),
        (
            &lead,
            Command::SetSwarmRole {
                agent: comms.id.clone(),
                role: crate::domain::swarming::SwarmRole::Communications,
            },
        ),
        (
            &comms,
            Command::PostMessage {
                kind: MessageKind::PublicReply,
                body: "We know checkout is failing and are on it; next update within 30 minutes."
                    .into(),
            },
        ),
    ];
    for (who, command) in steps {
        clock.advance_secs(60);
        app.execute(who, id, command, opts()).await?;
    }
    let case = app.load(id).await?;
    let responder = app
        .suggest_experts(&case, 1, false)
        .into_iter()
        .find(|s| s.why.contains("rapid responder"))
        .map(|s| s.agent);
    if let Some(r) = &responder {
        clock.advance_secs(60);
        app.execute(&lead, id, Command::JoinSwarm { agent: r.clone() }, opts())
            .await?;
        app.execute(
            &lead,
            id,
            Command::PostMessage {
                kind: MessageKind::SwarmChat,
                body: format!("{r} joins as the rapid responder on call."),
            },
            opts(),
        )
        .await?;
    }
    let every = i64::try_from(app.status_update_interval().as_secs()).unwrap_or(i64::MAX / 2);
    clock.advance_secs(every + 120);
    app.remind_status_updates().await?;
    Ok((id, responder))
}

async fn swarm(app: &Desk, clock: &ManualClock, id: CaseId, rng: &mut Rng) -> Result<(), AppError> {
    let opts = WriteOptions::default;
    let lead = agent("dana");
    app.execute(
        &lead,
        id,
        Command::StartSwarm {
            lead: lead.id.clone(),
            reason: "customised setup".into(),
        },
        opts(),
    )
    .await?;
    let experts = [agent("farah"), agent("emeka"), agent("gustav")];
    let joined = 1 + rng.below(experts.len());
    for e in &experts[..joined] {
        clock.advance_secs(60 + rng.below(600) as i64);
        app.execute(
            e,
            id,
            Command::JoinSwarm {
                agent: e.id.clone(),
            },
            opts(),
        )
        .await?;
        app.execute(
            e,
            id,
            Command::PostMessage {
                kind: MessageKind::SwarmChat,
                body: format!("{} here, checking the config export.", e.id),
            },
            opts(),
        )
        .await?;
    }
    // The lead raises a hand; the next expert offers and is taken on.
    if let Some(helper) = experts.get(joined) {
        let w = app
            .execute(
                &lead,
                id,
                Command::RequestHelp {
                    skills: vec![],
                    note: "Anyone who knows the ERP connector's field mapping?".into(),
                },
                opts(),
            )
            .await?;
        let request_id = w.case.swarming.help_requests.len() as u32;
        clock.advance_secs(90);
        app.execute(helper, id, Command::OfferHelp { request_id }, opts())
            .await?;
        app.execute(
            &lead,
            id,
            Command::AcceptHelp {
                request_id,
                helper: helper.id.clone(),
            },
            opts(),
        )
        .await?;
    }
    if rng.chance(30) {
        app.execute(
            &lead,
            id,
            Command::SetSwarmLead {
                agent: experts[0].id.clone(),
            },
            opts(),
        )
        .await?;
    }
    Ok(())
}
