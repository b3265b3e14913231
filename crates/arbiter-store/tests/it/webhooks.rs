//! The subscription cache of the writer against real databases: a
//! subscription change rolled back with its job leaves no trace in later
//! events, and a change made through another replica's writer is seen by
//! this one's next batch. SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_store::webhooks::{self, NewWebhook};
use arbiter_store::{Store, StoreConfig, StoreError};

fn hook(events: &[&str]) -> NewWebhook {
    NewWebhook {
        url: "http://127.0.0.1:9/hook".into(),
        events: events.iter().map(|s| s.to_string()).collect(),
        format: arbiter_api::WebhookFormat::Json,
        secret: "0123456789abcdef0123".into(),
        description: None,
    }
}

async fn event(store: &Store, action: &'static str) -> u64 {
    let action: arbiter_api::AuditAction = action.parse().unwrap();
    store
        .write(move |cx| {
            Box::pin(async move {
                cx.audit("user:t", action, "stack:web", &serde_json::json!({}))
                    .await
            })
        })
        .await
        .unwrap()
}

async fn count(store: &Store, id: i64) -> usize {
    webhooks::deliveries(store.pool(), id, None, 1000)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_subscription_gets_nothing_and_a_live_one_gets_what_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![("sqlite", StoreConfig::sqlite_in(dir.path()).url)];
    if let Some(u) = arbiter_testkit::postgres_database().await.unwrap() {
        urls.push(("postgres", u));
    }
    for (name, url) in urls {
        let store = Store::open(&StoreConfig::new(url)).await.unwrap();
        // A job that subscribes and then fails: its subscription is undone.
        let r: Result<(), StoreError> = store
            .write(|cx| {
                Box::pin(async move {
                    webhooks::create(cx, &hook(&["*"]), "user:t").await?;
                    Err(StoreError::Conflict("changed my mind".into()))
                })
            })
            .await;
        assert!(r.is_err());
        // Were the rolled-back subscription still cached, this event's
        // delivery would point at a missing row and the write would fail.
        event(&store, "stack.updated").await;
        assert!(
            webhooks::list(store.pool()).await.unwrap().is_empty(),
            "{name}"
        );
        let w = store
            .write(|cx| {
                Box::pin(async move { webhooks::create(cx, &hook(&["stack.*"]), "user:t").await })
            })
            .await
            .unwrap();
        let seq = event(&store, "stack.updated").await;
        event(&store, "agent.created").await;
        let d = webhooks::deliveries(store.pool(), w.id, None, 10)
            .await
            .unwrap();
        assert_eq!(d.len(), 1, "{name}: {d:?}");
        assert_eq!(d[0].id, webhooks::delivery_id(seq, w.id));
        assert_eq!((d[0].status.as_str(), d[0].attempts), ("pending", 0));
        // Deleted: no more deliveries, and the pending one is cancelled.
        store
            .write(move |cx| Box::pin(async move { webhooks::delete(cx, w.id, "user:t").await }))
            .await
            .unwrap();
        event(&store, "stack.updated").await;
        let d = webhooks::deliveries(store.pool(), w.id, None, 10)
            .await
            .unwrap();
        assert_eq!(d.len(), 1, "{name}");
        assert_eq!(
            d[0].status,
            arbiter_api::DeliveryStatus::Cancelled,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_through_another_replica_is_seen_by_the_next_batch() {
    let Some(url) = arbiter_testkit::postgres_database().await.unwrap() else {
        eprintln!("SKIPPED: PostgreSQL not installed");
        return;
    };
    let a = Store::open(&StoreConfig::new(url.clone())).await.unwrap();
    let b = Store::open(&StoreConfig::new(url)).await.unwrap();
    // B's writer loads its (empty) copy first.
    event(&b, "stack.updated").await;
    let w = a
        .write(|cx| {
            Box::pin(async move { webhooks::create(cx, &hook(&["stack.updated"]), "user:t").await })
        })
        .await
        .unwrap();
    event(&b, "stack.updated").await;
    assert_eq!(
        count(&a, w.id).await,
        1,
        "replica B delivered to A's subscription"
    );
    a.write(move |cx| Box::pin(async move { webhooks::delete(cx, w.id, "user:t").await }))
        .await
        .unwrap();
    event(&b, "stack.updated").await;
    assert_eq!(count(&a, w.id).await, 1, "replica B saw the deletion");
}
