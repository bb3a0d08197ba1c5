//! The write-side attacks of the security review, each replayed against a real
//! server: private cases moved below the sensitive floor, idempotency keys replayed by
//! another principal, private cases handed to agents who cannot read them, customers
//! routing themselves, unbounded SLA policies, SYSTEM tokens and expired tokens.

use super::*;
use std::sync::Arc;

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// A private (sensitive) case at `tier`, opened and routed by the admin.
async fn private_case(s: &TestServer, tier: &str) -> String {
    let id = s
        .open_case("Account locked after a chargeback", "NORMAL")
        .await;
    s.ok(
        "mutation($id: ID!, $t: String!) { routeCase(caseId: $id, tier: $t, sensitive: true) { tier } }",
        json!({ "id": id, "t": tier }),
    )
    .await;
    id
}

async fn visible_to(s: &TestServer, token: &str, id: &str) -> bool {
    let v = s
        .ok_as(
            token,
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    !v["case"].is_null()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sensitive_case_never_goes_below_the_sensitive_floor_whoever_asks() {
    let s = TestServer::start().await;
    let id = private_case(&s, "L2").await;
    let v = json!({ "id": id });
    let head = s.head();
    let attempts = [
        // An L2 lead re-routes to the front line or self-service.
        (
            "dana-token",
            r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L1") { tier } }"#,
        ),
        (
            "dana-token",
            r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L0") { tier } }"#,
        ),
        (
            "dana-token",
            r#"mutation($id: ID!) { deescalateCase(caseId: $id, reason: "easy") { tier } }"#,
        ),
        // Not even an admin.
        (
            ADMIN,
            r#"mutation($id: ID!) { deescalateCase(caseId: $id, toTier: "L0", reason: "easy") { tier } }"#,
        ),
        (
            ADMIN,
            r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L1") { tier } }"#,
        ),
    ];
    for (token, m) in attempts {
        let r = s.gql_as(token, m, v.clone()).await;
        assert_eq!(code(&r), "INVALID_TRANSITION", "{token} {m}: {r}");
        assert!(r["data"].is_null() || r["data"].as_object().unwrap().values().all(Value::is_null));
    }
    assert_eq!(s.head(), head, "a refused move wrote something");
    assert!(!visible_to(&s, "alice-token", &id).await);

    // Marking a front-line case sensitive without raising it is refused too.
    let other = s.open_case("Invoice question", "NORMAL").await;
    let r = s
        .gql(
            r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L1", sensitive: true) { tier } }"#,
            json!({ "id": other }),
        )
        .await;
    assert_eq!(code(&r), "INVALID_TRANSITION", "{r}");
    // At or above the floor, moves are fine.
    s.ok(
        r#"mutation($id: ID!) { escalateCase(caseId: $id, reason: "expert") { tier } }"#,
        v.clone(),
    )
    .await;
    let d = s
        .ok(
            r#"mutation($id: ID!) { deescalateCase(caseId: $id, reason: "back") { tier } }"#,
            v,
        )
        .await;
    assert_eq!(d["deescalateCase"]["tier"], "L2");
}

const OPEN_PRIVATE: &str = r#"mutation($k: String) { openCase(input: {subject: "My invoice is wrong", body: "MARKER-7731", channel: SOCIAL_PUBLIC, customer: {id: "acme"}}, idempotencyKey: $k) { id tier sensitive body } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_keys_are_scoped_to_the_principal() {
    let s = TestServer::start().await;
    let k = json!({ "k": "open-1" });
    let first = s.ok(OPEN_PRIVATE, k.clone()).await;
    let admin_case = first["openCase"]["id"].as_str().unwrap().to_string();
    assert_eq!(first["openCase"]["sensitive"], true);
    assert!(!visible_to(&s, "alice-token", &admin_case).await);

    // The same principal's retry returns the first result and writes nothing.
    let head = s.head();
    let again = s.ok(OPEN_PRIVATE, k.clone()).await;
    assert_eq!(again, first);
    assert_eq!(s.head(), head);

    // An L1 agent replaying the admin's request with the admin's key opens a case of
    // her own: the admin's case is nowhere in the answer.
    let replay = s.gql_as("alice-token", OPEN_PRIVATE, k.clone()).await;
    assert!(
        !replay.to_string().contains(&admin_case),
        "the admin's private case leaked: {replay}"
    );
    // Reusing the key with another request is no hint either: no error at all.
    let other = s
        .gql_as(
            "bob-token",
            r#"mutation($k: String) { openCase(input: {subject: "Hello", channel: EMAIL, customer: {id: "acme"}}, idempotencyKey: $k) { id } }"#,
            k.clone(),
        )
        .await;
    assert!(other.get("errors").is_none(), "{other}");
    assert_ne!(other["data"]["openCase"]["id"], json!(admin_case));

    // A result is never returned to its own author once they may no longer see it.
    let mine = s
        .ok_as(
            "dana-token",
            r#"mutation($k: String) { openCase(input: {subject: "Lead case", channel: EMAIL, customer: {id: "acme"}}, idempotencyKey: $k) { id } }"#,
            json!({ "k": "dana-1" }),
        )
        .await;
    let dana_case = mine["openCase"]["id"].as_str().unwrap().to_string();
    s.ok(
        r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L3", sensitive: true) { tier } }"#,
        json!({ "id": dana_case }),
    )
    .await;
    assert!(!visible_to(&s, "dana-token", &dana_case).await);
    let retry = s
        .gql_as(
            "dana-token",
            r#"mutation($k: String) { openCase(input: {subject: "Lead case", channel: EMAIL, customer: {id: "acme"}}, idempotencyKey: $k) { id } }"#,
            json!({ "k": "dana-1" }),
        )
        .await;
    assert_eq!(code(&retry), "NOT_FOUND", "{retry} (first: {dana_case})");
    assert!(!retry.to_string().contains("L3"), "{retry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_private_case_is_never_handed_to_an_agent_who_cannot_read_it() {
    let s = TestServer::start().await;
    let id = private_case(&s, "L2").await;
    let v = json!({ "id": id });
    let head = s.head();
    for m in [
        r#"mutation($id: ID!) { startSwarm(caseId: $id, lead: "alice") { version } }"#,
        r#"mutation($id: ID!) { assignCase(caseId: $id, agent: "alice") { version } }"#,
    ] {
        let r = s.gql_as("dana-token", m, v.clone()).await;
        assert_eq!(code(&r), "FORBIDDEN", "{m}: {r}");
    }
    assert_eq!(s.head(), head);
    s.ok_as(
        "dana-token",
        r#"mutation($id: ID!) { startSwarm(caseId: $id) { version } }"#,
        v.clone(),
    )
    .await;
    let r = s
        .gql_as(
            "dana-token",
            r#"mutation($id: ID!) { joinSwarm(caseId: $id, agent: "bob") { version } }"#,
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    assert!(!visible_to(&s, "alice-token", &id).await);
    assert!(!visible_to(&s, "bob-token", &id).await);
    // An L3 agent reaches L2: she may join.
    s.ok_as(
        "dana-token",
        r#"mutation($id: ID!) { joinSwarm(caseId: $id, agent: "farah") { version } }"#,
        v,
    )
    .await;
    assert!(visible_to(&s, "farah-token", &id).await);

    // A member who lost sight of a case that became private is not made its lead.
    let id = s.open_case("Login trouble", "NORMAL").await;
    let v = json!({ "id": id });
    for m in [
        r#"mutation($id: ID!) { startSwarm(caseId: $id) { version } }"#,
        r#"mutation($id: ID!) { joinSwarm(caseId: $id, agent: "alice") { version } }"#,
    ] {
        s.ok_as("dana-token", m, v.clone()).await;
    }
    s.ok(
        r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L2", sensitive: true) { tier } }"#,
        v.clone(),
    )
    .await;
    let r = s
        .gql_as(
            "dana-token",
            r#"mutation($id: ID!) { setSwarmLead(caseId: $id, agent: "alice") { version } }"#,
            v,
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sla_minutes_are_bounded_and_deadlines_print_as_rfc3339() {
    let s = TestServer::start().await;
    let head = s.head();
    for mins in [4_294_967_295u64, 527_041] {
        let r = s
            .gql(
                "mutation($m: Int!) { setSlaPolicy(input: {id: \"forever\", resolutionMinutes: $m}) { id } }",
                json!({ "m": mins }),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{mins}: {r}");
    }
    let r = s
        .gql(
            "mutation { setSlaPolicy(input: {id: \"slow\", firstResponseMinutes: 10, escalation: [{ afterMinutes: 4294967295, clock: FIRST_RESPONSE, notifyLead: true }]}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(s.head(), head);

    // The longest policy there is still has a real date as its deadline.
    s.ok(
        "mutation { setSlaPolicy(input: {id: \"year\", resolutionMinutes: 527040}) { id } }",
        json!({}),
    )
    .await;
    let id = s.open_case("Slow one", "LOW").await;
    let c = s
        .ok(
            "query($id: ID!) { case(id: $id) { sla { nextDeadline resolutionDue } } }",
            json!({ "id": id }),
        )
        .await;
    for field in ["nextDeadline", "resolutionDue"] {
        let t = c["case"]["sla"][field].as_str().unwrap_or_default();
        assert!(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok(),
            "{field}: {c}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_cannot_mint_system_tokens() {
    let s = TestServer::start().await;
    let head = s.head();
    let r = s
        .gql(
            r#"mutation { createToken(user: "scheduler", role: SYSTEM) { token } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    assert!(!r.to_string().contains("sd_"), "{r}");
    assert_eq!(s.head(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_tokens_are_not_listed_unless_asked() {
    let s = TestServer::start().await;
    let old = s
        .ok(
            r#"mutation { createToken(user: "temp", role: AGENT, tiers: ["L1"], expiresAt: "2001-01-01T00:00:00Z") { tokenId } }"#,
            json!({}),
        )
        .await["createToken"]["tokenId"]
        .clone();
    let live = s
        .ok(
            r#"mutation { createToken(user: "perm", role: AGENT, tiers: ["L1"]) { tokenId } }"#,
            json!({}),
        )
        .await["createToken"]["tokenId"]
        .clone();
    let ids = |v: &Value| -> Vec<Value> {
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tokenId"].clone())
            .collect()
    };
    let active = s.ok("{ tokens { tokenId expired } }", json!({})).await;
    assert!(ids(&active).contains(&live));
    assert!(!ids(&active).contains(&old), "{active}");
    let all = s
        .ok(
            "{ tokens(includeExpired: true) { tokenId expired } }",
            json!({}),
        )
        .await;
    let expired: Vec<&Value> = all["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["expired"] == true)
        .collect();
    assert_eq!(expired.len(), 1, "{all}");
    assert_eq!(expired[0]["tokenId"], old);
}

const OPEN_AS_KEY_ACCOUNT: &str = r#"mutation { openCase(input: {subject: "Everything is down", body: "outage since 9:00", channel: PORTAL, priority: URGENT, customer: {id: "x", segment: B2B, keyAccount: true}}) { id tier team priority requestedPriority customer { id segment keyAccount } } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_cannot_choose_their_own_routing() {
    let s = TestServer::start().await;
    // A consumer declares herself a B2B key account with an urgent outage.
    let d = s.ok_as("sam-token", OPEN_AS_KEY_ACCOUNT, json!({})).await;
    let c = &d["openCase"];
    assert_eq!(c["customer"]["id"], "sam.okafor");
    assert_eq!(c["customer"]["segment"], "B2C", "{c}");
    assert_eq!(c["customer"]["keyAccount"], false, "{c}");
    assert_eq!(c["priority"], "NORMAL", "{c}");
    assert_eq!(c["requestedPriority"], "URGENT", "{c}");
    // The customer's own view shows no routing; staff see where it went.
    assert!(c["tier"].is_null() && c["team"].is_null(), "{c}");
    let routed = s
        .ok(
            "query($id: ID!) { case(id: $id) { tier team } }",
            json!({ "id": c["id"] }),
        )
        .await;
    let routed = &routed["case"];
    assert_eq!(
        routed["tier"], "L1",
        "neither key accounts nor incident: {routed}"
    );
    assert_ne!(routed["team"], "key-accounts");
    assert_ne!(routed["team"], "incident");

    // The directory says who is a key account; only admins change it.
    let r = s
        .gql_as(
            "dana-token",
            r#"mutation { setCustomer(input: {id: "initech", segment: B2B, keyAccount: true}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let saved = s
        .ok(
            r#"mutation { setCustomer(input: {id: "initech", name: "Initech", segment: B2B, keyAccount: true}) { id name segment keyAccount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(saved["setCustomer"]["keyAccount"], true);
    let listed = s
        .ok_as(
            "alice-token",
            "{ customers { id segment keyAccount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["customers"],
        json!([{ "id": "initech", "segment": "B2B", "keyAccount": true }])
    );
    let r = s
        .gql_as("sam-token", "{ customers { id } }", json!({}))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    // A listed key account is routed as one without saying anything about itself.
    let token = s
        .ok(
            r#"mutation { createToken(user: "initech", role: CUSTOMER) { token } }"#,
            json!({}),
        )
        .await["createToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let d = s
        .ok_as(
            &token,
            r#"mutation { openCase(input: {subject: "Invoice export", channel: PORTAL, customer: {id: "initech"}}) { id customer { segment keyAccount } } }"#,
            json!({}),
        )
        .await;
    let routed = s
        .ok(
            "query($id: ID!) { case(id: $id) { team } }",
            json!({ "id": d["openCase"]["id"] }),
        )
        .await;
    assert_eq!(routed["case"]["team"], "key-accounts", "{routed}");
    assert_eq!(d["openCase"]["customer"]["keyAccount"], true);

    // Staff opening for a listed customer: the directory wins over what they state.
    let d = s
        .ok(
            r#"mutation { openCase(input: {subject: "Call notes", channel: PHONE, customer: {id: "initech", segment: B2C, keyAccount: false}}) { team customer { segment keyAccount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["openCase"]["customer"]["segment"], "B2B", "{d}");
    assert_eq!(d["openCase"]["team"], "key-accounts");

    // Removed from the directory, initech is an unlisted customer again.
    s.ok(r#"mutation { removeCustomer(id: "initech") }"#, json!({}))
        .await;
    let d = s
        .ok_as(
            &token,
            r#"mutation { openCase(input: {subject: "Invoice export", channel: PORTAL, customer: {id: "initech", segment: B2B, keyAccount: true}}) { team customer { keyAccount } } }"#,
            json!({}),
        )
        .await;
    assert_ne!(d["openCase"]["team"], "key-accounts", "{d}");
    let r = s
        .gql(r#"mutation { removeCustomer(id: "initech") }"#, json!({}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
}

/// A store that, just before the first append to `target`, lets a lead make the case
/// private at L3: the race between a caller's check and its write, made exact.
struct Interloper {
    inner: Arc<dyn swarmdesk::store::EventStore>,
    target: std::sync::Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl swarmdesk::store::EventStore for Interloper {
    async fn append(
        &self,
        request: swarmdesk::store::AppendRequest,
    ) -> Result<swarmdesk::store::AppendOutcome, swarmdesk::store::StoreError> {
        let armed = {
            let mut t = self.target.lock().unwrap();
            match t.as_deref() == Some(request.stream.as_str()) {
                true => t.take(),
                false => None,
            }
        };
        if let Some(stream) = armed {
            use swarmdesk::domain::event::CaseRouted;
            let private = swarmdesk::domain::CaseEvent::Routed(CaseRouted {
                tier: Tier::new("L3"),
                team: None,
                priority: None,
                tags: Vec::new(),
                sensitive: true,
                rule_id: None,
                rule_set_version: None,
            });
            let mut made_private = crate::common::request(
                &stream,
                swarmdesk::store::ExpectedVersion::Any,
                vec![swarmdesk::store::NewEvent {
                    event_type: private.event_type().into(),
                    schema_version: private.schema_version(),
                    payload: private.encode(),
                }],
            );
            made_private.metadata.actor = Actor::new("dana", Role::Lead).unwrap();
            self.inner.append(made_private).await?;
        }
        self.inner.append(request).await
    }
    async fn import(
        &self,
        events: Vec<swarmdesk::store::RecordedEvent>,
    ) -> Result<u64, swarmdesk::store::StoreError> {
        self.inner.import(events).await
    }
    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<swarmdesk::store::RecordedEvent>, swarmdesk::store::StoreError> {
        self.inner.read_stream(stream, from_version, limit).await
    }
    async fn read_all(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<swarmdesk::store::RecordedEvent>, swarmdesk::store::StoreError> {
        self.inner.read_all(from, limit).await
    }
    async fn stream_version(&self, stream: &str) -> Result<u64, swarmdesk::store::StoreError> {
        self.inner.stream_version(stream).await
    }
    async fn idempotent_result(
        &self,
        key: &str,
    ) -> Result<Option<swarmdesk::store::IdempotentResult>, swarmdesk::store::StoreError> {
        self.inner.idempotent_result(key).await
    }
    fn head(&self) -> u64 {
        self.inner.head()
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<swarmdesk::store::RecordedEvent>> {
        self.inner.subscribe()
    }
    async fn save_snapshot(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<(), swarmdesk::store::StoreError> {
        self.inner.save_snapshot(name, bytes).await
    }
    async fn load_snapshot(
        &self,
        name: &str,
    ) -> Result<Option<Vec<u8>>, swarmdesk::store::StoreError> {
        self.inner.load_snapshot(name).await
    }
    async fn shutdown(&self) -> Result<(), swarmdesk::store::StoreError> {
        self.inner.shutdown().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_made_private_during_a_retry_is_not_written_by_who_lost_access() {
    use swarmdesk::api::Principal;
    use swarmdesk::app::{AppError, WriteOptions};
    use swarmdesk::domain::{Command, MessageKind};
    let dir = crate::common::temp_dir();
    let interloper = Arc::new(Interloper {
        inner: crate::common::open_store(dir.path()),
        target: std::sync::Mutex::new(None),
    });
    let (app, _clock) = crate::common::build_app(interloper.clone()).await;
    let admin = Actor::new("root", Role::Admin).unwrap();
    let opened = app
        .open_case(&admin, crate::common::open_case(1), WriteOptions::default())
        .await
        .unwrap();
    let id = opened.case.id.unwrap();
    let alice = Principal {
        actor: Actor::new("alice", Role::Agent).unwrap(),
        tiers: vec![Tier::new("L1")],
        token_id: None,
    };
    assert!(swarmdesk::policy::can_read(
        &alice,
        &opened.case,
        &app.tiers()
    ));

    *interloper.target.lock().unwrap() = Some(id.stream());
    let note = Command::PostMessage {
        kind: MessageKind::InternalNote,
        body: "MARKER-race".into(),
    };
    let r = app
        .execute_as(&alice, id, note, WriteOptions::default())
        .await;
    assert!(
        matches!(r, Err(AppError::NotFound(_)) | Err(AppError::Forbidden(_))),
        "{r:?}"
    );
    let log = app.history(id, 1, usize::MAX).await.unwrap();
    assert!(
        log.iter().all(|e| e.event_type != "MessagePosted"),
        "the note was written after the case became private"
    );
    assert_eq!(log.last().unwrap().event_type, "CaseRouted");
}
