//! The store against real databases: every test runs on SQLite (in a
//! temporary directory) and on PostgreSQL (a throwaway cluster, or
//! ARBITER_TEST_DATABASE_URL), with the same assertions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::{AgentKey, Role};
use arbiter_audit::{ChainHead, MerkleTree};
use arbiter_store::stacks::StackDoc;
use arbiter_store::{changes, jobs, principals, stacks, Store, StoreConfig, StoreError};

struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn databases() -> Vec<(&'static str, Db)> {
    let dir = tempfile::tempdir().unwrap();
    let mut v = vec![(
        "sqlite",
        Db {
            url: StoreConfig::sqlite_in(dir.path()).url,
            _dir: Some(dir),
        },
    )];
    match arbiter_testkit::postgres_database().await {
        Ok(Some(url)) => v.push(("postgres", Db { url, _dir: None })),
        Ok(None) => {}
        Err(e) => panic!("PostgreSQL: {e}"),
    }
    v
}

fn spec(name: &str) -> StackDoc {
    StackDoc {
        name: name.into(),
        environment: arbiter_api::Environment::Dev,
        labels: vec!["team:web".into()],
        monthly_budget_usd: Some(100.0),
        auto_apply_threshold: None,
        auto_apply: false,
        policy_sets: vec![],
        approval_policy: None,
        ttl_seconds: None,
        escalate_introduced_at: None,
        runs: None,
    }
}

async fn open(url: &str, every: u64) -> Store {
    let mut c = StoreConfig::new(url);
    c.checkpoint_every_entries = every;
    Store::open(&c).await.unwrap()
}

/// Reads the whole log back and checks it the way an outside verifier would.
async fn check_chain(store: &Store) -> u64 {
    let entries = arbiter_store::audit::entries(store.pool(), 1, i64::MAX)
        .await
        .unwrap();
    let mut head = ChainHead::GENESIS;
    let mut tree = MerkleTree::new();
    for e in &entries {
        assert_eq!(
            e.entry.seq,
            head.seq + 1,
            "gap or reorder at {}",
            e.entry.seq
        );
        assert_eq!(
            e.entry.prev_hash, head.hash,
            "broken link at {}",
            e.entry.seq
        );
        assert_eq!(
            e.entry.compute_hash(),
            e.entry.hash,
            "entry {} does not hash to itself",
            e.entry.seq
        );
        let payload: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(
            arbiter_audit::payload_digest(&payload).unwrap(),
            e.entry.payload_digest
        );
        head = e.entry.head();
        tree.push(e.entry.leaf_hash());
    }
    let key = store.audit_key().public_key();
    for cp in arbiter_store::audit::checkpoints(store.pool(), 0, u64::MAX)
        .await
        .unwrap()
    {
        assert!(cp.verify(&key), "checkpoint {} signature", cp.seq);
        assert_eq!(
            tree.root_at(cp.seq).unwrap(),
            cp.tree_root,
            "checkpoint {} root",
            cp.seq
        );
        assert_eq!(entries[(cp.seq - 1) as usize].entry.hash, cp.entry_hash);
    }
    assert_eq!(
        arbiter_store::audit::head(store.pool()).await.unwrap(),
        (head.seq, head.hash)
    );
    head.seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_one_failure_does_not_undo_the_others() {
    for (name, db) in databases().await {
        let store = open(&db.url, 7).await;
        // Opening again (a restart) finds the schema in place.
        drop(open(&db.url, 7).await);
        let mut tasks = Vec::new();
        for i in 0..60 {
            let s = store.clone();
            // Every fifth name is taken twice: one of each pair must fail.
            let stack = format!("s{}", if i % 5 == 0 { i / 5 * 1000 } else { i });
            tasks.push(tokio::spawn(async move {
                let sp = spec(&stack);
                s.write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
                    .await
            }));
            if i % 5 == 0 {
                let s = store.clone();
                let stack = format!("s{}", i / 5 * 1000);
                tasks.push(tokio::spawn(async move {
                    let sp = spec(&stack);
                    s.write(move |cx| {
                        Box::pin(async move { stacks::create(cx, &sp, "user:t").await })
                    })
                    .await
                }));
            }
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Conflict(m)) => {
                    assert!(m.contains("exists already"), "{m}");
                    conflicts += 1
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!((ok, conflicts), (60, 12), "{name}");
        assert_eq!(
            stacks::list(store.pool()).await.unwrap().len(),
            60,
            "{name}"
        );
        // One audit entry per created stack, none for the failures.
        assert_eq!(check_chain(&store).await, 60, "{name}");
        store.checkpoint_now().await.unwrap();
        check_chain(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_never_fork_the_chain_or_reuse_an_id() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        return;
    };
    let a = open(&url, 10).await;
    let b = open(&url, 10).await;
    assert_eq!(
        a.audit_key().public_key().key_id(),
        b.audit_key().public_key().key_id(),
        "replicas share one checkpoint key"
    );
    let mut tasks = Vec::new();
    for i in 0..80 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let sp = spec(&format!("r{i}"));
            s.write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(check_chain(&a).await, 80);
    // Jobs claimed by two replicas at once go to exactly one of them.
    a.write(|cx| {
        Box::pin(async move {
            for i in 0..40 {
                jobs::enqueue(cx, &format!("j{i}"), "test", "{}", 0).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    let claim = |s: Store, who: &'static str| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..10 {
                let c = s
                    .write(move |cx| {
                        Box::pin(async move { jobs::claim(cx, "test", who, 3, 60_000).await })
                    })
                    .await
                    .unwrap();
                got.extend(c.into_iter().map(|j| j.id));
            }
            got
        })
    };
    let (x, y) = (claim(a.clone(), "a"), claim(b.clone(), "b"));
    let (mut x, y) = (x.await.unwrap(), y.await.unwrap());
    x.extend(y);
    let n = x.len();
    x.sort();
    x.dedup();
    assert_eq!((n, x.len()), (40, 40), "every job claimed once");
}

fn plan_cr(submitter: &str, idem: Option<&str>, status: &str) -> changes::NewChangeRequest {
    changes::NewChangeRequest {
        stack: "web".into(),
        submitter: submitter.into(),
        key_id: None,
        idempotency_key: idem.map(String::from),
        request_digest: "d1".into(),
        intent: Some("test".into()),
        source: None,
        plan_digest: "p".into(),
        plan: changes::seal_plan(
            &arbiter_store::sealed::Sealer::none(),
            "d",
            "{\"format_version\":\"1.2\"}",
        ),
        status: status.parse().unwrap(),
        decision: Some(arbiter_api::Decision::Review),
        confidence: Some(80.0),
        priority: 0.2,
        cost_delta_usd: None,
        resources_changed: 3,
        reason: None,
        auto_apply: false,
        expires_at: Some(arbiter_store::now_ms() - 1),
        verdict: Some("{\"decision\":\"review\"}".into()),
        policy_versions: "[]".into(),
        engine_version: "test".into(),
        duration_ms: 1.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_requests_reviews_transitions_nonces_and_expiry() {
    for (name, db) in databases().await {
        let store = open(&db.url, 1000).await;
        let sp = spec("web");
        store
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap();
        let id = store
            .write(|cx| {
                Box::pin(async move {
                    changes::insert(cx, &plan_cr("agent:bot", Some("k1"), "pending_review")).await
                })
            })
            .await
            .unwrap();
        assert_eq!(id, 1, "{name}");
        let again = store
            .write(|cx| {
                Box::pin(async move {
                    changes::insert(cx, &plan_cr("agent:bot", Some("k1"), "pending_review")).await
                })
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{name}: {again:?}"
        );
        assert_eq!(
            changes::by_idempotency_key(store.pool(), "agent:bot", "k1")
                .await
                .unwrap(),
            Some((1, "d1".into()))
        );
        let id2 = store
            .write(|cx| {
                Box::pin(async move {
                    changes::insert(cx, &plan_cr("agent:bot", None, "approved")).await
                })
            })
            .await
            .unwrap();
        assert_eq!(id2, 2, "ids stay gap-free after a failed insert ({name})");
        // The governor's counters saw the two stored requests, not the failed one.
        let v = store
            .write(|cx| {
                Box::pin(async move { changes::velocity(cx, "agent:bot", cx.now_ms()).await })
            })
            .await
            .unwrap();
        assert_eq!(
            v,
            (2, 6),
            "{name}: velocity (submissions in a minute, resources in an hour)"
        );
        let later = store
            .write(|cx| {
                Box::pin(async move {
                    changes::velocity(cx, "agent:bot", cx.now_ms() + 2 * 3_600_000).await
                })
            })
            .await
            .unwrap();
        assert_eq!(later, (0, 0), "{name}: two hours later nothing counts");
        assert_eq!(
            changes::plan(store.pool(), store.sealer(), 1)
                .await
                .unwrap()
                .as_deref(),
            Some("{\"format_version\":\"1.2\"}")
        );

        store
            .write(|cx| {
                Box::pin(async move {
                    changes::add_review(
                        cx,
                        1,
                        "user:alice",
                        arbiter_api::ReviewOutcome::Approve,
                        Some("ok"),
                    )
                    .await
                })
            })
            .await
            .unwrap();
        let dup = store
            .write(|cx| {
                Box::pin(async move {
                    changes::add_review(
                        cx,
                        1,
                        "user:alice",
                        arbiter_api::ReviewOutcome::Approve,
                        None,
                    )
                    .await
                })
            })
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{name}");
        let cr = changes::get(store.pool(), 1, true).await.unwrap().unwrap();
        assert_eq!(cr.reviews.len(), 1);
        assert_eq!(cr.verdict.unwrap()["decision"], "review");

        // Expiry moves it once; a second transition from the old state fails.
        let expired = store
            .write(|cx| Box::pin(async move { changes::expire_due(cx, 10).await }))
            .await
            .unwrap();
        assert_eq!(expired, vec![1], "{name}");
        let stale = store
            .write(|cx| {
                Box::pin(async move {
                    changes::transition(
                        cx,
                        1,
                        arbiter_api::ChangeStatus::PendingReview,
                        arbiter_api::ChangeStatus::Approved,
                        None,
                        "user:x",
                    )
                    .await
                })
            })
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{name}");
        assert_eq!(
            changes::get(store.pool(), 1, false)
                .await
                .unwrap()
                .unwrap()
                .status,
            arbiter_api::ChangeStatus::Expired
        );

        let n1 = store
            .write(|cx| {
                Box::pin(async move { principals::use_nonce(cx, "k", "n0123456789abcdef").await })
            })
            .await
            .unwrap();
        let n2 = store
            .write(|cx| {
                Box::pin(async move { principals::use_nonce(cx, "k", "n0123456789abcdef").await })
            })
            .await
            .unwrap();
        assert!(n1 && !n2, "{name}: a nonce is accepted once");
        assert!(
            principals::nonce_seen(store.pool(), "k", "n0123456789abcdef")
                .await
                .unwrap()
        );
        check_chain(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_tokens_and_agents() {
    for (name, db) in databases().await {
        let store = open(&db.url, 1000).await;
        assert!(!principals::any_user(store.pool()).await.unwrap());
        let t = store
            .write(|cx| {
                Box::pin(async move {
                    principals::create_user(cx, "alice", Role::Reviewer, None, "system").await?;
                    principals::create_token(cx, "alice", Some("ci".into()), None, "system").await
                })
            })
            .await
            .unwrap();
        let secret = t.token.clone().unwrap();
        assert!(secret.starts_with("arb_"));
        let (u, tid) =
            principals::authenticate_token(store.pool(), &secret, arbiter_store::now_ms())
                .await
                .unwrap()
                .unwrap();
        assert_eq!(
            (u.name.as_str(), u.role, tid.as_str()),
            ("alice", Role::Reviewer, t.id.as_str()),
            "{name}"
        );
        assert!(principals::authenticate_token(store.pool(), "arb_wrong", 0)
            .await
            .unwrap()
            .is_none());
        let id = t.id.clone();
        store
            .write(move |cx| {
                Box::pin(async move { principals::revoke_token(cx, &id, "user:alice").await })
            })
            .await
            .unwrap();
        assert!(
            principals::authenticate_token(store.pool(), &secret, arbiter_store::now_ms())
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );

        let key = AgentKey::from_seed([3; 32]).public();
        let k2 = key.clone();
        let a = store
            .write(move |cx| {
                Box::pin(async move {
                    principals::create_agent(
                        cx,
                        "bot",
                        None,
                        &k2,
                        &principals::AgentScopeDoc::default(),
                        &principals::AgentLimitsDoc::default(),
                        "user:admin",
                    )
                    .await
                })
            })
            .await
            .unwrap();
        assert_eq!(a.keys.len(), 1);
        let rec = principals::find_key(store.pool(), &key.key_id())
            .await
            .unwrap()
            .unwrap();
        assert!(!rec.revoked && rec.agent == "bot");
        store
            .write(|cx| {
                Box::pin(async move { principals::revoke_agent(cx, "bot", "user:admin").await })
            })
            .await
            .unwrap();
        assert!(
            principals::find_key(store.pool(), &key.key_id())
                .await
                .unwrap()
                .unwrap()
                .revoked,
            "{name}"
        );
        check_chain(&store).await;
    }
}

/// Fail closed: when the audit entry cannot be written, the change it
/// records is not made either (both are in one transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_audit_entry_fails_does_not_happen() {
    for (name, db) in databases().await {
        let store = open(&db.url, 1000).await;
        let before = check_chain(&store).await;
        let r = store
            .write(|cx| {
                Box::pin(async move {
                    let s = stacks::create(cx, &spec("doomed"), "user:t").await?;
                    // A subject the log refuses (a control character).
                    cx.audit(
                        "user:t",
                        arbiter_api::AuditAction::StackCreated,
                        "stack:\u{7}doomed",
                        &serde_json::json!({}),
                    )
                    .await?;
                    Ok(s)
                })
            })
            .await;
        assert!(matches!(r, Err(StoreError::Audit(_))), "{name}: {r:?}");
        assert!(
            stacks::get(store.pool(), "doomed").await.unwrap().is_none(),
            "{name}: the stack exists without its audit entry"
        );
        assert_eq!(
            check_chain(&store).await,
            before,
            "{name}: no entry of the failed job remains"
        );
        // The writer goes on.
        let sp = spec("fine");
        store
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap();
        assert_eq!(check_chain(&store).await, before + 1, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_panics_fails_alone_and_the_writer_goes_on() {
    for (name, db) in databases().await {
        let store = open(&db.url, 1000).await;
        // A job that writes (a stack and its audit entry) and then panics,
        // queued among ordinary jobs so that they share its batch.
        let mut tasks = Vec::new();
        for i in 0..6 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let sp = spec(&format!("before{i}"));
                s.write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
                    .await
                    .map(|_| ())
            }));
        }
        let s = store.clone();
        let boom = tokio::spawn(async move {
            let sp = spec("doomed");
            s.write(move |cx| {
                Box::pin(async move {
                    stacks::create(cx, &sp, "user:t").await?;
                    #[allow(clippy::panic)]
                    if sp.name == "doomed" {
                        panic!("a bug in a write job");
                    }
                    Ok(())
                })
            })
            .await
        });
        let r = boom.await.expect("the caller's task itself does not panic");
        assert!(
            matches!(r, Err(StoreError::JobPanicked)),
            "{name}: {:?}",
            r.err().map(|e| e.to_string())
        );
        for t in tasks {
            t.await.unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // The writer goes on: later writes succeed.
        let sp = spec("after");
        store
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap_or_else(|e| panic!("{name}: the writer died: {e}"));
        // The panicking job's writes were undone, the others' kept; the
        // audit chain has exactly their entries.
        let names: Vec<String> = stacks::list(store.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.doc.name)
            .collect();
        assert!(!names.contains(&"doomed".to_string()), "{name}: {names:?}");
        assert_eq!(names.len(), 7, "{name}: {names:?}");
        assert_eq!(check_chain(&store).await, 7, "{name}");
    }
}
