//! Work on a timer, in every replica: expiring reviews that waited too long,
//! forgetting old nonces, and signing audit checkpoints when time passed.
//! Each runs through the store's writer, so replicas never do the same row
//! twice (claims and status checks make the second attempt a no-op).

use crate::AppState;
use arbiter_api::MAX_CLOCK_SKEW_SECS;
use tokio::sync::watch;

/// Starts the background loop; it stops when `stop` turns true.
pub fn spawn(app: AppState, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(app.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge = 0i64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let span = tracing::debug_span!("background", job = "tick");
            let t = std::time::Instant::now();
            tracing::Instrument::instrument(run_once(&app, &mut last_purge), span.clone()).await;
            span.in_scope(|| {
                tracing::trace!(ms = t.elapsed().as_secs_f64() * 1e3, "background round")
            });
        }
    });
}

/// One round of background work (also called by tests).
pub async fn run_once(app: &AppState, last_purge: &mut i64) {
    match app
        .store
        .write(|cx| Box::pin(async move { arbiter_store::changes::expire_due(cx, 500).await }))
        .await
    {
        Ok(ids) if !ids.is_empty() => tracing::info!(count = ids.len(), "expired pending reviews"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "expiring reviews"),
    }
    let now = arbiter_store::now_ms();
    if now - *last_purge > 600_000 {
        *last_purge = now;
        let before = now - 2 * MAX_CLOCK_SKEW_SECS * 1000;
        if let Err(e) = app
            .store
            .write(move |cx| {
                Box::pin(async move {
                    let hours_ago = cx.now_ms() - 2 * 3_600_000;
                    arbiter_store::changes::purge_velocity(cx, hours_ago).await?;
                    arbiter_store::principals::purge_nonces(cx, before).await
                })
            })
            .await
        {
            tracing::error!(error = %e, "purging nonces");
        }
    }
    crate::runs::interrupt_silent(app).await;
    crate::runs::stop_overdue(app).await;
    // The writer also checkpoints by count at every batch; this covers
    // quiet periods (time-based checkpoints).
    if let Err(e) = app
        .store
        .write(|cx| Box::pin(async move { cx.checkpoint_if_needed(false).await }))
        .await
    {
        tracing::error!(error = %e, "audit checkpoint");
    }
}
