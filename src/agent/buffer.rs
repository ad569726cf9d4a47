//! The agent's send buffer: results wait here until the controller acknowledges them. Bounded:
//! when full (the controller unreachable for long), the oldest results are dropped first and
//! counted, and the count travels with every batch so the controller can report it.

use crate::{
    ingest::wire::{BatchSample, BatchSeries},
    observe::{
        probe::{Outcome, schedule::Sink},
        store::SeriesId,
    },
    snapshot::{InstanceId, IpFamily},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

/// Which series a buffered result belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesRef {
    /// Policy name.
    pub policy: Arc<str>,
    /// Probe name.
    pub probe: Arc<str>,
    /// Family probed.
    pub family: IpFamily,
    /// The instance, for per-instance series.
    pub instance: Option<InstanceId>,
}

/// Results waiting to be sent, oldest first.
#[derive(Debug)]
pub struct Buffer {
    items: VecDeque<(u64, SeriesRef, BatchSample)>,
    capacity: usize,
    next_seq: u64,
    dropped: u64,
}

impl Buffer {
    /// A buffer that holds at most `capacity` results.
    pub fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            dropped: 0,
        }
    }

    /// Adds a result, dropping the oldest one if the buffer is full.
    pub fn push(&mut self, series: SeriesRef, sample: BatchSample) {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.dropped += 1;
        }
        self.items.push_back((self.next_seq, series, sample));
        self.next_seq += 1;
    }

    /// Results waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Results dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Counts results as dropped that will never be delivered (a batch the controller refused).
    pub fn count_dropped(&mut self, n: u64) {
        self.dropped += n;
    }

    /// The oldest `max` results grouped by series, and the sequence number to acknowledge once
    /// the controller took them (`None` when empty).
    pub fn batch(&self, max: usize) -> (Vec<BatchSeries>, Option<u64>, usize) {
        let mut series: Vec<BatchSeries> = Vec::new();
        let mut index: HashMap<&SeriesRef, usize> = HashMap::new();
        let mut last = None;
        let mut n = 0;
        for (seq, r, s) in self.items.iter().take(max) {
            let i = *index.entry(r).or_insert_with(|| {
                series.push(BatchSeries {
                    policy: r.policy.to_string(),
                    probe: r.probe.to_string(),
                    family: r.family,
                    instance: r.instance.clone(),
                    samples: Vec::new(),
                });
                series.len() - 1
            });
            series[i].samples.push(*s);
            last = Some(*seq);
            n += 1;
        }
        (series, last, n)
    }

    /// Forgets every result up to and including `seq` (delivered, or refused for good).
    pub fn ack(&mut self, seq: u64) {
        while self.items.front().is_some_and(|(s, ..)| *s <= seq) {
            self.items.pop_front();
        }
    }
}

/// The scheduler's sink on an agent: results of one policy's jobs go into the buffer.
pub struct BufferSink {
    /// The policy the jobs belong to.
    pub policy: Arc<str>,
    /// The shared buffer.
    pub buffer: Arc<Mutex<Buffer>>,
}

impl Sink for BufferSink {
    fn record(&self, series: &SeriesId, outcomes: &[Outcome]) {
        let (key, instance) = match series {
            SeriesId::Service(k) => (k, None),
            SeriesId::Instance(i, k) => (k, Some(i.clone())),
        };
        let r = SeriesRef {
            policy: self.policy.clone(),
            probe: key.probe.clone(),
            family: key.family,
            instance,
        };
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        for o in outcomes {
            buffer.push(
                r.clone(),
                BatchSample::new(o.sample, o.failure.as_ref().map(|f| f.kind)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(probe: &str) -> SeriesRef {
        SeriesRef {
            policy: "p".into(),
            probe: probe.into(),
            family: IpFamily::V6,
            instance: None,
        }
    }

    fn s(at: f64) -> BatchSample {
        BatchSample {
            at,
            latency: 0.01,
            ok: true,
            phases: None,
            failure: None,
        }
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_counts_them() {
        let mut b = Buffer::new(3);
        for i in 0..5 {
            b.push(r("web"), s(i as f64));
        }
        assert_eq!(b.dropped(), 2);
        let (series, last, n) = b.batch(10);
        assert_eq!(n, 3);
        assert_eq!(
            series[0].samples.iter().map(|x| x.at).collect::<Vec<_>>(),
            vec![2.0, 3.0, 4.0]
        );
        assert_eq!(last, Some(4));
    }

    #[test]
    fn batches_group_by_series_and_acks_remove_only_what_was_sent() {
        let mut b = Buffer::new(10);
        b.push(r("web"), s(1.0));
        b.push(r("tcp"), s(2.0));
        b.push(r("web"), s(3.0));
        let (series, last, n) = b.batch(2);
        assert_eq!((series.len(), n, last), (2, 2, Some(1)));
        b.push(r("web"), s(4.0));
        b.ack(1);
        let (series, _, n) = b.batch(10);
        assert_eq!(n, 2);
        assert_eq!(
            series[0].samples.iter().map(|x| x.at).collect::<Vec<_>>(),
            vec![3.0, 4.0]
        );
    }
}
