//! One probe sample packed into 24 bytes, so a 5-minute window of 1 s probes costs about 7 KB
//! per series instead of 22 KB (a [`Sample`] is 72 bytes: two `f64`s, a bool and five optional
//! `f64` phases).
//!
//! | field    | stored as                                   | resolution                 |
//! |----------|---------------------------------------------|----------------------------|
//! | start    | `u32` milliseconds after the series' epoch  | 1 ms, 49 days of span      |
//! | latency  | the `f64` bits, as two `u32`s               | exact                      |
//! | phases   | 5 × `u16` quarter-log microseconds (below)  | 1 µs below 8 ms, else 0.05 % |
//! | ok, has phases | bit flags in one `u8`                 |                            |
//!
//! The decision core reads start times and latencies, and its verdicts print latency estimates
//! to the last digit, so latencies stay exact and start times keep the millisecond (the
//! simulator's clock ticks in whole seconds, so its decisions stay byte-identical).
//! Phases are diagnostics shown in snapshots, so they get a 16-bit float: 13 bits of
//! microseconds times 4^e for a 3-bit e, exact to the microsecond up to 8.19 ms, within 0.05 %
//! up to 134 s, and saturated beyond.

use crate::snapshot::{Phases, Sample, Time};

/// A sample relative to its series' epoch (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Packed {
    at_ms: u32,
    /// `f64::to_bits`, split so the struct keeps 4-byte alignment (24 bytes, not 32).
    latency: [u32; 2],
    phases: [u16; 5],
    flags: u8,
}

const OK: u8 = 1;
const HAS_PHASES: u8 = 2;

/// Largest start offset from the epoch (49.7 days).
pub(super) const MAX_OFFSET_S: f64 = u32::MAX as f64 / 1000.0;

impl Packed {
    /// Packs `s`, whose start must lie within `[epoch, epoch + MAX_OFFSET_S]` (clamped otherwise).
    pub(super) fn pack(s: &Sample, epoch: Time) -> Self {
        let (phases, has) = match s.phases {
            Some(p) => (
                [p.dns, p.connect, p.tls, p.ttfb, p.transfer].map(quarter_log),
                HAS_PHASES,
            ),
            None => ([0; 5], 0),
        };
        Self {
            at_ms: to_units(s.at - epoch, 1e3),
            latency: {
                let b = s.latency.to_bits();
                [(b >> 32) as u32, b as u32]
            },
            phases,
            flags: has | if s.ok { OK } else { 0 },
        }
    }

    /// The sample back, with its start on `epoch`.
    pub(super) fn unpack(&self, epoch: Time) -> Sample {
        let p = self.phases.map(from_quarter_log);
        Sample {
            at: self.at(epoch),
            latency: f64::from_bits((u64::from(self.latency[0]) << 32) | u64::from(self.latency[1])),
            ok: self.ok(),
            phases: (self.flags & HAS_PHASES != 0).then_some(Phases {
                dns: p[0],
                connect: p[1],
                tls: p[2],
                ttfb: p[3],
                transfer: p[4],
            }),
        }
    }

    /// Start time on `epoch`.
    pub(super) fn at(&self, epoch: Time) -> Time {
        epoch + self.at_ms as f64 / 1e3
    }

    /// Whether the probe met its expectations.
    pub(super) fn ok(&self) -> bool {
        self.flags & OK != 0
    }

    /// The same sample on epoch `to` instead of `from` (`to` ≤ every start; whole seconds apart,
    /// so the move is exact).
    pub(super) fn rebased(self, from: Time, to: Time) -> Self {
        Self {
            at_ms: to_units(self.at(from) - to, 1e3),
            ..self
        }
    }
}

/// `x` in units of `1/per_second`, rounded and clamped into `u32` (NaN and negatives give 0).
fn to_units(x: f64, per_second: f64) -> u32 {
    let v = (x * per_second).round();
    if v.is_nan() || v <= 0.0 {
        0
    } else {
        v.min(u32::MAX as f64) as u32
    }
}

/// Seconds into the 16-bit phase float: top 3 bits e, low 13 bits m, value m·4^e µs.
fn quarter_log(secs: f64) -> u16 {
    let us = (secs * 1e6).round();
    if us.is_nan() || us <= 0.0 {
        return 0;
    }
    for e in 0..8u16 {
        let m = (us / 4f64.powi(e as i32)).round();
        if m <= 8191.0 {
            return (e << 13) | m as u16;
        }
    }
    u16::MAX
}

fn from_quarter_log(v: u16) -> f64 {
    let (e, m) = (v >> 13, v & 0x1fff);
    (m as f64 * 4f64.powi(e as i32)) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_round_trip_to_the_millisecond_and_latencies_exactly() {
        let epoch = 1_780_000_000.0;
        let s = Sample {
            at: epoch + 12.3456,
            latency: 0.123_456_7,
            ok: true,
            phases: None,
        };
        let back = Packed::pack(&s, epoch).unpack(epoch);
        assert_eq!(back.at, epoch + 12.346);
        assert_eq!(back.latency, 0.123_456_7);
        assert!(back.ok && back.phases.is_none());
        // Whole seconds stay exact, which keeps simulated decisions identical.
        let whole = Sample {
            at: epoch + 300.0,
            ..s
        };
        assert_eq!(Packed::pack(&whole, epoch).unpack(epoch).at, whole.at);
    }

    #[test]
    fn phases_keep_microseconds_when_short_and_0_05_percent_when_long() {
        for secs in [
            0.0, 0.000_001, 0.004_321, 0.008_191, 0.008_193, 0.25, 1.5, 29.9, 134.0,
        ] {
            let back = from_quarter_log(quarter_log(secs));
            let err = (back - secs).abs();
            assert!(err <= (secs * 5e-4).max(0.5e-6), "{secs} came back as {back}");
        }
        assert_eq!(from_quarter_log(quarter_log(0.004_321)), 0.004_321);
        assert_eq!(quarter_log(1e6), u16::MAX, "saturates");
        assert_eq!(quarter_log(f64::NAN), 0);
        assert_eq!(quarter_log(-1.0), 0);
    }

    #[test]
    fn out_of_range_values_clamp_instead_of_wrapping() {
        let s = Sample {
            at: -5.0,
            latency: 1e12,
            ok: false,
            phases: Some(Phases::default()),
        };
        let p = Packed::pack(&s, 0.0);
        assert_eq!(p.at_ms, 0);
        assert_eq!(p.unpack(0.0).latency, 1e12);
        assert!(!p.ok() && p.unpack(0.0).phases == Some(Phases::default()));
        assert_eq!(std::mem::size_of::<Packed>(), 24);
    }

    #[test]
    fn rebasing_by_whole_seconds_is_exact() {
        let s = Sample {
            at: 1000.25,
            latency: 0.5,
            ok: true,
            phases: None,
        };
        let p = Packed::pack(&s, 0.0).rebased(0.0, 900.0);
        assert_eq!(p.unpack(900.0).at, 1000.25);
    }
}
