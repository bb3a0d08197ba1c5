//! A small GraphQL client of a running server, for the command line: `export` and
//! `token list` with `--url` and `--token` work through the API while the server
//! holds the data directory, so an auditor need not stop production to export.

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::cli::ExportedEvent;
use crate::domain::Actor;

/// Events asked for per request: well within the API's page and complexity limits.
const PAGE: u64 = 200;

const EVENT_FIELDS: &str = "position id stream version type schemaVersion occurredAt actor { id role } correlationId causationId payload";

/// A server's GraphQL endpoint and the bearer token to call it with.
pub struct Remote {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Remote {
    pub fn new(url: &str, token: &str) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/');
        let endpoint = if base.ends_with("/graphql") {
            base.to_string()
        } else {
            format!("{base}/graphql")
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Remote {
            http,
            endpoint,
            token: token.to_string(),
        })
    }

    /// Runs one operation; GraphQL errors become an error naming their code.
    pub async fn call(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.endpoint))?;
        let status = response.status();
        let body: Value = response.json().await.with_context(|| {
            format!("{} answered {status} without a GraphQL body", self.endpoint)
        })?;
        if let Some(e) = body["errors"].as_array().and_then(|e| e.first()) {
            let code = e["extensions"]["code"].as_str().unwrap_or("ERROR");
            let message = e["message"].as_str().unwrap_or("");
            bail!("{code}: {message}");
        }
        Ok(body["data"].clone())
    }

    /// Calls `each` with every event the token may read, in log order (one case's,
    /// with `case`), as the offline export writes them.
    pub async fn export(
        &self,
        case: Option<&str>,
        mut each: impl FnMut(ExportedEvent) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut written = 0;
        if let Some(id) = case {
            let q = format!("query($id: ID!, $from: Int!, $n: Int!) {{ caseHistory(caseId: $id, fromVersion: $from, first: $n) {{ {EVENT_FIELDS} }} }}");
            let mut from = 1u64;
            loop {
                let d = self
                    .call(&q, json!({ "id": id, "from": from, "n": PAGE }))
                    .await?;
                let page = d["caseHistory"].as_array().cloned().unwrap_or_default();
                if from == 1 && page.is_empty() {
                    bail!("no case {id} that this token may read");
                }
                let Some(last) = page.last().and_then(|e| e["version"].as_u64()) else {
                    break;
                };
                for e in page {
                    each(exported(e)?)?;
                    written += 1;
                }
                from = last + 1;
            }
            return Ok(written);
        }
        // `events` reads the next `limit` positions and leaves out what the token may
        // not see, so a page can be short or empty before the head: page by position
        // up to the head the server reports.
        let head = self.head().await?;
        let q = format!("query($from: Position!, $n: Int!) {{ events(fromPosition: $from, limit: $n) {{ {EVENT_FIELDS} }} }}");
        let mut from = 1u64;
        while from <= head {
            let d = self.call(&q, json!({ "from": from, "n": PAGE })).await?;
            for e in d["events"].as_array().cloned().unwrap_or_default() {
                if e["position"].as_u64().is_some_and(|p| p > head) {
                    continue;
                }
                each(exported(e)?)?;
                written += 1;
            }
            from += PAGE;
        }
        Ok(written)
    }

    /// The log's head, from `/healthz`.
    async fn head(&self) -> anyhow::Result<u64> {
        let url = format!("{}/healthz", self.endpoint.trim_end_matches("/graphql"));
        let v: Value = self.http.get(&url).send().await?.json().await?;
        v["logHead"]
            .as_u64()
            .with_context(|| format!("{url} did not report the log head: {v}"))
    }

    /// The active tokens (admins only), as `(id, role, user, tiers, expires)`.
    pub async fn tokens(
        &self,
    ) -> anyhow::Result<Vec<(String, String, String, Vec<String>, Option<String>)>> {
        let d = self
            .call(
                "{ tokens { tokenId user role tiers expiresAt } }",
                json!({}),
            )
            .await?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Ok(d["tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    text(&t["tokenId"]),
                    text(&t["role"]).to_ascii_lowercase(),
                    text(&t["user"]),
                    t["tiers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect(),
                    t["expiresAt"].as_str().map(str::to_string),
                )
            })
            .collect())
    }
}

/// An event as the API shows it, in the export's form.
fn exported(e: Value) -> anyhow::Result<ExportedEvent> {
    let text = |k: &str| -> anyhow::Result<String> {
        e[k].as_str()
            .map(str::to_string)
            .with_context(|| format!("event without `{k}`: {e}"))
    };
    let number = |k: &str| -> anyhow::Result<u64> {
        e[k].as_u64()
            .with_context(|| format!("event without `{k}`: {e}"))
    };
    let actor = Actor::new(
        e["actor"]["id"].as_str().unwrap_or_default(),
        e["actor"]["role"].as_str().unwrap_or_default().parse()?,
    )?;
    Ok(ExportedEvent {
        position: number("position")?,
        id: text("id")?,
        stream: text("stream")?,
        version: number("version")?,
        event_type: text("type")?,
        schema_version: u16::try_from(number("schemaVersion")?)?,
        occurred_at: text("occurredAt")?,
        actor,
        correlation_id: text("correlationId")?,
        causation_id: e["causationId"].as_str().map(str::to_string),
        payload: e["payload"].clone(),
        // The API does not serve the hash chain's links: see README "Auditing".
        payload_bytes: None,
        previous_hash: None,
        hash: None,
        // The API answers with personal fields opened already (in `payload`).
        opened: None,
    })
}
