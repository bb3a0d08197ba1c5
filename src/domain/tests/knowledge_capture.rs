//! Domain tests: captured knowledge (`captureKnowledge`) and its refusals.

use super::*;

fn captured(title: &str, body: &str, tags: &[&str], by: &str) -> CaseEvent {
    CaseEvent::KnowledgeCaptured(KnowledgeCaptured {
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        by: agent(by),
    })
}

/// An L2 case alice owned and swarmed with bob, resolved by alice.
fn resolved_swarm() -> Vec<CaseEvent> {
    let mut h = routed_to("L2");
    h.extend([
        assigned("alice"),
        swarm_started("alice"),
        joined("bob"),
        swarm_ended("case resolved"),
        resolved("re-imported IdP metadata", Some("L2"), "alice"),
    ]);
    h
}

#[test]
fn capture_knowledge_on_a_resolved_case_normalises_tags_and_trims() {
    let case = given(resolved_swarm())
        .by("bob")
        .when(capture_knowledge(
            "  SAML loop after cert rotation ",
            "Re-import the IdP metadata.\n",
            &["SAML", "sso", "saml"],
        ))
        .then_events([captured(
            "SAML loop after cert rotation",
            "Re-import the IdP metadata.",
            &["saml", "sso"],
            "bob",
        )]);
    // Capturing changes nothing else of the case.
    assert_eq!(case.status, Status::Resolved);
}

#[test]
fn capture_knowledge_on_a_closed_case_is_allowed() {
    let mut h = resolved_swarm();
    h.push(closed("confirmed"));
    let case = given(h)
        .when(capture_knowledge("Title", "Body", &[]))
        .then_events([captured("Title", "Body", &[], "alice")]);
    assert_eq!(case.status, Status::Closed);
}

#[test]
fn capture_knowledge_before_resolution_is_refused() {
    let why = given(swarming("alice", &["bob"]))
        .when(capture_knowledge("Title", "Body", &[]))
        .then_refused("capture knowledge");
    assert!(why.contains("resolution"), "{why}");
}

#[test]
fn capture_knowledge_on_a_missing_case_is_not_found() {
    given(nothing())
        .when(capture_knowledge("Title", "Body", &[]))
        .then_error(DomainError::CaseNotFound);
}

#[test]
fn capture_knowledge_bounds_every_input() {
    let long_title = "t".repeat(knowledge::MAX_TITLE + 1);
    let long_body = "b".repeat(knowledge::MAX_BODY + 1);
    let many: Vec<String> = (0..=knowledge::MAX_ARTICLE_TAGS)
        .map(|i| format!("t{i}"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for (command, mentions) in [
        (capture_knowledge("", "Body", &[]), "title"),
        (capture_knowledge("Title", "  ", &[]), "body"),
        (capture_knowledge(&long_title, "Body", &[]), "title"),
        (capture_knowledge("Title", &long_body, &[]), "body"),
        (capture_knowledge("Title", "Body", &["no spaces"]), "tag"),
        (capture_knowledge("Title", "Body", &many), "tags"),
    ] {
        given(resolved_swarm()).when(command).then_invalid(mentions);
    }
}
