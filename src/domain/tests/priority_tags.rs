//! Domain tests: Priority and tags.

use super::*;

#[test]
fn change_priority_records_from_and_to() {
    let case = given(routed_to("L1"))
        .when(change_priority(Priority::Urgent))
        .then_events([priority_changed(Priority::Normal, Priority::Urgent)]);
    assert_eq!(case.priority, Priority::Urgent);
}

#[test]
fn change_priority_to_the_same_priority_is_refused() {
    given(routed_to("L1"))
        .when(change_priority(Priority::Normal))
        .then_refused("change priority");
}

#[test]
fn tag_is_normalised_to_lowercase() {
    let case = given([opened()])
        .when(tag(" Refund "))
        .then_events([tagged("refund")]);
    assert!(case.tags.contains(&"refund".to_string()));
}

#[test]
fn tag_twice_is_refused_whatever_the_case() {
    given([opened()]).when(tag("BILLING")).then_refused("tag");
}

#[test]
fn malformed_tags_are_invalid() {
    given([opened()])
        .when(tag("no spaces"))
        .then_invalid("not a valid tag");
    given([opened()])
        .when(tag(""))
        .then_invalid("not a valid tag");
    given([opened()])
        .when(tag(&"x".repeat(65)))
        .then_invalid("not a valid tag");
    given([opened()])
        .when(untag("no spaces"))
        .then_invalid("not a valid tag");
}

#[test]
fn tags_are_capped() {
    let mut history = vec![opened()];
    // `billing` came with the case; add tags up to the cap.
    history.extend((1..MAX_TAGS).map(|i| tagged(&format!("t{i}"))));
    assert_eq!(given(history.clone()).state().tags.len(), MAX_TAGS);
    given(history).when(tag("one-more")).then_invalid("tags");
}

#[test]
fn untag_removes_a_present_tag() {
    let case = given([opened()])
        .when(untag("Billing"))
        .then_events([untagged("billing")]);
    assert!(case.tags.is_empty());
}

#[test]
fn untag_of_a_missing_tag_is_refused() {
    given([opened()])
        .when(untag("refund"))
        .then_refused("untag");
}

#[test]
fn tagging_a_resolved_case_is_allowed() {
    given([opened(), resolved("done", None, "alice")])
        .when(tag("recurring"))
        .then_events([tagged("recurring")]);
}
