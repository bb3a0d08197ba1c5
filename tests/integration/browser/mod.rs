//! The web console end to end in headless Chromium, driven over WebDriver
//! (fantoccini, Debian's `chromium` and `chromedriver`), against a real server on a
//! loopback port: sign-in, the live queue, a swarm room shared by two browsers, the
//! auditor's version slider, what a customer sees, refusals in words, and that no
//! page loads anything from another host. Screenshots of the main pages are
//! written to `target/screenshots/` on every run, and also to the directory named by
//! `SWARMDESK_SCREENSHOTS` (the README's images: `SWARMDESK_SCREENSHOTS=docs/console
//! cargo test --test integration browser`).
//!
//! Without a browser the tests say so on stderr (past the test harness's capture, so
//! it shows in a plain `cargo test`) and pass; with `CI=true` a missing browser fails
//! them.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::{TestServer, ADMIN};

/// Waits for something that must happen: generous for a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(20);

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
];

/// The browser and its driver: `SWARMDESK_CHROMIUM` / `SWARMDESK_CHROMEDRIVER`, or
/// Debian's paths.
fn browser_paths() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("SWARMDESK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let driver = std::env::var_os("SWARMDESK_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    for (what, path) in [("chromium", &chromium), ("chromedriver", &driver)] {
        if !path.exists() {
            return Err(format!(
                "{what} not found at {} (install: apt-get install chromium chromium-driver)",
                path.display()
            ));
        }
    }
    Ok((chromium, driver))
}

/// A running chromedriver, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port, or returns `None` after saying on stderr
    /// why the test is skipped (a failure instead when `CI=true`).
    async fn start(test: &str) -> Option<Driver> {
        let (chromium, driver) = match browser_paths() {
            Ok(p) => p,
            Err(why) => {
                if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1") {
                    panic!("browser test {test} cannot run in CI: {why}");
                }
                // Straight to the process's stderr: libtest would hide an
                // `eprintln!` of a passing test.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "SKIPPED browser test {test}: {why}");
                return None;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let d = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = http.get(format!("{}/status", d.url)).send().await;
            if let Ok(r) = ready {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return Some(d);
                    }
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new browser session with a fresh profile and a 1280x800 page.
    async fn browser(&self) -> Browser {
        let b = self.session(None).await;
        b.viewport(1280, 800).await;
        b
    }

    /// A session emulating a 390x844 phone (a desktop window cannot be that narrow).
    async fn phone(&self) -> Browser {
        let metrics =
            json!({ "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 1.0 } });
        self.session(Some(metrics)).await
    }

    async fn session(&self, mobile: Option<Value>) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        let mut options = json!({ "binary": self.chromium, "args": args });
        if let Some(m) = mobile {
            options["mobileEmulation"] = m;
        }
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("start a Chromium session");
        Browser {
            client,
            _profile: profile,
        }
    }
}

/// One browser session (its own profile, so its own session storage).
struct Browser {
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Sizes the window so that the page itself gets `width` x `height`.
    async fn viewport(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let chrome = self
            .js(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
                vec![],
            )
            .await;
        let extra = |i: usize| chrome[i].as_u64().unwrap_or(0) as u32;
        if extra(0) > 0 || extra(1) > 0 {
            self.client
                .set_window_size(width + extra(0), height + extra(1))
                .await
                .unwrap();
        }
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.expect(script)
    }

    /// Waits until `expr` (JavaScript, with `arguments`) is truthy; returns its value.
    async fn until(&self, what: &str, expr: &str, args: Vec<Value>, within: Duration) -> Value {
        let script = format!("return ({expr});");
        let deadline = Instant::now() + within;
        loop {
            let v = self.js(&script, args.clone()).await;
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            if Instant::now() > deadline {
                let body = self.js("return document.body.innerText", vec![]).await;
                panic!("timed out waiting for {what}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the page's text contains `text`.
    async fn until_text(&self, text: &str) {
        self.until(
            &format!("the text {text:?}"),
            "document.body.innerText.includes(arguments[0])",
            vec![json!(text)],
            WAIT,
        )
        .await;
    }

    async fn click(&self, css: &str) {
        self.until(
            css,
            "document.querySelector(arguments[0])",
            vec![json!(css)],
            WAIT,
        )
        .await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.until(
            css,
            "document.querySelector(arguments[0])",
            vec![json!(css)],
            WAIT,
        )
        .await;
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Opens the console and signs in with `token`.
    async fn sign_in(&self, server: &TestServer, token: &str) {
        self.client.goto(&format!("{}/", server.url)).await.unwrap();
        self.type_into("input[type=password]", token).await;
        self.click("form.signin button[type=submit]").await;
        self.until(
            "the signed-in header",
            "document.querySelector('#who .me')",
            vec![],
            WAIT,
        )
        .await;
    }

    async fn goto(&self, server: &TestServer, hash: &str) {
        self.client
            .goto(&format!("{}/{hash}", server.url))
            .await
            .unwrap();
    }

    /// Every resource the page loaded: all from the test server.
    async fn assert_same_origin(&self, server: &TestServer) {
        let names = self
            .js(
                "return performance.getEntriesByType('resource').map(e => e.name)\
                 .concat([location.href])",
                vec![],
            )
            .await;
        for name in names.as_array().unwrap() {
            let name = name.as_str().unwrap();
            assert!(
                name.starts_with(&server.url) || name.starts_with("data:"),
                "the page loaded {name} from another origin"
            );
        }
    }

    /// A screenshot of the page (scrolled to the top) in `target/screenshots/`.
    /// Every form control on the page has a label (or an `aria-label`), and every
    /// button a name.
    async fn assert_labelled(&self, page: &str) {
        let unlabelled = self
            .js(
                "return [...document.querySelectorAll('input, select, textarea')]\
                 .filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))\
                 .concat([...document.querySelectorAll('button')].filter(b => !b.textContent.trim() && !b.getAttribute('aria-label')))\
                 .map(e => e.outerHTML.slice(0, 100))",
                vec![],
            )
            .await;
        assert_eq!(unlabelled, json!([]), "unlabelled controls on {page}");
    }

    async fn screenshot(&self, name: &str) {
        self.save(name, false).await;
    }

    /// A screenshot of a main page: also written to `SWARMDESK_SCREENSHOTS` when set
    /// (the README's images in `docs/console/`).
    async fn publish(&self, name: &str) {
        self.save(name, true).await;
    }

    async fn save(&self, name: &str, publish: bool) {
        self.js("window.scrollTo(0, 0); return true", vec![]).await;
        let png = self.client.screenshot().await.expect("screenshot");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let mut dirs = vec![target.join("screenshots")];
        if let Some(extra) = std::env::var_os("SWARMDESK_SCREENSHOTS").filter(|_| publish) {
            dirs.push(root.join(extra));
        }
        for dir in dirs {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        }
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Opens a case as the admin, routed to L1 (the test server's default route).
async fn case_with(server: &TestServer, subject: &str) -> String {
    server.open_case(subject, "HIGH").await
}

fn unique(label: &str) -> String {
    format!("{label} {}", ulid::Ulid::new().to_string().to_lowercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_then_a_new_case_appears_in_the_queue_without_reload() {
    let Some(driver) =
        Driver::start("sign_in_then_a_new_case_appears_in_the_queue_without_reload").await
    else {
        return;
    };
    let s = TestServer::start().await;
    let first = case_with(&s, "Invoice export stops at 50%").await;
    let b = driver.browser().await;

    // A wrong token is refused in words, and the sign-in form stays.
    b.client.goto(&format!("{}/", s.url)).await.unwrap();
    b.type_into("input[type=password]", "not-a-token").await;
    b.click("form.signin button[type=submit]").await;
    b.until_text("(UNAUTHENTICATED)").await;
    let stored = b
        .js("return sessionStorage.getItem('swarmdesk.token')", vec![])
        .await;
    assert_eq!(stored, Value::Null, "a refused token is not kept");

    b.sign_in(&s, "alice-token").await;
    assert_eq!(
        b.js("return sessionStorage.getItem('swarmdesk.token')", vec![])
            .await,
        "alice-token"
    );
    b.goto(&s, "#/queue/L1").await;
    b.until_text("Invoice export stops at 50%").await;
    b.until_text("live").await;
    // An agent's queues are the tiers they work (alice: L1), not every tier.
    let tabs = b
        .js(
            "return Array.from(document.querySelectorAll('nav.tabs a')).map(a => a.textContent)",
            vec![],
        )
        .await;
    assert_eq!(tabs, json!(["L1"]));
    // A marker that a reload would wipe.
    b.js("window.__stillTheSamePage = true; return true", vec![])
        .await;
    // A keyboard user on the first case keeps their place when the queue changes.
    b.js(
        "document.querySelector(`tr[data-case-id='${arguments[0]}'] a`).focus(); return true",
        vec![json!(first)],
    )
    .await;

    let subject = unique("Arrived while watching");
    let id = case_with(&s, &subject).await;
    b.until(
        "the new case's row",
        "document.querySelector(`tr[data-case-id='${arguments[0]}']`)",
        vec![json!(id)],
        WAIT,
    )
    .await;
    b.until_text(&subject).await;
    assert_eq!(
        b.js("return window.__stillTheSamePage === true", vec![])
            .await,
        true,
        "the page was reloaded"
    );
    assert_eq!(
        b.js(
            "return (document.activeElement.closest('tr') || {dataset: {}}).dataset.caseId",
            vec![]
        )
        .await,
        json!(first),
        "the focus left the case it was on"
    );
    b.assert_same_origin(&s).await;
    b.screenshot("test-queue").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_started_by_one_agent_is_joined_and_chatted_in_by_another() {
    let Some(driver) =
        Driver::start("a_swarm_started_by_one_agent_is_joined_and_chatted_in_by_another").await
    else {
        return;
    };
    let s = TestServer::start().await;
    let subject = unique("Checkout down for key account");
    let id = case_with(&s, &subject).await;
    let (a, b) = tokio::join!(driver.browser(), driver.browser());
    let ((), ()) = tokio::join!(a.sign_in(&s, "alice-token"), b.sign_in(&s, "bob-token"));

    // B watches the queue; A starts a swarm from the case page.
    b.goto(&s, "#/queue/L1").await;
    b.until_text(&subject).await;
    a.goto(&s, &format!("#/case/{id}")).await;
    a.until_text("No active swarm.").await;
    a.type_into("form[aria-label='Start a swarm'] input", "all hands")
        .await;
    a.click("form[aria-label='Start a swarm'] button").await;
    a.until(
        "alice leading the room",
        "document.querySelector('.room .members') && document.querySelector('.room').innerText.includes('Lead: alice')",
        vec![],
        WAIT,
    )
    .await;

    // B sees the swarm in the queue without reloading, opens the case and joins.
    b.until(
        "the swarm badge on the case's row",
        "(document.querySelector(`tr[data-case-id='${arguments[0]}']`) || {innerText: ''}).innerText.includes('swarm')",
        vec![json!(id)],
        WAIT,
    )
    .await;
    b.click(&format!("tr[data-case-id='{id}'] a")).await;
    b.until_text("Lead: alice").await;
    b.click("form[aria-label='Join the swarm'] button").await;
    a.until(
        "bob in alice's member list",
        "[...document.querySelectorAll('.room .members li')].some(li => li.textContent.startsWith('bob'))",
        vec![],
        WAIT,
    )
    .await;

    // B posts in the room; A sees it within a second.
    let message = unique("found it: the payment webhook");
    b.until(
        "the chat box",
        "document.querySelector('.room input[name=body]')",
        vec![],
        WAIT,
    )
    .await;
    b.type_into(".room input[name=body]", &message).await;
    b.click(".room form button").await;
    let posted = Instant::now();
    a.until(
        "bob's message in alice's room",
        "[...document.querySelectorAll('.room .chat li')].some(li => li.textContent.includes(arguments[0]))",
        vec![json!(message)],
        Duration::from_secs(5),
    )
    .await;
    let took = posted.elapsed();
    assert!(
        took <= Duration::from_secs(1),
        "alice saw bob's message after {took:?}"
    );
    // And in the timeline, as swarm chat.
    a.until(
        "the chat in the timeline",
        "[...document.querySelectorAll('.timeline .ev.swarm')].some(li => li.textContent.includes(arguments[0]))",
        vec![json!(message)],
        WAIT,
    )
    .await;
    a.assert_same_origin(&s).await;
    a.screenshot("test-case").await;
    tokio::join!(a.close(), b.close());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_the_live_queue_and_the_page_says_so() {
    let Some(driver) =
        Driver::start("a_revoked_token_stops_the_live_queue_and_the_page_says_so").await
    else {
        return;
    };
    let s = TestServer::start().await;
    case_with(&s, "Export times out").await;
    let created = s
        .ok(
            "mutation { createToken(user: \"carol\", role: AGENT, tiers: [\"L1\"]) { token tokenId } }",
            json!({}),
        )
        .await;
    let token = created["createToken"]["token"].as_str().unwrap();
    let b = driver.browser().await;
    b.sign_in(&s, token).await;
    b.goto(&s, "#/queue/L1").await;
    b.until_text("Export times out").await;
    b.until_text("live").await;
    s.ok(
        "mutation($id: String!) { revokeToken(tokenId: $id) }",
        json!({ "id": created["createToken"]["tokenId"] }),
    )
    .await;
    b.until_text("live updates stopped").await;
    // And the next request is refused in words.
    b.goto(&s, "#/queue/L2").await;
    b.until_text("(UNAUTHENTICATED)").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_queue_reconnects_after_a_server_restart() {
    let Some(driver) = Driver::start("the_live_queue_reconnects_after_a_server_restart").await
    else {
        return;
    };
    let s = TestServer::start().await;
    case_with(&s, "Before the restart").await;
    let b = driver.browser().await;
    b.sign_in(&s, "alice-token").await;
    b.goto(&s, "#/queue/L1").await;
    b.until_text("Before the restart").await;
    b.js("window.__stillTheSamePage = true; return true", vec![])
        .await;

    // A graceful stop closes the page's WebSocket; the same data comes back on the
    // same address.
    let addr = s.running.as_ref().unwrap().addr;
    let url = s.url.clone();
    let dir = s.stop().await;
    b.until_text("reconnecting").await;
    let options = crate::api::options(dir.path());
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let running = swarmdesk::server::start(options, listener).await.unwrap();
    let s = TestServer {
        running: Some(running),
        url,
        dir,
        http: reqwest::Client::new(),
    };
    let subject = unique("After the restart");
    case_with(&s, &subject).await;
    b.until_text(&subject).await;
    assert_eq!(
        b.js("return window.__stillTheSamePage === true", vec![])
            .await,
        true,
        "the page was reloaded"
    );
    b.close().await;
    s.stop().await;
}

/// The fields the console's auditor page shows for a past version (`AT_FIELDS` in
/// console/js/audit.js).
const AT_FIELDS: &str =
    "version status subject priority tier team assignee tags swarm { lead } messages { id kind author body }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_slider_shows_the_case_as_it_was_at_version_3() {
    let Some(driver) =
        Driver::start("the_auditor_slider_shows_the_case_as_it_was_at_version_3").await
    else {
        return;
    };
    let s = TestServer::start().await;
    let id = case_with(&s, "Refund twice charged").await;
    let post = "mutation($c: ID!, $b: String!) { postMessage(caseId: $c, kind: PUBLIC_REPLY, body: $b) { version } }";
    s.ok_as(
        "alice-token",
        post,
        json!({ "c": id, "b": "Looking into it" }),
    )
    .await;
    s.ok_as(
        "alice-token",
        "mutation($c: ID!) { assignCase(caseId: $c) { version } }",
        json!({ "c": id }),
    )
    .await;
    s.ok_as("alice-token", post, json!({ "c": id, "b": "Refunded" }))
        .await;
    let expected = s
        .ok_as(
            "audrey-token",
            &format!("query($c: ID!) {{ caseAt(caseId: $c, version: 3) {{ {AT_FIELDS} }} }}"),
            json!({ "c": id }),
        )
        .await["caseAt"]
        .clone();
    assert_eq!(expected["version"], 3);

    let b = driver.browser().await;
    b.sign_in(&s, "audrey-token").await;
    b.goto(&s, &format!("#/audit/{id}")).await;
    let last = b
        .until(
            "the latest version",
            "(document.querySelector('pre.json') || {dataset: {}}).dataset.version",
            vec![],
            WAIT,
        )
        .await;
    assert!(last.as_str().unwrap().parse::<u64>().unwrap() > 3);
    // By keyboard: Home (version 1), then two steps right.
    let slider = b
        .client
        .find(Locator::Css("input[type=range]"))
        .await
        .unwrap();
    slider.click().await.unwrap();
    let keys: String = [
        fantoccini::key::Key::Home,
        fantoccini::key::Key::Right,
        fantoccini::key::Key::Right,
    ]
    .into_iter()
    .map(char::from)
    .collect();
    slider.send_keys(&keys).await.unwrap();
    b.until(
        "version 3",
        "(document.querySelector('pre.json') || {dataset: {}}).dataset.version === '3'",
        vec![],
        WAIT,
    )
    .await;
    let shown = b
        .js(
            "return document.querySelector('pre.json').textContent",
            vec![],
        )
        .await;
    let shown: Value = serde_json::from_str(shown.as_str().unwrap()).unwrap();
    assert_eq!(shown, expected);
    b.until_text("Version 3").await;
    b.screenshot("test-audit").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_sees_public_replies_and_never_an_internal_note() {
    let Some(driver) =
        Driver::start("a_customer_sees_public_replies_and_never_an_internal_note").await
    else {
        return;
    };
    let s = TestServer::start().await;
    let opened = s
        .ok_as(
            "sam-token",
            "mutation { openCase(input: {subject: \"My card was charged twice\", body: \"Order 1182\", channel: PORTAL, customer: {id: \"sam.okafor\"}}) { id } }",
            json!({}),
        )
        .await;
    let id = opened["openCase"]["id"].as_str().unwrap().to_string();
    let post = "mutation($c: ID!, $k: MessageKind!, $b: String!) { postMessage(caseId: $c, kind: $k, body: $b) { version } }";
    let secret = unique("internal: customer seems to be testing stolen cards");
    s.ok_as(
        "alice-token",
        post,
        json!({ "c": id, "k": "INTERNAL_NOTE", "b": secret }),
    )
    .await;
    s.ok_as(
        "alice-token",
        post,
        json!({ "c": id, "k": "PUBLIC_REPLY", "b": "We are refunding the second charge." }),
    )
    .await;

    let b = driver.browser().await;
    b.sign_in(&s, "sam-token").await;
    b.until_text("My card was charged twice").await;
    b.click(&format!("a[href='#/my/case/{id}']")).await;
    b.until_text("We are refunding the second charge.").await;
    // The customer replies; the reply shows up in the conversation.
    b.type_into("textarea[name=body]", "Thank you!").await;
    b.click("form[aria-label='Reply'] button").await;
    b.until_text("Thank you!").await;
    let html = b.client.source().await.unwrap();
    assert!(
        !html.contains(&secret),
        "the customer's page holds the internal note"
    );
    assert!(!html.contains("stolen cards"));
    b.screenshot("test-customer").await;

    // Opening a case from the console: it is the customer's, and staff see it.
    b.goto(&s, "#/my/new").await;
    let subject = unique("The app logs me out every hour");
    b.type_into("input[name=subject]", &subject).await;
    b.type_into("textarea[name=body]", "Since Tuesday.").await;
    b.click("form.card button[type=submit]").await;
    b.until_text("No replies yet").await;
    b.until_text(&subject).await;
    let listed = s
        .ok_as(
            "sam-token",
            "{ cases(first: 50) { nodes { subject customer { id } } } }",
            json!({}),
        )
        .await;
    let mine = listed["cases"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == subject.as_str())
        .unwrap_or_else(|| panic!("the new case is among sam's: {listed}"))
        .clone();
    assert_eq!(mine["customer"]["id"], "sam.okafor");
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_action_shows_the_api_error_code_in_words() {
    let Some(driver) = Driver::start("a_refused_action_shows_the_api_error_code_in_words").await
    else {
        return;
    };
    let s = TestServer::start().await;
    let id = case_with(&s, "Password reset loops").await;
    // "Escalate" to the tier the case is already in is refused; the API's answer to
    // alice for it (nothing is written) is what the page must show.
    let escalate = "mutation($c: ID!) { escalateCase(caseId: $c, toTier: \"L1\", reason: \"stuck\") { version } }";
    let (_, refused) = s
        .gql_raw(Some("alice-token"), escalate, json!({ "c": id }))
        .await;
    let code = refused["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("escalating to the same tier must be refused: {refused}"))
        .to_string();

    let b = driver.browser().await;
    b.sign_in(&s, "alice-token").await;
    b.goto(&s, &format!("#/case/{id}")).await;
    b.type_into("form[aria-label='Escalate'] input[name=toTier]", "L1")
        .await;
    b.type_into("form[aria-label='Escalate'] input[name=reason]", "stuck")
        .await;
    b.click("form[aria-label='Escalate'] button").await;
    b.until_text(&format!("({code})")).await;
    let banner = b
        .js(
            "return document.querySelector('.banner[role=alert]').innerText",
            vec![],
        )
        .await;
    let banner = banner.as_str().unwrap();
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(banner.contains(message), "{banner} lacks {message}");
    assert!(
        !banner.starts_with(&code),
        "the code comes with words: {banner}"
    );
    b.screenshot("test-refused").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_graphiql_load_only_from_this_server() {
    let Some(driver) = Driver::start("every_page_and_graphiql_load_only_from_this_server").await
    else {
        return;
    };
    let s = TestServer::start().await;
    case_with(&s, "Bank holiday opening hours").await;
    let b = driver.browser().await;
    b.sign_in(&s, ADMIN).await;
    b.goto(&s, "#/rules").await;
    b.until_text("Rule set version").await;
    b.click("section[aria-labelledby=pv-title] button[type=submit]")
        .await;
    b.until_text("default route").await;
    // The edited set (here: the one in force, unchanged) replayed, then applied.
    b.click("section[aria-labelledby=sim-title] button[type=submit]")
        .await;
    b.until_text("cases replayed").await;
    let before = s
        .ok("{ configuration { rules { version } } }", json!({}))
        .await["configuration"]["rules"]["version"]
        .as_u64()
        .unwrap();
    b.click("section[aria-labelledby=sim-title] button.secondary")
        .await;
    b.until_text(&format!("Rule set version {} is in force.", before + 1))
        .await;
    b.assert_same_origin(&s).await;
    b.screenshot("test-rules").await;

    b.goto(&s, "#/admin").await;
    b.type_into("input[name=user]", "zoe").await;
    b.click("form.act button[type=submit]").await;
    b.until_text("shown only once").await;
    b.until_text("zoe").await;
    b.assert_same_origin(&s).await;
    b.screenshot("test-admin").await;

    // GraphiQL from the binary: it renders, runs a query, loads nothing from elsewhere.
    b.client.goto(&format!("{}/graphiql", s.url)).await.unwrap();
    b.until(
        "GraphiQL's editor",
        "document.querySelector('.graphiql-container .graphiql-query-editor')",
        vec![],
        WAIT,
    )
    .await;
    b.assert_same_origin(&s).await;
    b.screenshot("test-graphiql").await;
    b.close().await;
    s.stop().await;
}

/// The README's screenshots: each main page on the demo data, as each role sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_pages_on_the_demo_data() {
    use swarmdesk::domain::Role;
    let Some(driver) = Driver::start("the_main_pages_on_the_demo_data").await else {
        return;
    };
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), |o| o.demo = true).await;
    let running = s.running.as_ref().unwrap();
    running.sla_first_pass().await;
    let token = |role: Role| {
        running
            .demo_tokens
            .iter()
            .find(|t| t.role == role)
            .unwrap_or_else(|| panic!("a demo token for {role:?}"))
            .token
            .clone()
    };
    let b = driver.browser().await;

    // The agent: their queue, at desk size and on a phone; a swarmed case.
    let agent = token(Role::Agent);
    b.sign_in(&s, &agent).await;
    b.goto(&s, "#/queue").await;
    b.until(
        "the queue",
        "document.querySelector('table.cases tbody tr')",
        vec![],
        WAIT,
    )
    .await;
    b.assert_labelled("queue").await;
    b.publish("queue").await;
    let phone = driver.phone().await;
    phone.sign_in(&s, &agent).await;
    phone.goto(&s, "#/queue").await;
    phone
        .until(
            "the queue",
            "document.querySelector('table.cases tbody tr')",
            vec![],
            WAIT,
        )
        .await;
    phone.publish("queue-phone").await;

    // The first case in the queue, swarmed, with some chat.
    let case_id = b
        .js(
            "return document.querySelector('table.cases tbody tr').dataset.caseId",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_string();
    let swarmed = s
        .ok_as(
            &agent,
            "query($c: ID!) { case(id: $c) { swarm { lead } } }",
            json!({ "c": case_id }),
        )
        .await;
    if swarmed["case"]["swarm"].is_null() {
        s.ok_as(
            &agent,
            "mutation($c: ID!) { startSwarm(caseId: $c, reason: \"customer blocked since Friday\") { version } }",
            json!({ "c": case_id }),
        )
        .await;
    }
    for line in [
        "Okta rotated its signing certificate on Friday; our SP metadata still has the old one.",
        "Pulling the new metadata now, will confirm with the customer.",
    ] {
        s.ok_as(
            &agent,
            "mutation($c: ID!, $b: String!) { postMessage(caseId: $c, kind: SWARM_CHAT, body: $b) { version } }",
            json!({ "c": case_id, "b": line }),
        )
        .await;
    }
    b.goto(&s, &format!("#/case/{case_id}")).await;
    b.until(
        "the timeline",
        "document.querySelector('.timeline .ev')",
        vec![],
        WAIT,
    )
    .await;
    b.until(
        "the swarm room",
        "document.querySelector('.room h2')",
        vec![],
        WAIT,
    )
    .await;
    b.until_text("Pulling the new metadata now").await;
    b.assert_same_origin(&s).await;
    b.assert_labelled("case").await;
    b.publish("case").await;
    phone.goto(&s, &format!("#/case/{case_id}")).await;
    phone.until_text("Pulling the new metadata now").await;
    phone.publish("case-phone").await;
    phone.close().await;

    // The lead: the rules, a preview and a simulation of the rules in force.
    b.click("#who button").await;
    b.sign_in(&s, &token(Role::Lead)).await;
    b.goto(&s, "#/rules").await;
    b.until_text("Rule set version").await;
    b.click("section[aria-labelledby=pv-title] button[type=submit]")
        .await;
    b.until(
        "the explanation",
        "document.querySelector('ol.explain li')",
        vec![],
        WAIT,
    )
    .await;
    b.click("section[aria-labelledby=sim-title] button[type=submit]")
        .await;
    b.until_text("cases replayed").await;
    b.assert_labelled("rules").await;
    b.publish("rules").await;

    // A case a rule routed: its timeline says which rule, and why it matched.
    let lead = token(Role::Lead);
    let queue = s
        .ok_as(
            &lead,
            "{ tierQueue(tier: \"L2\", first: 20) { entries { case { id } } } }",
            json!({}),
        )
        .await;
    let mut routed = None;
    for entry in queue["tierQueue"]["entries"].as_array().unwrap() {
        let id = entry["case"]["id"].as_str().unwrap();
        let history = s
            .ok_as(
                &lead,
                "query($c: ID!) { caseHistory(caseId: $c, first: 5) { type payload } }",
                json!({ "c": id }),
            )
            .await;
        let by_rule = history["caseHistory"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| {
                (e["type"] == "CaseRouted")
                    .then(|| e["payload"]["ruleId"].as_str().map(str::to_string))?
            });
        if let Some(rule) = by_rule {
            routed = Some((id.to_string(), rule));
            break;
        }
    }
    let (routed_case, rule) = routed.expect("the demo routes some L2 cases by rule");
    b.goto(&s, &format!("#/case/{routed_case}")).await;
    b.until_text(&format!("by rule {rule}")).await;
    b.until_text("it matched because").await;

    // The auditor: the case's history, the slider at its third version.
    b.click("#who button").await;
    b.sign_in(&s, &token(Role::Auditor)).await;
    b.until(
        "the auditor's case list",
        "document.querySelector('ul.list a')",
        vec![],
        WAIT,
    )
    .await;
    b.goto(&s, &format!("#/audit/{case_id}")).await;
    b.until(
        "the case at its latest version",
        "document.querySelector('pre.json')",
        vec![],
        WAIT,
    )
    .await;
    b.js(
        "const r = document.querySelector('input[type=range]'); r.value = 3; \
         r.dispatchEvent(new Event('input')); return true",
        vec![],
    )
    .await;
    b.until(
        "version 3",
        "(document.querySelector('pre.json') || {dataset: {}}).dataset.version === '3'",
        vec![],
        WAIT,
    )
    .await;
    b.assert_labelled("audit").await;
    b.publish("audit").await;

    // The admin: tokens, teams and agents.
    b.click("#who button").await;
    b.sign_in(&s, &token(Role::Admin)).await;
    b.goto(&s, "#/admin").await;
    b.until(
        "the tokens",
        "document.querySelector('table.cases tbody tr')",
        vec![],
        WAIT,
    )
    .await;
    b.until_text("Agents").await;
    b.assert_labelled("admin").await;
    b.publish("admin").await;

    // The customer: their cases, one of them.
    b.click("#who button").await;
    b.sign_in(&s, &token(Role::Customer)).await;
    b.until(
        "their cases",
        "document.querySelector('ul.list a')",
        vec![],
        WAIT,
    )
    .await;
    b.publish("customer-cases").await;
    b.click("ul.list a").await;
    b.until(
        "the conversation",
        "document.querySelector('form[aria-label=Reply]')",
        vec![],
        WAIT,
    )
    .await;
    b.assert_labelled("customer").await;
    b.publish("customer").await;

    // Signed out, so that GraphiQL's headers show a placeholder, not a token.
    b.click("#who button").await;
    b.client.goto(&format!("{}/graphiql", s.url)).await.unwrap();
    b.until(
        "GraphiQL's editor",
        "document.querySelector('.graphiql-container .graphiql-query-editor')",
        vec![],
        WAIT,
    )
    .await;
    b.publish("graphiql").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_of_the_demo_data_draws_its_charts() {
    let Some(driver) = Driver::start("the_html_report_of_the_demo_data_draws_its_charts").await
    else {
        return;
    };
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), |o| o.demo = true).await;
    let dir = s.stop().await;
    let out = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "report",
            "--format",
            "html",
        ])
        .args([
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.path().join("report.html");
    std::fs::write(&page, &out.stdout).unwrap();
    let b = driver.browser().await;
    b.client
        .goto(&format!("file://{}", page.display()))
        .await
        .unwrap();
    // Every chart rendered: bars with a size on screen, and the tier targets drawn.
    let drawn = b
        .until(
            "the charts",
            "Array.from(document.querySelectorAll('svg rect.bar')).filter(r => r.getBoundingClientRect().height > 0).length",
            vec![],
            WAIT,
        )
        .await;
    assert!(drawn.as_u64().unwrap() >= 6, "bars drawn: {drawn}");
    let widest = b
        .js(
            "return Math.max(...Array.from(document.querySelectorAll('svg rect.bar')).map(r => r.getBoundingClientRect().width))",
            vec![],
        )
        .await;
    assert!(
        widest.as_f64().unwrap() > 100.0,
        "the largest bar is {widest} px wide"
    );
    let targets = b
        .js(
            "return document.querySelectorAll('svg line.target').length",
            vec![],
        )
        .await;
    assert_eq!(
        targets, 3,
        "one target line per tier with a target (L1, L2, L3)"
    );
    b.publish("report").await;
    b.close().await;
}
