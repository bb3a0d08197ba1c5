//! Tests of the standing-swarm rules of [`super`]: who may join a team's standing
//! swarm, and who may list its queue.

use super::*;
use crate::domain::Actor;

fn principal(id: &str, role: Role, tiers: &[&str]) -> Principal {
    Principal {
        actor: Actor::new(id, role).unwrap(),
        tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
        token_id: None,
    }
}

#[test]
fn staff_whose_tiers_reach_the_team_may_join_its_standing_swarm() {
    let ladder = TierLadder::standard();
    let l2 = Tier::new("L2");
    for (who, ok) in [
        (principal("ana", Role::Agent, &["L2"]), true),
        (principal("lee", Role::Lead, &["L3"]), true),
        (principal("al", Role::Agent, &["L1"]), false),
        (principal("nobody", Role::Agent, &[]), false),
        (principal("root", Role::Admin, &[]), true),
        (principal("audrey", Role::Auditor, &[]), false),
        (principal("sam", Role::Customer, &[]), false),
    ] {
        assert_eq!(
            can_join_standing(&who, &l2, &ladder).is_ok(),
            ok,
            "{}",
            who.actor.id
        );
    }
}

#[test]
fn only_members_admins_and_auditors_list_a_standing_swarms_queue() {
    let agent = principal("ana", Role::Agent, &["L1"]);
    let lead = principal("lee", Role::Lead, &["L2"]);
    assert!(can_see_standing_queue(&agent, true).is_ok());
    assert!(can_see_standing_queue(&agent, false).is_err());
    assert!(can_see_standing_queue(&lead, false).is_err());
    assert!(can_see_standing_queue(&principal("root", Role::Admin, &[]), false).is_ok());
    assert!(can_see_standing_queue(&principal("audrey", Role::Auditor, &[]), false).is_ok());
    // A customer is never staff, member or not.
    assert!(can_see_standing_queue(&principal("sam", Role::Customer, &[]), true).is_err());
}
