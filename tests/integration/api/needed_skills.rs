//! Needed skills from routing: a rule's `needsSkills` action records the skills on the
//! new case (`CaseSkillsSet`, source `RULE`, in the case's history, so replays and
//! time travel show it), `previewRoute` shows and explains it, and bad skills are
//! refused with the rule set.

use super::*;

const RULES: &str = "{ configuration { rules { version rules { id name enabled condition actions { tier team priority tags sensitive startSwarm autoAssign needsSkills } } default { tier team priority tags sensitive startSwarm autoAssign needsSkills } } } }";
const SET_RULES: &str =
    "mutation($r: RuleSetInput!) { setRules(rules: $r) { version rules { id actions { needsSkills } } } }";

fn sso_rule(skills: Value) -> Value {
    json!({
        "id": "sso",
        "condition": { "keywords": { "words": ["saml"] } },
        "actions": { "tier": "L2", "needsSkills": skills },
    })
}

/// The rules in force with `rule` first, as a `RuleSetInput`.
async fn with_first(s: &TestServer, rule: Value) -> Value {
    let current = s.ok(RULES, json!({})).await["configuration"]["rules"].clone();
    let mut rules = vec![rule];
    rules.extend(current["rules"].as_array().unwrap().iter().cloned());
    json!({ "rules": rules, "default": current["default"] })
}

#[tokio::test]
async fn a_rules_needs_skills_are_recorded_on_the_case_it_routes() {
    let s = TestServer::start().await;
    let input = with_first(&s, sso_rule(json!(["SAML", "sso", "saml"]))).await;
    let d = s.ok(SET_RULES, json!({ "r": input })).await;
    assert_eq!(
        d["setRules"]["rules"][0]["actions"]["needsSkills"],
        json!(["SAML", "sso", "saml"]),
        "kept as the admin wrote them"
    );

    let preview = s
        .ok(
            "query($i: OpenCaseInput!) { previewRoute(input: $i) { ruleId actions { tier needsSkills } explanation } }",
            json!({ "i": { "subject": "SAML login loops", "channel": "EMAIL", "customer": { "id": "c-1" } } }),
        )
        .await;
    let p = &preview["previewRoute"];
    assert_eq!(p["ruleId"], "sso");
    assert_eq!(p["actions"]["needsSkills"], json!(["SAML", "sso", "saml"]));
    assert!(
        p["explanation"]
            .to_string()
            .contains("needs skills [SAML, sso, saml]"),
        "{p}"
    );

    let id = s.open_case("SAML login loops", "HIGH").await;
    let history = s.history(&json!(id)).await;
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["CaseOpened", "CaseRouted", "CaseSkillsSet"],
        "{history:?}"
    );
    assert_eq!(
        history[2]["payload"],
        json!({ "skills": ["saml", "sso"], "source": "RULE", "ruleId": "sso" })
    );
    let d = s
        .ok(
            "query($id: ID!) { caseSwarming(caseId: $id) { neededSkills } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["caseSwarming"]["neededSkills"], json!(["saml", "sso"]));

    // A case the rule does not match needs nothing.
    let other = s.open_case("Password reset", "LOW").await;
    let h = s.history(&json!(other)).await;
    assert!(h.iter().all(|e| e["type"] != "CaseSkillsSet"), "{h:?}");

    // A skill that is not one is refused with the whole rule set; nothing is written.
    let head = s.head();
    let mut bad = with_first(&s, sso_rule(json!(["no spaces allowed"]))).await;
    bad["rules"].as_array_mut().unwrap().remove(1);
    let r = s.gql(SET_RULES, json!({ "r": bad })).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("rule `sso`: needsSkills"),
        "{r}"
    );
    assert_eq!(s.head(), head);
    s.stop().await;
}
