//! Numbers that read back. serde_json writes a non-finite `f64` (an infinite latency estimate
//! when every probe failed, an infinite burn rate with no budget) as `null`, which then does
//! not parse as an `f64`: a journal line sloop wrote itself would be skipped. These fields are
//! written as the strings `"inf"`, `"-inf"` and `"nan"` instead, and `null` still reads back
//! (as infinity: the only non-finite value these fields held when it was written).

use serde::{Deserializer, Serializer, de};
use std::fmt;

/// Serialises a finite value as a number and a non-finite one as text.
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("nan")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// Reads a number, `"inf"`, `"-inf"`, `"nan"`, or `null` (infinity).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(Visitor)
}

struct Visitor;

impl<'de> de::Visitor<'de> for Visitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, \"inf\", \"-inf\" or \"nan\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
            "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::INFINITY)
    }

    fn visit_none<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::INFINITY)
    }
}

/// The same for `(name, value)` pairs (evidence metrics).
pub mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeSeq};

    #[derive(Serialize, Deserialize)]
    struct Pair(String, #[serde(with = "super")] f64);

    #[derive(Serialize)]
    struct PairRef<'a>(&'a str, #[serde(with = "super")] &'a f64);

    /// Serialises each pair with [`super::serialize`].
    pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for (name, value) in v {
            seq.serialize_element(&PairRef(name, value))?;
        }
        seq.end()
    }

    /// Reads pairs written by [`serialize`] or by plain serde (`null` for infinity).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        let pairs = Vec::<Pair>::deserialize(d)?;
        Ok(pairs.into_iter().map(|Pair(n, v)| (n, v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        x: f64,
        #[serde(with = "super::pairs")]
        m: Vec<(String, f64)>,
    }

    #[test]
    fn every_value_reads_back() {
        for x in [0.25, -3.0, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
            let h = Holder {
                x,
                m: vec![("latency_p99_s".into(), x)],
            };
            let text = serde_json::to_string(&h).expect("writes");
            assert_eq!(serde_json::from_str::<Holder>(&text).expect(&text), h);
        }
        let nan: Holder = serde_json::from_str(r#"{"x":"nan","m":[]}"#).expect("nan");
        assert!(nan.x.is_nan());
    }

    #[test]
    fn null_from_plain_serde_reads_as_infinity() {
        let h: Holder = serde_json::from_str(r#"{"x":null,"m":[["latency",null],["u",2]]}"#).expect("reads");
        assert_eq!(h.x, f64::INFINITY);
        assert_eq!(h.m, vec![("latency".into(), f64::INFINITY), ("u".into(), 2.0)]);
    }
}
