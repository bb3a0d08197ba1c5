//! Needed skills from routing: a rule's `needsSkills` action records the skills on the
//! new case (`CaseSkillsSet`, source `RULE`, in the case's history, so replays and
//! time travel show it), `previewRoute` shows and explains it, and bad skills are
//! refused with the rule set; the skill map (`setSkillMap`) adds the skills of the
//! case's tags and words (source `KEYWORDS`, or `RULE` together with a rule's).

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

const SET_MAP: &str =
    "mutation($e: [SkillMappingInput!]!) { setSkillMap(entries: $e) { term skills } }";

/// The case's `CaseSkillsSet` payloads.
async fn skills_set(s: &TestServer, id: &str) -> Vec<Value> {
    s.history(&json!(id))
        .await
        .into_iter()
        .filter(|e| e["type"] == "CaseSkillsSet")
        .map(|e| e["payload"].clone())
        .collect()
}

#[tokio::test]
async fn the_skill_map_adds_the_skills_of_a_new_cases_tags_and_words() {
    let s = TestServer::start().await;
    let d = s
        .ok(
            SET_MAP,
            json!({ "e": [
                { "term": "Invoice", "skills": ["billing"] },
                { "term": "saml", "skills": ["identity"] },
                { "term": "vip", "skills": ["key-accounts", "billing"] },
            ] }),
        )
        .await;
    assert_eq!(
        d["setSkillMap"],
        json!([
            { "term": "invoice", "skills": ["billing"] },
            { "term": "saml", "skills": ["identity"] },
            { "term": "vip", "skills": ["billing", "key-accounts"] },
        ])
    );
    let c = s
        .ok("{ configuration { skillMap { term skills } } }", json!({}))
        .await;
    assert_eq!(c["configuration"]["skillMap"], d["setSkillMap"]);

    // A word of the subject or body, or a tag: source KEYWORDS, no rule.
    let q = "mutation($i: OpenCaseInput!) { openCase(input: $i) { id } }";
    let id = s
        .ok(
            q,
            json!({ "i": { "subject": "Wrong invoice", "body": "see attached", "channel": "EMAIL", "customer": { "id": "c-1" }, "tags": ["vip"] } }),
        )
        .await["openCase"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        skills_set(&s, &id).await,
        [json!({ "skills": ["billing", "key-accounts"], "source": "KEYWORDS", "ruleId": null })]
    );
    // Words, not parts of words: nothing for "invoices".
    let id = s.open_case("Two invoices", "LOW").await;
    assert!(skills_set(&s, &id).await.is_empty());

    // With a rule that names skills too: both, source RULE.
    let input = with_first(&s, sso_rule(json!(["sso"]))).await;
    s.ok(SET_RULES, json!({ "r": input })).await;
    let id = s.open_case("SAML broke our invoice export", "HIGH").await;
    assert_eq!(
        skills_set(&s, &id).await,
        [json!({ "skills": ["billing", "identity", "sso"], "source": "RULE", "ruleId": "sso" })]
    );

    // Admins only; a bad map is refused whole; neither writes.
    let head = s.head();
    let entries = json!({ "e": [{ "term": "saml", "skills": ["x"] }] });
    let r = s.gql_as("dana-token", SET_MAP, entries).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    let bad = json!({ "e": [{ "term": "two words", "skills": ["x"] }] });
    let r = s.gql(SET_MAP, bad).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert_eq!(s.head(), head);
    s.stop().await;
}
