//! Human-friendly value types used in policy and scenario files: durations (`30s`, `1m 30s`),
//! percentages (`99.9%`), byte sizes (`4GiB`) and timestamps (`2026-09-27T18:00:00+02:00`).
//!
//! Each type parses from a string, prints back the same way, and describes itself in the JSON
//! Schema with a `format` that the policy loader checks (see `policy::schema_check`). Pure.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{borrow::Cow, fmt, str::FromStr};

/// A parse failure with a message that says what a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnitError(pub String);

macro_rules! string_serde {
    ($t:ty, $name:literal, $format:literal, $desc:literal, $pattern:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "format": $format, "description": $desc, "pattern": $pattern })
            }
        }
    };
}

// === impl Duration ===

/// A length of time such as `30s`, `1m 30s`, `2h` or `3d`, stored in seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Duration(f64);

impl Duration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: f64) -> Self {
        Self(secs)
    }
    /// The duration in seconds.
    pub const fn secs(self) -> f64 {
        self.0
    }
}

/// The unit symbols a duration accepts, with their length in nanoseconds. One spelling per
/// unit, so a policy reads the same everywhere and the schema's pattern is exactly what loads;
/// no months or years (no fixed length, and `M` is a shift key away from `m`).
const DURATION_UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

/// The symbol for a unit spelled another way (`sec` → `s`), or why there is none.
fn unit_hint(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "nanos" | "nsec" => "ns",
        "usec" | "µs" | "μs" => "us",
        "millis" | "msec" => "ms",
        "seconds" | "second" | "secs" | "sec" | "S" => "s",
        "minutes" | "minute" | "min" | "mins" => "m",
        "hours" | "hour" | "hr" | "hrs" | "H" => "h",
        "days" | "day" | "D" => "d",
        "weeks" | "week" | "wk" | "wks" | "W" => "w",
        _ => return None,
    })
}

/// One `<number><unit>` part: its nanoseconds (exact integer arithmetic, so `1m 30s` and
/// `1.5m` are the same value), or a hint naming the form to write instead.
fn duration_part(part: &str) -> Result<u128, String> {
    let split = part
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(part.len());
    let (number, unit) = part.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (number.contains('.') && fraction.is_empty()) || fraction.contains('.') {
        return Err(format!("`{part}` does not start with a number"));
    }
    let Some((_, size)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(match (unit, unit_hint(unit)) {
            ("", _) => format!("`{part}` has no unit"),
            (_, Some(symbol)) => format!("write `{number}{symbol}`, not `{part}`"),
            ("M" | "month" | "months" | "y" | "yr" | "yrs" | "year" | "years", _) => {
                format!("`{part}`: months and years have no fixed length; write days, such as `30d`")
            }
            _ => format!("`{unit}` is not a unit"),
        });
    };
    let too_long = || format!("`{part}` is too long");
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let mut nanos = whole.checked_mul(*size).ok_or_else(too_long)?;
    // Fraction digits beyond a nanosecond cannot change the value.
    let mut scale = *size;
    for digit in fraction.bytes().map(|b| u128::from(b - b'0')) {
        if scale < 10 {
            break;
        }
        scale /= 10;
        nanos += digit * scale;
    }
    Ok(nanos)
}

impl FromStr for Duration {
    type Err = UnitError;
    /// Parts of a number (decimals allowed) and a unit symbol, `ns` `us` `ms` `s` `m` `h` `d`
    /// `w`, separated by spaces: `30s`, `1m 30s`, `1.5m`. Any other spelling is refused with
    /// the form to write instead (`10 sec` → `10s`).
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let refuse = |why: String| {
            UnitError(format!(
                "`{s}` is not a duration ({why}); write numbers with a unit symbol (ns, us, ms, s, m, h, d, w), such as `30s`, `1m 30s`, `1.5m`, `500ms`, `2h` or `3d`"
            ))
        };
        let words: Vec<&str> = s.split_whitespace().collect();
        if words.is_empty() {
            return Err(refuse("it is empty".into()));
        }
        let mut total: u128 = 0;
        for (i, word) in words.iter().enumerate() {
            // `10 sec`: a bare number followed by a unit word.
            if word.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && let Some(next) = words.get(i + 1)
            {
                let unit =
                    unit_hint(next).or_else(|| DURATION_UNITS.iter().map(|(u, _)| *u).find(|u| u == next));
                return Err(refuse(match unit {
                    Some(symbol) => format!("write `{word}{symbol}`, without a space"),
                    None => format!("`{next}` is not a unit"),
                }));
            }
            if word.starts_with('-') {
                return Err(refuse("a duration is never negative".into()));
            }
            total = total.saturating_add(duration_part(word).map_err(refuse)?);
        }
        let nanos = u64::try_from(total).map_err(|_| refuse("it is too long".into()))?;
        Ok(Self(std::time::Duration::from_nanos(nanos).as_secs_f64()))
    }
}

impl fmt::Display for Duration {
    /// The canonical form that parses back to the same value: `1d 4h`, `1m 30s`, `500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nanos = (self.0.max(0.0) * 1e9).round() as u128;
        if nanos == 0 {
            return f.write_str("0s");
        }
        let mut first = true;
        for (unit, size) in DURATION_UNITS.iter().rev().filter(|(u, _)| *u != "w") {
            let count = nanos / size;
            if count > 0 {
                write!(f, "{}{count}{unit}", if first { "" } else { " " })?;
                first = false;
                nanos %= size;
            }
        }
        Ok(())
    }
}

string_serde!(
    Duration,
    "Duration",
    "duration",
    "A duration: numbers with a unit symbol (ns, us, ms, s, m, h, d, w), e.g. `30s`, `1m 30s`, `1.5m`, `500ms`, `2h`, `3d`.",
    r"^\s*\d+(\.\d+)?(ns|us|ms|s|m|h|d|w)(\s+\d+(\.\d+)?(ns|us|ms|s|m|h|d|w))*\s*$"
);

// === impl Percent ===

/// A percentage such as `99.9%`, stored as a fraction (0.999).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

impl Percent {
    /// A percentage from a fraction (0.5 is 50 %).
    pub const fn from_fraction(fraction: f64) -> Self {
        Self(fraction)
    }
    /// The value as a fraction of one.
    pub const fn fraction(self) -> f64 {
        self.0
    }
}

impl FromStr for Percent {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let hint = || {
            UnitError(format!(
                "`{s}` is not a percentage; write it with a % sign, such as `99.9%`"
            ))
        };
        let number = s.trim().strip_suffix('%').ok_or_else(hint)?.trim();
        let value: f64 = number.parse().map_err(|_| hint())?;
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            return Err(UnitError(format!("`{s}` is outside 0%..100%")));
        }
        Ok(Self(value / 100.0))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = self.0 * 100.0;
        // Shortest representation that round-trips, without float noise such as 99.90000000000001.
        let text = format!("{:.6}", pct);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{text}%")
    }
}

string_serde!(
    Percent,
    "Percent",
    "percent",
    "A percentage with a % sign, e.g. `99.9%` or `60%`.",
    r"^\s*\d+(\.\d+)?\s*%\s*$"
);

// === impl ByteSize ===

/// A size in bytes written with a unit: `512MiB`, `4GiB`, `2GB`, `1TiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(u64);

const SIZE_UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

impl ByteSize {
    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
    /// The size in GiB, as flavors and quotas count RAM.
    pub fn gib(self) -> f64 {
        self.0 as f64 / (1u64 << 30) as f64
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let hint = || {
            UnitError(format!(
                "`{s}` is not a size; write a number with a unit, such as `4GiB` or `512MiB`"
            ))
        };
        let t = s.trim();
        let (unit, mult) = SIZE_UNITS.iter().find(|(u, _)| t.ends_with(u)).ok_or_else(hint)?;
        let number: f64 = t[..t.len() - unit.len()].trim().parse().map_err(|_| hint())?;
        if !number.is_finite() || number < 0.0 || number * (*mult as f64) > u64::MAX as f64 {
            return Err(hint());
        }
        Ok(Self((number * *mult as f64).round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exact = SIZE_UNITS
            .iter()
            .find(|(_, m)| self.0 >= *m && self.0.is_multiple_of(*m));
        match exact {
            Some((unit, m)) => write!(f, "{}{unit}", self.0 / m),
            None => write!(f, "{}B", self.0),
        }
    }
}

string_serde!(
    ByteSize,
    "ByteSize",
    "byte-size",
    "A size with a unit, e.g. `512MiB`, `4GiB`, `2GB`.",
    r"^\s*\d+(\.\d+)?\s*(TiB|GiB|MiB|KiB|TB|GB|MB|KB|B)\s*$"
);

// === impl Timestamp ===

/// An instant written in RFC 3339 with an offset: `2026-09-27T18:00:00+02:00` or `…Z`.
/// Stored as seconds since the Unix epoch, the way the decision core counts time.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp {
    unix: f64,
    offset_minutes: i32,
}

impl Timestamp {
    /// The instant as seconds since the Unix epoch.
    pub const fn unix(self) -> f64 {
        self.unix
    }
    /// An instant at `unix` seconds, printed in UTC.
    pub const fn from_unix(unix: f64) -> Self {
        Self {
            unix,
            offset_minutes: 0,
        }
    }
}

/// The written form the policy language promises, `YYYY-MM-DD[Tt ]HH:MM:SS[.frac]` and `Z` or
/// `±HH:MM` (the schema's pattern): jiff also reads ISO 8601 forms such as `+02`, `+0200`,
/// basic `20260927T180000` or `[Europe/Berlin]`, which a policy must not come to depend on.
/// Returns the local part and the offset in minutes east of UTC.
fn rfc3339_parts(t: &str) -> Option<(&str, i32)> {
    let (local, offset_minutes) = match t.strip_suffix(['Z', 'z']) {
        Some(local) => (local, 0),
        None => {
            let (local, zone) = t.split_at_checked(t.len().checked_sub(6)?)?;
            let z = zone.as_bytes();
            let two = |i: usize| std::str::from_utf8(&z[i..i + 2]).ok()?.parse::<i32>().ok();
            let (hh, mm) = (two(1)?, two(4)?);
            if !matches!(z[0], b'+' | b'-') || z[3] != b':' || hh > 23 || mm > 59 {
                return None;
            }
            (
                local,
                if z[0] == b'-' {
                    -(hh * 60 + mm)
                } else {
                    hh * 60 + mm
                },
            )
        }
    };
    let l = local.as_bytes();
    let digits = |r: std::ops::Range<usize>| l.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shaped = l.len() >= 19
        && [4, 7].iter().all(|&i| l[i] == b'-')
        && matches!(l[10], b'T' | b't' | b' ')
        && [13, 16].iter().all(|&i| l[i] == b':')
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(digits)
        && (l.len() == 19 || (l[19] == b'.' && l.len() > 20 && digits(20..l.len())));
    shaped.then_some((local, offset_minutes))
}

/// `+HH:MM` or `-HH:MM` for an offset of `minutes` east of UTC (the status page prefixes `UTC`).
pub fn offset_text(minutes: i64) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

impl FromStr for Timestamp {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        let hint = || {
            UnitError(format!(
                "`{s}` is not a timestamp; write RFC 3339 with an offset, such as `2026-09-27T18:00:00+02:00` or `2026-09-27T16:00:00Z`"
            ))
        };
        let (local, offset_minutes) = rfc3339_parts(s.trim()).ok_or_else(hint)?;
        // The calendar (month lengths, leap years) and the epoch arithmetic are jiff's. jiff
        // has no leap seconds: `:60` counts as the second after `:59`.
        let leap = local.get(17..19) == Some("60");
        let local = if leap {
            format!("{}59{}", &local[..17], &local[19..])
        } else {
            local.to_owned()
        };
        let local: jiff::civil::DateTime = local.parse().map_err(|_| hint())?;
        let offset = jiff::tz::Offset::from_seconds(offset_minutes * 60).map_err(|_| hint())?;
        let at = offset.to_timestamp(local).map_err(|_| hint())?;
        let unix = (at.as_second() + i64::from(leap)) as f64 + f64::from(at.subsec_nanosecond()) / 1e9;
        Ok(Self { unix, offset_minutes })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.unix.floor() as i64;
        // Past jiff's range (years beyond ±9999) the nearest instant it holds is printed.
        let at = jiff::Timestamp::from_second(secs).unwrap_or(if secs < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        let offset =
            jiff::tz::Offset::from_seconds(self.offset_minutes * 60).unwrap_or(jiff::tz::Offset::UTC);
        let t = offset.to_datetime(at);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        match self.offset_minutes {
            0 => write!(f, "Z"),
            o => f.write_str(&offset_text(o.into())),
        }
    }
}

string_serde!(
    Timestamp,
    "Timestamp",
    "date-time",
    "An RFC 3339 timestamp with an offset, e.g. `2026-09-27T18:00:00+02:00`.",
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
);

/// Checks a string against the named `format` of a schema, as the loader does for every scalar.
/// Unknown formats pass; the typed deserialisation is the final word.
pub fn check_format(format: &str, value: &str) -> Result<(), UnitError> {
    match format {
        "duration" => value.parse::<Duration>().map(drop),
        "percent" => value.parse::<Percent>().map(drop),
        "byte-size" => value.parse::<ByteSize>().map(drop),
        "date-time" => value.parse::<Timestamp>().map(drop),
        "regex" => regex::Regex::new(value)
            .map(drop)
            .map_err(|e| UnitError(format!("`{value}` is not a valid regular expression: {e}"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_compound_forms_and_reject_garbage() {
        assert_eq!("1m 30s".parse::<Duration>().unwrap().secs(), 90.0);
        assert_eq!("500ms".parse::<Duration>().unwrap().secs(), 0.5);
        assert_eq!("3d".parse::<Duration>().unwrap().secs(), 259_200.0);
        assert!("30 parsecs".parse::<Duration>().is_err());
        assert!("-5s".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
    }

    #[test]
    fn durations_outside_the_documented_form_are_refused_with_the_form_to_write() {
        for (text, write) in [
            ("10 sec", "`10s`"),
            ("10secs", "`10s`"),
            ("5 minutes", "`5m`"),
            ("2hours", "`2h`"),
            ("1day", "`1d`"),
            ("5M", "30d"),
            ("1y", "30d"),
        ] {
            let err = text.parse::<Duration>().expect_err(text).to_string();
            assert!(err.contains(write), "{text}: {err}");
        }
        for bare in ["10", "s", "1..5s", ".5s", "1m30"] {
            assert!(bare.parse::<Duration>().is_err(), "{bare} must be refused");
        }
    }

    #[test]
    fn durations_take_decimals_and_print_back_the_same_value() {
        assert_eq!("1.5m".parse::<Duration>().unwrap().secs(), 90.0);
        assert_eq!("0.5s".parse::<Duration>().unwrap().secs(), 0.5);
        assert_eq!("200us".parse::<Duration>().unwrap().secs(), 200e-6);
        assert_eq!("1w".parse::<Duration>().unwrap().secs(), 604_800.0);
        for secs in [
            0.0,
            0.0002,
            0.5,
            1.0,
            90.0,
            3_600.0,
            100_800.0,
            2_592_000.0,
            12.345,
        ] {
            let text = Duration::from_secs(secs).to_string();
            let back = text
                .parse::<Duration>()
                .unwrap_or_else(|e| panic!("{secs}: `{text}`: {e}"));
            assert!(
                (back.secs() - secs).abs() < 1e-9,
                "{secs} -> `{text}` -> {}",
                back.secs()
            );
        }
        assert_eq!(Duration::from_secs(100_800.0).to_string(), "1d 4h");
        assert_eq!(Duration::from_secs(90.0).to_string(), "1m 30s");
    }

    #[test]
    fn percentages_need_a_sign_and_stay_in_range() {
        assert!(("99.9%".parse::<Percent>().unwrap().fraction() - 0.999).abs() < 1e-12);
        assert!("99.9".parse::<Percent>().is_err());
        assert!("101%".parse::<Percent>().is_err());
        assert_eq!("99.9%".parse::<Percent>().unwrap().to_string(), "99.9%");
    }

    #[test]
    fn sizes_use_binary_and_decimal_units() {
        assert_eq!("4GiB".parse::<ByteSize>().unwrap().bytes(), 4 << 30);
        assert_eq!("2GB".parse::<ByteSize>().unwrap().bytes(), 2_000_000_000);
        assert_eq!(ByteSize::from_bytes(4 << 30).to_string(), "4GiB");
        assert!("4 gigs".parse::<ByteSize>().is_err());
    }

    #[test]
    fn timestamps_honour_offsets_and_round_trip() {
        let cest: Timestamp = "2026-09-27T18:00:00+02:00".parse().unwrap();
        let utc: Timestamp = "2026-09-27T16:00:00Z".parse().unwrap();
        assert_eq!(cest.unix(), utc.unix());
        assert_eq!(cest.to_string(), "2026-09-27T18:00:00+02:00");
        assert_eq!(Timestamp::from_unix(0.0).to_string(), "1970-01-01T00:00:00Z");
        assert!("2026-02-30T00:00:00Z".parse::<Timestamp>().is_err());
        assert!("tomorrow".parse::<Timestamp>().is_err());
    }

    #[test]
    fn timestamps_keep_fractions_leap_days_and_negative_offsets() {
        let t: Timestamp = "2028-02-29T23:30:00.25-01:30".parse().unwrap();
        assert_eq!(t.unix(), 1_835_485_200.25);
        assert_eq!(t.to_string(), "2028-02-29T23:30:00-01:30");
        assert!(
            "2027-02-29T00:00:00Z".parse::<Timestamp>().is_err(),
            "2027 is no leap year"
        );
        assert_eq!(Timestamp::from_unix(-1.5).to_string(), "1969-12-31T23:59:58Z");
        let leap: Timestamp = "2016-12-31T23:59:60Z".parse().unwrap();
        assert_eq!(
            leap.to_string(),
            "2017-01-01T00:00:00Z",
            "a leap second is the next second"
        );
        assert!("2016-12-31T23:59:61Z".parse::<Timestamp>().is_err());
    }

    #[test]
    fn timestamps_outside_the_languages_rfc3339_form_are_refused() {
        for s in [
            "2026-09-27T18:00:00+02",
            "2026-09-27T18:00:00+0200",
            "20260927T180000Z",
            "2026-09-27T18:00Z",
            "2026-09-27T18:00:00",
            "2026-09-27T18:00:00+02:00[Europe/Berlin]",
            "2026-09-27T18:00:00.Z",
            "2026-09-27T18:00:00+24:00",
        ] {
            let err = s.parse::<Timestamp>().expect_err(s);
            assert!(err.0.contains("write RFC 3339"), "{s}: {err}");
        }
        for s in ["2026-09-27t18:00:00z", "2026-09-27 18:00:00.123456789+05:45"] {
            assert!(s.parse::<Timestamp>().is_ok(), "{s}");
        }
    }
}
