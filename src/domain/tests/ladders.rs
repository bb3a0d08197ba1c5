//! Domain tests: Configurable ladders.

use super::*;

#[test]
fn two_tier_ladder_tops_out_at_l1() {
    let small = ["L0", "L1"];
    let case = given([opened()])
        .on_ladder(&small)
        .when(route("L1"))
        .then_events([routed("L1")]);
    assert_eq!(case.tier, Some(tier("L1")));
    given(routed_to("L1"))
        .on_ladder(&small)
        .when(escalate())
        .then_error(DomainError::TopTier(tier("L1")));
    given(routed_to("L1"))
        .on_ladder(&small)
        .when(escalate_to("L2"))
        .then_error(DomainError::UnknownTier("L2".into()));
    given([opened()])
        .on_ladder(&small)
        .when(route("L2"))
        .then_error(DomainError::UnknownTier("L2".into()));
    given(routed_to("L0"))
        .on_ladder(&small)
        .when(escalate())
        .then_events([escalated("L0", "L1")]);
}

#[test]
fn ladder_with_a_vendor_tier_escalates_from_l3_to_l4() {
    let five = ["L0", "L1", "L2", "L3", "L4"];
    given(routed_to("L3"))
        .on_ladder(&five)
        .when(escalate())
        .then_events([escalated("L3", "L4")]);
    given(routed_to("L1"))
        .on_ladder(&five)
        .when(escalate_to("L4"))
        .then_events([escalated("L1", "L4")]);
    given(routed_to("L4"))
        .on_ladder(&five)
        .when(escalate())
        .then_error(DomainError::TopTier(tier("L4")));
    given(routed_to("L4"))
        .on_ladder(&five)
        .when(deescalate())
        .then_events([deescalated("L4", "L3")]);
}

#[test]
fn custom_tier_names_work_like_any_other() {
    let ladder = ["bot", "front", "experts"];
    given(routed_to("front"))
        .on_ladder(&ladder)
        .when(escalate())
        .then_events([escalated("front", "experts")]);
}

#[test]
fn ladder_must_be_non_empty_with_unique_names() {
    assert!(matches!(
        TierLadder::new(Vec::<String>::new()),
        Err(DomainError::Invalid(_))
    ));
    assert!(matches!(
        TierLadder::new(["L0", "L1", "L0"]),
        Err(DomainError::Invalid(_))
    ));
    assert!(matches!(
        TierLadder::new(["L0", " "]),
        Err(DomainError::Invalid(_))
    ));
    assert!(matches!(
        TierLadder::new(["L0", " L0 "]),
        Err(DomainError::Invalid(_))
    ));
    let ladder = TierLadder::new([" L0 ", "L1"]).unwrap();
    assert_eq!(ladder.tiers(), &[tier("L0"), tier("L1")]);
    assert_eq!(ladder.top(), &tier("L1"));
    assert_eq!(ladder.rank(&tier("L1")), Some(1));
    assert_eq!(ladder.rank(&tier("L2")), None);
}
