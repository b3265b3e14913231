//! Admission control: how much of the server one caller may take.
//!
//! Two pools of slots bound the work in flight, each shared fairly between
//! principals ([`FairSlots`]): large request bodies (a request whose body is
//! over `large_body_bytes` holds a slot from before its body is read until
//! its answer is written, so the memory they take is bounded) and
//! evaluations (judging a plan, for submissions, dry runs and rollbacks).
//! A request that finds every slot taken waits, in a bounded queue and for
//! a bounded time, and is then answered 503 with `Retry-After`; a principal
//! that already holds its share while others wait is answered 429 with
//! `Retry-After` at once. Freed slots go to the waiting principal that holds
//! the fewest.
//!
//! Dry runs (`POST /api/v1/evaluate`) store nothing, so the velocity
//! governor's counters in the database never see them; [`DryRuns`] applies
//! an agent's `submissions_per_minute` to its dry runs too, per replica.

use crate::error::ApiError;
use arbiter_api::ErrorCode;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Why a slot was not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The principal holds its share while others wait.
    OverShare {
        /// Slots it holds.
        held: usize,
        /// Its share.
        share: usize,
    },
    /// Every slot stayed taken for the whole wait, or the queue is full.
    Busy,
}

struct Waiter {
    principal: String,
    tx: oneshot::Sender<Slot>,
}

#[derive(Default)]
struct Inner {
    held: HashMap<String, usize>,
    total: usize,
    waiters: VecDeque<Waiter>,
}

impl Inner {
    fn grant(&mut self, principal: &str) {
        *self.held.entry(principal.to_string()).or_insert(0) += 1;
        self.total += 1;
    }

    fn held(&self, principal: &str) -> usize {
        self.held.get(principal).copied().unwrap_or(0)
    }

    /// `max(1, cap / active principals)`, counting those holding or waiting
    /// for a slot and `principal` itself.
    fn share(&self, cap: usize, principal: &str) -> usize {
        let mut active: HashSet<&str> = self.held.keys().map(String::as_str).collect();
        active.extend(self.waiters.iter().map(|w| w.principal.as_str()));
        active.insert(principal);
        (cap / active.len().max(1)).max(1)
    }
}

/// A pool of `cap` slots shared fairly between principals.
pub struct FairSlots {
    what: &'static str,
    cap: usize,
    wait: Duration,
    max_waiters: usize,
    inner: Mutex<Inner>,
}

/// A slot, given back when dropped.
pub struct Slot {
    pool: Arc<FairSlots>,
    principal: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        FairSlots::release(&self.pool, &self.principal);
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slot({} for {})", self.pool.what, self.principal)
    }
}

impl FairSlots {
    /// A pool of `cap` slots (at least 1) named `what` in messages; a
    /// request waits at most `wait` for one, and at most `16 × cap`
    /// requests wait.
    pub fn new(what: &'static str, cap: usize, wait: Duration) -> Arc<FairSlots> {
        let cap = cap.max(1);
        Arc::new(FairSlots {
            what,
            cap,
            wait,
            max_waiters: cap.saturating_mul(16),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Slots in use and requests waiting.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.lock();
        (g.total, g.waiters.len())
    }

    /// The number of slots.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Takes a slot for `principal`: at once when one is free; else 429
    /// ([`Refusal::OverShare`]) when it already holds its share while
    /// another principal waits; else after waiting in line, or
    /// [`Refusal::Busy`] when the line is full or the wait runs out.
    pub async fn acquire(self: &Arc<Self>, principal: &str) -> Result<Slot, Refusal> {
        let rx = {
            let mut g = self.lock();
            g.waiters.retain(|w| !w.tx.is_closed());
            if g.total < self.cap {
                g.grant(principal);
                return Ok(Slot {
                    pool: self.clone(),
                    principal: principal.to_string(),
                });
            }
            let held = g.held(principal);
            let share = g.share(self.cap, principal);
            let others_wait = g.waiters.iter().any(|w| w.principal != principal);
            if held >= share && others_wait {
                return Err(Refusal::OverShare { held, share });
            }
            if g.waiters.len() >= self.max_waiters || self.wait.is_zero() {
                return Err(Refusal::Busy);
            }
            let (tx, rx) = oneshot::channel();
            g.waiters.push_back(Waiter {
                principal: principal.to_string(),
                tx,
            });
            rx
        };
        // A slot sent after the wait ran out is dropped with the channel,
        // which gives it back.
        match tokio::time::timeout(self.wait, rx).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(Refusal::Busy),
        }
    }

    /// Takes a slot for `principal` only if one is free and nobody waits
    /// (extra parallelism that must never delay others: backtests).
    pub fn try_acquire(self: &Arc<Self>, principal: &str) -> Option<Slot> {
        let mut g = self.lock();
        g.waiters.retain(|w| !w.tx.is_closed());
        if g.total < self.cap && g.waiters.is_empty() {
            g.grant(principal);
            return Some(Slot {
                pool: self.clone(),
                principal: principal.to_string(),
            });
        }
        None
    }

    fn release(pool: &Arc<FairSlots>, principal: &str) {
        let mut grants = Vec::new();
        {
            let mut g = pool.lock();
            if let Some(n) = g.held.get_mut(principal) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    g.held.remove(principal);
                }
            }
            g.total = g.total.saturating_sub(1);
            g.waiters.retain(|w| !w.tx.is_closed());
            while g.total < pool.cap {
                // The waiter whose principal holds the fewest slots; the
                // earliest among equals.
                let pick = g
                    .waiters
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, w)| (g.held(&w.principal), *i))
                    .map(|(i, _)| i);
                let Some(w) = pick.and_then(|i| g.waiters.remove(i)) else {
                    break;
                };
                g.grant(&w.principal);
                grants.push(w);
            }
        }
        for w in grants {
            let slot = Slot {
                pool: pool.clone(),
                principal: w.principal,
            };
            // A waiter that gave up in the meantime: dropping the slot
            // gives it back (outside the lock).
            drop(w.tx.send(slot));
        }
    }
}

/// Per-principal dry runs in the last minute (this replica).
#[derive(Default)]
pub struct DryRuns {
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl DryRuns {
    /// Records a dry run by `principal` allowed `per_minute` a minute; the
    /// seconds to wait when over the limit.
    pub fn check(&self, principal: &str, per_minute: u32, now: Instant) -> Result<(), u64> {
        let mut m = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let window = Duration::from_secs(60);
        // Forget principals idle for a minute (bounded memory).
        if m.len() > 10_000 {
            m.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = m.entry(principal.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= per_minute as usize {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

/// The server's admission state.
pub struct Admission {
    /// Requests with a large body in flight.
    pub bodies: Arc<FairSlots>,
    /// Evaluations in flight.
    pub evaluations: Arc<FairSlots>,
    /// Agents' dry runs.
    pub dry_runs: DryRuns,
    refused_busy: AtomicU64,
    refused_share: AtomicU64,
    legacy_signatures: AtomicU64,
    warned_keys: Mutex<HashSet<String>>,
}

impl Admission {
    /// Pools of the configured sizes.
    pub fn new(cfg: &crate::ServerConfig) -> Admission {
        Admission {
            bodies: FairSlots::new("large-body", cfg.max_large_bodies, cfg.admission_wait),
            evaluations: FairSlots::new("evaluation", cfg.max_evaluations, cfg.admission_wait),
            dry_runs: DryRuns::default(),
            refused_busy: AtomicU64::new(0),
            refused_share: AtomicU64::new(0),
            legacy_signatures: AtomicU64::new(0),
            warned_keys: Mutex::new(HashSet::new()),
        }
    }

    /// Takes a slot from `pool`, or the error to answer (503 or 429, with
    /// `Retry-After`).
    pub async fn slot(&self, pool: &Arc<FairSlots>, principal: &str) -> Result<Slot, ApiError> {
        match pool.acquire(principal).await {
            Ok(s) => Ok(s),
            Err(Refusal::Busy) => {
                self.refused_busy.fetch_add(1, Ordering::Relaxed);
                let mut e = ApiError::new(
                    ErrorCode::ServerBusy,
                    format!(
                        "all {} {} slots of the server stayed busy; retry later",
                        pool.cap, pool.what
                    ),
                );
                e.retry_after = Some(2);
                Err(e)
            }
            Err(Refusal::OverShare { held, share }) => {
                self.refused_share.fetch_add(1, Ordering::Relaxed);
                let mut e = ApiError::new(ErrorCode::FairShareExceeded,
                    format!(
                        "{principal} holds {held} of the server's {} {} slots while others wait (its share is {share}); retry later",
                        pool.cap, pool.what
                    ),
                );
                e.retry_after = Some(1);
                Err(e)
            }
        }
    }

    /// Counts a request signed in the deprecated form (no
    /// `X-Arbiter-Content-SHA256`) and warns once per key and process.
    pub fn legacy_signature(&self, agent: &str, key_id: &str) {
        self.legacy_signatures.fetch_add(1, Ordering::Relaxed);
        let first = self
            .warned_keys
            .lock()
            .map(|mut s| s.len() < 10_000 && s.insert(key_id.to_string()))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                agent,
                key_id,
                "signed request without X-Arbiter-Content-SHA256: this form of ARBITER-SIG-V1 is deprecated (its body is read before the signature can be checked); update the client (docs/signing.md)"
            );
        }
    }

    /// Appends the admission figures to the Prometheus text.
    pub fn render(&self, s: &mut String) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "# HELP arbiter_admission_refused_total Requests refused for capacity: busy (503) or over a principal's fair share (429)."
        );
        let _ = writeln!(s, "# TYPE arbiter_admission_refused_total counter");
        let _ = writeln!(
            s,
            "arbiter_admission_refused_total{{reason=\"busy\"}} {}",
            g(&self.refused_busy)
        );
        let _ = writeln!(
            s,
            "arbiter_admission_refused_total{{reason=\"fair_share\"}} {}",
            g(&self.refused_share)
        );
        let _ = writeln!(
            s,
            "# HELP arbiter_slots_in_use Slots taken, by pool (large bodies, evaluations)."
        );
        let _ = writeln!(s, "# TYPE arbiter_slots_in_use gauge");
        for (name, pool) in [("body", &self.bodies), ("evaluation", &self.evaluations)] {
            let (used, waiting) = pool.usage();
            let _ = writeln!(s, "arbiter_slots_in_use{{pool=\"{name}\"}} {used}");
            let _ = writeln!(s, "arbiter_slots_waiting{{pool=\"{name}\"}} {waiting}");
        }
        let _ = writeln!(
            s,
            "# HELP arbiter_signature_legacy_total Signed requests in the deprecated form without X-Arbiter-Content-SHA256."
        );
        let _ = writeln!(s, "# TYPE arbiter_signature_legacy_total counter");
        let _ = writeln!(
            s,
            "arbiter_signature_legacy_total {}",
            g(&self.legacy_signatures)
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_bounded_and_given_back() {
        let pool = FairSlots::new("test", 2, Duration::from_millis(50));
        let a = pool.acquire("p").await.unwrap();
        let b = pool.acquire("p").await.unwrap();
        assert_eq!(pool.usage(), (2, 0));
        // Nobody else waits: the same principal waits, then is refused busy.
        assert_eq!(pool.acquire("p").await.err(), Some(Refusal::Busy));
        drop(a);
        let c = pool.acquire("p").await.unwrap();
        drop((b, c));
        assert_eq!(pool.usage(), (0, 0));
    }

    /// One principal holding every slot cannot keep them from another: the
    /// other waits and gets the next freed slot, and the first is refused
    /// (429) while the other waits.
    #[tokio::test]
    async fn a_principal_over_its_share_yields_to_others() {
        let pool = FairSlots::new("test", 4, Duration::from_secs(5));
        let mut hog = Vec::new();
        for _ in 0..4 {
            hog.push(pool.acquire("hog").await.unwrap());
        }
        let p2 = pool.clone();
        let other = tokio::spawn(async move { p2.acquire("other").await });
        while pool.usage().1 == 0 {
            tokio::task::yield_now().await;
        }
        // Two principals: a share of 2 each; the hog holds 4.
        assert_eq!(
            pool.acquire("hog").await.err(),
            Some(Refusal::OverShare { held: 4, share: 2 })
        );
        drop(hog.pop());
        let got = other.await.unwrap().unwrap();
        assert_eq!(got.principal, "other");
        assert_eq!(pool.usage(), (4, 0));
        drop(got);
        drop(hog);
        assert_eq!(pool.usage(), (0, 0));
    }

    #[tokio::test]
    async fn freed_slots_go_to_the_principal_holding_fewest() {
        let pool = FairSlots::new("test", 2, Duration::from_secs(5));
        let a1 = pool.acquire("a").await.unwrap();
        let _b1 = pool.acquire("b").await.unwrap();
        // "a" queues first, then "c" (holding none).
        let pa = pool.clone();
        let wa = tokio::spawn(async move { pa.acquire("a").await });
        while pool.usage().1 < 1 {
            tokio::task::yield_now().await;
        }
        let pc = pool.clone();
        let wc = tokio::spawn(async move { pc.acquire("c").await });
        while pool.usage().1 < 2 {
            tokio::task::yield_now().await;
        }
        drop(a1);
        // "a" now holds none, "c" none: the earlier ("a") gets it.
        let got = wa.await.unwrap().unwrap();
        assert_eq!(got.principal, "a");
        drop(got);
        let got = wc.await.unwrap().unwrap();
        assert_eq!(got.principal, "c");
    }

    /// Extra slots (backtests) are taken only when free and nobody waits.
    #[tokio::test]
    async fn try_acquire_never_jumps_the_line() {
        let pool = FairSlots::new("test", 2, Duration::from_secs(5));
        let a = pool.try_acquire("bt").unwrap();
        let b = pool.try_acquire("bt").unwrap();
        assert!(pool.try_acquire("bt").is_none(), "full");
        let p2 = pool.clone();
        let w = tokio::spawn(async move { p2.acquire("other").await });
        while pool.usage().1 == 0 {
            tokio::task::yield_now().await;
        }
        drop(a);
        let got = w.await.unwrap().unwrap();
        assert_eq!(got.principal, "other");
        assert!(pool.try_acquire("bt").is_none());
        drop((b, got));
        assert!(pool.try_acquire("bt").is_some());
        assert_eq!(pool.usage(), (0, 0));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaks_no_slot() {
        let pool = FairSlots::new("test", 1, Duration::from_millis(20));
        let a = pool.acquire("a").await.unwrap();
        assert_eq!(pool.acquire("b").await.err(), Some(Refusal::Busy));
        let pb = pool.clone();
        let w = tokio::spawn(async move { pb.acquire("b").await });
        while pool.usage().1 == 0 {
            tokio::task::yield_now().await;
        }
        w.abort();
        let _ = w.await;
        drop(a);
        assert_eq!(pool.usage(), (0, 0));
        assert!(pool.acquire("c").await.is_ok());
    }

    #[test]
    fn dry_runs_follow_the_per_minute_limit() {
        let d = DryRuns::default();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(d.check("agent:a", 3, t0 + Duration::from_secs(i)), Ok(()));
        }
        assert_eq!(d.check("agent:a", 3, t0 + Duration::from_secs(10)), Err(50));
        assert_eq!(d.check("agent:b", 3, t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(d.check("agent:a", 3, t0 + Duration::from_secs(60)), Ok(()));
    }
}
