//! Reads a certificate's notAfter from its DER encoding (RFC 5280 §4.1): just enough of a DER
//! walker to reach `tbsCertificate.validity`, so certificate expiry needs no X.509 crate. Pure.

use crate::snapshot::Time;

/// The leaf certificate's notAfter, in seconds since the Unix epoch; `None` if the DER is not a
/// certificate this walker understands.
pub fn not_after(der: &[u8]) -> Option<Time> {
    let (tag, cert, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, mut tbs, _) = tlv(cert)?;
    if tag != 0x30 {
        return None;
    }
    // version [0] EXPLICIT (optional), serialNumber, signature, issuer, then validity.
    let (tag, _, rest) = tlv(tbs)?;
    if tag == 0xA0 {
        tbs = rest;
    }
    for _ in 0..3 {
        tbs = tlv(tbs)?.2;
    }
    let (tag, validity, _) = tlv(tbs)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = tlv(validity)?; // notBefore
    let (tag, t, _) = tlv(rest)?;
    let text = std::str::from_utf8(t).ok()?;
    match tag {
        0x17 => parse_time(text, true),
        0x18 => parse_time(text, false),
        _ => None,
    }
}

/// Splits one DER element off `input`: (tag, contents, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || input.len() < n {
            return None;
        }
        let len = input[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        input = &input[n..];
        len
    };
    if input.len() < len {
        return None;
    }
    Some((tag, &input[..len], &input[len..]))
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(s: &str, utc_time: bool) -> Option<Time> {
    let s = s.strip_suffix('Z')?;
    let (year, rest) = if utc_time {
        let yy: i16 = s.get(..2)?.parse().ok()?;
        (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
    } else {
        (s.get(..4)?.parse().ok()?, s.get(4..)?)
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| rest[i..i + 2].parse::<i8>().ok();
    let (month, day, hour, min, sec) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    // jiff checks the calendar (a 30 February is no date). It has no leap seconds: `:60` is
    // counted as the second after `:59`.
    let at = jiff::civil::DateTime::new(year, month, day, hour, min, sec.min(59), 0).ok()?;
    let at = jiff::tz::Offset::UTC.to_timestamp(at).ok()?;
    (sec <= 60).then(|| (at.as_second() + i64::from(sec - sec.min(59))) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_and_generalized_times_count_seconds_since_the_epoch() {
        assert_eq!(parse_time("700101000000Z", true), Some(0.0));
        assert_eq!(parse_time("491231235959Z", true), Some(2_524_607_999.0));
        assert_eq!(parse_time("20380119031408Z", false), Some(2_147_483_648.0));
        assert_eq!(parse_time("2038011903140Z", false), None);
        assert_eq!(parse_time("260230120000Z", true), None, "no 30 February");
    }

    #[test]
    fn truncated_der_is_rejected_not_misread() {
        assert_eq!(not_after(&[0x30, 0x82, 0x01]), None);
        assert_eq!(not_after(&[]), None);
    }
}
