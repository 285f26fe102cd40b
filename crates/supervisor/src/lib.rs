//! The one owner of background work: every worker of `vedette serve` (the `--watch` ingest,
//! publishing destinations, retention, `--export` sinks, list activation) is started through a
//! [`Supervisor`], stops through one mechanism, and is waited for by one bounded shutdown.
//!
//! * **One cancellation mechanism**: a [`CancellationToken`]. Each worker gets a child of the
//!   supervisor's root token; [`Supervisor::shutdown`] cancels the root, so every worker sees it.
//!   A worker that can stop early (an ingest run between records, a sink between deliveries)
//!   checks or awaits its token; the work it leaves is resumed by the next start (store progress,
//!   outbox cursors), which is what makes abandoning it safe.
//! * **Tracked**: async workers ([`Supervisor::spawn`]) are Tokio tasks, blocking workers
//!   ([`Supervisor::spawn_blocking_worker`]) are named OS threads; both are counted by one
//!   [`TaskTracker`]. OS threads rather than `spawn_blocking`: a runtime being dropped waits for
//!   its blocking tasks without limit, so a thread stuck in a long call would outlive any bound.
//! * **Every end is logged with the worker's name**: returned (info), returned an error (error),
//!   panicked (error). A panic is caught at the worker's boundary: other workers go on.
//! * **Bounded shutdown**: [`Supervisor::shutdown`] cancels, waits up to a bound, and reports the
//!   workers still running then (abandoned) and those that failed over the supervisor's life.
//! * **Spawning once shutdown has started is refused** ([`SpawnError::ShuttingDown`]): the work is
//!   not started at all rather than started already cancelled. Work that must not be lost is
//!   recorded in the store before it is spawned and resumed at the next start, so refusing loses
//!   nothing, whereas a worker started late could run past the report that said all had ended.
//!
//! [`Supervisor`] is a cheap handle (`Clone + Send + Sync`): layers that start work of their own
//! (the API's list activation) hold a clone.
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Why a worker was not started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// [`Supervisor::shutdown`] has been called: nothing new starts.
    #[error("worker {0}: not started, the supervisor is shutting down")]
    ShuttingDown(String),
    /// [`Supervisor::spawn`] was called outside a Tokio runtime.
    #[error("worker {0}: not started, no Tokio runtime to run it on")]
    NoRuntime(String),
    /// The OS refused a thread ([`Supervisor::spawn_blocking_worker`]).
    #[error("worker {0}: cannot start its thread: {1}")]
    Thread(String, std::io::Error),
}

/// How a worker ended, other than by returning normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It returned an error (its text).
    Error(String),
    /// It panicked (the panic's message, when it had one).
    Panic(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "failed: {e}"),
            Failure::Panic(m) => write!(f, "panicked: {m}"),
        }
    }
}

/// A worker that did not end normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerFailure {
    pub name: String,
    pub failure: Failure,
}

/// What [`Supervisor::shutdown`] found.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// Workers still running when the bound passed, by name (a name appears once per worker).
    pub abandoned: Vec<String>,
    /// Workers that returned an error or panicked, at any time since the supervisor was made.
    pub failed: Vec<WorkerFailure>,
    /// How long shutdown waited.
    pub waited: Duration,
}

impl ShutdownReport {
    /// Every worker ended by itself, normally, within the bound.
    pub fn is_clean(&self) -> bool {
        self.abandoned.is_empty() && self.failed.is_empty()
    }
}

/// What a worker returns: `()` or `Result<(), E>`; an error is logged and reported.
pub trait WorkerOutput {
    fn into_outcome(self) -> Result<(), String>;
}

impl WorkerOutput for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> WorkerOutput for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// Owns the root cancellation token and tracks every worker started through it.
#[derive(Clone, Default)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    root: CancellationToken,
    tracker: TaskTracker,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    closing: bool,
    next_id: u64,
    /// Workers started and not yet ended, by start order.
    running: BTreeMap<u64, String>,
    failed: Vec<WorkerFailure>,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("Supervisor").field("closing", &state.closing).field("running", &state.running.values().collect::<Vec<_>>()).finish()
    }
}

impl Inner {
    /// A worker's panic never holds this lock, so a poisoned lock's data is still consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Supervisor {
    pub fn new() -> Self {
        Supervisor::default()
    }

    /// A child of the root token: cancelled when shutdown starts, and cancellable on its own
    /// (cancelling it stops only what holds it).
    pub fn token(&self) -> CancellationToken {
        self.inner.root.child_token()
    }

    /// True once [`Supervisor::shutdown`] has been called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.lock().closing
    }

    /// The workers running now, by name, in start order.
    pub fn running(&self) -> Vec<String> {
        self.inner.lock().running.values().cloned().collect()
    }

    /// Starts an async worker on the current Tokio runtime. `make` receives the worker's token
    /// and builds its future; both run inside the task, so a panic in either is the worker's.
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, make: F) -> Result<(), SpawnError>
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: WorkerOutput,
    {
        let name = name.into();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(SpawnError::NoRuntime(name));
        };
        let started = self.register(name)?;
        let token = self.token();
        runtime.spawn(async move {
            let outcome = CatchUnwind(Box::pin(async move { make(token).await.into_outcome() })).await;
            started.end(outcome);
        });
        Ok(())
    }

    /// Starts a blocking worker on its own OS thread, named `name` (the OS may shorten it).
    /// `work` receives the worker's token and should return soon after it is cancelled.
    pub fn spawn_blocking_worker<F, O>(&self, name: impl Into<String>, work: F) -> Result<(), SpawnError>
    where
        F: FnOnce(CancellationToken) -> O + Send + 'static,
        O: WorkerOutput,
    {
        let name = name.into();
        let started = self.register(name.clone())?;
        let token = self.token();
        let thread_name: String = name.chars().filter(|c| *c != '\0').collect();
        let spawned = std::thread::Builder::new().name(thread_name).spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(token).into_outcome()));
            started.end(outcome);
        });
        // On failure the closure (and the registration in it) is dropped: the worker is forgotten.
        spawned.map(drop).map_err(|e| SpawnError::Thread(name, e))
    }

    /// Records a worker as running, unless shutdown has started. The tracker's token is taken
    /// under the same lock that shutdown sets `closing` under: a worker accepted here is one that
    /// shutdown waits for.
    fn register(&self, name: String) -> Result<Started, SpawnError> {
        let mut state = self.inner.lock();
        if state.closing {
            tracing::warn!(worker = %name, "supervisor: shutting down; worker not started");
            return Err(SpawnError::ShuttingDown(name));
        }
        let id = state.next_id;
        state.next_id += 1;
        state.running.insert(id, name.clone());
        tracing::debug!(worker = %name, "supervisor: worker started");
        Ok(Started { inner: self.inner.clone(), id, name, since: Instant::now(), tracked: Some(self.inner.tracker.token()), ended: false })
    }

    /// Cancels every worker, waits up to `bound` for all of them to end, and reports those that
    /// had not (they are left running: the process is expected to exit) and those that failed.
    /// New workers are refused from the moment this is called. Calling it again waits again.
    pub async fn shutdown(&self, bound: Duration) -> ShutdownReport {
        self.inner.lock().closing = true;
        self.inner.root.cancel();
        self.inner.tracker.close();
        let since = Instant::now();
        let running = self.running();
        if !running.is_empty() {
            tracing::info!(workers = ?running, bound_ms = bound.as_millis() as u64, "supervisor: stopping workers");
        }
        let ended = tokio::time::timeout(bound, self.inner.tracker.wait()).await.is_ok();
        let state = self.inner.lock();
        let report = ShutdownReport {
            abandoned: if ended { Vec::new() } else { state.running.values().cloned().collect() },
            failed: state.failed.clone(),
            waited: since.elapsed(),
        };
        drop(state);
        if !report.abandoned.is_empty() {
            tracing::error!(workers = ?report.abandoned, bound_ms = bound.as_millis() as u64, "supervisor: workers still running at the bound; abandoned");
        }
        report
    }
}

/// A running worker's registration: ends it (log, report) once, however the worker ended.
struct Started {
    inner: Arc<Inner>,
    id: u64,
    name: String,
    since: Instant,
    /// Released after the registration is removed, so a finished wait sees no running worker.
    tracked: Option<TaskTrackerToken>,
    ended: bool,
}

impl Started {
    fn end(mut self, outcome: Result<Result<(), String>, Box<dyn Any + Send>>) {
        let (name, ran_ms) = (&self.name, self.since.elapsed().as_millis() as u64);
        let failure = match outcome {
            Ok(Ok(())) => {
                tracing::info!(worker = %name, ran_ms, "supervisor: worker ended");
                None
            }
            Ok(Err(e)) => {
                tracing::error!(worker = %name, ran_ms, error = %e, "supervisor: worker failed");
                Some(Failure::Error(e))
            }
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                tracing::error!(worker = %name, ran_ms, panic = %message, "supervisor: worker panicked");
                Some(Failure::Panic(message))
            }
        };
        let mut state = self.inner.lock();
        state.running.remove(&self.id);
        if let Some(failure) = failure {
            state.failed.push(WorkerFailure { name: self.name.clone(), failure });
        }
        drop(state);
        self.ended = true;
        self.tracked.take();
    }
}

impl Drop for Started {
    /// A worker dropped unfinished: its task was dropped with its runtime, or its thread never
    /// started.
    fn drop(&mut self) {
        if !self.ended {
            self.inner.lock().running.remove(&self.id);
            tracing::debug!(worker = %self.name, "supervisor: worker dropped before it ended");
        }
        self.tracked.take();
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}

/// A future whose panics become an `Err` (as `std::panic::catch_unwind` does for a closure).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn the_handle_can_be_shared_across_threads_and_layers() {
        assert_send_sync_clone::<Supervisor>();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_waits_for_workers_that_finish_after_cancel() {
        let supervisor = Supervisor::new();
        let cleaned_up = Arc::new(AtomicBool::new(false));
        let flag = cleaned_up.clone();
        supervisor
            .spawn("async", move |token| async move {
                token.cancelled().await;
                // Work after the cancel that shutdown must wait for.
                tokio::time::sleep(Duration::from_millis(300)).await;
                flag.store(true, Ordering::SeqCst);
            })
            .unwrap();
        let thread_done = Arc::new(AtomicBool::new(false));
        let flag = thread_done.clone();
        supervisor
            .spawn_blocking_worker("thread", move |token| {
                while !token.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(10));
                }
                std::thread::sleep(Duration::from_millis(300));
                flag.store(true, Ordering::SeqCst);
            })
            .unwrap();
        assert_eq!(supervisor.running(), vec!["async", "thread"]);
        let report = supervisor.shutdown(BOUND).await;
        assert!(report.is_clean(), "{report:?}");
        assert!(cleaned_up.load(Ordering::SeqCst) && thread_done.load(Ordering::SeqCst));
        assert!(report.waited >= Duration::from_millis(300) && report.waited < BOUND, "{report:?}");
        assert!(supervisor.running().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_that_ignores_cancel_is_reported_after_the_bound() {
        let supervisor = Supervisor::new();
        supervisor.spawn("polite", |token| async move { token.cancelled_owned().await }).unwrap();
        supervisor
            .spawn("deaf", |_token| async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            })
            .unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let released = release.clone();
        supervisor
            .spawn_blocking_worker("deaf-thread", move |_token| {
                while !released.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
            .unwrap();
        let bound = Duration::from_millis(300);
        let report = supervisor.shutdown(bound).await;
        assert_eq!(report.abandoned, vec!["deaf", "deaf-thread"]);
        assert!(report.failed.is_empty());
        assert!(report.waited >= bound && report.waited < bound + Duration::from_secs(2), "{report:?}");
        assert!(!report.is_clean());
        release.store(true, Ordering::SeqCst);
    }

    fn explode(message: &str) -> Result<(), String> {
        panic!("{message}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_worker_is_reported_and_others_keep_running() {
        let supervisor = Supervisor::new();
        supervisor
            .spawn("steady", |token| async move {
                token.cancelled().await;
                Ok::<(), String>(())
            })
            .unwrap();
        supervisor.spawn("async-panic", |_token| async move { explode("async boom") }).unwrap();
        supervisor.spawn_blocking_worker("thread-panic", |_token| explode("thread boom")).unwrap();
        supervisor.spawn("erring", |_token| async move { Err::<(), _>("no disk") }).unwrap();
        for _ in 0..200 {
            if supervisor.running() == vec!["steady"] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(supervisor.running(), vec!["steady"]);
        let report = supervisor.shutdown(BOUND).await;
        assert!(report.abandoned.is_empty(), "{report:?}");
        let mut failed: Vec<(String, Failure)> = report.failed.into_iter().map(|f| (f.name, f.failure)).collect();
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            failed,
            vec![
                ("async-panic".into(), Failure::Panic("async boom".into())),
                ("erring".into(), Failure::Error("no disk".into())),
                ("thread-panic".into(), Failure::Panic("thread boom".into())),
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spawning_after_shutdown_started_is_refused() {
        let supervisor = Supervisor::new();
        let handle = supervisor.clone();
        supervisor
            .spawn("slow-stopper", move |token| async move {
                token.cancelled().await;
                // Shutdown is under way here: nothing new may start.
                let refused = handle.spawn("late", |_| async {});
                let refused_thread = handle.spawn_blocking_worker("late-thread", |_| ());
                assert!(matches!(refused, Err(SpawnError::ShuttingDown(n)) if n == "late"));
                assert!(matches!(refused_thread, Err(SpawnError::ShuttingDown(n)) if n == "late-thread"));
            })
            .unwrap();
        let report = supervisor.shutdown(BOUND).await;
        assert!(report.is_clean(), "{report:?}");
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let after = supervisor.spawn("after", move |_| async move { flag.store(true, Ordering::SeqCst) });
        assert!(matches!(after, Err(SpawnError::ShuttingDown(_))));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!ran.load(Ordering::SeqCst), "a refused worker never runs");
        assert!(supervisor.is_shutting_down());
    }

    #[test]
    fn spawning_an_async_worker_outside_a_runtime_is_an_error_not_a_panic() {
        let supervisor = Supervisor::new();
        assert!(matches!(supervisor.spawn("orphan", |_| async {}), Err(SpawnError::NoRuntime(n)) if n == "orphan"));
        assert!(supervisor.running().is_empty());
    }

    #[tokio::test]
    async fn worker_tokens_are_children_of_the_root() {
        let supervisor = Supervisor::new();
        let (a, b) = (supervisor.token(), supervisor.token());
        a.cancel();
        assert!(a.is_cancelled() && !b.is_cancelled(), "cancelling one worker's token stops only that worker");
        let report = supervisor.shutdown(BOUND).await;
        assert!(report.is_clean() && b.is_cancelled());
    }
}
