//! The authorization matrix (issue 10, "How it is checked"): every role (admin, a lead
//! of L1 and one of L2, agents of L1, L2 and L3, an auditor, a customer owning cases,
//! another customer, and callers with no, a revoked or an expired token) against every
//! query, mutation and subscription of the served schema, on cases they may see, cases
//! of another tier, private (sensitive) cases and a missing one.
//!
//! Unique markers are planted in subjects, bodies, internal notes, swarm chat and
//! reasons. No response (data, errors, extensions, subscription messages) may carry a
//! case id or a marker its caller may not see; a request about a case the caller may
//! not see must answer exactly as for a missing case (writes: `NOT_FOUND`) and write
//! nothing. A field of the schema without a matrix entry fails the test. Violations
//! are collected, not asserted one by one, and reported together, one per line.

use super::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC: the manual clock's start.
const T0: Timestamp = Timestamp(1_767_603_600_000_000);
/// A moment after everything the matrix writes: time travel to it shows today.
const LATER: &str = "2030-01-01T00:00:00.000000Z";
/// A well-formed case id no case has.
const MISSING: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
/// The idempotency key of the admin's `openCase` of the private `idem` case.
const OPEN_KEY: &str = "authz-open";
/// The idempotency key of the admin's internal note on the hidden case; every case
/// write of the matrix replays it.
const REPLAY_KEY: &str = "authz-replay";

/// Every field of a case, internal ones included.
const CASE: &str = "id version status subject body tier team sensitive assignee tags priority escalations customer { id } swarm { lead members { agent } } sla { policyId breached nextDeadline firstResponseDue } resolution { text } messages { kind author body } relatedArticles { id caseId title body tags by }";
/// Every field of an article.
const ARTICLE: &str = "id caseId title body tags by capturedAt score";
/// Every field of an event.
const EVENT: &str = "position stream caseId version type actor { id role } payload";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Admin,
    Auditor,
    Staff,
    Customer,
    /// No token, a revoked one or an expired one.
    Anonymous,
}

struct Who {
    name: &'static str,
    token: Option<String>,
    kind: Kind,
    /// The cases (by key) this role may see; admins and auditors see all.
    sees: &'static [&'static str],
}

const S: [&str; 3] = ["s1", "s2", "s3"];
const FLOORS: [&str; 4] = ["floor_a", "floor_b", "floor_c", "floor_d"];
/// The resolved cases holding captured knowledge: nothing live happens to them.
const KNOWLEDGE: [&str; 2] = ["kb", "floor_kb"];

fn roles(revoked: String) -> Vec<Who> {
    let r = |name, token: &str, kind, sees| Who {
        name,
        token: Some(token.to_string()),
        kind,
        sees,
    };
    vec![
        r("admin", ADMIN, Kind::Admin, &[]),
        r(
            "lead-L1",
            "lena-token",
            Kind::Staff,
            &["own", "cora", "s1", "s2", "s3"],
        ),
        r(
            "lead-L2",
            "dana-token",
            Kind::Staff,
            &[
                "own", "own_sla", "private", "idem", "cora", "s1", "s2", "s3",
            ],
        ),
        r(
            "agent-L1",
            "alice-token",
            Kind::Staff,
            &["own", "cora", "s1", "s2", "s3"],
        ),
        r(
            "agent-L2",
            "lars-token",
            Kind::Staff,
            &["own_sla", "private", "idem", "s1", "s2", "s3"],
        ),
        r(
            "agent-L3",
            "farah-token",
            Kind::Staff,
            &["hidden", "kb", "s1", "s2", "s3"],
        ),
        r("auditor", "audrey-token", Kind::Auditor, &[]),
        r("customer", "sam-token", Kind::Customer, &["own", "own_sla"]),
        r("other-customer", "cora-token", Kind::Customer, &["cora"]),
        Who {
            name: "no-token",
            token: None,
            kind: Kind::Anonymous,
            sees: &[],
        },
        Who {
            name: "revoked-token",
            token: Some(revoked),
            kind: Kind::Anonymous,
            sees: &[],
        },
        r("expired-token", "expired-token", Kind::Anonymous, &[]),
    ]
}

impl Who {
    fn sees(&self, case: &str) -> bool {
        match self.kind {
            Kind::Admin | Kind::Auditor => true,
            Kind::Anonymous => false,
            // The floor cases are private cases like `private`.
            _ if case.starts_with("floor") => self.sees.contains(&"private"),
            _ => self.sees.contains(&case),
        }
    }
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// A planted marker: which case it belongs to, and whether only staff may read it
/// (internal notes, swarm chat, swarm and SLA reasons).
struct Marker {
    text: &'static str,
    case: &'static str,
    staff_only: bool,
}

const MARKERS: &[Marker] = &[
    m("MKOWNSUBJ", "own", false),
    m("MKOWNBODY", "own", false),
    m("MKOWNSWARM", "own", true),
    m("MKOWNCHAT", "own", true),
    m("MKOWNNOTE", "own", true),
    m("MKSLASUBJ", "own_sla", false),
    m("MKSLABODY", "own_sla", false),
    m("MKSLASWARM", "own_sla", true),
    m("SLA escalation step", "own_sla", true),
    // The SLA policy's id: configuration, for staff only.
    m("authz-urgent", "*", true),
    m("MKHIDSUBJ", "hidden", false),
    m("MKHIDBODY", "hidden", false),
    m("MKHIDREASON", "hidden", true),
    m("MKHIDSWARM", "hidden", true),
    m("MKHIDCHAT", "hidden", true),
    m("MKHIDNOTE", "hidden", true),
    m("MKPRVSUBJ", "private", false),
    m("MKPRVBODY", "private", false),
    m("MKPRVSWARM", "private", true),
    m("MKPRVCHAT", "private", true),
    m("MKPRVNOTE", "private", true),
    m("MKCORASUBJ", "cora", false),
    // Captured knowledge: an article of an L3 case every staff member reads (without
    // its case's id unless they may read the case), and one of a private case.
    m("MKKBPUB", "*", true),
    m("MKKBPRV", "floor_kb", true),
];

const fn m(text: &'static str, case: &'static str, staff_only: bool) -> Marker {
    Marker {
        text,
        case,
        staff_only,
    }
}

/// Fields of a case customers must not be shown (null or absent is fine).
const INTERNAL_FIELDS: &[&str] = &[
    "team",
    "swarm",
    "sla",
    "members",
    "lead",
    "policyId",
    "breached",
    "nextDeadline",
    "firstResponseDue",
];
/// Event types customers must not be shown.
const INTERNAL_EVENTS: &[&str] = &[
    "SwarmStarted",
    "SwarmJoined",
    "SwarmLeft",
    "SwarmLeadChanged",
    "SwarmEnded",
    "SlaApplied",
    "SlaBreached",
    "SlaEscalated",
    "FirstResponded",
];

/// The cases of the matrix, by key.
struct World {
    cases: Vec<(&'static str, String)>,
}

impl World {
    fn id(&self, key: &str) -> &str {
        &self.cases.iter().find(|(k, _)| *k == key).unwrap().1
    }
}

/// The collected violations, each reported once.
#[derive(Default)]
struct Violations {
    list: Vec<String>,
    seen: BTreeSet<String>,
}

impl Violations {
    fn add(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if self.seen.insert(msg.clone()) {
            self.list.push(msg);
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(300).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

fn code(v: &Value) -> String {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
        .to_string()
}

/// What in `v` the role may not see: case ids, markers and, for customers, internal
/// fields and event types. `echo` is the case id the request itself named (checked
/// apart, against the answer for a missing case).
fn leaks(world: &World, role: &Who, v: &Value, echo: Option<&str>) -> Vec<String> {
    let mut text = v.to_string();
    if let Some(e) = echo {
        text = text.replace(e, "<requested id>");
    }
    let mut out = Vec::new();
    for (key, id) in &world.cases {
        if !role.sees(key) && text.contains(id.as_str()) {
            out.push(format!("the id of {key}"));
        }
    }
    for mk in MARKERS {
        let may = (mk.case == "*" || role.sees(mk.case))
            && !(mk.staff_only && role.kind == Kind::Customer)
            && role.kind != Kind::Anonymous;
        if !may && text.contains(mk.text) {
            out.push(format!("marker {} ({})", mk.text, mk.case));
        }
    }
    if role.kind == Kind::Customer {
        let mut found = BTreeSet::new();
        internal(v, &mut found);
        out.extend(found);
    }
    out
}

/// Internal fields with a value, and internal event types, anywhere in `v`.
fn internal(v: &Value, found: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let empty = x.is_null() || x.as_array().is_some_and(|a| a.is_empty());
                if INTERNAL_FIELDS.contains(&k.as_str()) && !empty {
                    found.insert(format!("internal field `{k}`"));
                }
                if k == "type" {
                    if let Some(t) = x.as_str().filter(|t| INTERNAL_EVENTS.contains(t)) {
                        found.insert(format!("internal event {t}"));
                    }
                }
                internal(x, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| internal(x, found)),
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Root {
    Query,
    Mutation,
    Subscription,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    /// A command on the case `$id` (with a wrong `expectedVersion`: never writes).
    CaseWrite,
    Open,
    AdminOnly,
    /// Leads and admins only (routing rules).
    LeadOnly,
    /// Admins and auditors read; everyone else is `FORBIDDEN`.
    AuditOnly,
    /// The caller's own presence, or their own membership of a standing swarm:
    /// agents and leads write it; auditors and customers
    /// are `FORBIDDEN`, an admin outside the directory `BAD_USER_INPUT`.
    OwnPresence,
}

struct Op {
    root: Root,
    field: &'static str,
    /// Takes the case as `$id`.
    per_case: bool,
    effect: Effect,
    docs: Vec<String>,
}

fn op(root: Root, field: &'static str, per_case: bool, effect: Effect, docs: Vec<String>) -> Op {
    Op {
        root,
        field,
        per_case,
        effect,
        docs,
    }
}

/// The matrix's table: one entry per field of the schema's roots.
fn ops() -> Vec<Op> {
    use Effect::*;
    use Root::*;
    let q = |f: &'static str, per_case, docs: Vec<String>| op(Query, f, per_case, Read, docs);
    let cw = |f: &'static str, args: &str| {
        op(
            Mutation,
            f,
            true,
            CaseWrite,
            vec![format!(
                "mutation($id: ID!) {{ {f}(caseId: $id{args}, expectedVersion: 1000000, idempotencyKey: \"{REPLAY_KEY}\") {{ {CASE} }} }}"
            )],
        )
    };
    let admin =
        |f: &'static str, doc: &str| op(Mutation, f, false, AdminOnly, vec![doc.to_string()]);
    let lead = |f: &'static str, doc: &str| op(Mutation, f, false, LeadOnly, vec![doc.to_string()]);
    let mut v = vec![
        q("case", true, vec![format!("query($id: ID!) {{ case(id: $id) {{ {CASE} }} }}")]),
        q(
            "cases",
            false,
            vec![
                format!("{{ cases(first: 100) {{ edges {{ cursor node {{ {CASE} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"),
                "{ cases(filter: {text: \"MKHIDBODY\"}) { edges { node { id } } } }".into(),
                "{ cases(filter: {text: \"MKPRVBODY\"}) { edges { node { id } } } }".into(),
            ],
        ),
        q(
            "tierQueue",
            false,
            ["L0", "L1", "L2", "L3"]
                .iter()
                .map(|t| format!("{{ tierQueue(tier: \"{t}\", first: 100) {{ tier length entries {{ rank case {{ {CASE} }} }} }} }}"))
                .collect(),
        ),
        q(
            "swarmRoom",
            true,
            vec!["query($id: ID!) { swarmRoom(caseId: $id) { caseId subject tier lead members { agent } chat { author body } } }".into()],
        ),
        q(
            "swarmRooms",
            false,
            vec!["{ swarmRooms { caseId subject tier lead members { agent } chat { author body } } }".into()],
        ),
        q(
            "caseHistory",
            true,
            vec![format!("query($id: ID!) {{ caseHistory(caseId: $id) {{ {EVENT} }} }}")],
        ),
        q(
            "events",
            false,
            (0..6)
                .map(|p| format!("{{ events(fromPosition: {}, limit: 100) {{ {EVENT} }} }}", p * 100 + 1))
                .collect(),
        ),
        q(
            "caseAt",
            true,
            vec![
                format!("query($id: ID!) {{ caseAt(caseId: $id, version: 1000) {{ {CASE} }} }}"),
                format!("query($id: ID!) {{ caseAt(caseId: $id, version: 1) {{ {CASE} }} }}"),
            ],
        ),
        q("tiers", false, vec!["{ tiers }".into()]),
        q("logHead", false, vec!["{ logHead { position hash at } }".into()]),
        op(
            Query,
            "verifyLog",
            false,
            AuditOnly,
            vec!["{ verifyLog { ok events headPosition headHash chainStart breakPosition reason summary } }".into()],
        ),
        q(
            "caseDiff",
            true,
            vec![
                "query($id: ID!) { caseDiff(caseId: $id, fromVersion: 0, toVersion: 1) { caseId fromVersion toVersion changes { field before after } } }".into(),
                "query($id: ID!) { caseDiff(caseId: $id, fromVersion: 1, toVersion: 2) { caseId changes { field before after } } }".into(),
            ],
        ),
        q(
            "tierQueueAt",
            false,
            ["L0", "L1", "L2", "L3"]
                .iter()
                .map(|t| format!("{{ tierQueueAt(tier: \"{t}\", at: \"{LATER}\", first: 100) {{ tier length entries {{ rank case {{ {CASE} }} }} }} }}"))
                .collect(),
        ),
        q(
            "swarmRoomAt",
            true,
            vec![format!("query($id: ID!) {{ swarmRoomAt(caseId: $id, at: \"{LATER}\") {{ caseId subject tier lead members {{ agent }} chat {{ author body }} }} }}")],
        ),
        q(
            "workloadAt",
            false,
            ["alice", "lars", "farah", "lena", "dana"]
                .iter()
                .map(|a| format!("{{ workloadAt(at: \"{LATER}\", agent: \"{a}\") {{ agent assigned swarms }} }}"))
                .chain([format!("{{ workloadAt(at: \"{LATER}\") {{ agent assigned swarms }} }}")])
                .collect(),
        ),
        q(
            "workload",
            false,
            ["alice", "lars", "farah", "lena", "dana"]
                .iter()
                .map(|a| format!("{{ workload(agent: \"{a}\") {{ agent assigned swarms }} }}"))
                .collect(),
        ),
        q("stats", false, vec!["{ stats { events cases open resolved closed activeSwarms resolvedByTier { tier count } } }".into()]),
        q("me", false, vec!["{ me { id role } }".into()]),
        q("tokens", false, vec!["{ tokens { tokenId user role tiers expiresAt } }".into()]),
        q(
            "configuration",
            false,
            vec!["{ configuration { version tiers teams { name tier members } agents { id worksTiers openCases swarms } rules { version rules { id condition } } slaPolicies { id } } }".into()],
        ),
        q("customers", false, vec!["{ customers { id name segment keyAccount } }".into()]),
        q("ruleSet", false, vec!["{ ruleSet(version: 1) { version rules { id condition } } }".into()]),
        q(
            "previewRoute",
            false,
            vec!["{ previewRoute(input: {subject: \"Refund please\", channel: SOCIAL_DM, customer: {id: \"c\"}}) { ruleId actions { tier team sensitive } explanation } }".into()],
        ),
        q("simulateRules", false, vec![simulate("{ rules: [], default: { tier: \"L2\", team: \"incident\" } }")]),
        q(
            "report",
            false,
            vec!["{ report(from: \"2000-01-01T00:00:00Z\", to: \"2100-01-01T00:00:00Z\") { cases volume { opened resolved backlogEnd } tierShares { tier resolved share } escalation { pingPongCases paths { path cases } } problems { topTags { term cases } topKeywords { term cases } costliest { caseId subject tags } } load { agents { agent assigned messages } teams { team opened } } } }".into()],
        ),
        op(
            Mutation,
            "openCase",
            false,
            Open,
            vec![format!("mutation {{ openCase(input: {IDEM_INPUT}, idempotencyKey: \"{OPEN_KEY}\") {{ {CASE} }} }}")],
        ),
        cw("routeCase", ", tier: \"L1\""),
        cw("escalateCase", ", reason: \"authz\""),
        cw("deescalateCase", ", reason: \"authz\""),
        cw("assignCase", ""),
        cw("unassignCase", ""),
        cw("startSwarm", ""),
        cw("joinSwarm", ""),
        cw("leaveSwarm", ""),
        cw("setSwarmLead", ", agent: \"alice\""),
        cw("postMessage", ", kind: INTERNAL_NOTE, body: \"authz\""),
        cw("changePriority", ", priority: LOW"),
        cw("tagCase", ", tag: \"authz\""),
        cw("untagCase", ", tag: \"authz\""),
        cw("resolveCase", ", resolution: \"authz\""),
        cw("reopenCase", ""),
        cw("awaitCustomer", ""),
        cw("resumeCase", ""),
        cw("closeCase", ""),
        cw("setCaseSkills", ", skills: [\"authz\"]"),
        cw("inviteToSwarm", ", agents: [\"alice\"]"),
        cw("acceptInvitation", ""),
        cw("declineInvitation", ""),
        cw("requestHelp", ", note: \"authz\""),
        cw("offerHelp", ", requestId: 1"),
        cw("acceptHelp", ", requestId: 1, helper: \"alice\""),
        cw("setSwarmRole", ", agent: \"alice\", role: RESEARCHER"),
        cw("setSwarmType", ", swarmType: SEVERITY_1"),
        cw("closeHelpRequest", ", requestId: 1"),
        q(
            "caseSwarming",
            true,
            vec!["query($id: ID!) { caseSwarming(caseId: $id) { caseId neededSkills swarmType roles { agent role } invitations { agent invitedBy note status } helpRequests { number by note skills offers status helper } } }".into()],
        ),
        q(
            "suggestExperts",
            true,
            vec!["query($id: ID!) { suggestExperts(caseId: $id, max: 10) { agent name covers load capacity languages presence pastContribution why } }".into()],
        ),
        q("presence", false, vec!["{ presence { agent presence source since automatic } }".into()]),
        op(
            Mutation,
            "setPresence",
            false,
            OwnPresence,
            vec!["mutation { setPresence(status: BUSY) { agent presence source since automatic } }".into()],
        ),
        q(
            "dispatchQueue",
            false,
            vec![format!("{{ dispatchQueue(team: \"general\", first: 100) {{ edges {{ cursor node {{ {CASE} }} }} pageInfo {{ hasNextPage }} }} }}")],
        ),
        q(
            "backlog",
            false,
            vec![format!("{{ backlog(team: \"general\", olderThanDays: 0, first: 100) {{ edges {{ cursor node {{ {CASE} }} }} pageInfo {{ hasNextPage }} }} }}")],
        ),
        q("standingSwarms", false, vec!["{ standingSwarms { team kind members } }".into()]),
        op(
            Mutation,
            "joinStandingSwarm",
            false,
            OwnPresence,
            vec!["mutation { joinStandingSwarm(team: \"general\", kind: DISPATCH) { team kind members } }".into()],
        ),
        op(
            Mutation,
            "leaveStandingSwarm",
            false,
            OwnPresence,
            vec!["mutation { leaveStandingSwarm(team: \"general\", kind: BACKLOG) { team kind members } }".into()],
        ),
        q(
            "myInvitations",
            false,
            vec!["{ myInvitations { caseId agent invitedBy note invitedAt expiresAt autoReplace status } }".into()],
        ),
        q(
            "helpRequests",
            false,
            vec!["{ helpRequests { caseId number by skills note at offers status helper } }".into()],
        ),
        op(
            Mutation,
            "captureKnowledge",
            true,
            CaseWrite,
            vec![format!(
                "mutation($id: ID!) {{ captureKnowledge(caseId: $id, title: \"authz\", body: \"authz\", tags: [\"authz\"], expectedVersion: 1000000, idempotencyKey: \"{REPLAY_KEY}\") {{ {ARTICLE} }} }}"
            )],
        ),
        q(
            "contributions",
            false,
            ["alice", "lars", "farah", "lena", "dana"]
                .iter()
                .map(|a| format!("{{ contributions(agent: \"{a}\", from: \"2000-01-01T00:00:00Z\", to: \"{LATER}\") {{ agent from to swarmsJoined helpOffered helpAccepted medianSecondsToJoin timedJoins resolvedWhileHelping articlesCaptured }} }}"))
                .collect(),
        ),
        q(
            "knowledge",
            false,
            vec![
                format!("{{ knowledge(query: \"sentinel runbook invoice MKKBPUB MKKBPRV\", first: 50) {{ {ARTICLE} }} }}"),
                format!("{{ knowledge(tags: [\"authz-kb\"]) {{ {ARTICLE} }} }}"),
            ],
        ),
        admin("createToken", "mutation { createToken(user: \"authz-minted\", role: AGENT, tiers: [\"L1\"]) { tokenId user role } }"),
        admin("revokeToken", "mutation { revokeToken(tokenId: \"000000000000\") }"),
        admin("setTiers", "mutation { setTiers(tiers: [\"L0\", \"L1\", \"L2\", \"L3\"]) { tiers } }"),
        admin("createTeam", "mutation { createTeam(input: {name: \"authz-team\", tier: \"L1\"}) { name } }"),
        admin("updateTeam", "mutation { updateTeam(input: {name: \"authz-team\", tier: \"L1\", description: \"d\"}) { name } }"),
        admin("removeTeam", "mutation { removeTeam(name: \"authz-team\") }"),
        admin("addAgent", "mutation { addAgent(input: {id: \"authz-agent\", tiers: [\"L1\"]}) { id } }"),
        admin("updateAgent", "mutation { updateAgent(input: {id: \"authz-agent\", tiers: [\"L1\"], maxCases: 3}) { id } }"),
        admin("removeAgent", "mutation { removeAgent(id: \"authz-agent\") }"),
        lead(
            "setRules",
            "mutation { setRules(rules: { rules: [], default: { tier: \"L1\", team: \"general\" } }, expectedVersion: 1000000) { version } }",
        ),
        lead("moveRule", "mutation { moveRule(ruleId: \"key-accounts\", position: 1) { version } }"),
        admin(
            "setCalendar",
            "mutation { setCalendar(input: {id: \"authz-cal\", hours: [{weekday: MONDAY, start: \"09:00\", end: \"17:00\"}]}) { id } }",
        ),
        admin("removeCalendar", "mutation { removeCalendar(id: \"authz-cal\") }"),
        admin(
            "setSlaPolicy",
            "mutation { setSlaPolicy(input: {id: \"authz-none\", priorities: [LOW], segments: [B2B], firstResponseMinutes: 100000}) { id } }",
        ),
        admin("removeSlaPolicy", "mutation { removeSlaPolicy(id: \"authz-none\") }"),
        admin(
            "setCustomer",
            "mutation { setCustomer(input: {id: \"authz-customer\", segment: B2B, keyAccount: true}) { id } }",
        ),
        admin("removeCustomer", "mutation { removeCustomer(id: \"authz-customer\") }"),
        // A customer nobody knows: admins get NOT_FOUND, nothing is destroyed.
        admin(
            "forgetCustomer",
            "mutation { forgetCustomer(customerId: \"authz-nobody\", reason: \"authz\") { customerId keyDestroyed erasedMarker } }",
        ),
        lead("enableRule", "mutation { enableRule(ruleId: \"incident\", enabled: true) { version } }"),
        admin(
            "setSkillMap",
            "mutation { setSkillMap(entries: [{term: \"authzskillterm\", skills: [\"authz\"]}]) { term skills } }",
        ),
        admin(
            "setRapidRotation",
            "mutation { setRapidRotation(responders: [], shiftHours: 24) { responders shiftHours rotationStart onCall } }",
        ),
    ];
    // Subscriptions run over WebSocket in the live phase; their documents are here.
    let sub =
        |f: &'static str, per_case, doc: String| op(Subscription, f, per_case, Read, vec![doc]);
    v.push(sub(
        "caseEvents",
        true,
        format!("subscription($id: ID!) {{ caseEvents(caseId: $id) {{ {EVENT} }} }}"),
    ));
    v.push(sub(
        "events",
        false,
        format!("subscription {{ events(fromPosition: 1) {{ {EVENT} }} }}"),
    ));
    v.push(sub(
        "slaAlerts",
        false,
        format!("subscription {{ slaAlerts(fromPosition: 1) {{ {EVENT} }} }}"),
    ));
    v.push(sub(
        "tierQueue",
        false,
        format!("subscription($tier: String!) {{ tierQueue(tier: $tier) {{ position change caseId eventType queue {{ tier length entries {{ rank case {{ {CASE} }} }} }} }} }}"),
    ));
    v.push(sub(
        "invitations",
        false,
        "subscription { invitations { position invitations { caseId agent invitedBy note status } } }".into(),
    ));
    v.push(sub(
        "helpRequests",
        false,
        "subscription { helpRequests { position requests { caseId number by skills note offers status } } }".into(),
    ));
    v.push(sub(
        "wallboard",
        false,
        "subscription { wallboard { at position activeSwarms tiers { tier open breached oldestCaseId oldestWaitingSecs } } }".into(),
    ));
    v.push(sub(
        "swarmRoom",
        true,
        "subscription($id: ID!) { swarmRoom(caseId: $id) { position version change agent message { author body } room { caseId subject tier lead members { agent } chat { author body } } } }".into(),
    ));
    v
}

/// The input of the admin's `openCase` of the private `idem` case, replayed by all.
const IDEM_INPUT: &str = "{subject: \"Refund for my card, charged twice\", body: \"card ending 4242\", channel: SOCIAL_DM, customer: {id: \"acme\"}}";

fn simulate(rules: &str) -> String {
    format!(
        "{{ simulateRules(from: \"2000-01-01T00:00:00Z\", to: \"2100-01-01T00:00:00Z\", rules: {rules}) {{ cases changed byTier {{ name before after }} byTeam {{ name before after }} changes {{ caseId subject before {{ tier team ruleId }} after {{ tier team ruleId }} }} }} }}"
    )
}

/// The fields of the schema's query, mutation and subscription roots, from the SDL.
fn schema_fields(sdl: &str) -> Vec<(Root, String)> {
    // Descriptions may hold anything; drop them first.
    let text: String = sdl
        .split("\"\"\"")
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect();
    let root_name = |kind: &str| {
        let schema = &text[text.find("schema {").expect("schema block")..];
        let line = schema
            .lines()
            .find(|l| l.trim().starts_with(&format!("{kind}:")))
            .unwrap_or_else(|| panic!("no {kind} root"));
        line.trim()[kind.len() + 1..].trim().to_string()
    };
    let mut out = Vec::new();
    for (root, kind) in [
        (Root::Query, "query"),
        (Root::Mutation, "mutation"),
        (Root::Subscription, "subscription"),
    ] {
        let name = root_name(kind);
        let start = text
            .find(&format!("type {name} {{"))
            .unwrap_or_else(|| panic!("no type {name}"));
        let body = &text[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        for line in body.lines() {
            let field: String = line
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !field.is_empty() {
                out.push((root, field));
            }
        }
    }
    out
}

/// Starts the server with the matrix's extra tokens and a manual clock.
async fn start(clock: &ManualClock) -> TestServer {
    let c = clock.clone();
    TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
        o.sla_interval = Duration::from_secs(3600);
        // One test client stands in for many callers: lift the per-token rate limit.
        o.http_limits.rate_per_second = 1e9;
        o.http_limits.rate_burst = 1e9;
        let grant = |id: &str, role, tiers: &[&str], expires_at| Grant {
            actor: Actor::new(id, role).unwrap(),
            tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
            expires_at,
        };
        o.tokens.extend([
            (
                "lena-token".to_string(),
                grant("lena", Role::Lead, &["L1"], None),
            ),
            (
                "lars-token".to_string(),
                grant("lars", Role::Agent, &["L2"], None),
            ),
            (
                "cora-token".to_string(),
                grant("cora", Role::Customer, &[], None),
            ),
            (
                "expired-token".to_string(),
                grant(
                    "eddie",
                    Role::Agent,
                    &["L1", "L2", "L3"],
                    Some(T0.plus_secs(-3600)),
                ),
            ),
        ]);
    })
    .await
}

async fn open(s: &TestServer, token: &str, input: &str, key: Option<&str>) -> String {
    let key = key
        .map(|k| format!(", idempotencyKey: \"{k}\""))
        .unwrap_or_default();
    let d = s
        .ok_as(
            token,
            &format!("mutation {{ openCase(input: {input}{key}) {{ id }} }}"),
            json!({}),
        )
        .await;
    d["openCase"]["id"].as_str().unwrap().to_string()
}

async fn write(s: &TestServer, token: &str, id: &str, call: &str) {
    s.ok_as(
        token,
        &format!("mutation($id: ID!) {{ {call} {{ version }} }}"),
        json!({ "id": id }),
    )
    .await;
}

async fn capture(s: &TestServer, token: &str, id: &str, title: &str, body: &str) {
    s.ok_as(
        token,
        "mutation($id: ID!, $t: String!, $b: String!) { captureKnowledge(caseId: $id, title: $t, body: $b, tags: [\"authz-kb\"]) { id } }",
        json!({ "id": id, "t": title, "b": body }),
    )
    .await;
}

async fn post(s: &TestServer, token: &str, id: &str, kind: &str, body: &str) {
    write(
        s,
        token,
        id,
        &format!("postMessage(caseId: $id, kind: {kind}, body: \"{body}\")"),
    )
    .await;
}

/// Runs SLA sweeps (each to its end) until every case in `ids` has `count` events of
/// type `t`.
async fn sla_until(s: &TestServer, ids: &[&str], t: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        s.running.as_ref().unwrap().sweep_sla().await.unwrap();
        let mut done = true;
        for id in ids {
            let n = s
                .history(&json!(id))
                .await
                .iter()
                .filter(|e| e["type"] == t)
                .count();
            done &= n >= count;
        }
        if done {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the SLA scheduler never appended {t}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Plants the cases and markers. Returns the world and the revoked token.
async fn setup(s: &TestServer, clock: &ManualClock) -> (World, String) {
    s.ok(
        r#"mutation {
          a: setSlaPolicy(input: { id: "authz-urgent", priorities: [URGENT], firstResponseMinutes: 5,
               escalation: [{ afterMinutes: 1, clock: FIRST_RESPONSE, notifyLead: true, escalateTier: true }] }) { id }
          b: setSlaPolicy(input: { id: "authz-high", priorities: [HIGH], firstResponseMinutes: 5,
               escalation: [{ afterMinutes: 1, clock: FIRST_RESPONSE, notifyLead: true }] }) { id }
          c: setSlaPolicy(input: { id: "authz-low", priorities: [LOW], firstResponseMinutes: 600,
               escalation: [{ afterMinutes: 20, clock: FIRST_RESPONSE, notifyLead: true }] }) { id }
        }"#,
        json!({}),
    )
    .await;
    let t = s
        .ok(r#"mutation { createToken(user: "rex", role: AGENT, tiers: ["L1"]) { token tokenId } }"#, json!({}))
        .await;
    let revoked = t["createToken"]["token"].as_str().unwrap().to_string();
    s.ok(
        "mutation($id: String!) { revokeToken(tokenId: $id) }",
        json!({ "id": t["createToken"]["tokenId"] }),
    )
    .await;

    // The customer's own cases: one at L1, one its SLA escalates to L2.
    let own = open(s, "sam-token", r#"{subject: "Printer jammed MKOWNSUBJ", body: "MKOWNBODY", channel: PORTAL, customer: {id: "sam.okafor"}}"#, None).await;
    write(
        s,
        ADMIN,
        &own,
        r#"startSwarm(caseId: $id, lead: "alice", reason: "MKOWNSWARM")"#,
    )
    .await;
    write(s, ADMIN, &own, r#"joinSwarm(caseId: $id, agent: "bob")"#).await;
    post(s, "alice-token", &own, "SWARM_CHAT", "MKOWNCHAT").await;
    post(s, ADMIN, &own, "INTERNAL_NOTE", "MKOWNNOTE").await;
    let own_sla = open(s, "sam-token", r#"{subject: "Export stuck MKSLASUBJ", body: "MKSLABODY", channel: PORTAL, customer: {id: "sam.okafor"}}"#, None).await;
    write(
        s,
        ADMIN,
        &own_sla,
        "changePriority(caseId: $id, priority: URGENT)",
    )
    .await;

    // Hidden: another tier (L3), assigned to and swarmed by farah.
    let hidden = open(s, ADMIN, r#"{subject: "Kernel panic MKHIDSUBJ", body: "MKHIDBODY", channel: EMAIL, priority: HIGH, customer: {id: "acme"}}"#, None).await;
    write(
        s,
        ADMIN,
        &hidden,
        r#"escalateCase(caseId: $id, toTier: "L3", reason: "MKHIDREASON")"#,
    )
    .await;
    write(
        s,
        ADMIN,
        &hidden,
        r#"assignCase(caseId: $id, agent: "farah")"#,
    )
    .await;
    write(
        s,
        ADMIN,
        &hidden,
        r#"startSwarm(caseId: $id, lead: "farah", reason: "MKHIDSWARM")"#,
    )
    .await;
    post(s, "farah-token", &hidden, "SWARM_CHAT", "MKHIDCHAT").await;
    write(s, ADMIN, &hidden, &format!(r#"postMessage(caseId: $id, kind: INTERNAL_NOTE, body: "MKHIDNOTE", idempotencyKey: "{REPLAY_KEY}")"#)).await;

    // Private: billing on a social channel, routed to L2 and made sensitive.
    let private = open(s, ADMIN, r#"{subject: "Refund MKPRVSUBJ, I was charged twice", body: "MKPRVBODY", channel: SOCIAL_DM, priority: HIGH, customer: {id: "acme"}}"#, None).await;
    write(
        s,
        ADMIN,
        &private,
        r#"startSwarm(caseId: $id, lead: "lars", reason: "MKPRVSWARM")"#,
    )
    .await;
    post(s, "lars-token", &private, "SWARM_CHAT", "MKPRVCHAT").await;
    post(s, ADMIN, &private, "INTERNAL_NOTE", "MKPRVNOTE").await;
    let idem = open(s, ADMIN, IDEM_INPUT, Some(OPEN_KEY)).await;
    write(s, ADMIN, &idem, r#"startSwarm(caseId: $id, lead: "lars")"#).await;

    let cora = open(
        s,
        ADMIN,
        r#"{subject: "Cannot print MKCORASUBJ", channel: EMAIL, customer: {id: "cora"}}"#,
        None,
    )
    .await;
    write(s, ADMIN, &cora, r#"startSwarm(caseId: $id, lead: "alice")"#).await;

    // Sentinels, one per tier, in every staff member's swarm.
    let mut cases = vec![
        ("own", own.clone()),
        ("own_sla", own_sla.clone()),
        ("hidden", hidden.clone()),
        ("private", private.clone()),
        ("idem", idem),
        ("cora", cora),
    ];
    for (key, tier) in S.iter().zip(["L1", "L2", "L3"]) {
        let id = open(s, ADMIN, &format!(r#"{{subject: "Sentinel {tier}", channel: EMAIL, priority: LOW, customer: {{id: "acme"}}}}"#), None).await;
        if tier != "L1" {
            write(
                s,
                ADMIN,
                &id,
                &format!(r#"routeCase(caseId: $id, tier: "{tier}", priority: LOW)"#),
            )
            .await;
        }
        write(s, ADMIN, &id, r#"startSwarm(caseId: $id, lead: "alice")"#).await;
        for agent in ["lars", "farah", "lena", "dana"] {
            write(
                s,
                ADMIN,
                &id,
                &format!(r#"joinSwarm(caseId: $id, agent: "{agent}")"#),
            )
            .await;
        }
        cases.push((key, id));
    }
    for key in FLOORS {
        let id = open(
            s,
            ADMIN,
            r#"{subject: "My invoice is wrong", channel: SOCIAL_PUBLIC, customer: {id: "acme"}}"#,
            None,
        )
        .await;
        cases.push((key, id));
    }

    // Knowledge: an article on a resolved L3 case of farah's, and one on a resolved
    // private case; both share words with the sentinels, so they are related.
    let kb = open(
        s,
        ADMIN,
        r#"{subject: "Sentinel daemon crash", channel: EMAIL, customer: {id: "acme"}}"#,
        None,
    )
    .await;
    write(
        s,
        ADMIN,
        &kb,
        r#"escalateCase(caseId: $id, toTier: "L3", reason: "deep")"#,
    )
    .await;
    write(s, ADMIN, &kb, r#"assignCase(caseId: $id, agent: "farah")"#).await;
    write(
        s,
        "farah-token",
        &kb,
        r#"resolveCase(caseId: $id, resolution: "restarted")"#,
    )
    .await;
    capture(
        s,
        "farah-token",
        &kb,
        "Sentinel runbook MKKBPUB",
        "MKKBPUB restart the daemon",
    )
    .await;
    let floor_kb = open(
        s,
        ADMIN,
        r#"{subject: "My invoice is wrong", channel: SOCIAL_PUBLIC, customer: {id: "acme"}}"#,
        None,
    )
    .await;
    write(
        s,
        ADMIN,
        &floor_kb,
        r#"resolveCase(caseId: $id, resolution: "credited")"#,
    )
    .await;
    capture(
        s,
        ADMIN,
        &floor_kb,
        "Sentinel invoice fix MKKBPRV",
        "MKKBPRV credit note",
    )
    .await;
    cases.push(("kb", kb));
    cases.push(("floor_kb", floor_kb));

    // The SLA: step 1 for the HIGH cases (notify) and the URGENT one (to L2).
    clock.set(T0.plus_secs(120));
    sla_until(s, &[&own_sla, &hidden, &private], "SlaEscalated", 1).await;
    let c = s
        .ok(
            "query($id: ID!) { case(id: $id) { tier } }",
            json!({ "id": own_sla }),
        )
        .await;
    assert_eq!(
        c["case"]["tier"], "L2",
        "the SLA escalated the customer's case"
    );
    // Its swarm is led by an L2 agent, who now sees it.
    write(
        s,
        ADMIN,
        &own_sla,
        r#"startSwarm(caseId: $id, lead: "lars", reason: "MKSLASWARM")"#,
    )
    .await;
    for key in ["private", "idem"] {
        let id = &cases.iter().find(|(k, _)| *k == key).unwrap().1;
        let c = s
            .ok(
                "query($id: ID!) { case(id: $id) { tier sensitive } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            c["case"],
            json!({ "tier": "L2", "sensitive": true }),
            "{key}"
        );
    }
    (World { cases }, revoked)
}

/// The HTTP half of the matrix: every query and mutation, for every role and case.
async fn http_matrix(s: &TestServer, world: &World, roles: &[Who], ops: &[Op], v: &mut Violations) {
    for role in roles {
        for op in ops.iter().filter(|o| o.root != Root::Subscription) {
            for doc in &op.docs {
                if !op.per_case {
                    let head = s.head();
                    let (status, r) = s.gql_raw(role.token(), doc, json!({})).await;
                    let wrote = wrote_since(s, head).await;
                    check(world, role, op, "", wrote, status, &r, v);
                    continue;
                }
                let head = s.head();
                let (status, missing) =
                    s.gql_raw(role.token(), doc, json!({ "id": MISSING })).await;
                let wrote = wrote_since(s, head).await;
                check(world, role, op, "missing", wrote, status, &missing, v);
                for (key, id) in &world.cases {
                    let head = s.head();
                    let (status, r) = s.gql_raw(role.token(), doc, json!({ "id": id })).await;
                    let wrote = wrote_since(s, head).await;
                    check(world, role, op, key, wrote, status, &r, v);
                    if !role.sees(key) {
                        let same: Value =
                            serde_json::from_str(&r.to_string().replace(id.as_str(), MISSING))
                                .unwrap();
                        if same != missing {
                            v.add(format!(
                                "{} {}({key}): answers unlike for a missing case: {} vs {}",
                                role.name,
                                op.field,
                                short(&r),
                                short(&missing)
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Whether anything but the access log was appended after `head`. Auditors' open
/// subscriptions record their deliveries in the access log while the matrix runs, so
/// the head alone would blame a request for them.
async fn wrote_since(s: &TestServer, head: u64) -> bool {
    let store = s.running.as_ref().unwrap().app.store().clone();
    store
        .read_all(head + 1, usize::MAX)
        .await
        .unwrap()
        .iter()
        .any(|e| e.stream != swarmdesk::domain::access::ACCESS_LOG_STREAM)
}

/// The checks every HTTP answer gets.
#[allow(clippy::too_many_arguments)]
fn check(
    world: &World,
    role: &Who,
    op: &Op,
    case: &str,
    wrote: bool,
    status: u16,
    r: &Value,
    v: &mut Violations,
) {
    let at = if case.is_empty() {
        format!("{} {}", role.name, op.field)
    } else {
        format!("{} {}({case})", role.name, op.field)
    };
    if status >= 500 || !r.is_object() {
        v.add(format!("{at}: HTTP {status}: {}", short(r)));
        return;
    }
    let echo = (!case.is_empty()).then(|| {
        if case == "missing" {
            MISSING
        } else {
            world.id(case)
        }
    });
    let found = leaks(world, role, r, echo);
    if !found.is_empty() {
        v.add(format!("{at}: shows {}", found.join(", ")));
    }
    let c = code(r);
    // Positive control: the role reads the cases the matrix says it may see.
    if op.field == "case" && role.kind != Kind::Anonymous && case != "missing" {
        let got = r["data"]["case"]["id"].as_str();
        if role.sees(case) && got != Some(world.id(case)) {
            v.add(format!("{at}: cannot read a case it may see: {}", short(r)));
        }
    }
    if role.kind == Kind::Anonymous {
        if c != "UNAUTHENTICATED" {
            v.add(format!(
                "{at}: expected UNAUTHENTICATED, got {c}: {}",
                short(r)
            ));
        }
        if wrote {
            v.add(format!("{at}: wrote to the log without a valid token"));
        }
        return;
    }
    // Keys are the admin's: no one else may learn they were used.
    let msg = r["errors"].to_string();
    if role.kind != Kind::Admin && msg.contains("idempotency key") {
        v.add(format!(
            "{}: writes reveal that someone else used an idempotency key: {}",
            role.name,
            short(&r["errors"][0]["message"])
        ));
    }
    match op.effect {
        Effect::Read => {}
        Effect::CaseWrite => {
            if wrote {
                v.add(format!(
                    "{at}: wrote with a wrong expectedVersion: {}",
                    short(r)
                ));
            }
            let invisible = case == "missing" || !role.sees(case);
            if invisible && role.kind != Kind::Auditor && c != "NOT_FOUND" {
                v.add(format!(
                    "{at}: a write on a case it may not see answers {c}, not NOT_FOUND: {}",
                    short(r)
                ));
            }
            if role.kind == Kind::Auditor && c != "FORBIDDEN" {
                v.add(format!(
                    "{at}: an auditor's write answers {c}, not FORBIDDEN"
                ));
            }
        }
        Effect::Open => {
            if role.kind == Kind::Auditor && (c != "FORBIDDEN" || wrote) {
                v.add(format!("{at}: an auditor opened a case ({c})"));
            }
        }
        Effect::LeadOnly => {
            let lead = role.kind == Kind::Admin || role.name.starts_with("lead");
            if !lead && (c != "FORBIDDEN" || wrote) {
                v.add(format!(
                    "{at}: for leads and admins, answered {c}, wrote: {wrote}"
                ));
            }
            if lead && (c == "FORBIDDEN" || c == "INTERNAL") {
                v.add(format!("{at}: a lead or admin was refused: {}", short(r)));
            }
        }
        Effect::AuditOnly => {
            let allowed = matches!(role.kind, Kind::Admin | Kind::Auditor);
            if !allowed && c != "FORBIDDEN" {
                v.add(format!("{at}: admins and auditors only, answered {c}"));
            }
            if allowed && c != "<none>" {
                v.add(format!("{at}: refused an admin or auditor: {}", short(r)));
            }
            if wrote {
                v.add(format!("{at}: wrote to the log"));
            }
        }
        Effect::OwnPresence => {
            let refused = matches!(role.kind, Kind::Auditor | Kind::Customer);
            if refused && (c != "FORBIDDEN" || wrote) {
                v.add(format!(
                    "{at}: presence is for staff, answered {c}, wrote: {wrote}"
                ));
            }
            if role.kind == Kind::Admin && (c != "BAD_USER_INPUT" || wrote) {
                v.add(format!(
                    "{at}: an admin outside the directory answered {c}, wrote: {wrote}"
                ));
            }
            if role.kind == Kind::Staff && (c == "FORBIDDEN" || c == "INTERNAL") {
                v.add(format!("{at}: an agent or lead was refused: {}", short(r)));
            }
        }
        Effect::AdminOnly => {
            if role.kind != Kind::Admin && (c != "FORBIDDEN" || wrote) {
                v.add(format!("{at}: admin-only, answered {c}, wrote: {wrote}"));
            }
            if role.kind == Kind::Admin && c == "INTERNAL" {
                v.add(format!("{at}: INTERNAL error: {}", short(r)));
            }
        }
    }
}

/// Leads may simulate, but a rule over text they may not read must not tell them
/// anything: the report is the same whether the hidden text matches or not.
async fn simulate_oracle(s: &TestServer, roles: &[Who], v: &mut Violations) {
    let regex = |pattern: &str| {
        simulate(&format!(
            "{{ rules: [{{ id: \"probe\", condition: {{ regex: {{ pattern: \"{pattern}\" }} }}, actions: {{ tier: \"L2\", team: \"key-accounts\" }} }}], default: {{ tier: \"L1\", team: \"general\" }} }}"
        ))
    };
    let none = regex("MKNOSUCHTEXT");
    for role in roles.iter().filter(|r| r.kind == Kind::Staff) {
        let (_, base) = s.gql_raw(role.token(), &none, json!({})).await;
        if base.get("errors").is_some() {
            continue; // not theirs to run
        }
        for (marker, case) in [("MKHIDBODY", "hidden"), ("MKPRVBODY", "private")] {
            if role.sees(case) {
                continue;
            }
            let (_, r) = s.gql_raw(role.token(), &regex(marker), json!({})).await;
            let counts = |x: &Value| {
                let d = &x["data"]["simulateRules"];
                (
                    d["cases"].clone(),
                    d["changed"].clone(),
                    d["byTier"].clone(),
                )
            };
            if counts(&r) != counts(&base) {
                v.add(format!(
                    "{} simulateRules: a regex over {case}'s body changes the report (an oracle over text it may not read)",
                    role.name
                ));
            }
        }
    }
}

/// One live subscription of a role.
struct Sub {
    id: String,
    field: &'static str,
    /// The case it is about (`missing` for the missing one).
    case: Option<&'static str>,
    /// What ends the wait for it: (case key, event or change) of the sentinel write.
    until: Option<&'static str>,
    done: bool,
}

/// Opens every subscription of the table for a role, on one connection.
async fn subscribe_all(s: &TestServer, world: &World, role: &Who, ops: &[Op]) -> (Ws, Vec<Sub>) {
    let mut ws = s.ws("graphql-transport-ws", role.token().unwrap()).await;
    let mut subs = Vec::new();
    let staff = role.kind != Kind::Customer;
    for op in ops.iter().filter(|o| o.root == Root::Subscription) {
        let doc = &op.docs[0];
        if op.per_case {
            let keys = world
                .cases
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !FLOORS.contains(k) && !KNOWLEDGE.contains(k));
            for key in keys.chain(["missing"]) {
                let id = if key == "missing" {
                    MISSING
                } else {
                    world.id(key)
                };
                let sid = format!("{}:{key}", op.field);
                ws.subscribe(&sid, doc, json!({ "id": id })).await;
                let visible = key != "missing" && role.sees(key);
                let reachable = visible && (op.field == "caseEvents" || staff);
                subs.push(Sub {
                    id: sid,
                    field: op.field,
                    case: Some(key),
                    until: reachable.then_some(key),
                    done: false,
                });
            }
            continue;
        }
        let (vars, until): (Vec<Value>, Vec<Option<&'static str>>) = match op.field {
            "tierQueue" => (
                ["L1", "L2", "L3"]
                    .iter()
                    .map(|t| json!({ "tier": t }))
                    .collect(),
                S.iter().map(|k| staff.then_some(*k)).collect(),
            ),
            "events" => (
                vec![json!({})],
                vec![Some(if staff {
                    "s3"
                } else if role.sees("own_sla") {
                    "own_sla"
                } else {
                    "cora"
                })],
            ),
            // Invitations are for agents and leads (staff in the directory's sense).
            "invitations" => (
                vec![json!({})],
                vec![(role.kind == Kind::Staff).then_some("s3")],
            ),
            _ => (vec![json!({})], vec![staff.then_some("s3")]),
        };
        for (i, (vars, until)) in vars.into_iter().zip(until).enumerate() {
            let sid = format!("{}:{i}", op.field);
            ws.subscribe(&sid, doc, vars).await;
            subs.push(Sub {
                id: sid,
                field: op.field,
                case: None,
                until,
                done: false,
            });
        }
    }
    (ws, subs)
}

/// Is this `next` message the sentinel its subscription waits for?
fn is_sentinel(world: &World, sub: &Sub, data: &Value) -> bool {
    let Some(key) = sub.until else { return false };
    let id = world.id(key);
    let d = &data[sub.field];
    let text = d.to_string().to_lowercase();
    match sub.field {
        "tierQueue" => d["caseId"] == id && d["eventType"] == "CaseTagged",
        "slaAlerts" => d["caseId"] == id,
        // Its first board or list: what matters is what it shows (checked for every
        // message).
        "wallboard" => d["tiers"].is_array(),
        "invitations" => d["invitations"].is_array(),
        "helpRequests" => d["requests"].is_array(),
        "swarmRoom" => d["change"] == "CHAT" && text.contains("sentinel"),
        "events" if S.contains(&key) => d["caseId"] == id && d["type"] == "CaseTagged",
        _ => d["caseId"] == id && text.contains("sentinel"),
    }
}

/// Reads a role's subscriptions until each has ended or delivered its sentinel,
/// checking every message.
async fn drain(
    world: &World,
    role: &Who,
    ws: &mut Ws,
    subs: &mut [Sub],
    errors_for_missing: &mut Vec<(String, Value)>,
    v: &mut Violations,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut delivered = String::new();
    // What each subscription showed that it should not have, reported once per subscription.
    let mut shown: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    let report = |shown: std::collections::BTreeMap<String, BTreeSet<String>>,
                  v: &mut Violations| {
        for (at, found) in shown.into_iter().filter(|(_, f)| !f.is_empty()) {
            let found: Vec<String> = found.into_iter().collect();
            v.add(format!("{at}: shows {}", found.join(", ")));
        }
    };
    while subs.iter().any(|s| !s.done) {
        let Some(msg) = ws.next_json_until(deadline).await else {
            let open: Vec<&str> = subs
                .iter()
                .filter(|s| !s.done)
                .map(|s| s.id.as_str())
                .collect();
            v.add(format!(
                "{}: subscriptions never delivered their sentinel: {open:?}",
                role.name
            ));
            break;
        };
        if msg["type"] == "closed" {
            v.add(format!(
                "{}: the WebSocket closed: {}",
                role.name,
                short(&msg)
            ));
            break;
        }
        let Some(sub) = subs.iter_mut().find(|s| msg["id"] == s.id.as_str()) else {
            continue;
        };
        let at = format!("{} subscription {}", role.name, sub.id);
        let echo = sub
            .case
            .map(|k| if k == "missing" { MISSING } else { world.id(k) });
        delivered.push_str(&msg.to_string());
        shown
            .entry(at.clone())
            .or_default()
            .extend(leaks(world, role, &msg, echo));
        // A resolver's error comes as a `next` without data, then `complete`.
        let failed = msg["type"] == "next" && msg["payload"]["data"].is_null();
        let kind = if failed {
            "error"
        } else {
            msg["type"].as_str().unwrap_or("")
        };
        if sub.done {
            continue;
        }
        match kind {
            "next" => {
                if sub.until.is_none() {
                    v.add(format!(
                        "{at}: delivered data it may not see: {}",
                        short(&msg)
                    ));
                    sub.done = true;
                } else if is_sentinel(world, sub, &msg["payload"]["data"]) {
                    sub.done = true;
                }
            }
            "error" | "complete" => {
                if sub.until.is_some() {
                    v.add(format!("{at}: ended before its sentinel: {}", short(&msg)));
                }
                if let Some(key) = sub.case {
                    let id = if key == "missing" {
                        MISSING
                    } else {
                        world.id(key)
                    };
                    let same = msg.to_string().replace(id, MISSING).replace(
                        &format!("{}:{key}", sub.field),
                        &format!("{}:missing", sub.field),
                    );
                    errors_for_missing.push((
                        format!("{at}|{}", sub.field),
                        serde_json::from_str(&same).unwrap(),
                    ));
                }
                sub.done = true;
            }
            _ => v.add(format!("{at}: unexpected message {}", short(&msg))),
        }
    }
    report(shown, v);
    delivered
}

/// Writes on hidden and private cases after the subscriptions are open, then the
/// sentinels every subscription waits for.
async fn triggers_and_sentinels(s: &TestServer, world: &World, clock: &ManualClock) {
    let id = |k| world.id(k).to_string();
    post(s, ADMIN, &id("hidden"), "INTERNAL_NOTE", "MKHIDNOTE 2").await;
    post(s, "farah-token", &id("hidden"), "SWARM_CHAT", "MKHIDCHAT 2").await;
    write(
        s,
        ADMIN,
        &id("hidden"),
        r#"tagCase(caseId: $id, tag: "mkhidtag")"#,
    )
    .await;
    post(s, ADMIN, &id("private"), "INTERNAL_NOTE", "MKPRVNOTE 2").await;
    post(s, "lars-token", &id("private"), "SWARM_CHAT", "MKPRVCHAT 2").await;
    post(s, ADMIN, &id("own"), "INTERNAL_NOTE", "MKOWNNOTE 2").await;
    post(s, "alice-token", &id("own"), "SWARM_CHAT", "MKOWNCHAT 2").await;
    write(
        s,
        ADMIN,
        &id("own"),
        r#"joinSwarm(caseId: $id, agent: "gustav")"#,
    )
    .await;
    // First-response breaches on the SLA'd cases, then the sentinels' own alerts.
    clock.set(T0.plus_secs(600));
    sla_until(
        s,
        &[&id("own_sla"), &id("hidden"), &id("private")],
        "SlaBreached",
        1,
    )
    .await;
    clock.set(T0.plus_secs(1500));
    sla_until(s, &[&id("s1"), &id("s2"), &id("s3")], "SlaEscalated", 1).await;
    let leads = [
        ("own", "alice-token"),
        ("own_sla", "lars-token"),
        ("hidden", "farah-token"),
        ("private", "lars-token"),
        ("idem", "lars-token"),
        ("cora", "alice-token"),
        ("s1", "alice-token"),
        ("s2", "alice-token"),
        ("s3", "alice-token"),
    ];
    for (key, _) in leads {
        post(s, ADMIN, &id(key), "PUBLIC_REPLY", "SENTINEL reply").await;
    }
    for (key, lead) in leads {
        post(s, lead, &id(key), "SWARM_CHAT", "SENTINEL chat").await;
    }
    for key in S {
        write(
            s,
            ADMIN,
            &id(key),
            r#"tagCase(caseId: $id, tag: "sentinel")"#,
        )
        .await;
    }
}

/// A sensitive case never goes below the sensitive floor, whoever asks.
async fn sensitive_floor(s: &TestServer, world: &World, v: &mut Violations) {
    let attempts = [
        (
            "floor_a",
            "lars-token",
            "agent-L2 deescalateCase(toTier: L1)",
            r#"deescalateCase(caseId: $id, toTier: "L1", reason: "floor")"#,
        ),
        (
            "floor_b",
            "dana-token",
            "lead-L2 routeCase(tier: L1)",
            r#"routeCase(caseId: $id, tier: "L1")"#,
        ),
        (
            "floor_c",
            ADMIN,
            "admin routeCase(tier: L0)",
            r#"routeCase(caseId: $id, tier: "L0")"#,
        ),
        (
            "floor_d",
            ADMIN,
            "admin deescalateCase",
            r#"deescalateCase(caseId: $id, reason: "floor")"#,
        ),
    ];
    for (key, token, what, call) in attempts {
        let head = s.head();
        let (_, r) = s
            .gql_raw(
                Some(token),
                &format!("mutation($id: ID!) {{ {call} {{ tier sensitive }} }}"),
                json!({ "id": world.id(key) }),
            )
            .await;
        let c = code(&r);
        if c != "INVALID_TRANSITION" || s.head() != head {
            v.add(format!(
                "{what} on a sensitive L2 case: answered {} and moved it: {}",
                if c == "<none>" { "without error" } else { &c },
                short(&r["data"])
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authorization_matrix() {
    let clock = ManualClock::new(T0);
    let s = start(&clock).await;
    let (world, revoked) = setup(&s, &clock).await;
    let roles = roles(revoked);
    let ops = ops();
    let mut v = Violations::default();

    // Every field of the served schema has an entry, and every entry a field.
    let served = schema_fields(&s.get_text("/schema.graphql").await);
    assert!(served.len() > 50, "parsed the schema: {served:?}");
    for (root, field) in &served {
        if !ops.iter().any(|o| o.root == *root && o.field == field) {
            v.add(format!(
                "schema: {root:?}.{field} has no entry in the authz matrix"
            ));
        }
    }
    for o in &ops {
        if !served.iter().any(|(r, f)| *r == o.root && f == o.field) {
            v.add(format!(
                "matrix: {:?}.{} is not in the schema",
                o.root, o.field
            ));
        }
    }

    // Subscriptions first, so the matrix's own writes are among what they deliver.
    let mut live = Vec::new();
    for role in &roles {
        if role.kind == Kind::Anonymous {
            let init = match role.token() {
                Some(t) => json!({ "authorization": format!("Bearer {t}") }),
                None => json!({}),
            };
            let (mut ws, ack) = Ws::connect_raw(&s.url, "graphql-transport-ws", init).await;
            if ack["type"] == "connection_ack" {
                v.add(format!("{}: WebSocket connection_init accepted", role.name));
                ws.subscribe("e", "subscription { events { caseId payload } }", json!({}))
                    .await;
                let soon = tokio::time::Instant::now() + Duration::from_secs(5);
                let m = ws.next_json_until(soon).await.unwrap_or(Value::Null);
                if m["type"] == "next" {
                    v.add(format!(
                        "{}: subscription delivered {}",
                        role.name,
                        short(&m)
                    ));
                }
            }
            continue;
        }
        let (ws, subs) = subscribe_all(&s, &world, role, &ops).await;
        live.push((role, ws, subs));
    }

    http_matrix(&s, &world, &roles, &ops, &mut v).await;
    simulate_oracle(&s, &roles, &mut v).await;
    triggers_and_sentinels(&s, &world, &clock).await;

    for (role, ws, subs) in &mut live {
        let mut errors = Vec::new();
        let delivered = drain(&world, role, ws, subs, &mut errors, &mut v).await;
        // Positive controls: the writes made while subscribed reach those who may see them.
        let expected = [
            ("hidden", "MKHIDNOTE 2"),
            ("private", "MKPRVNOTE 2"),
            ("own", "MKOWNNOTE 2"),
            ("own", "SENTINEL reply"),
        ];
        for (case, text) in expected {
            let may =
                role.sees(case) && (role.kind != Kind::Customer || text.starts_with("SENTINEL"));
            if may && !delivered.contains(text) {
                v.add(format!(
                    "{}: its subscriptions never delivered `{text}` on {case}, which it may see",
                    role.name
                ));
            }
        }
        // A subscription about a case the role may not see ends as for a missing one.
        for field in ["caseEvents", "swarmRoom"] {
            let by_case = |key: &str| {
                errors
                    .iter()
                    .find(|(at, _)| at.ends_with(&format!(" {field}:{key}|{field}")))
                    .map(|(_, m)| m.clone())
            };
            let missing = by_case("missing");
            let live = |k: &&str| !FLOORS.contains(k) && !KNOWLEDGE.contains(k);
            for (key, _) in world.cases.iter().filter(|(k, _)| live(k)) {
                if !role.sees(key) && by_case(key) != missing {
                    v.add(format!(
                        "{} subscription {field}({key}): ends unlike for a missing case: {:?} vs {:?}",
                        role.name,
                        by_case(key).map(|m| short(&m)),
                        missing.as_ref().map(short)
                    ));
                }
            }
        }
    }

    sensitive_floor(&s, &world, &mut v).await;
    s.stop().await;
    assert!(
        v.list.is_empty(),
        "{} authorization violations:\n{}",
        v.list.len(),
        v.list.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_tokens_open_subscriptions_end() {
    let s = TestServer::start().await;
    let id = s.open_case("Before revocation", "LOW").await;
    let t = s
        .ok(r#"mutation { createToken(user: "rita", role: AGENT, tiers: ["L1"]) { token tokenId } }"#, json!({}))
        .await;
    let token = t["createToken"]["token"].as_str().unwrap();
    let mut ws = s.ws("graphql-transport-ws", token).await;
    ws.subscribe("events", "subscription { events { position } }", json!({}))
        .await;
    ws.subscribe(
        "queue",
        r#"subscription { tierQueue(tier: "L1") { change } }"#,
        json!({}),
    )
    .await;
    ws.subscribe(
        "case",
        "subscription($id: ID!) { caseEvents(caseId: $id) { version } }",
        json!({ "id": id }),
    )
    .await;
    // Each is live: the queue's snapshot and the case's first event arrive.
    let mut started = BTreeSet::new();
    while started.len() < 2 {
        let m = ws.next_json().await;
        assert_eq!(m["type"], "next", "{m}");
        if m["id"] != "events" {
            started.insert(m["id"].as_str().unwrap().to_string());
        }
    }
    s.ok(
        "mutation($id: String!) { revokeToken(tokenId: $id) }",
        json!({ "id": t["createToken"]["tokenId"] }),
    )
    .await;
    // Every subscription ends (or the socket closes), and nothing more is delivered
    // after the revocation, however much happens.
    s.open_case("After revocation", "LOW").await;
    let mut open: BTreeSet<&str> = ["events", "queue", "case"].into();
    while !open.is_empty() {
        let m = ws.next_json().await;
        match m["type"].as_str() {
            Some("closed") => break,
            Some("complete") | Some("error") => {
                open.remove(m["id"].as_str().unwrap());
            }
            Some("next") => {
                let text = m.to_string();
                assert!(
                    !text.contains("After revocation"),
                    "delivered after revocation: {m}"
                );
            }
            _ => panic!("unexpected {m}"),
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_token_gets_unauthenticated() {
    let clock = ManualClock::new(T0);
    let s = start(&clock).await;
    let t = s
        .ok(
            "mutation($at: DateTime!) { createToken(user: \"tess\", role: AGENT, tiers: [\"L1\"], expiresAt: $at) { token } }",
            json!({ "at": T0.plus_secs(3600).to_rfc3339() }),
        )
        .await;
    let token = t["createToken"]["token"].as_str().unwrap().to_string();
    let me = s.ok_as(&token, "{ me { id } }", json!({})).await;
    assert_eq!(me["me"]["id"], "tess");
    clock.set(T0.plus_secs(3600));
    let head = s.head();
    for query in [
        "{ me { id } }",
        "{ cases { edges { node { id } } } }",
        r#"mutation { openCase(input: {subject: "s", channel: EMAIL, customer: {id: "c"}}) { id } }"#,
    ] {
        let (status, r) = s.gql_raw(Some(&token), query, json!({})).await;
        assert_eq!(code(&r), "UNAUTHENTICATED", "{query}: HTTP {status} {r}");
        assert!(r["data"].is_null(), "{r}");
    }
    assert_eq!(s.head(), head, "nothing written");
    let (_, ack) = Ws::connect_raw(
        &s.url,
        "graphql-transport-ws",
        json!({ "authorization": format!("Bearer {token}") }),
    )
    .await;
    assert_ne!(ack["type"], "connection_ack", "{ack}");
    // A token given as expired from start is refused the same way.
    let (_, r) = s
        .gql_raw(Some("expired-token"), "{ me { id } }", json!({}))
        .await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    s.stop().await;
}
