//! A runnable client: opens a case, starts a swarm, has two agents join it, and prints the
//! swarm room's live updates received over a WebSocket subscription.
//!
//! By default it starts its own server in-process (temp data dir, seeded tokens):
//!
//! ```sh
//! cargo run --example swarm_room
//! ```
//!
//! Against a running server, give its URL and one token per user (lead, two agents):
//!
//! ```sh
//! cargo run --example swarm_room -- http://127.0.0.1:8080 LEAD_TOKEN AGENT1_TOKEN AGENT2_TOKEN
//! ```

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

async fn gql(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let v: Value = http
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    if let Some(errors) = v.get("errors") {
        anyhow::bail!("GraphQL errors: {errors}");
    }
    Ok(v["data"].clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() >= 4 {
        let tokens = [args[1].clone(), args[2].clone(), args[3].clone()];
        run(&args[0], &tokens).await?;
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let (server, tokens) = start_server(dir.path()).await?;
    let url = format!("http://{}", server.addr);
    println!("started a server at {url}");
    run(&url, &tokens).await?;
    server.stop().await?;
    Ok(())
}

/// Starts a server in-process on a free loopback port, with a lead and two agents
/// who work L2, where the rules send key accounts.
pub async fn start_server(
    dir: &std::path::Path,
) -> anyhow::Result<(swarmdesk::server::Running, [String; 3])> {
    use swarmdesk::domain::{Actor, Role, Tier};
    let mut options = swarmdesk::server::ServerOptions::new(dir.to_path_buf());
    let users = [
        ("dana", "dana-token", Role::Lead),
        ("farah", "farah-token", Role::Agent),
        ("gustav", "gustav-token", Role::Agent),
    ];
    for (user, token, role) in users {
        let grant = swarmdesk::auth::Grant {
            actor: Actor::new(user, role)?,
            tiers: vec![Tier::new("L2")],
            expires_at: None,
        };
        options.tokens.push((token.into(), grant));
    }
    let running =
        swarmdesk::server::start(options, std::net::TcpListener::bind("127.0.0.1:0")?).await?;
    Ok((running, users.map(|(_, t, _)| t.to_string())))
}

/// Opens a case as `tokens[0]` (a lead), starts a swarm, has the two agents join and
/// talk, resolves it, and prints (and returns) the room's live updates.
pub async fn run(url: &str, tokens: &[String; 3]) -> anyhow::Result<Vec<String>> {
    let [lead, agent1, agent2] = tokens;
    let http = reqwest::Client::new();

    let opened = gql(
        &http,
        url,
        lead,
        r#"mutation { openCase(input: { subject: "Data sync conflict with ERP", channel: EMAIL, priority: HIGH,
             customer: { id: "initech", name: "Initech", segment: B2B, keyAccount: true } }) { id tier } }"#,
        json!({}),
    )
    .await?;
    let case_id = opened["openCase"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("opened case {case_id} in {}", opened["openCase"]["tier"]);

    // Subscribe to the room before anything happens in it.
    let mut request = format!("{}/graphql", url.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {lead}") } });
    ws.send(Message::Text(init.to_string())).await?;
    let subscribe = json!({ "id": "room", "type": "subscribe", "payload": {
        "query": "subscription($id: ID!) { swarmRoom(caseId: $id) { change agent version message { author body } room { lead members { agent } } } }",
        "variables": { "id": case_id } } });
    ws.send(Message::Text(subscribe.to_string())).await?;
    // The room as it is now comes first; once it is here, nothing done next is missed.
    let first = next_update(&mut ws).await?;
    anyhow::ensure!(
        first["change"] == "SNAPSHOT",
        "expected the snapshot: {first}"
    );
    let mut lines = vec![line(&first)];
    println!("{}", lines[0]);

    let v = json!({ "id": case_id });
    gql(&http, url, lead, "mutation($id: ID!) { startSwarm(caseId: $id, reason: \"custom ERP mapping\") { version } }", v.clone())
        .await?;
    gql(
        &http,
        url,
        agent1,
        "mutation($id: ID!) { joinSwarm(caseId: $id) { version } }",
        v.clone(),
    )
    .await?;
    gql(
        &http,
        url,
        agent2,
        "mutation($id: ID!) { joinSwarm(caseId: $id) { version } }",
        v.clone(),
    )
    .await?;
    gql(
        &http,
        url,
        agent1,
        "mutation($id: ID!) { postMessage(caseId: $id, kind: SWARM_CHAT, body: \"The SAP field map duplicates order ids\") { version } }",
        v.clone(),
    )
    .await?;
    gql(&http, url, lead, "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"Fixed the field map\") { version } }", v)
        .await?;

    // Print the room's updates until the swarm ends.
    loop {
        let u = next_update(&mut ws).await?;
        lines.push(line(&u));
        println!("{}", lines[lines.len() - 1]);
        if u["change"] == "ENDED" {
            break;
        }
    }
    Ok(lines)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next `swarmRoom` update (10 s at most), skipping acks and keep-alives.
async fn next_update(ws: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?;
        let text = match msg {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => anyhow::bail!("the server closed: {frame:?}"),
            None => anyhow::bail!("the server closed the connection"),
            _ => continue,
        };
        let v: Value = serde_json::from_str(&text)?;
        match v["type"].as_str() {
            Some("next") => return Ok(v["payload"]["data"]["swarmRoom"].clone()),
            Some("error") => anyhow::bail!("subscription refused: {v}"),
            _ => continue,
        }
    }
}

/// One printed line: version, change, agent, chat and members.
fn line(u: &Value) -> String {
    let members: Vec<&str> = u["room"]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["agent"].as_str())
        .collect();
    format!(
        "v{:<3} {:<12} {:<8} {}  members: {:?}",
        u["version"],
        u["change"].as_str().unwrap_or(""),
        u["agent"].as_str().unwrap_or(""),
        u["message"]["body"].as_str().unwrap_or(""),
        members
    )
}
