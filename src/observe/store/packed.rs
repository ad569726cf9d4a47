//! One probe sample packed into 28 bytes, so a 5-minute window of 1 s probes costs about 8.5 KB
//! per series instead of 22 KB (a [`Sample`] is 72 bytes: two `f64`s, a bool and five optional
//! `f64` phases).
//!
//! | field    | stored as                                   | resolution                 |
//! |----------|---------------------------------------------|----------------------------|
//! | start    | the `f64` bits, as two `u32`s               | exact                      |
//! | latency  | the `f64` bits, as two `u32`s               | exact                      |
//! | phases   | 5 × `u16` quarter-log microseconds (below)  | 1 µs below 8 ms, else 0.05 % |
//! | ok, has phases | bit flags in one `u8`                 |                            |
//!
//! The decision core reads start times (which window a sample falls in) and latencies (its
//! verdicts print latency estimates to the last digit), so both stay exact and decisions stay
//! byte-identical; rounding starts to the millisecond moved a sample across a window edge in
//! one tick of the csv-trace rehearsal.
//! Phases are diagnostics shown in snapshots, so they get a 16-bit float: 13 bits of
//! microseconds times 4^e for a 3-bit e, exact to the microsecond up to 8.19 ms, within 0.05 %
//! up to 134 s, and saturated beyond.

use crate::snapshot::{Phases, Sample, Time};

/// A sample in 28 bytes (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Packed {
    /// `f64::to_bits` of the start and the latency, split so the struct keeps 4-byte
    /// alignment (28 bytes, not 32).
    at: [u32; 2],
    latency: [u32; 2],
    phases: [u16; 5],
    flags: u8,
}

const OK: u8 = 1;
const HAS_PHASES: u8 = 2;

impl Packed {
    /// Packs `s`.
    pub(super) fn pack(s: &Sample) -> Self {
        let (phases, has) = match s.phases {
            Some(p) => (
                [p.dns, p.connect, p.tls, p.ttfb, p.transfer].map(quarter_log),
                HAS_PHASES,
            ),
            None => ([0; 5], 0),
        };
        Self {
            at: split(s.at),
            latency: split(s.latency),
            phases,
            flags: has | if s.ok { OK } else { 0 },
        }
    }

    /// The sample back (phases at their stored resolution).
    pub(super) fn unpack(&self) -> Sample {
        let p = self.phases.map(from_quarter_log);
        Sample {
            at: self.at(),
            latency: join(self.latency),
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

    /// Start time.
    pub(super) fn at(&self) -> Time {
        join(self.at)
    }

    /// Whether the probe met its expectations.
    pub(super) fn ok(&self) -> bool {
        self.flags & OK != 0
    }
}

fn split(x: f64) -> [u32; 2] {
    let b = x.to_bits();
    [(b >> 32) as u32, b as u32]
}

fn join(x: [u32; 2]) -> f64 {
    f64::from_bits((u64::from(x[0]) << 32) | u64::from(x[1]))
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
    fn starts_latencies_and_verdicts_round_trip_exactly() {
        let s = Sample {
            at: 1_780_000_000.123_456_7,
            latency: 0.123_456_789,
            ok: true,
            phases: None,
        };
        let back = Packed::pack(&s).unpack();
        assert_eq!(back, s);
        let failed = Sample { ok: false, ..s };
        assert_eq!(Packed::pack(&failed).unpack(), failed);
        assert_eq!(std::mem::size_of::<Packed>(), 28);
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
        let s = Sample {
            at: 1.0,
            latency: 0.0,
            ok: false,
            phases: Some(Phases::default()),
        };
        assert_eq!(Packed::pack(&s).unpack().phases, Some(Phases::default()));
    }
}
