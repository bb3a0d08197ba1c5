//! The canonical encoding of a request, hashed into the fingerprint an idempotency key
//! is stored with. It is explicit and versioned, not derived from Rust's `Debug`
//! output: each command has a fixed name, each field a fixed name and its API
//! spelling, and a field without a value is left out, so adding an optional field to
//! a command keeps the fingerprints of every request that does not use it, and a
//! client's retry across a release is still recognised. Changing what is encoded for
//! an existing field means a new [`REQUEST_ENCODING`] version (fixtures in the tests
//! freeze the current one).

use super::case::Customer;
use super::command::{Command, OpenCase, RouteCase};
use super::ids::CaseId;

/// Names the encoding; the first bytes of every canonical request.
pub const REQUEST_ENCODING: &str = "swarmdesk.request.v2";

/// Builds a canonical request: `version`, the command name, then `name=len:value;`
/// for each field with a value, in a fixed order.
struct Canonical(Vec<u8>);

impl Canonical {
    fn new(command: &str) -> Self {
        let mut c = Canonical(Vec::with_capacity(128));
        c.field("encoding", REQUEST_ENCODING);
        c.field("command", command);
        c
    }

    fn field(&mut self, name: &str, value: impl AsRef<[u8]>) -> &mut Self {
        let value = value.as_ref();
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(b'=');
        self.0.extend_from_slice(value.len().to_string().as_bytes());
        self.0.push(b':');
        self.0.extend_from_slice(value);
        self.0.push(b';');
        self
    }

    fn opt(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.field(name, v);
        }
        self
    }

    fn list(&mut self, name: &str, values: &[String]) -> &mut Self {
        if !values.is_empty() {
            self.field(&format!("{name}.len"), values.len().to_string());
            for v in values {
                self.field(name, v);
            }
        }
        self
    }

    fn flag(&mut self, name: &str, value: bool) -> &mut Self {
        if value {
            self.field(name, "true");
        }
        self
    }

    fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

fn customer(c: &mut Canonical, customer: &Customer) {
    c.field("customer.id", &customer.id)
        .field("customer.name", &customer.name)
        .field("customer.segment", customer.segment.as_str())
        .flag("customer.keyAccount", customer.key_account);
}

/// The canonical form of opening a case, without the case id the server draws (a
/// retry must match whatever id its first attempt drew).
pub fn open_request(open: &OpenCase) -> Vec<u8> {
    let mut c = Canonical::new("openCase");
    c.field("subject", &open.subject)
        .field("body", &open.body)
        .field("channel", open.channel.as_str())
        .field("language", &open.language)
        .field("priority", open.priority.as_str());
    customer(&mut c, &open.customer);
    c.list("tags", &open.tags)
        .opt(
            "requestedPriority",
            open.requested_priority.map(|p| p.as_str()),
        )
        .done()
}

fn route(c: &mut Canonical, r: &RouteCase) {
    let version = r.rule_set_version.map(|v| v.to_string());
    c.field("tier", r.tier.as_str())
        .opt("team", r.team.as_deref())
        .opt("priority", r.priority.map(|p| p.as_str()))
        .list("tags", &r.tags)
        .flag("sensitive", r.sensitive)
        .opt("ruleId", r.rule_id.as_deref())
        .opt("ruleSetVersion", version.as_deref());
}

/// The command's name in the encoding: fixed here, apart from any name used in
/// messages, so rewording an error cannot change a fingerprint.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Open(_) => "openCase",
        Command::Route(_) => "routeCase",
        Command::Escalate { .. } => "escalateCase",
        Command::Deescalate { .. } => "deescalateCase",
        Command::Assign { .. } => "assignCase",
        Command::Unassign => "unassignCase",
        Command::StartSwarm { .. } => "startSwarm",
        Command::JoinSwarm { .. } => "joinSwarm",
        Command::LeaveSwarm { .. } => "leaveSwarm",
        Command::SetSwarmLead { .. } => "setSwarmLead",
        Command::PostMessage { .. } => "postMessage",
        Command::ChangePriority { .. } => "changePriority",
        Command::Tag { .. } => "tagCase",
        Command::Untag { .. } => "untagCase",
        Command::Resolve { .. } => "resolveCase",
        Command::Reopen { .. } => "reopenCase",
        Command::Close { .. } => "closeCase",
        Command::AwaitCustomer { .. } => "awaitCustomer",
        Command::Resume => "resumeCase",
        Command::RecordSlaBreach { .. } => "recordSlaBreach",
        Command::RunSlaEscalation { .. } => "runSlaEscalation",
        Command::SetCaseSkills { .. } => "setCaseSkills",
        Command::InviteToSwarm(_) => "inviteToSwarm",
        Command::AcceptInvitation => "acceptInvitation",
        Command::DeclineInvitation { .. } => "declineInvitation",
        Command::ExpireInvitation { .. } => "expireInvitation",
        Command::RequestHelp { .. } => "requestHelp",
        Command::OfferHelp { .. } => "offerHelp",
        Command::AcceptHelp { .. } => "acceptHelp",
        Command::CloseHelpRequest { .. } => "closeHelpRequest",
        Command::SetSwarmType { .. } => "setSwarmType",
        Command::SetSwarmRole { .. } => "setSwarmRole",
        Command::CaptureKnowledge { .. } => "captureKnowledge",
        Command::RemindStatusUpdate { .. } => "remindStatusUpdate",
    }
}

/// The canonical form of a command on an existing case.
pub fn case_request(case_id: CaseId, command: &Command) -> Vec<u8> {
    let id = case_id.to_string();
    let mut c = Canonical::new(command_name(command));
    c.field("caseId", &id);
    match command {
        Command::Open(open) => {
            c.field("open", open_request(open));
        }
        Command::Route(r) => route(&mut c, r),
        Command::Escalate { to, reason } | Command::Deescalate { to, reason } => {
            c.opt("to", to.as_ref().map(|t| t.as_str()))
                .field("reason", reason);
        }
        Command::Assign { agent }
        | Command::JoinSwarm { agent }
        | Command::LeaveSwarm { agent }
        | Command::SetSwarmLead { agent } => {
            c.field("agent", agent.as_str());
        }
        Command::StartSwarm { lead, reason } => {
            c.field("lead", lead.as_str()).field("reason", reason);
        }
        Command::PostMessage { kind, body } => {
            c.field("kind", kind.as_str()).field("body", body);
        }
        Command::ChangePriority { priority, reason } => {
            c.field("priority", priority.as_str())
                .field("reason", reason);
        }
        Command::Tag { tag } | Command::Untag { tag } => {
            c.field("tag", tag);
        }
        Command::Resolve { resolution } => {
            c.field("resolution", resolution);
        }
        Command::Reopen { reason }
        | Command::Close { reason }
        | Command::AwaitCustomer { reason } => {
            c.field("reason", reason);
        }
        Command::Unassign | Command::Resume => {}
        Command::RecordSlaBreach { kind } => {
            c.field("kind", kind.as_str());
        }
        Command::RunSlaEscalation { step } => {
            c.field("step", step.to_string());
        }
        Command::SetCaseSkills {
            skills,
            source,
            rule_id,
        } => {
            c.list("skills", skills)
                .field("source", source.as_str())
                .opt("ruleId", rule_id.as_deref());
        }
        Command::InviteToSwarm(i) => {
            let agents: Vec<String> = i.invitees.iter().map(|a| a.agent.to_string()).collect();
            let mins = i.expires_after_mins.map(|m| m.to_string());
            c.list("agents", &agents)
                .field("note", &i.note)
                .flag("autoReplace", i.auto_replace)
                .opt("expiresAfterMinutes", mins.as_deref())
                .opt("reason", i.reason.as_deref());
        }
        Command::AcceptInvitation => {}
        Command::DeclineInvitation { reason } => {
            c.field("reason", reason);
        }
        Command::ExpireInvitation { agent } => {
            c.field("agent", agent.as_str());
        }
        Command::RequestHelp { skills, note } => {
            c.list("skills", skills).field("note", note);
        }
        Command::OfferHelp { request_id } => {
            c.field("requestId", request_id.to_string());
        }
        Command::AcceptHelp { request_id, helper } => {
            c.field("requestId", request_id.to_string())
                .field("helper", helper.as_str());
        }
        Command::CloseHelpRequest { request_id, reason } => {
            c.field("requestId", request_id.to_string())
                .field("reason", reason);
        }
        Command::SetSwarmType { swarm_type, reason } => {
            c.field("swarmType", swarm_type.as_str())
                .field("reason", reason);
        }
        Command::SetSwarmRole { agent, role } => {
            c.field("agent", agent.as_str())
                .field("role", role.as_str());
        }
        Command::CaptureKnowledge { title, body, tags } => {
            c.field("title", title)
                .field("body", body)
                .list("tags", tags);
        }
        Command::RemindStatusUpdate { interval_secs } => {
            c.field("intervalSecs", interval_secs.to_string());
        }
    }
    c.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, Channel, MessageKind, Priority, Segment, Tier};
    use crate::store::fingerprint;
    use ulid::Ulid;

    fn case() -> CaseId {
        CaseId(Ulid::from_string("01JD0000000000000000000001").unwrap())
    }

    fn open() -> OpenCase {
        OpenCase {
            case_id: CaseId(Ulid::nil()),
            subject: "Charged twice".into(),
            body: "My card was charged twice.".into(),
            channel: Channel::SocialDm,
            customer: Customer {
                id: "sam.okafor".into(),
                name: "Sam Okafor".into(),
                segment: Segment::B2c,
                key_account: false,
            },
            language: "en".into(),
            priority: Priority::Urgent,
            tags: vec!["billing".into()],
            requested_priority: None,
        }
    }

    /// Frozen: these fingerprints are stored with idempotency keys in users' logs. If
    /// this test fails, the encoding changed and retries across the release would be
    /// refused as key reuse: keep the old encoding, or add a new version and keep
    /// matching the old one.
    #[test]
    fn fingerprints_are_frozen() {
        let cases: Vec<(Vec<u8>, u64)> = vec![
            (open_request(&open()), 4113819036490806207),
            (
                case_request(
                    case(),
                    &Command::PostMessage {
                        kind: MessageKind::PublicReply,
                        body: "We refunded the second charge.".into(),
                    },
                ),
                15880841015592771625,
            ),
            (
                case_request(
                    case(),
                    &Command::Escalate {
                        to: Some(Tier::new("L3")),
                        reason: "needs an expert".into(),
                    },
                ),
                10156533980843213805,
            ),
            (
                case_request(
                    case(),
                    &Command::Assign {
                        agent: AgentId::new("alice").unwrap(),
                    },
                ),
                13703356249616445558,
            ),
            (
                case_request(case(), &Command::Unassign),
                11626201806744266225,
            ),
        ];
        let got: Vec<u64> = cases.iter().map(|(b, _)| fingerprint(b)).collect();
        let want: Vec<u64> = cases.iter().map(|(_, f)| *f).collect();
        assert_eq!(
            got,
            want,
            "canonical requests: {:?}",
            cases
                .iter()
                .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn absent_optional_fields_leave_no_trace() {
        let mut o = open();
        let plain = open_request(&o);
        assert!(!String::from_utf8_lossy(&plain).contains("requestedPriority"));
        o.requested_priority = Some(Priority::High);
        let with = open_request(&o);
        assert_ne!(plain, with);
        assert!(String::from_utf8_lossy(&with).contains("requestedPriority=4:HIGH;"));
    }

    #[test]
    fn every_field_counts_and_cannot_bleed_into_another() {
        let a = case_request(case(), &Command::Tag { tag: "a;b".into() });
        let b = case_request(case(), &Command::Tag { tag: "a".into() });
        assert_ne!(a, b);
        // Length prefixes: a value cannot pose as the next field.
        let mut o1 = open();
        o1.subject = "x;body=1:y".into();
        let mut o2 = open();
        o2.subject = "x".into();
        o2.body = "y".into();
        assert_ne!(open_request(&o1), open_request(&o2));
        // The case id and the command are part of the request.
        let other = CaseId(Ulid::from_string("01JD0000000000000000000002").unwrap());
        assert_ne!(
            case_request(case(), &Command::Resume),
            case_request(other, &Command::Resume)
        );
        assert_ne!(
            case_request(case(), &Command::Resume),
            case_request(case(), &Command::Unassign)
        );
    }
}
