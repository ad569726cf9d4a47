//! Actions and refusals published as `events.k8s.io/v1` Events, so `kubectl get events` and
//! `kubectl describe` show what sloop did and why, next to everything else in the cluster.
//!
//! The reconcile loop must never wait for the API server: [`EventSink::publish`] is a plain
//! function that puts the event in a bounded queue and counts a drop when it is full. One task
//! drains the queue through a token bucket (a burst, then a steady rate), so a flapping policy
//! cannot flood the API server either.
//!
//! Events are created one by one rather than through `kube::runtime::events::Recorder`: the
//! Recorder folds repeats with the same reason into one Event series and keeps the *first* note,
//! which would hide which instance the second reboot was for.

use crate::{
    act::executor::Outcome,
    clock::{self, Clock, SystemClock},
    decision::{Action, ActionKind, Cause, PlannedAction, Refusal, RefusalReason},
};
use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{sync::mpsc, task::JoinHandle};

/// The API's limit on `note`.
const NOTE_LIMIT: usize = 1024;

/// Where and how fast to publish.
#[derive(Debug, Clone)]
pub struct EventSinkConfig {
    /// Namespace the Events are created in (that of `regarding`).
    pub namespace: String,
    /// The object the Events are about: the sloop Pod (downward API) by convention.
    pub regarding: ObjectReference,
    /// `reportingController`, e.g. `sloop.io/controller`.
    pub controller: String,
    /// `reportingInstance`: this replica (the pod name).
    pub instance: String,
    /// Events waiting to be sent at most; beyond it new ones are dropped and counted.
    pub queue: usize,
    /// Events that may be sent back to back.
    pub burst: u32,
    /// Steady rate after the burst (events per second).
    pub per_second: f64,
}

impl EventSinkConfig {
    /// Events about the Pod `pod` in `namespace`, 256 queued, bursts of 25, then one per second.
    pub fn for_pod(namespace: impl Into<String>, pod: impl Into<String>) -> Self {
        let namespace = namespace.into();
        let pod = pod.into();
        Self {
            regarding: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            namespace,
            controller: "sloop.io/controller".into(),
            instance: pod,
            queue: 256,
            burst: 25,
            per_second: 1.0,
        }
    }
}

/// One action or refusal, ready to become an Event.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    /// The policy it belongs to.
    pub policy: String,
    /// The kind of action.
    pub kind: ActionKind,
    /// What became of it.
    pub verdict: Verdict,
    /// The cause and evidence, for humans.
    pub note: String,
}

/// What became of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Executed; the cloud accepted it.
    Taken,
    /// Executed and failed with this error class.
    Failed(String),
    /// Recorded only: the policy or the daemon is in dry-run mode.
    WouldTake,
    /// Considered and refused.
    Refused(RefusalReason),
    /// Decided but not started: leadership was lost or the controller is shutting down.
    Skipped,
    /// In flight when the controller died, and found after the restart never to have reached
    /// the cloud (`crate::resolve`).
    Abandoned,
}

impl ActionEvent {
    /// An executed action and its outcome.
    pub fn executed(policy: &str, planned: &PlannedAction, outcome: &Outcome) -> Self {
        let verdict = match &outcome.result {
            Ok(()) => Verdict::Taken,
            Err(class) => Verdict::Failed(class.clone()),
        };
        Self {
            policy: policy.into(),
            kind: planned.action.kind(),
            verdict,
            note: format!(
                "{policy}: {} ({}): {}",
                describe(&planned.action),
                cause(planned.cause),
                planned.evidence.summary
            ),
        }
    }

    /// An action dry-run mode recorded instead of executing.
    pub fn would(policy: &str, planned: &PlannedAction) -> Self {
        Self {
            policy: policy.into(),
            kind: planned.action.kind(),
            verdict: Verdict::WouldTake,
            note: format!(
                "{policy} (dry run): would {} ({}): {}",
                describe(&planned.action),
                cause(planned.cause),
                planned.evidence.summary
            ),
        }
    }

    /// A refusal.
    pub fn refused(policy: &str, refusal: &Refusal) -> Self {
        Self {
            policy: policy.into(),
            kind: refusal.action.kind(),
            verdict: Verdict::Refused(refusal.reason),
            note: format!(
                "{policy}: refused {} ({}), wanted for {}: {}",
                describe(&refusal.action),
                refusal.reason.label(),
                cause(refusal.cause),
                refusal.evidence.summary
            ),
        }
    }

    /// `Warning` for failures and for refusals by a guard rail a human should know about.
    pub fn event_type(&self) -> &'static str {
        use RefusalReason::*;
        match &self.verdict {
            Verdict::Failed(_) | Verdict::Abandoned => "Warning",
            Verdict::Refused(
                FreezeUnhealthy | FreezeDataMissing | ResourceCap | Budget | MinHealthy | MaxSize,
            ) => "Warning",
            _ => "Normal",
        }
    }

    /// The Event's `reason`: the action kind in PascalCase (`ScaleOut`, `RebootSoft`, …).
    pub fn reason(&self) -> String {
        pascal(self.kind.label())
    }

    /// The Event's `action`: what became of it (`Taken`, `Failed`, `WouldTake`, `Refused…`).
    pub fn action(&self) -> String {
        match &self.verdict {
            Verdict::Taken => "Taken".into(),
            Verdict::Failed(_) => "Failed".into(),
            Verdict::WouldTake => "WouldTake".into(),
            Verdict::Refused(r) => format!("Refused{}", pascal(r.label())),
            Verdict::Skipped => "Skipped".into(),
            Verdict::Abandoned => "Abandoned".into(),
        }
    }
}

/// The action in a few words: `scale-out +2`, `reboot-soft vm-3`, `migrate vm-1 off host-a`.
fn describe(action: &Action) -> String {
    match action {
        Action::ScaleOut { count } => format!("scale-out +{count}"),
        Action::ScaleIn { instances } => format!("scale-in {}", instances.join(", ")),
        Action::Migrate { instance, from_host } => format!("migrate {instance} off {from_host}"),
        other => match other.instance() {
            Some(id) => format!("{} {id}", other.kind().label()),
            None => other.kind().label().to_string(),
        },
    }
}

/// The cause as in the journal and the reports (`capacity`, `instance-fault`, …).
fn cause(cause: Cause) -> String {
    serde_json::to_value(cause)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{cause:?}"))
}

fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Counts kept by the sink (for `/metrics`).
#[derive(Debug, Default)]
pub struct EventStats {
    /// Created on the API server.
    pub published: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Rejected by the API server or not delivered.
    pub failed: AtomicU64,
}

/// The publishing end. Cheap to clone; the task ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<ActionEvent>,
    stats: Arc<EventStats>,
}

impl EventSink {
    /// Starts the publishing task.
    pub fn spawn(client: Client, config: EventSinkConfig) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(EventStats::default());
        let task = tokio::spawn(drain(
            Api::namespaced(client, &config.namespace),
            config,
            rx,
            stats.clone(),
        ));
        (Self { tx, stats }, task)
    }

    /// Queues an event without waiting. Returns false (and counts a drop) when the queue is full.
    pub fn publish(&self, event: ActionEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The sink's counters.
    pub fn stats(&self) -> &EventStats {
        &self.stats
    }
}

async fn drain(
    api: Api<Event>,
    config: EventSinkConfig,
    mut rx: mpsc::Receiver<ActionEvent>,
    stats: Arc<EventStats>,
) {
    let mut bucket = TokenBucket::new(config.burst, config.per_second);
    let mut seq: u32 = 0;
    while let Some(event) = rx.recv().await {
        if let Some(wait) = bucket.take(clock::timer_now()) {
            tokio::time::sleep(wait).await;
            bucket.take(clock::timer_now());
        }
        seq = seq.wrapping_add(1);
        let body = to_k8s(&config, &event, seq);
        match api.create(&PostParams::default(), &body).await {
            Ok(_) => {
                stats.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(namespace = %config.namespace, reason = %event.reason(), error = %e, "Event not published.");
            }
        }
    }
}

/// The API object for one event.
fn to_k8s(config: &EventSinkConfig, event: &ActionEvent, seq: u32) -> Event {
    let micros = (SystemClock.now() * 1e6) as i64;
    let now = Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH);
    let base = config.regarding.name.as_deref().unwrap_or("sloop");
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{base}.{micros:x}.{seq:x}")),
            namespace: Some(config.namespace.clone()),
            ..Default::default()
        },
        event_time: Some(MicroTime(now)),
        type_: Some(event.event_type().into()),
        reason: Some(event.reason()),
        action: Some(event.action()),
        note: Some(truncate(&event.note, NOTE_LIMIT)),
        regarding: Some(config.regarding.clone()),
        reporting_controller: Some(config.controller.clone()),
        reporting_instance: Some(config.instance.clone()),
        ..Default::default()
    }
}

/// Cuts `s` to at most `limit` bytes on a character boundary.
fn truncate(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut end = limit - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

// === impl TokenBucket ===

/// `burst` tokens, refilled at `per_second`.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_second: f64,
    last: Option<tokio::time::Instant>,
}

impl TokenBucket {
    fn new(burst: u32, per_second: f64) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            tokens: burst,
            burst,
            per_second: per_second.max(0.0),
            last: None,
        }
    }

    /// Takes a token at `now`; when none is left, says how long to wait for the next one.
    fn take(&mut self, now: tokio::time::Instant) -> Option<Duration> {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return None;
        }
        if self.per_second <= 0.0 {
            // No refill configured: wait "forever" (a day), the queue absorbs and then drops.
            return Some(Duration::from_secs(86_400));
        }
        Some(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_waits_for_the_rate() {
        let t0 = clock::timer_now();
        let mut b = TokenBucket::new(2, 4.0);
        assert_eq!(b.take(t0), None);
        assert_eq!(b.take(t0), None);
        let wait = b.take(t0).expect("the third must wait");
        assert!((wait.as_secs_f64() - 0.25).abs() < 1e-9, "{wait:?}");
        // Later, one token has come back (not two: the wait above did not consume it).
        assert_eq!(b.take(t0 + Duration::from_millis(250)), None);
    }

    #[test]
    fn names_are_pascal_case_and_notes_fit_the_api_limit() {
        assert_eq!(pascal("reboot-soft"), "RebootSoft");
        assert_eq!(pascal("freeze-data-missing"), "FreezeDataMissing");
        let long = "é".repeat(800);
        let cut = truncate(&long, NOTE_LIMIT);
        assert!(cut.len() <= NOTE_LIMIT && cut.ends_with("..."));
    }
}
