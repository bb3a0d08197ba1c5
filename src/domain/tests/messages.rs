//! Domain tests: Messages.

use super::*;

#[test]
fn post_message_records_the_acting_agent_as_author() {
    let case = given(routed_to("L1"))
        .by("bob")
        .when(post(MessageKind::InternalNote, "  We refunded them.  "))
        .then_events([posted(
            MessageKind::InternalNote,
            "bob",
            "We refunded them.",
        )]);
    assert_eq!(case.message_count, 1);
}

#[test]
fn internal_notes_are_allowed_on_a_resolved_case() {
    given([opened(), resolved("done", None, "alice")])
        .when(post(MessageKind::InternalNote, "follow up next week"))
        .then_events([posted(
            MessageKind::InternalNote,
            "alice",
            "follow up next week",
        )]);
}

#[test]
fn swarm_chat_by_a_member_is_accepted() {
    given(swarming("alice", &["bob"]))
        .by("bob")
        .when(post(MessageKind::SwarmChat, "I know this bug"))
        .then_events([posted(MessageKind::SwarmChat, "bob", "I know this bug")]);
}

#[test]
fn swarm_chat_by_a_non_member_is_refused() {
    given(swarming("alice", &["bob"]))
        .by("carol")
        .when(post(MessageKind::SwarmChat, "hi"))
        .then_refused("post message");
    given(routed_to("L1"))
        .when(post(MessageKind::SwarmChat, "hi"))
        .then_refused("post message");
}

#[test]
fn post_message_with_empty_body_is_invalid() {
    given(routed_to("L1"))
        .when(post(MessageKind::PublicReply, " \n "))
        .then_invalid("message");
}
