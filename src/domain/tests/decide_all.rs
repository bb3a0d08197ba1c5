//! Domain tests: decide_all and error codes.

use super::*;

#[test]
fn decide_all_opens_and_routes_as_one_unit() {
    let case = given(nothing())
        .when_all(vec![open(), route("L1"), assign("bob")])
        .then_events([opened(), routed("L1"), assigned("bob")]);
    assert_eq!(case.version, 3);
    assert_eq!(case.tier, Some(tier("L1")));
}

#[test]
fn decide_all_refuses_everything_if_one_command_is_refused() {
    given(nothing())
        .when_all(vec![open(), route("L9"), assign("bob")])
        .then_error(DomainError::UnknownTier("L9".into()));
    given(nothing())
        .when_all(vec![open(), open()])
        .then_error(DomainError::CaseExists);
}

#[test]
fn decide_all_of_nothing_produces_nothing() {
    given([opened()]).when_all(vec![]).then_events(nothing());
}

#[test]
fn error_codes_are_stable() {
    let code = |g: Given, command: Command| g.when(command).result.unwrap_err().code().name();
    assert_eq!(code(given(nothing()), escalate()), "NOT_FOUND");
    assert_eq!(code(given([opened()]), open()), "INVALID_TRANSITION");
    assert_eq!(code(given([opened()]), route("L9")), "BAD_USER_INPUT");
    assert_eq!(code(given([opened()]), tag("a b")), "BAD_USER_INPUT");
    assert_eq!(
        code(given(routed_to("L3")), escalate()),
        "INVALID_TRANSITION"
    );
    assert_eq!(
        code(given(routed_to("L0")), deescalate()),
        "INVALID_TRANSITION"
    );
    assert_eq!(code(given([opened()]), unassign()), "INVALID_TRANSITION");
    assert_eq!(
        code(
            given(routed_to("L1")),
            Command::RecordSlaBreach {
                kind: SlaKind::Resolution
            }
        ),
        "INVALID_TRANSITION"
    );
}

#[test]
fn ids_and_enums_parse_and_reject() {
    assert_eq!(CaseId::from_stream(&case_id().stream()), Some(case_id()));
    assert_eq!(
        CaseId::from_stream("tenant-01HZX3N8Q4T5V6W7X8Y9Z0ABCD"),
        None
    );
    assert!(matches!(
        "not-a-ulid".parse::<CaseId>(),
        Err(DomainError::Invalid(_))
    ));
    assert!(AgentId::new("alice@example.com").is_ok());
    assert!(AgentId::new("").is_err());
    assert!(AgentId::new("has space").is_err());
    assert!(AgentId::new("x".repeat(AgentId::MAX_LEN + 1)).is_err());
    assert_eq!("urgent".parse::<Priority>(), Ok(Priority::Urgent));
    assert!("asap".parse::<Priority>().is_err());
    assert!(
        Priority::Urgent < Priority::Low,
        "queues sort most urgent first"
    );
    let ts = Timestamp::from_unix_micros(1_000_001);
    assert_eq!(ts.to_rfc3339(), "1970-01-01T00:00:01.000001Z");
    assert_eq!(Timestamp::parse_rfc3339(&ts.to_rfc3339()), Ok(ts));
}
