//! The accept loop: HTTP/1.1 connections served with hyper directly (axum::serve exposes no
//! connection limits), with the limits a hostile or broken client must not get around.
//!
//! - at most [`ServerLimits::max_connections`] connections at once: further clients wait in the
//!   kernel's accept backlog until one closes (nothing is read from them meanwhile);
//! - request heads: at most `max_header_count` headers and `max_header_bytes` bytes (hyper
//!   answers 431), and the head must arrive within `header_read_timeout` of its first byte,
//!   else the connection is closed;
//! - bodies: at most `max_body_bytes` (413) read within `body_read_timeout` (408), both enforced
//!   where the body is read ([`crate::authenticate`]);
//! - a keep-alive connection with no request for `idle_timeout` is closed.
//!
//! hyper's own `header_read_timeout` starts when the server begins waiting for a request, so it
//! would cut idle keep-alive connections at the header timeout; a per-connection watchdog
//! enforces both timeouts instead, from the connection's read/write activity.
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// Connection-level limits of [`crate::run`]. The defaults suit a service whose requests are a
/// few KiB and whose clients are SDKs with small connection pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest request body (413 above it).
    pub max_body_bytes: usize,
    /// Largest request head: request line plus headers (431 above it).
    pub max_header_bytes: usize,
    /// Most headers in one request (431 above it).
    pub max_header_count: usize,
    /// From a request's first byte to the end of its head; the connection is closed after it.
    pub header_read_timeout: Duration,
    /// From the end of the head to the end of the body; 408 after it.
    pub body_read_timeout: Duration,
    /// A keep-alive connection without a request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

/// GuardDuty's largest requests are a few KiB; 10 MiB matches AWS's API payload ceiling.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;
/// Room for a SigV4 request with a long query (UntagResource with 50 percent-encoded keys).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// hyper's default.
pub const DEFAULT_MAX_HEADER_COUNT: usize = 100;
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// As AWS's load balancers: an SDK pool reconnects transparently after it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Well under the usual 1,024 open-file limit, far above SDK pool sizes (boto3: 10).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// hyper reads a head into a buffer of at most ~400 KiB whatever the header limit says.
pub const MAX_HEADER_BYTES_CEILING: usize = 256 * 1024;

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body_bytes: DEFAULT_BODY_LIMIT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_header_count: DEFAULT_MAX_HEADER_COUNT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets every open connection
/// finish its request in flight (idle ones close at once) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max_connections = limits.max_connections.clamp(1, u32::MAX as usize);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = Arc::new(limits);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .max_headers(limits.max_header_count)
        .max_header_size(limits.max_header_bytes.clamp(1024, MAX_HEADER_BYTES_CEILING))
        // Enforced by the watchdog (see the module doc).
        .header_read_timeout(None);
    let http = Arc::new(http);

    let mut shutdown = std::pin::pin!(shutdown);
    let mut saturated = false;
    loop {
        if permits.available_permits() == 0 && !saturated {
            saturated = true;
            tracing::warn!(max_connections, "connection limit reached: new connections wait until one closes");
        }
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        if saturated && permits.available_permits() > 0 {
            saturated = false;
        }
        let (router, limits, http, stop) = (router.clone(), limits.clone(), http.clone(), stop_rx.clone());
        tokio::spawn(async move {
            connection(stream, router, &limits, &http, stop).await;
            tracing::trace!(%peer, "connection closed");
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection task holds a permit until it ends: all of them back means all closed.
    let _all_closed = permits.acquire_many(max_connections as u32).await;
    Ok(())
}

/// From hyper 0.14's accept loop: a reset before accept is the peer's business; anything else
/// (EMFILE above all) is logged and retried after a pause rather than spun on.
async fn accept_error(e: io::Error) {
    if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 200 ms");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// What the watchdog decides for a connection at a given time.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing due; look again at this time.
    Fine(Instant),
    /// No request for the idle timeout: close gracefully.
    Idle,
    /// A request head started and did not finish in time: drop the connection.
    SlowHead,
}

/// A connection's activity, written by its I/O and its requests, read by its watchdog.
/// Times are milliseconds since `origin`.
struct Activity {
    origin: Instant,
    in_flight: AtomicU32,
    last_io_ms: AtomicU64,
    /// Bytes read since the last request ended; non-zero means a head is arriving.
    head_bytes: AtomicU64,
    head_started_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            in_flight: AtomicU32::new(0),
            last_io_ms: AtomicU64::new(0),
            head_bytes: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.origin + Duration::from_millis(ms)
    }

    fn on_read(&self, n: usize) {
        let now = self.now_ms();
        self.last_io_ms.store(now, Ordering::Relaxed);
        // Bytes read while a request is served are its body (timed where it is read).
        if self.in_flight.load(Ordering::Acquire) == 0 && self.head_bytes.fetch_add(n as u64, Ordering::AcqRel) == 0 {
            self.head_started_ms.store(now, Ordering::Release);
        }
    }

    fn on_write(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn request_ended(&self) {
        self.head_bytes.store(0, Ordering::Release);
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn verdict(&self, limits: &ServerLimits) -> Verdict {
        let now = self.now_ms();
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // The body timeout and our own handlers bound a request; look again later.
            return Verdict::Fine(self.at(now) + limits.header_read_timeout.min(limits.idle_timeout));
        }
        if self.head_bytes.load(Ordering::Acquire) > 0 {
            let due = self.head_started_ms.load(Ordering::Acquire) + limits.header_read_timeout.as_millis() as u64;
            return if now >= due { Verdict::SlowHead } else { Verdict::Fine(self.at(due)) };
        }
        let due = self.last_io_ms.load(Ordering::Relaxed) + limits.idle_timeout.as_millis() as u64;
        if now >= due { Verdict::Idle } else { Verdict::Fine(self.at(due)) }
    }
}

/// Ends the request's accounting however its future ends (answered or dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// How long a connection told to close may take to finish writing before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

async fn connection(
    stream: TcpStream,
    router: Router,
    limits: &ServerLimits,
    http: &hyper::server::conn::http1::Builder,
    mut stop: watch::Receiver<bool>,
) {
    // Answers are single small writes: don't hold them back for Nagle.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(TrackedIo { inner: stream, activity: activity.clone() });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        service_activity.request_started();
        let guard = InFlight(service_activity.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(req.map(Body::new)).await;
            drop(guard);
            response
        }
    });
    let conn = http.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut closing_since: Option<Instant> = None;
    let mut check_at = Instant::now() + limits.header_read_timeout.min(limits.idle_timeout);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if closing_since.is_none() => {
                if changed.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
            }
            _ = tokio::time::sleep_until(check_at) => {
                if closing_since.is_some_and(|t| t.elapsed() >= CLOSE_GRACE + limits.body_read_timeout) {
                    tracing::debug!("connection did not finish closing in time; dropped");
                    return;
                }
                match activity.verdict(limits) {
                    Verdict::Fine(next) => check_at = next,
                    Verdict::SlowHead => {
                        tracing::debug!("request head not received within the header timeout; connection closed");
                        return;
                    }
                    Verdict::Idle => {
                        if closing_since.is_some_and(|t| t.elapsed() >= CLOSE_GRACE) {
                            tracing::debug!("idle connection did not close in time; dropped");
                            return;
                        }
                        if closing_since.is_none() {
                            conn.as_mut().graceful_shutdown();
                            closing_since = Some(Instant::now());
                        }
                        check_at = Instant::now() + CLOSE_GRACE;
                    }
                }
            }
        }
    }
}

/// The TCP stream, recording when bytes move.
struct TrackedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.activity.on_read(read);
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        polled
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits { header_read_timeout: Duration::from_secs(2), idle_timeout: Duration::from_secs(5), ..Default::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_idle_after_the_idle_timeout() {
        let a = Activity::new();
        assert!(matches!(a.verdict(&limits()), Verdict::Fine(_)));
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(matches!(a.verdict(&limits()), Verdict::Fine(_)));
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(a.verdict(&limits()), Verdict::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_head_must_finish_within_the_header_timeout() {
        let a = Activity::new();
        tokio::time::advance(Duration::from_secs(1)).await;
        a.on_read(10);
        tokio::time::advance(Duration::from_millis(1_500)).await;
        // More bytes do not extend it: the whole head has the timeout.
        a.on_read(10);
        assert!(matches!(a.verdict(&limits()), Verdict::Fine(_)));
        tokio::time::advance(Duration::from_millis(600)).await;
        assert_eq!(a.verdict(&limits()), Verdict::SlowHead);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_is_left_alone_and_its_end_restarts_the_idle_clock() {
        let a = Activity::new();
        a.on_read(10);
        a.request_started();
        a.on_read(1_000); // body
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(matches!(a.verdict(&limits()), Verdict::Fine(_)));
        a.request_ended();
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(matches!(a.verdict(&limits()), Verdict::Fine(_)));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(a.verdict(&limits()), Verdict::Idle);
    }
}
