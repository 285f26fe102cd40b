//! The export outbox: every finding change that must reach the sinks (EventBridge-style events,
//! publishing destinations) is recorded in the same transaction as the change itself, so a
//! crash or a sink that is down loses nothing (docs/api.md#operations, docs/api.md#detectors).
//!
//! # Model
//!
//! * **Consumers.** Anything that delivers findings somewhere (a `--export` sink, a publishing
//!   destination) registers a *consumer* under a stable name, optionally limited to one
//!   detector. Each consumer has a cursor in the store: the highest event sequence number it
//!   has acknowledged. Delivery is at-least-once: an event is handed out again until acked, also
//!   across restarts (deliver, then ack; a crash in between repeats the event).
//! * **Events.** The outbox is a log of events with increasing sequence numbers (`seq`), at most
//!   ONE per finding: an event names a finding, and the finding's document is read when the event
//!   is handed out, so it is always the finding's latest state (coalescing for free).
//!     - A **new** finding is due at once: its event is appended to the log by `apply`.
//!     - An **update** goes to a pending set (at most one row per finding; later updates of the
//!       same finding change nothing) and is due at the detector's next
//!       `findingPublishingFrequency` boundary (multiples of 15 min / 1 h / 6 h since the epoch,
//!       fixed when the first pending update was queued). When due, it is appended to the log
//!       with a new `seq`, replacing that finding's older log event if some consumer had not read
//!       it yet (that consumer then gets the finding once, in its latest state).
//!     - An **archived** finding (manually, or suppressed by an ARCHIVE filter) is never handed
//!       out: storing it archived drops its queued events, and the archived flag is checked again
//!       when events are handed out (a finding archived by ArchiveFindings after queueing).
//!
//!   So the outbox holds at most two rows per finding (one log event, one pending update): it is
//!   bounded by the number of findings, never by the number of updates.
//! * **No consumer, no outbox.** `apply` records nothing for a detector no consumer wants. A
//!   consumer sees the events appended after it registered (and every pending update that
//!   becomes due later); register before ingesting what must be delivered. Consumers stay
//!   registered across restarts until `unregister_consumer`.
//! * Log events acked by every consumer that wants them are deleted. Deleting a detector drops
//!   its events and the consumers limited to it; `reset` drops every event and the per-detector
//!   consumers, and keeps the global ones.
//!
//! # Use (a delivery loop)
//!
//! ```text
//! store.register_consumer("sink:file:/var/log/gd.jsonl", None)?;        // idempotent
//! loop {
//!     let batch = store.outbox_due(name, now_ms, 500)?;
//!     deliver(&batch.events)?;                   // on failure: retry later, do not ack
//!     store.outbox_ack(name, batch.ack_to)?;     // or the seq of the last event delivered
//!     if batch.events.is_empty() { sleep }
//! }
//! ```
use crate::Result;

/// One finding to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Position in the outbox (increasing; acknowledge up to it).
    pub seq: i64,
    pub detector_id: String,
    pub account_id: String,
    pub region: String,
    pub finding_id: String,
    /// The finding as stored, i.e. exactly the document GetFindings returns (JSON text).
    pub body_json: String,
    /// The event was queued by the finding's creation (false: by updates).
    pub created: bool,
    /// When the change that queued the event was written (epoch ms).
    pub enqueued_at_ms: i64,
    /// When the event became deliverable (epoch ms): `enqueued_at_ms` for new findings, the
    /// publishing-frequency boundary for updates. Export lag = delivery time - `due_ms`.
    pub due_ms: i64,
}

/// What [`ExportStore::outbox_due`] hands out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutboxBatch {
    /// Due events after the consumer's cursor, in `seq` order (archived findings left out).
    pub events: Vec<OutboxEvent>,
    /// Acknowledge up to this once every event of `events` is delivered: the last event looked
    /// at, or further (past events left out, up to the outbox's end) when the batch holds all
    /// there was. Never less than the consumer's cursor.
    pub ack_to: i64,
}

/// One consumer's position (metrics and logs).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerStats {
    pub name: String,
    /// The detector the consumer is limited to (None: every detector).
    pub detector_id: Option<String>,
    /// Events in the log the consumer has not acknowledged yet.
    pub backlog: u64,
    /// `due_ms` of the oldest of those (None: nothing waiting). Lag = now - this.
    pub oldest_due_ms: Option<i64>,
}

/// The outbox's size (metrics and logs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutboxStats {
    /// Events in the log (due; not yet acknowledged by every consumer that wants them).
    pub queued: u64,
    /// Updates waiting for their publishing-frequency boundary.
    pub pending_updates: u64,
    /// Earliest `due_ms` among events some consumer has not acknowledged (None: none).
    pub oldest_due_ms: Option<i64>,
    pub consumers: Vec<ConsumerStats>,
}

impl OutboxStats {
    /// Rows the outbox holds: queued events plus pending updates.
    pub fn depth(&self) -> u64 {
        self.queued + self.pending_updates
    }
}

/// Persistence of the outbox and of consumer cursors. See the module documentation for the
/// semantics. `Store::commit` feeds the outbox itself (no method here for that).
pub trait ExportStore {
    /// Registers consumer `name` (any stable text: `sink:<spec>`, `destination:<id>`), limited to
    /// `detector_id`'s findings if given (`NotFound` if that detector does not exist). Idempotent:
    /// an existing consumer keeps its cursor (its detector limit is replaced by this one). A new
    /// consumer starts at the outbox's end: it gets events queued from now on.
    fn register_consumer(&self, name: &str, detector_id: Option<&str>) -> Result<()>;

    /// Forgets the consumer and the events only it was waiting for. Unknown names are ignored.
    fn unregister_consumer(&self, name: &str) -> Result<()>;

    /// Registered consumers: (name, detector limit).
    fn consumers(&self) -> Result<Vec<(String, Option<String>)>>;

    /// Up to `limit` (≥ 1) events due at `now_ms` that `consumer` has not acknowledged, oldest
    /// first (first moving the updates due by `now_ms` into the log). Calling it again without
    /// acking hands out the same events (plus any new ones). `NotFound` for an unknown consumer
    /// (e.g. dropped with its detector).
    fn outbox_due(&self, consumer: &str, now_ms: i64, limit: usize) -> Result<OutboxBatch>;

    /// Moves `consumer`'s cursor to `up_to_seq` (never backwards; capped at the outbox's end) and
    /// deletes the events every consumer has now acknowledged. `NotFound` for an unknown consumer.
    fn outbox_ack(&self, consumer: &str, up_to_seq: i64) -> Result<()>;

    /// Depth and per-consumer backlog and age. Cost grows with the backlog: call it every few
    /// seconds, not per event.
    fn outbox_stats(&self) -> Result<OutboxStats>;
}

/// Milliseconds of a `findingPublishingFrequency` value; unknown values are GuardDuty's default
/// (SIX_HOURS).
pub fn publishing_period_ms(frequency: &str) -> i64 {
    match frequency {
        "FIFTEEN_MINUTES" => 15 * 60 * 1000,
        "ONE_HOUR" => 60 * 60 * 1000,
        _ => 6 * 60 * 60 * 1000,
    }
}

/// The first publishing boundary strictly after `now_ms` for a period.
pub fn next_boundary_ms(now_ms: i64, period_ms: i64) -> i64 {
    (now_ms.div_euclid(period_ms) + 1) * period_ms
}
