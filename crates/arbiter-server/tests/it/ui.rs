//! The web UI over real HTTP against real databases (SQLite, and
//! PostgreSQL when installed), as a browser without JavaScript talks to it:
//! sign-in with a password or a token, sessions and sign-out, every page for
//! every kind of caller, reviews through forms with their CSRF and origin
//! checks and the API's role rules, escaping of hostile plan text, sensitive
//! values, and the audit page's verification catching a tampered database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{backends, spawn, submission, App};
use serde_json::json;
use std::collections::BTreeMap;

const PASSWORD: &str = "correct horse battery staple";

/// A browser: keeps cookies, sends `Origin` on POSTs, follows no redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    origin: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The `value` of the first `<input name=NAME>`.
    fn input(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

impl Browser {
    fn new(app: &App) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            origin: app.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::RequestBuilder) -> Page {
        let r = if self.cookies.is_empty() {
            r
        } else {
            r.header("cookie", self.cookie_header())
        };
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let body = resp.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self.http.get(format!("{}{path}", self.base));
        self.finish(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.origin.clone())
            .body(serde_urlencoded::to_string(form).unwrap());
        self.finish(r).await
    }

    async fn sign_in(&mut self, form: &[(&str, &str)]) -> Page {
        let p = self.get("/login").await;
        assert_eq!(p.status, 200, "{}", p.body);
        let csrf = p.input("csrf").unwrap();
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        self.post("/login", &f).await
    }

    async fn password(&mut self, user: &str, password: &str) -> Page {
        self.sign_in(&[
            ("method", "password"),
            ("username", user),
            ("password", password),
        ])
        .await
    }

    async fn token(&mut self, token: &str) -> Page {
        self.sign_in(&[("method", "token"), ("token", token)]).await
    }

    /// The session's CSRF token, read from a page's sign-out form.
    async fn csrf(&mut self) -> String {
        let p = self.get("/").await;
        assert_eq!(p.status, 200, "{}", p.body);
        p.input("csrf")
            .expect("a signed-in page has the sign-out form")
    }
}

async fn person(app: &App, name: &str, role: &str) {
    let r = app
        .req(
            "POST",
            "/api/v1/users",
            Some(&app.admin),
            Some(&json!({"name": name, "role": role, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn actions(app: &App, subject: &str) -> Vec<(String, String)> {
    let r = app
        .req(
            "GET",
            &format!("/api/v1/audit/subjects/{subject}"),
            Some(&app.admin),
            None,
        )
        .await;
    let mut v: Vec<(String, String)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["entry"]["actor"].as_str().unwrap().to_string(),
                i["entry"]["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.reverse();
    v
}

/// A pending change request submitted by an agent; returns its id.
async fn pending(app: &App, key: &arbiter_api::AgentKey) -> i64 {
    let r = app
        .signed(
            key,
            "POST",
            "/api/v1/change-requests",
            &submission("web", "disable-public-access-block"),
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "pending_review", "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn setup(backend: &'static str) -> (App, arbiter_api::AgentKey) {
    let app = spawn(backend, |_| {}).await;
    app.stack("web", "dev", json!({"labels": ["team:web"]}))
        .await;
    let key = app
        .agent(
            "bot",
            7,
            json!({"stacks": ["*"]}),
            json!({"submissions_per_minute": 10000}),
        )
        .await;
    (app, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_with_a_password_or_a_token_and_out_again() {
    for backend in backends().await {
        let (app, _) = setup(backend).await;
        person(&app, "rita", "reviewer").await;
        let mut b = Browser::new(&app);

        // Anonymous: sent to sign in, and back where they were going.
        let p = b.get("/changes?status=approved").await;
        assert_eq!(p.status, 303, "{backend}");
        assert_eq!(p.location(), "/login?next=%2Fchanges%3Fstatus%3Dapproved");

        let p = b.password("rita", "wrong password, long enough").await;
        assert_eq!(p.status, 401, "{backend}: {}", p.body);
        assert!(p.body.contains("Wrong user name or password"));
        assert!(!b.cookies.contains_key("arbiter_session"));
        let p = b.password("nobody", PASSWORD).await;
        assert_eq!(p.status, 401);

        let p = b
            .sign_in(&[
                ("method", "password"),
                ("username", "rita"),
                ("password", PASSWORD),
                ("next", "/changes?status=approved"),
            ])
            .await;
        assert_eq!(p.status, 303, "{backend}: {}", p.body);
        assert_eq!(p.location(), "/changes?status=approved");
        let set: Vec<&str> = p
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let session = set
            .iter()
            .find(|c| c.starts_with("arbiter_session="))
            .unwrap();
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
        assert!(!session.contains("Secure"), "plain http: {session}");
        let secret = b.cookies["arbiter_session"].clone();
        assert!(secret.starts_with("arbs_") && secret.len() == 69);

        let p = b.get("/").await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("Review queue"));
        assert!(p
            .body
            .contains("<span>rita</span><span class=\"role\">reviewer</span>"));
        // Only the hash is stored.
        assert!(!app.running.state.store.pool().is_closed());
        assert_eq!(
            arbiter_store::sessions::count(app.running.state.store.pool())
                .await
                .unwrap(),
            1
        );

        // The session cookie opens pages, never the API (which takes no
        // CSRF token).
        let r = b
            .http
            .get(format!("{}/api/v1/whoami", b.base))
            .header("cookie", b.cookie_header())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        let csrf = b.csrf().await;
        let p = b.post("/logout", &[("csrf", "forged")]).await;
        assert_eq!(p.status, 403);
        let p = b.post("/logout", &[("csrf", &csrf)]).await;
        assert_eq!(p.status, 303);
        assert_eq!(p.location(), "/login");
        assert!(!b.cookies.contains_key("arbiter_session"));
        // The old cookie is dead even if someone kept it.
        b.cookies.insert("arbiter_session".into(), secret);
        let p = b.get("/").await;
        assert_eq!(p.status, 303);

        let log = actions(&app, "user:rita").await;
        assert!(
            log.contains(&("user:admin".into(), "user.created".into())),
            "{log:?}"
        );
        let mut sessions = Vec::new();
        for e in app
            .req("GET", "/api/v1/audit/export", Some(&app.admin), None)
            .await
            .body
            .as_str()
            .unwrap()
            .lines()
        {
            let v: serde_json::Value = serde_json::from_str(e).unwrap();
            if v["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("session."))
            {
                sessions.push((
                    v["actor"].as_str().unwrap().to_string(),
                    v["action"].as_str().unwrap().to_string(),
                ));
            }
        }
        assert_eq!(
            sessions,
            vec![
                ("user:rita".to_string(), "session.created".to_string()),
                ("user:rita".to_string(), "session.deleted".to_string())
            ],
            "{backend}"
        );

        // With a token: the session lasts only as long as the token.
        let t = app
            .req(
                "POST",
                "/api/v1/tokens",
                Some(&app.admin),
                Some(&json!({"user": "rita", "label": "browser"})),
            )
            .await;
        let token = t.body["token"].as_str().unwrap().to_string();
        let id = t.body["id"].as_str().unwrap().to_string();
        let mut b = Browser::new(&app);
        let p = b.token("arb_0000").await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("unknown, revoked or expired"));
        let p = b.token(&token).await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(b.get("/stacks").await.status, 200);
        let r = app
            .req(
                "DELETE",
                &format!("/api/v1/tokens/{id}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.status, 204, "{:?}", r.body);
        assert_eq!(
            b.get("/stacks").await.status,
            303,
            "{backend}: revoked token, dead session"
        );

        // The sign-in form refuses a post without its cookie (login CSRF)
        // and one from another site.
        let mut c = Browser::new(&app);
        let p = c
            .post(
                "/login",
                &[("csrf", "x"), ("method", "token"), ("token", &app.admin)],
            )
            .await;
        assert_eq!(p.status, 403);
        let mut d = Browser::new(&app);
        d.origin = "http://evil.example".into();
        let p = d.token(&app.admin).await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("evil.example"), "{}", p.body);
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_behind_an_https_proxy() {
    let (app, _) = setup("sqlite").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let c = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        c.starts_with("__Host-arbiter_login=") && c.ends_with("; Secure"),
        "{c}"
    );
    let body = r.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &body[at..at + 64];
    let form = serde_urlencoded::to_string([
        ("csrf", csrf),
        ("method", "token"),
        ("token", app.admin.as_str()),
    ])
    .unwrap();
    let r = http
        .post(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "arbiter.example")
        .header("origin", "https://arbiter.example")
        .header("cookie", format!("__Host-arbiter_login={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-arbiter_session=arbs_")
                && c.contains("HttpOnly")
                && c.contains("SameSite=Strict")
                && c.ends_with("; Secure")),
        "{cookies:?}"
    );
    app.running.shutdown().await.unwrap();
}

/// Every page against every kind of caller: people with a session or a
/// token read every page, anonymous visitors are sent to sign in, agents are
/// refused (the UI is for people).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_opens_for_people_and_for_nobody_else() {
    let (app, key) = setup("sqlite").await;
    let id = pending(&app, &key).await.to_string();
    person(&app, "vic", "viewer").await;
    push_states(&app).await;
    let hook = webhook(&app).await;
    let mut sessions = Vec::new();
    for (who, pw) in [("vic", PASSWORD)] {
        let mut b = Browser::new(&app);
        assert_eq!(b.password(who, pw).await.status, 303);
        sessions.push(b);
    }
    let mut admin = Browser::new(&app);
    assert_eq!(admin.token(&app.admin).await.status, 303);
    sessions.push(admin);
    // A run (of a change request carrying a git source), for its page.
    let body = json!({"stack": "web", "plan": common::plan("tags-only-update"),
        "config": {"kind": "git", "url": "https://example.com/r.git", "commit": "a".repeat(40)}});
    let r = app
        .req(
            "POST",
            "/api/v1/change-requests",
            Some(&app.admin),
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let runs = app
        .req(
            "GET",
            &format!("/api/v1/runs?change_request={}", r.body["id"]),
            Some(&app.admin),
            None,
        )
        .await;
    let run = runs.body["items"][0]["id"].to_string();
    assert_ne!(run, "null", "{:?} {:?}", r.body, runs.body);
    let mut failures = Vec::new();
    for (method, template) in arbiter_server::ui::PAGES {
        if *method != "GET" {
            continue;
        }
        let id = if template.starts_with("/webhooks") {
            &hook
        } else if template.starts_with("/runs") {
            &run
        } else {
            &id
        };
        let name = if template.starts_with("/agents") {
            "bot"
        } else {
            "web"
        };
        let path = template.replace("{id}", id).replace("{name}", name);
        let public = path == "/login" || path.starts_with("/ui/");
        let mut anon = Browser::new(&app);
        let p = anon.get(&path).await;
        let want = if public { 200 } else { 303 };
        if p.status != want {
            failures.push(format!("{path} anonymous: {} (expected {want})", p.status));
        }
        for b in sessions.iter_mut() {
            let p = b.get(&path).await;
            let want = if path == "/login" { 303 } else { 200 };
            if p.status != want {
                failures.push(format!("{path} with a session: {} {}", p.status, p.body));
            }
            if want == 200 {
                let csp = p
                    .headers
                    .get("content-security-policy")
                    .map(|v| v.to_str().unwrap().to_string());
                if !csp
                    .as_deref()
                    .is_some_and(|c| c.contains("default-src 'none'"))
                {
                    failures.push(format!("{path}: CSP {csp:?}"));
                }
                if p.body.contains("<script") || p.body.contains(" style=\"") {
                    failures.push(format!("{path}: a script or inline style"));
                }
            }
        }
        let r = app.raw("GET", &path, Some(&app.admin), None, &[]).await;
        if !public && r.status != 200 {
            failures.push(format!("{path} with a bearer token: {}", r.status));
        }
        let r = app.signed(&key, "GET", &path, b"", &[]).await;
        if !public && r.status != 403 {
            failures.push(format!("{path} as an agent: {} (expected 403)", r.status));
        }
    }
    let p = sessions[0].get("/changes/999").await;
    if p.status != 404 {
        failures.push(format!("/changes/999: {}", p.status));
    }
    let p = sessions[0].get("/changes/abc").await;
    if p.status != 404 {
        failures.push(format!("/changes/abc: {}", p.status));
    }
    let css = app.raw("GET", "/ui/app.css", None, None, &[]).await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    app.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_through_forms_follow_the_apis_rules() {
    for backend in backends().await {
        let (app, key) = setup(backend).await;
        person(&app, "vic", "viewer").await;
        person(&app, "rita", "reviewer").await;
        person(&app, "rob", "reviewer").await;
        let id = pending(&app, &key).await;
        let path = format!("/changes/{id}");
        let review = format!("/changes/{id}/review");

        // A viewer sees the change request, no form, and a forged POST
        // (with the viewer's own valid CSRF token) is refused by the role.
        let mut vic = Browser::new(&app);
        assert_eq!(vic.password("vic", PASSWORD).await.status, 303);
        let p = vic.get(&path).await;
        assert_eq!(p.status, 200);
        assert!(
            !p.body.contains("value=\"approve\""),
            "{backend}: a viewer got the form"
        );
        assert!(p.body.contains("reviewing needs the reviewer role"));
        let csrf = vic.csrf().await;
        let p = vic
            .post(&review, &[("csrf", &csrf), ("decision", "approve")])
            .await;
        assert_eq!(p.status, 403, "{backend}: {}", p.body);
        assert!(
            p.body.contains("this needs the reviewer role"),
            "{}",
            p.body
        );

        // A reviewer: without the token, with a wrong one, from another
        // site: refused, nothing recorded.
        let mut rita = Browser::new(&app);
        assert_eq!(rita.password("rita", PASSWORD).await.status, 303);
        let p = rita.get(&path).await;
        let form_csrf = p.input("csrf").unwrap();
        assert!(p.body.contains("value=\"approve\""), "{}", p.body);
        assert!(p.body.contains(&format!("action=\"/changes/{id}/review\"")));
        let p = rita.post(&review, &[("decision", "approve")]).await;
        assert_eq!(p.status, 400, "no csrf field");
        let p = rita
            .post(&review, &[("csrf", &csrf), ("decision", "approve")])
            .await;
        assert_eq!(p.status, 403, "someone else's token");
        assert!(p.body.contains("does not match your session"));
        rita.origin = "http://evil.example".into();
        let p = rita
            .post(&review, &[("csrf", &form_csrf), ("decision", "approve")])
            .await;
        assert_eq!(p.status, 403);
        rita.origin = app.base.clone();
        // A bearer token is not a session: forms refuse it.
        let r = app
            .raw(
                "POST",
                &review,
                Some(&app.admin),
                Some(format!("csrf={form_csrf}&decision=approve").into_bytes()),
                &[("content-type", "application/x-www-form-urlencoded".into())],
            )
            .await;
        assert_eq!(r.status, 403);
        let r = app
            .req(
                "GET",
                &format!("/api/v1/change-requests/{id}"),
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(r.body["status"], "pending_review");
        assert!(
            r.body["reviews"].as_array().unwrap().is_empty(),
            "{backend}: {:?}",
            r.body
        );

        // The real thing.
        let p = rita
            .post(
                &review,
                &[
                    ("csrf", &form_csrf),
                    ("decision", "approve"),
                    ("comment", "checked the bucket policy <b>by hand</b>"),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{backend}: {}", p.body);
        assert_eq!(p.location(), format!("/changes/{id}?done=approve"));
        let p = rita.get(p.location()).await;
        assert!(p.body.contains("Your approval is recorded."));
        assert!(p
            .body
            .contains("checked the bucket policy &lt;b&gt;by hand&lt;/b&gt;"));
        assert!(
            p.body.contains("status-good\">approved</span>"),
            "{}",
            p.body
        );
        assert!(p.body.contains("it takes no more reviews"));
        assert!(p.body.contains("change_request.review.approve"));
        let log = actions(&app, &format!("change_request:{id}")).await;
        assert!(
            log.contains(&("user:rita".into(), "change_request.review.approve".into())),
            "{log:?}"
        );
        assert!(log.contains(&("system".into(), "change_request.approved".into())));
        // Once decided, another review is a conflict, shown on the page.
        let mut rob = Browser::new(&app);
        assert_eq!(rob.password("rob", PASSWORD).await.status, 303);
        let c = rob.csrf().await;
        let p = rob
            .post(&review, &[("csrf", &c), ("decision", "reject")])
            .await;
        assert_eq!(p.status, 409, "{}", p.body);
        assert!(p.body.contains("Not recorded:"));

        // A person who submitted a change cannot approve it, form or not.
        let rita_token = app
            .req(
                "POST",
                "/api/v1/tokens",
                Some(&app.admin),
                Some(&json!({"user": "rita"})),
            )
            .await
            .body["token"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .raw(
                "POST",
                "/api/v1/change-requests",
                Some(&rita_token),
                Some(submission("web", "disable-public-access-block")),
                &[],
            )
            .await;
        assert_eq!(r.body["status"], "pending_review", "{:?}", r.body);
        let own = r.body["id"].as_i64().unwrap();
        let p = rita.get(&format!("/changes/{own}")).await;
        assert!(!p.body.contains("value=\"approve\""));
        assert!(p.body.contains("You submitted this change request"));
        let p = rita
            .post(
                &format!("/changes/{own}/review"),
                &[("csrf", &form_csrf), ("decision", "approve")],
            )
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        assert!(p.body.contains("cannot approve it"));
        // …but may reject it.
        let p = rita
            .post(
                &format!("/changes/{own}/review"),
                &[("csrf", &form_csrf), ("decision", "reject")],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plan_text_is_escaped_and_sensitive_values_never_shown() {
    let (app, key) = setup("sqlite").await;
    let evil = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let secret = "hunter2-correct-horse-battery-staple";
    let plan = json!({"format_version": "1.2", "resource_changes": [
        {"address": "aws_db_instance.main", "type": "aws_db_instance", "name": "main", "mode": "managed",
         "change": {"actions": ["update"],
            "before": {"password": "old-password-value-123", "instance_class": "db.t3.micro"},
            "after": {"password": secret, "instance_class": "db.t3.large"},
            "before_sensitive": {"password": true}, "after_sensitive": {"password": true}, "after_unknown": {}}},
        {"address": "aws_security_group.ssh", "type": "aws_security_group", "name": "ssh", "mode": "managed",
         "change": {"actions": ["create"], "before": null,
            "after": {"name": evil, "description": evil, "tags": {"Name": evil},
                "ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 22, "to_port": 22, "protocol": "tcp", "description": evil,
                    "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false}]},
            "after_unknown": {}, "before_sensitive": false, "after_sensitive": {}}}
    ]});
    let body = serde_json::to_vec(&json!({"stack": "web", "plan": plan, "intent": evil,
        "source": {"repository": evil, "branch": evil, "commit": evil, "diff": format!("+ {evil}\n- x")}}))
    .unwrap();
    let r = app
        .signed(&key, "POST", "/api/v1/change-requests", &body, &[])
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let mut b = Browser::new(&app);
    assert_eq!(b.token(&app.admin).await.status, 303);
    for path in [
        format!("/changes/{id}"),
        "/".to_string(),
        "/changes".to_string(),
        "/audit".to_string(),
        format!("/audit?subject=change_request:{id}"),
        "/agents/bot".to_string(),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, 200, "{path}");
        assert!(!p.body.contains("<script"), "{path}: {}", p.body);
        assert!(!p.body.contains("<img"), "{path}");
        assert!(!p.body.contains(secret), "{path} shows the sensitive value");
        assert!(!p.body.contains("old-password-value-123"), "{path}");
    }
    let p = b.get(&format!("/changes/{id}")).await;
    assert!(
        p.body
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("<span class=\"marker\">(sensitive)</span>"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("ARB-AWS-"),
        "the SSH rule fired: {}",
        p.body
    );
    assert!(p.body.contains("db.t3.large"));
    app.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_page_verifies_the_chain_and_finds_tampering() {
    for backend in backends().await {
        let (app, key) = setup(backend).await;
        let id = pending(&app, &key).await;
        let mut b = Browser::new(&app);
        assert_eq!(b.token(&app.admin).await.status, 303);
        let p = b.get("/audit").await;
        assert!(p.body.contains("The chain holds"), "{backend}: {}", p.body);
        assert!(p.body.contains("change_request.submitted"));
        assert!(p.body.contains(&format!("href=\"/changes/{id}\"")));
        // Sign the head, so entries show as signed.
        app.running.state.store.checkpoint_now().await.unwrap();
        let p = b.get("/audit?verify=now").await;
        assert!(p.body.contains("✓ signed"), "{}", p.body);
        assert!(p.body.contains("(this server's)"));
        let (head, _) = arbiter_store::audit::head(app.running.state.store.pool())
            .await
            .unwrap();

        // Tamper with the database behind the server's back.
        sqlx::any::install_default_drivers();
        let url = match &app.running.state.config.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}",
                app.running
                    .state
                    .config
                    .data_dir
                    .join("arbiter.db")
                    .display()
            ),
        };
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let entry: String = sqlx::query_scalar("SELECT entry FROM audit_entries WHERE seq = 3")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let forged = entry.replace("\"actor\":\"user:admin\"", "\"actor\":\"user:mallory\"");
        assert_ne!(forged, entry, "{entry}");
        sqlx::query("UPDATE audit_entries SET entry = $1 WHERE seq = 3")
            .bind(&forged)
            .execute(&mut conn)
            .await
            .unwrap();
        let p = b.get("/audit?verify=now").await;
        assert!(
            p.body.contains("The log does not verify"),
            "{backend}: {}",
            p.body
        );
        assert!(
            p.body.contains(
                "modified entry</strong> at entry <a href=\"/audit?before=4#seq-3\">#3</a>"
            ),
            "{}",
            p.body
        );
        assert!(p.body.contains("✗ problem"));
        sqlx::query("UPDATE audit_entries SET entry = $1 WHERE seq = 3")
            .bind(&entry)
            .execute(&mut conn)
            .await
            .unwrap();
        assert!(b
            .get("/audit?verify=now")
            .await
            .body
            .contains("The chain holds"));

        // A payload changed without its entry.
        sqlx::query("UPDATE audit_entries SET payload = '{\"forged\":true}' WHERE seq = $1")
            .bind(head as i64)
            .execute(&mut conn)
            .await
            .unwrap();
        let p = b.get("/audit?verify=now").await;
        assert!(p.body.contains("altered payload"), "{backend}: {}", p.body);
        assert!(p.body.contains("✗ payload altered"));
        conn.close().await.unwrap();
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_slowed_down() {
    let (app, _) = setup("sqlite").await;
    let mut b = Browser::new(&app);
    for _ in 0..10 {
        assert_eq!(b.token("arb_wrong").await.status, 401);
    }
    let p = b.token(&app.admin).await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(p.headers.contains_key("retry-after"));
    app.running.shutdown().await.unwrap();
}

fn state_fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/terraform/generated/state-history")
            .join(name),
    )
    .unwrap()
}

/// Pushes the two states of the state-history fixture to stack `web`.
async fn push_states(app: &App) {
    for (v, commit) in [
        ("state-v1.tfstate", "1111111"),
        ("state-v2.tfstate", "2222222"),
    ] {
        let body = format!("{{\"state\":{},\"commit\":\"{commit}\"}}", state_fixture(v));
        let r = app
            .raw(
                "POST",
                "/api/v1/stacks/web/states",
                Some(&app.admin),
                Some(body.into_bytes()),
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
}

/// A webhook to a receiver that is not there; returns its id.
async fn webhook(app: &App) -> String {
    let r = app
        .req(
            "POST",
            "/api/v1/webhooks",
            Some(&app.admin),
            Some(&json!({"url": "http://127.0.0.1:9/hooks/secret-path", "events": ["change_request.*"], "description": "chat <b>ops</b>"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_history_pages_diff_mask_and_roll_back() {
    for backend in backends().await {
        let (app, _) = setup(backend).await;
        person(&app, "vic", "viewer").await;
        person(&app, "rita", "reviewer").await;
        push_states(&app).await;
        let mut rita = Browser::new(&app);
        assert_eq!(rita.password("rita", PASSWORD).await.status, 303);
        let p = rita.get("/stacks/web").await;
        assert!(
            p.body.contains("href=\"/stacks/web/states\">version 2"),
            "{}",
            p.body
        );
        let p = rita.get("/stacks/web/states").await;
        assert_eq!(p.status, 200, "{backend}: {}", p.body);
        assert!(p.body.contains("id=\"v2\"") && p.body.contains("id=\"v1\""));
        assert!(p.body.contains("latest"));
        assert!(p.body.contains("Roll back to v1") && !p.body.contains("Roll back to v2"));
        assert!(
            !p.body.contains("CANARY"),
            "{backend}: a sensitive output is shown"
        );
        let p = rita.get("/stacks/web/states/diff").await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("<h1>v1 → v2</h1>"), "{}", p.body);
        assert!(
            p.body.contains("<span class=\"marker\">(sensitive)</span>"),
            "{}",
            p.body
        );
        assert!(
            !p.body.contains("CANARY"),
            "{backend}: the diff shows a secret"
        );
        let p = rita.get("/stacks/web/states/diff?from=v2&to=1").await;
        assert!(p.body.contains("<h1>v2 → v1</h1>"));
        assert_eq!(
            rita.get("/stacks/web/states/diff?from=abc").await.status,
            400
        );
        assert_eq!(rita.get("/stacks/web/states/diff?to=9").await.status, 404);
        assert_eq!(rita.get("/stacks/nope/states").await.status, 404);

        // A viewer gets no rollback form, and a forged one is refused.
        let mut vic = Browser::new(&app);
        assert_eq!(vic.password("vic", PASSWORD).await.status, 303);
        let p = vic.get("/stacks/web/states").await;
        assert!(!p.body.contains("Roll back to"));
        let c = vic.csrf().await;
        let p = vic
            .post("/stacks/web/states/rollback", &[("csrf", &c), ("to", "1")])
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        let p = rita
            .post(
                "/stacks/web/states/rollback",
                &[("csrf", "forged"), ("to", "1")],
            )
            .await;
        assert_eq!(p.status, 403);

        // The reviewer rolls back: a change request, judged like any other.
        let c = rita.csrf().await;
        let p = rita
            .post("/stacks/web/states/rollback", &[("csrf", &c), ("to", "1")])
            .await;
        assert_eq!(p.status, 303, "{backend}: {}", p.body);
        assert!(p.location().ends_with("?done=rollback"), "{}", p.location());
        let p = rita.get(p.location()).await;
        assert!(p.body.contains("Rollback requested"));
        assert!(p.body.contains("id=\"rollback\""), "{}", p.body);
        assert!(p.body.contains("v2 to v1"));
        assert!(!p.body.contains("CANARY"));
        let p = rita
            .post("/stacks/web/states/rollback", &[("csrf", &c), ("to", "2")])
            .await;
        assert_eq!(p.status, 409, "the latest version: {}", p.body);
        assert!(p.body.contains("No rollback was opened"));
        app.running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_pages_show_deliveries_and_hide_what_the_api_hides() {
    for backend in backends().await {
        let (app, _) = setup(backend).await;
        person(&app, "vic", "viewer").await;
        let id = webhook(&app).await;
        let mut admin = Browser::new(&app);
        assert_eq!(admin.token(&app.admin).await.status, 303);
        let p = admin.get("/webhooks").await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(
            p.body.contains("http://127.0.0.1:9/hooks/secret-path"),
            "{}",
            p.body
        );
        assert!(p.body.contains("chat &lt;b&gt;ops&lt;/b&gt;"));
        assert!(!p.body.contains("whsec_"), "{backend}: a secret is shown");
        let p = admin.get(&format!("/webhooks/{id}")).await;
        assert!(p.body.contains("Send a test event"));
        let c = admin.csrf().await;
        let p = admin
            .post(&format!("/webhooks/{id}/test"), &[("csrf", &c)])
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let p = admin.get(p.location()).await;
        assert!(p.body.contains("A test event"), "{}", p.body);
        assert!(p.body.contains("webhook.ping"), "{backend}: {}", p.body);

        // A viewer sees the receiver's origin only, and cannot send tests.
        let mut vic = Browser::new(&app);
        assert_eq!(vic.password("vic", PASSWORD).await.status, 303);
        let p = vic.get("/webhooks").await;
        assert!(p.body.contains("http://127.0.0.1:9"));
        assert!(!p.body.contains("secret-path"), "{backend}: {}", p.body);
        let p = vic.get(&format!("/webhooks/{id}")).await;
        assert!(!p.body.contains("Send a test event"));
        assert!(!p.body.contains("secret-path"));
        let c = vic.csrf().await;
        let p = vic
            .post(&format!("/webhooks/{id}/test"), &[("csrf", &c)])
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        assert_eq!(vic.get("/webhooks/77").await.status, 404);
        app.running.shutdown().await.unwrap();
    }
}

/// The fields of the waiver form.
fn waiver_form(csrf: &str, expires: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.to_string()),
        ("rule", "ARB-AWS-EC2-001".to_string()),
        ("address", "aws_instance.*".to_string()),
        ("reason", "legacy <AMI> until Q1".to_string()),
        ("owner", "team-web".to_string()),
        ("expires", expires.to_string()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, x)| (*k, x.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waivers_are_made_and_revoked_through_forms_on_the_stack_page() {
    for backend in backends().await {
        let (app, _) = setup(backend).await;
        person(&app, "vic", "viewer").await;
        person(&app, "rita", "reviewer").await;
        let expires = (chrono::Utc::now() + chrono::Duration::days(10))
            .format("%Y-%m-%d")
            .to_string();

        // A viewer sees the floor and no form; a viewer's post is refused.
        let mut vic = Browser::new(&app);
        assert_eq!(vic.password("vic", PASSWORD).await.status, 303);
        let p = vic.get("/stacks/web").await;
        assert!(p.body.contains("id=\"waivers\""), "{}", p.body);
        assert!(
            p.body.contains("id=\"floor\">off"),
            "dev: floor off: {}",
            p.body
        );
        assert!(!p.body.contains("class=\"waiver-form\""));
        let c = vic.csrf().await;
        let f = waiver_form(&c, &expires);
        assert_eq!(
            vic.post("/stacks/web/waivers", &pairs(&f)).await.status,
            403
        );

        let mut rita = Browser::new(&app);
        assert_eq!(rita.password("rita", PASSWORD).await.status, 303);
        let p = rita.get("/stacks/web").await;
        assert!(p.body.contains("class=\"waiver-form\""), "{}", p.body);
        let f = waiver_form("forged", &expires);
        assert_eq!(
            rita.post("/stacks/web/waivers", &pairs(&f)).await.status,
            403
        );
        // Refused by the API's checks: shown with its message and status.
        let c = rita.csrf().await;
        let f = waiver_form(&c, "2020-01-01");
        let p = rita.post("/stacks/web/waivers", &pairs(&f)).await;
        assert_eq!(p.status, 422, "{}", p.body);
        assert!(p.body.contains("No waiver was created") && p.body.contains("in the past"));

        let f = waiver_form(&c, &expires);
        let p = rita.post("/stacks/web/waivers", &pairs(&f)).await;
        assert_eq!(p.status, 303, "{backend}: {}", p.body);
        assert!(p.location().contains("?done=waived"), "{}", p.location());
        let p = rita.get("/stacks/web?done=waived").await;
        assert!(p.body.contains("The waiver is recorded"));
        assert!(p.body.contains("legacy &lt;AMI&gt; until Q1"), "{}", p.body);
        assert!(
            p.body.contains("action=\"/stacks/web/waivers/1/revoke\""),
            "{}",
            p.body
        );
        let p = vic.get("/stacks/web").await;
        assert!(p.body.contains("<code>ARB-AWS-EC2-001</code>") && !p.body.contains("/revoke\""));

        let c = vic.csrf().await;
        let p = vic
            .post("/stacks/web/waivers/1/revoke", &[("csrf", &c)])
            .await;
        assert_eq!(p.status, 403);
        let c = rita.csrf().await;
        let p = rita
            .post("/stacks/web/waivers/1/revoke", &[("csrf", &c)])
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let p = rita.get("/stacks/web").await;
        assert!(
            !p.body.contains("<code>ARB-AWS-EC2-001</code>"),
            "{}",
            p.body
        );
        let p = rita
            .post("/stacks/web/waivers/9/revoke", &[("csrf", &c)])
            .await;
        assert_eq!(p.status, 404);
        assert!(p.body.contains("The waiver was not revoked"));
        let acts = actions(&app, "stack:web").await;
        assert!(
            acts.contains(&("user:rita".into(), "waiver.created".into())),
            "{acts:?}"
        );
        assert!(
            acts.contains(&("user:rita".into(), "waiver.revoked".into())),
            "{acts:?}"
        );
        app.running.shutdown().await.unwrap();
    }
}

/// A run's page: phases and the confirm button for reviewers (not viewers);
/// confirming through the form goes through the API's handler; the change
/// request's page lists its runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_confirmed_from_its_page() {
    let (app, _) = setup("sqlite").await;
    person(&app, "vic", "viewer").await;
    person(&app, "rita", "reviewer").await;
    let body = json!({"stack": "web", "plan": common::plan("tags-only-update"),
        "config": {"kind": "git", "url": "https://example.com/r.git", "commit": "b".repeat(40)}});
    let r = app
        .req(
            "POST",
            "/api/v1/change-requests",
            Some(&app.admin),
            Some(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let cr = r.body["id"].as_i64().unwrap();
    let runs = app
        .req(
            "GET",
            &format!("/api/v1/runs?change_request={cr}"),
            Some(&app.admin),
            None,
        )
        .await;
    let run = runs.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(runs.body["items"][0]["confirmation"]["state"], "awaiting");

    let mut viewer = Browser::new(&app);
    assert_eq!(viewer.password("vic", PASSWORD).await.status, 303);
    let p = viewer.get(&format!("/runs/{run}")).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("awaits a person") && p.body.contains("queued"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("Confirm: apply it"),
        "viewers get no confirm button"
    );
    let p = viewer.get(&format!("/changes/{cr}")).await;
    assert!(
        p.body.contains(&format!("href=\"/runs/{run}\"")),
        "the change request lists its run"
    );

    let mut rita = Browser::new(&app);
    assert_eq!(rita.password("rita", PASSWORD).await.status, 303);
    let p = rita.get(&format!("/runs/{run}")).await;
    assert!(p.body.contains("Confirm: apply it"), "{}", p.body);
    let csrf = p.input("csrf").unwrap();
    let p = rita
        .post(&format!("/runs/{run}/confirm"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = rita.get(p.location()).await;
    assert!(
        p.body.contains("Confirmed") && p.body.contains("title=\"user:rita\""),
        "{}",
        p.body
    );
    let r = app
        .req(
            "GET",
            &format!("/api/v1/runs/{run}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.body["confirmation"]["by"], "user:rita");
    // A form without the session's CSRF token changes nothing.
    let p = rita
        .post(&format!("/runs/{run}/cancel"), &[("csrf", "forged")])
        .await;
    assert_ne!(p.status, 303);
    let r = app
        .req(
            "GET",
            &format!("/api/v1/runs/{run}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(r.body["phase"], "queued");
    app.running.shutdown().await.unwrap();
}
