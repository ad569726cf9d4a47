//! The digest a migration stamp names its source host by (`act::stamp`): tenants can read
//! server metadata, and clouds hide hypervisor names from tenants. Pure.

use serde::{Deserialize, Serialize};

/// A short stable digest of a hypervisor host name: the first 6 bytes (12 hex digits) of its
/// SHA-256. Server metadata is visible to the tenant, and clouds hide hypervisor names from
/// tenants, so a stamp names a host only by this; the decision core matches it against the
/// hosts its own inventory shows ([`super::Instance::host`]). 48 bits make a collision between the
/// few hosts of one group's inventory negligible (about 1 in 10^10 for 100 hosts).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostDigest([u8; 6]);

impl HostDigest {
    /// The digest of `host`.
    pub fn of(host: &str) -> Self {
        let d = ring::digest::digest(&ring::digest::SHA256, host.as_bytes());
        let mut out = [0u8; 6];
        out.copy_from_slice(&d.as_ref()[..6]);
        Self(out)
    }

    /// Parses the 12 lowercase hex digits [`HostDigest`]'s `Display` writes; `None` for
    /// anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.as_bytes();
        if hex.len() != 12 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 6];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(Self(out))
    }
}

impl std::fmt::Display for HostDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for HostDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostDigest({self})")
    }
}

impl Serialize for HostDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("host digest {s:?}: want 12 lowercase hex digits"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_twelve_hex_digits_of_the_sha256_and_round_trips() {
        // Stable across processes and versions, because the stamps outlive both.
        let d = HostDigest::of("compute1");
        assert_eq!(d.to_string(), "d02434e0be28");
        assert_eq!(HostDigest::parse(&d.to_string()), Some(d));
        assert_ne!(HostDigest::of("compute2"), d);
        assert_eq!(HostDigest::of("abc").to_string(), "ba7816bf8f01");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<HostDigest>(&json).unwrap(), d);
    }

    #[test]
    fn anything_but_twelve_lowercase_hex_digits_is_no_digest() {
        for s in [
            "",
            "ba7816bf8f0",
            "ba7816bf8f011",
            "BA7816BF8F01",
            "ba7816bf8f0g",
            "ba7816bf8f\u{e9}",
            "compute1",
        ] {
            assert_eq!(HostDigest::parse(s), None, "{s:?}");
        }
        assert!(serde_json::from_str::<HostDigest>("\"compute1\"").is_err());
    }
}
