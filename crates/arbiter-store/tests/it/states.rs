//! The state history against real databases (SQLite in a temporary
//! directory, and a throwaway PostgreSQL): versions per stack, content
//! addressing, the lineage and serial checks, integrity of stored blobs,
//! rollback records and their audit entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_store::stacks::StackDoc;
use arbiter_store::states::RollbackResourceRow as RollbackResource;
use arbiter_store::states::{self, NewStateVersion, PushOutcome, StateFacts};
use arbiter_store::{changes, stacks, Store, StoreConfig, StoreError};

async fn databases() -> Vec<(&'static str, String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut v = vec![("sqlite", StoreConfig::sqlite_in(dir.path()).url, Some(dir))];
    match arbiter_testkit::postgres_database().await {
        Ok(Some(url)) => v.push(("postgres", url, None)),
        Ok(None) => {}
        Err(e) => panic!("PostgreSQL: {e}"),
    }
    v
}

fn spec(name: &str) -> StackDoc {
    StackDoc {
        name: name.into(),
        environment: arbiter_api::Environment::Dev,
        labels: vec![],
        monthly_budget_usd: None,
        auto_apply_threshold: None,
        auto_apply: false,
        policy_sets: vec![],
        approval_policy: None,
        ttl_seconds: None,
        escalate_introduced_at: None,
        runs: None,
    }
}

fn state(lineage: &str, serial: i64, body: &str) -> (Vec<u8>, StateFacts) {
    let text = format!(
        r#"{{"version":4,"terraform_version":"1.11.4","serial":{serial},"lineage":"{lineage}","outputs":{{}},"resources":[{body}]}}"#
    );
    (
        text.into_bytes(),
        StateFacts {
            form: "raw_v4".into(),
            serial: Some(serial),
            lineage: Some(lineage.into()),
            terraform_version: Some("1.11.4".into()),
            resources: 0,
        },
    )
}

async fn push(
    store: &Store,
    stack: &str,
    (bytes, facts): (Vec<u8>, StateFacts),
    force: bool,
) -> Result<PushOutcome, StoreError> {
    let new = NewStateVersion::new(
        store.sealer(),
        stack,
        &bytes,
        facts,
        Some("abc123".into()),
        "user:alice",
        arbiter_api::StateOrigin::Push,
        force,
    );
    store
        .write(move |cx| Box::pin(async move { states::push(cx, &new).await }))
        .await
}

fn created(o: PushOutcome) -> states::StateVersionRow {
    match o {
        PushOutcome::Created { version, .. } => version,
        other => panic!("expected a new version, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_numbered_per_stack_content_addressed_and_checked() {
    for (name, url, _dir) in databases().await {
        let store = Store::open(&StoreConfig::new(&url)).await.unwrap();
        for s in ["web", "api"] {
            let sp = spec(s);
            store
                .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
                .await
                .unwrap();
        }
        let a = state(
            "lin-1",
            3,
            r#"{"mode":"managed","type":"terraform_data","name":"a","instances":[]}"#,
        );
        let b = state("lin-1", 7, "");
        let v1 = created(push(&store, "web", a.clone(), false).await.unwrap());
        assert_eq!(
            (v1.version, v1.serial, v1.forced),
            (1, Some(3), false),
            "{name}"
        );
        assert_eq!(v1.digest, states::digest(&a.0));
        assert_eq!(v1.size_bytes, a.0.len() as i64);
        assert!(v1.stored_bytes > 0);
        // The same content again is not a new version.
        match push(&store, "web", a.clone(), false).await.unwrap() {
            PushOutcome::Unchanged(v) => assert_eq!(v.version, 1),
            other => panic!("{name}: {other:?}"),
        }
        let v2 = created(push(&store, "web", b.clone(), false).await.unwrap());
        assert_eq!(v2.version, 2);
        // An older serial of the same lineage is refused, then forced.
        match push(&store, "web", a.clone(), false).await.unwrap() {
            PushOutcome::SerialNotNewer { latest, serial } => {
                assert_eq!((latest.version, serial), (2, 3), "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
        let PushOutcome::Created {
            version: v3,
            new_blob,
        } = push(&store, "web", a.clone(), true).await.unwrap()
        else {
            panic!("{name}: forced push refused")
        };
        assert!(!new_blob, "{name}: the content of version 1 is stored once");
        assert_eq!((v3.version, v3.forced, &v3.digest), (3, true, &v1.digest));
        assert_eq!(states::blob_count(store.pool()).await.unwrap(), 2, "{name}");
        // Another workspace's state: refused unless forced.
        let other = state("lin-2", 100, "");
        match push(&store, "web", other.clone(), false).await.unwrap() {
            PushOutcome::LineageChanged { latest, lineage } => {
                assert_eq!((latest.version, lineage.as_str()), (3, "lin-2"))
            }
            o => panic!("{name}: {o:?}"),
        }
        let v4 = created(push(&store, "web", other, true).await.unwrap());
        assert!(v4.forced);
        // Numbering is per stack; content is shared across stacks.
        let api1 = created(push(&store, "api", b.clone(), false).await.unwrap());
        assert_eq!(api1.version, 1);
        assert_eq!(states::blob_count(store.pool()).await.unwrap(), 3, "{name}");
        // An unknown stack.
        let e = push(&store, "nope", b.clone(), false).await.unwrap_err();
        assert!(matches!(e, StoreError::NotFound { .. }), "{name}: {e}");

        let list = states::list(store.pool(), "web", None, 100).await.unwrap();
        let numbers: Vec<i64> = list.iter().map(|v| v.version).collect();
        assert_eq!(numbers, [4, 3, 2, 1], "{name}");
        let page = states::list(store.pool(), "web", Some(3), 1).await.unwrap();
        assert_eq!(page.iter().map(|v| v.version).collect::<Vec<_>>(), [2]);
        assert_eq!(
            states::get(store.pool(), "web", 2).await.unwrap(),
            Some(v2.clone())
        );
        assert_eq!(
            states::latest(store.pool(), "web")
                .await
                .unwrap()
                .map(|v| v.version),
            Some(4)
        );
        assert_eq!(
            states::content(store.pool(), store.sealer(), &v1.digest)
                .await
                .unwrap(),
            a.0
        );

        // Every stored version is audited on its stack, forced ones say what
        // was overridden.
        let entries = arbiter_store::audit::by_subject(store.pool(), "stack:web", 100)
            .await
            .unwrap();
        // (newest first)
        let pushed: Vec<serde_json::Value> = entries
            .iter()
            .rev()
            .filter(|e| e.entry.action == "state.pushed")
            .map(|e| serde_json::from_str(&e.payload).unwrap())
            .collect();
        assert_eq!(pushed.len(), 4, "{name}");
        assert_eq!(pushed[2]["forced_over"], serde_json::json!(["serial"]));
        assert_eq!(pushed[3]["forced_over"], serde_json::json!(["lineage"]));
        assert_eq!(pushed[0]["commit"], "abc123");
        assert!(entries
            .iter()
            .filter(|e| e.entry.action == "state.pushed")
            .all(|e| e.entry.actor == "user:alice"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_blob_is_reported_not_returned() {
    for (name, url, _dir) in databases().await {
        let store = Store::open(&StoreConfig::new(&url)).await.unwrap();
        let sp = spec("web");
        store
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap();
        let v = created(push(&store, "web", state("l", 1, ""), false).await.unwrap());
        // Replace the stored bytes with another (valid) compressed state.
        let other = NewStateVersion::new(
            store.sealer(),
            "web",
            b"{\"version\":4}",
            StateFacts::default(),
            None,
            "x",
            arbiter_api::StateOrigin::Push,
            false,
        );
        let (d, bytes) = (v.digest.clone(), other.compressed.clone());
        store
            .write(move |cx| {
                Box::pin(async move {
                    sqlx::query("UPDATE state_blobs SET compressed = $1 WHERE digest = $2")
                        .bind(bytes)
                        .bind(d)
                        .execute(cx.conn())
                        .await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
        let e = states::content(store.pool(), store.sealer(), &v.digest)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{name}: {e}");
        // Garbage is as clear.
        let d = v.digest.clone();
        store
            .write(move |cx| {
                Box::pin(async move {
                    sqlx::query("UPDATE state_blobs SET compressed = $1 WHERE digest = $2")
                        .bind(b"not deflate at all".to_vec())
                        .bind(d)
                        .execute(cx.conn())
                        .await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
        let e = states::content(store.pool(), store.sealer(), &v.digest)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("state blob"), "{name}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollbacks_are_recorded_with_their_change_request_and_audited() {
    for (name, url, _dir) in databases().await {
        let store = Store::open(&StoreConfig::new(&url)).await.unwrap();
        let sp = spec("web");
        store
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap();
        let cr = changes::NewChangeRequest {
            stack: "web".into(),
            submitter: "user:rita".into(),
            key_id: None,
            idempotency_key: None,
            request_digest: "d".into(),
            intent: Some("roll back".into()),
            source: None,
            plan_digest: "p".into(),
            plan: changes::seal_plan(&arbiter_store::sealed::Sealer::none(), "d", "{}"),
            status: arbiter_api::ChangeStatus::PendingReview,
            decision: Some(arbiter_api::Decision::Review),
            confidence: Some(80.0),
            priority: 0.1,
            cost_delta_usd: None,
            resources_changed: 2,
            reason: None,
            auto_apply: false,
            expires_at: None,
            verdict: Some("{}".into()),
            policy_versions: "[]".into(),
            engine_version: "t".into(),
            duration_ms: 1.0,
        };
        let rollback = |id: i64| states::RollbackRow {
            stack: "web".into(),
            change_request: id,
            from_version: 2,
            to_version: 1,
            commit: Some("c0ffee".into()),
            resources: vec![
                RollbackResource {
                    address: "terraform_data.a".into(),
                    action: "create".into(),
                },
                RollbackResource {
                    address: "terraform_data.b".into(),
                    action: "delete".into(),
                },
            ],
            requested_by: "user:rita".into(),
            created_at: arbiter_api::Timestamp::from_unix_ms(0),
        };
        // The change request and its rollback record commit together.
        let id = store
            .write(move |cx| {
                Box::pin(async move {
                    let id = changes::insert(cx, &cr).await?;
                    states::record_rollback(cx, &rollback(id)).await?;
                    Ok(id)
                })
            })
            .await
            .unwrap();
        let got = states::rollback(store.pool(), id).await.unwrap().unwrap();
        assert_eq!(got.resources, rollback(id).resources, "{name}");
        assert_eq!((got.from_version, got.to_version), (2, 1));
        assert_eq!(got.commit.as_deref(), Some("c0ffee"));
        assert_eq!(
            states::rollbacks(store.pool(), "web", 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(states::rollback(store.pool(), id + 1)
            .await
            .unwrap()
            .is_none());
        let entries = arbiter_store::audit::by_subject(store.pool(), "stack:web", 100)
            .await
            .unwrap();
        let e = entries
            .iter()
            .find(|e| e.entry.action == "state.rollback_requested")
            .expect("audited");
        let payload: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(payload["change_request"], id);
        assert_eq!(payload["to_version"], 1);
        assert_eq!(payload["resources"][1]["action"], "delete");
        // A rollback for a change request that does not exist fails (and
        // nothing of it is stored).
        let r = store
            .write(move |cx| {
                Box::pin(async move { states::record_rollback(cx, &rollback(9999)).await })
            })
            .await;
        assert!(r.is_err(), "{name}");
        assert_eq!(
            states::rollbacks(store.pool(), "web", 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

/// Rows stored in clear (before encryption) still read once a data key is
/// configured, and the rekey seals them; then they read with the key only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_rows_read_after_encryption_is_turned_on_and_are_sealed_by_the_rekey() {
    use arbiter_store::sealed::{rekey, DataKey, Rekeyed, Sealer};
    for (name, url, _dir) in databases().await {
        let clear = Store::open(&StoreConfig::new(&url)).await.unwrap();
        let sp = spec("web");
        clear
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap();
        let v = created(push(&clear, "web", state("l", 1, ""), false).await.unwrap());
        let plan_text = "{\"format_version\":\"1.2\",\"secret\":\"s3cr3t\"}";
        let mut cr = plan_cr_for("web");
        cr.plan = changes::seal_plan(&Sealer::none(), &cr.plan_digest, plan_text);
        let id = clear
            .write(move |cx| Box::pin(async move { changes::insert(cx, &cr).await }))
            .await
            .unwrap();
        let want_state = states::content(clear.pool(), clear.sealer(), &v.digest)
            .await
            .unwrap();
        drop(clear);

        let key = DataKey::from_bytes(&[7; 32]);
        let mut cfg = StoreConfig::new(&url);
        cfg.sealer = Sealer::new(key.clone(), vec![]);
        let store = Store::open(&cfg).await.unwrap();
        let read = |s: Store| {
            let d = v.digest.clone();
            async move {
                (
                    changes::plan(s.pool(), s.sealer(), id).await,
                    states::content(s.pool(), s.sealer(), &d).await,
                )
            }
        };
        let (p, c) = read(store.clone()).await;
        assert_eq!(p.unwrap().as_deref(), Some(plan_text), "{name}");
        assert_eq!(c.unwrap(), want_state, "{name}");
        assert_eq!(
            rekey(&store).await.unwrap(),
            Rekeyed {
                plans: 1,
                states: 1
            },
            "{name}"
        );
        assert_eq!(
            rekey(&store).await.unwrap(),
            Rekeyed::default(),
            "{name}: nothing left"
        );
        let (p, c) = read(store.clone()).await;
        assert_eq!(p.unwrap().as_deref(), Some(plan_text), "{name}");
        assert_eq!(c.unwrap(), want_state, "{name}");
        // Sealed now: without the key, they do not read.
        let e = changes::plan(store.pool(), &Sealer::none(), id)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no data key"), "{name}: {e}");
    }
}

fn plan_cr_for(stack: &str) -> changes::NewChangeRequest {
    changes::NewChangeRequest {
        stack: stack.into(),
        submitter: "user:rita".into(),
        key_id: None,
        idempotency_key: None,
        request_digest: "d".into(),
        intent: None,
        source: None,
        plan_digest: "0123".into(),
        plan: Vec::new(),
        status: arbiter_api::ChangeStatus::PendingReview,
        decision: Some(arbiter_api::Decision::Review),
        confidence: Some(80.0),
        priority: 0.1,
        cost_delta_usd: None,
        resources_changed: 1,
        reason: None,
        auto_apply: false,
        expires_at: None,
        verdict: Some("{}".into()),
        policy_versions: "[]".into(),
        engine_version: "t".into(),
        duration_ms: 1.0,
    }
}
