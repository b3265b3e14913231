//! Web sessions against real databases (SQLite and PostgreSQL): opened,
//! found by their secret only, ended by expiry, sign-out, a disabled user
//! or a revoked token, and audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::Role;
use arbiter_store::sessions::{self, SignIn};
use arbiter_store::{principals, Store, StoreConfig};

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

async fn actions(store: &Store) -> Vec<(String, String, String)> {
    arbiter_store::audit::entries(store.pool(), 1, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action.starts_with("session."))
        .map(|e| (e.entry.actor, e.entry.action, e.entry.subject))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_open_close_expire_and_follow_their_token() {
    for (backend, url, _dir) in databases().await {
        let store = Store::open(&StoreConfig::new(&url)).await.unwrap();
        let token = store
            .write(|cx| {
                Box::pin(async move {
                    principals::create_user(cx, "rita", Role::Reviewer, None, "system").await?;
                    principals::create_token(cx, "rita", None, None, "system").await
                })
            })
            .await
            .unwrap();
        let now = arbiter_store::now_ms();

        let s = store
            .write(|cx| {
                Box::pin(async move {
                    sessions::create(cx, "rita", SignIn::Password, None, 3_600_000).await
                })
            })
            .await
            .unwrap();
        assert!(s.secret.starts_with(sessions::SESSION_PREFIX));
        assert_eq!(s.secret.len(), 5 + 64);
        let found = sessions::authenticate(store.pool(), &s.secret, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.user.name.as_str(), found.user.role),
            ("rita", Role::Reviewer)
        );
        assert_eq!(found.id, s.id);
        // Only the hash is stored: the secret is nowhere in the database.
        let stored: String = sqlx::query_scalar("SELECT secret_hash FROM web_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, sessions::secret_hash(&s.secret));
        assert!(!stored.contains(&s.secret[5..]));
        // Wrong, truncated or foreign secrets find nothing.
        for bad in [
            "arbs_",
            &s.secret[..20],
            "arb_0123",
            &format!("{}x", s.secret),
        ] {
            assert!(sessions::authenticate(store.pool(), bad, now)
                .await
                .unwrap()
                .is_none());
        }
        // Expiry.
        assert!(
            sessions::authenticate(store.pool(), &s.secret, s.expires_at)
                .await
                .unwrap()
                .is_none()
        );

        // Sign-out deletes it; a second sign-out finds nothing.
        let secret = s.secret.clone();
        assert!(store
            .write(move |cx| Box::pin(async move { sessions::delete(cx, &secret).await }))
            .await
            .unwrap());
        assert!(sessions::authenticate(store.pool(), &s.secret, now)
            .await
            .unwrap()
            .is_none());
        let secret = s.secret.clone();
        assert!(!store
            .write(move |cx| Box::pin(async move { sessions::delete(cx, &secret).await }))
            .await
            .unwrap());

        // A session opened with a token ends with the token.
        let tid = token.id.clone();
        let t = store
            .write(move |cx| {
                Box::pin(async move {
                    sessions::create(cx, "rita", SignIn::Token, Some(&tid), 3_600_000).await
                })
            })
            .await
            .unwrap();
        assert!(sessions::authenticate(store.pool(), &t.secret, now)
            .await
            .unwrap()
            .is_some());
        let tid = token.id.clone();
        store
            .write(move |cx| {
                Box::pin(async move { principals::revoke_token(cx, &tid, "system").await })
            })
            .await
            .unwrap();
        assert!(
            sessions::authenticate(store.pool(), &t.secret, now)
                .await
                .unwrap()
                .is_none(),
            "{backend}: a revoked token's session must end"
        );

        // Opening a session purges the expired ones.
        let before = sessions::count(store.pool()).await.unwrap();
        store
            .write(|cx| {
                Box::pin(
                    async move { sessions::create(cx, "rita", SignIn::Password, None, 1).await },
                )
            })
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        store
            .write(|cx| {
                Box::pin(async move {
                    sessions::create(cx, "rita", SignIn::Password, None, 3_600_000).await
                })
            })
            .await
            .unwrap();
        assert_eq!(
            sessions::count(store.pool()).await.unwrap(),
            before + 1,
            "{backend}"
        );

        let log = actions(&store).await;
        let kinds: Vec<&str> = log.iter().map(|(_, a, _)| a.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "session.created",
                "session.deleted",
                "session.created",
                "session.created",
                "session.created"
            ],
            "{backend}"
        );
        assert!(
            log.iter()
                .all(|(actor, _, subject)| actor == "user:rita"
                    && subject.starts_with("session:ses_"))
        );
        assert_eq!(log[0].2, format!("session:{}", s.id));
    }
}
