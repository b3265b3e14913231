//! Runs in the store, both databases: the state machine enforced by
//! conditional updates (illegal, stale), one applying run per stack (the
//! unique index, whatever the caller does), log appends by offset, bundles
//! stored once, backend locks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::runs::{Confirmation, RunKind, RunPhase, RunSource};
use arbiter_store::runs::{self, LockOutcome, NewRun, PhaseUpdate};
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

fn spec() -> arbiter_store::stacks::StackDoc {
    serde_json::from_value(serde_json::json!({"name": "web", "environment": "dev"})).unwrap()
}

fn cr() -> changes::NewChangeRequest {
    changes::NewChangeRequest {
        stack: "web".into(),
        submitter: "user:alice".into(),
        key_id: None,
        idempotency_key: None,
        request_digest: "d".into(),
        intent: None,
        source: None,
        plan_digest: "p".into(),
        plan: changes::seal_plan(&arbiter_store::sealed::Sealer::none(), "p", "{}"),
        status: arbiter_api::ChangeStatus::Approved,
        decision: Some(arbiter_api::Decision::Approve),
        confidence: Some(99.0),
        priority: 0.0,
        cost_delta_usd: None,
        resources_changed: 1,
        reason: None,
        auto_apply: true,
        expires_at: None,
        verdict: Some("{}".into()),
        policy_versions: "[]".into(),
        engine_version: "test".into(),
        duration_ms: 1.0,
    }
}

async fn queued(store: &Store) -> i64 {
    store
        .write(|cx| {
            Box::pin(async move {
                let id = changes::insert(cx, &cr()).await?;
                let run = runs::create(
                    cx,
                    &NewRun {
                        change_request: id,
                        revision: 1,
                        stack: "web".into(),
                        kind: RunKind::Apply,
                        source: RunSource::Bundle {
                            sha256: "a".repeat(64),
                        },
                        variables: Default::default(),
                        confirmation: Confirmation::NotNeeded,
                        pool: "embedded".into(),
                    },
                    "system",
                )
                .await?;
                Ok(run.id)
            })
        })
        .await
        .unwrap()
}

async fn mv(store: &Store, id: i64, from: RunPhase, to: RunPhase) -> Result<(), StoreError> {
    store
        .write(move |cx| {
            Box::pin(async move {
                runs::transition(cx, id, from, to, "worker:test", PhaseUpdate::default())
                    .await
                    .map(|_| ())
            })
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_move_only_legally_and_one_run_per_stack_applies() {
    use RunPhase::*;
    for (name, url, _dir) in databases().await {
        let store = Store::open(&StoreConfig::new(url)).await.unwrap();
        let sp = spec();
        store
            .write(move |cx| Box::pin(async move { stacks::create(cx, &sp, "user:t").await }))
            .await
            .unwrap();
        let (a, b) = (queued(&store).await, queued(&store).await);
        // Illegal moves and stale `from` are refused and change nothing.
        assert!(
            matches!(
                mv(&store, a, Queued, Applying).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        assert!(
            matches!(
                mv(&store, a, Preparing, Initialising).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}: stale"
        );
        for id in [a, b] {
            for (f, t) in [
                (Queued, Preparing),
                (Preparing, Initialising),
                (Initialising, Planning),
                (Planning, Checking),
            ] {
                mv(&store, id, f, t).await.unwrap();
            }
        }
        mv(&store, a, Checking, Applying).await.unwrap();
        let e = mv(&store, b, Checking, Applying).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("another run of its stack is applying"),
            "{name}: {e}"
        );
        assert_eq!(
            runs::get(store.pool(), b).await.unwrap().unwrap().phase,
            Checking
        );
        mv(&store, a, Applying, Applied).await.unwrap();
        mv(&store, b, Checking, Applying).await.unwrap();
        mv(&store, b, Applying, Failed).await.unwrap();
        assert!(matches!(
            mv(&store, b, Failed, Applying).await,
            Err(StoreError::Conflict(_))
        ));
        let ra = runs::get(store.pool(), a).await.unwrap().unwrap();
        let phases: Vec<RunPhase> = ra.phases.iter().map(|p| p.phase).collect();
        assert_eq!(
            phases,
            [
                Queued,
                Preparing,
                Initialising,
                Planning,
                Checking,
                Applying,
                Applied
            ]
        );
        assert!(
            ra.phases.iter().all(|p| p.ended_at.is_some()),
            "{name}: spans closed"
        );
        // The change requests followed their runs.
        let sa = changes::get(store.pool(), ra.change_request, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sa.status, arbiter_api::ChangeStatus::Applied);
        let rb = runs::get(store.pool(), b).await.unwrap().unwrap();
        let sb = changes::get(store.pool(), rb.change_request, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sb.status, arbiter_api::ChangeStatus::ApplyFailed, "{name}");

        // Logs: idempotent by offset; gaps refused; reads from any offset.
        for (off, text) in [(0u64, "abc"), (0, "abcdef"), (3, "def"), (6, "ghi")] {
            store
                .write(move |cx| Box::pin(async move { runs::append_log(cx, a, off, text).await }))
                .await
                .unwrap();
        }
        assert!(store
            .write(move |cx| Box::pin(async move { runs::append_log(cx, a, 20, "x").await }))
            .await
            .is_err());
        let (start, text, next) = runs::read_log(store.pool(), a, 4, 1 << 20).await.unwrap();
        assert_eq!((start, text.as_str(), next), (4, "efghi", 9), "{name}");

        // Bundles once; locks held.
        let (info, new) = store
            .write(|cx| {
                Box::pin(
                    async move { runs::put_bundle(cx, &"b".repeat(64), 2, b"xyz", "user:t").await },
                )
            })
            .await
            .unwrap();
        assert!(new && info.size_bytes == 3);
        let (_, new) = store
            .write(|cx| {
                Box::pin(
                    async move { runs::put_bundle(cx, &"b".repeat(64), 2, b"xyz", "user:t").await },
                )
            })
            .await
            .unwrap();
        assert!(!new, "{name}: stored once");
        let l1 = store
            .write(|cx| {
                Box::pin(async move { runs::lock(cx, "web", "L1", "{\"ID\":\"L1\"}", "a").await })
            })
            .await
            .unwrap();
        let l2 = store
            .write(|cx| {
                Box::pin(async move { runs::lock(cx, "web", "L2", "{\"ID\":\"L2\"}", "b").await })
            })
            .await
            .unwrap();
        assert_eq!(l1, LockOutcome::Done);
        assert_eq!(l2, LockOutcome::Held("{\"ID\":\"L1\"}".into()), "{name}");
    }
}
