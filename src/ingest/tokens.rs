//! Per-agent bearer tokens. The controller keeps only SHA-256 hashes (a tokens file of
//! `name: sha256hex` lines) and compares them in constant time; the plain token lives only in
//! the agent's token file. Tokens are 256 random bits, so a fast hash is enough: there is
//! nothing to brute-force that a slow KDF would protect.

use ring::{
    digest::{SHA256, digest},
    rand::{SecureRandom, SystemRandom},
};
use std::{collections::BTreeMap, fmt, path::Path};
use subtle::ConstantTimeEq;

/// A bearer token. Debug and Display print `***`, so it never reaches a log or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token read from a file or a header (surrounding whitespace removed).
    pub fn new(text: &str) -> Self {
        Self(text.trim().to_owned())
    }

    /// A fresh random token: 32 bytes from the OS, hex-encoded.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| TokenError::Random)?;
        Ok(Self(hex(&bytes)))
    }

    /// Reads the token from the first non-empty line of `path` (and registers it with
    /// [`crate::redact`]).
    pub fn read_file(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenError::Io {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let token = Self::new(text.lines().find(|l| !l.trim().is_empty()).unwrap_or(""));
        if token.0.is_empty() {
            return Err(TokenError::Empty(path.display().to_string()));
        }
        // Never shown even if a peer echoes it back in an error.
        crate::redact::register(&token.0);
        Ok(token)
    }

    /// The token itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the token as lowercase hex: what the controller's tokens file holds.
    pub fn hash_hex(&self) -> String {
        hex(digest(&SHA256, self.0.as_bytes()).as_ref())
    }

    fn hash(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, self.0.as_bytes()).as_ref());
        out
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Why tokens could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read.
    #[error("{file}: {reason}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        reason: String,
    },
    /// A token file holds no token.
    #[error("{0}: no token in the file")]
    Empty(String),
    /// A line of the tokens file is not `name: sha256hex`.
    #[error("{file}:{line}: {reason}")]
    Line {
        /// The tokens file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the hash itself).
        reason: String,
    },
    /// The OS random source failed.
    #[error("the system random source failed")]
    Random,
}

/// The controller's view of the agents: each agent name with its token hash.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenBook {
    hashes: BTreeMap<String, [u8; 32]>,
}

impl fmt::Debug for TokenBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBook")
            .field("agents", &self.hashes.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The characters an agent name may use (it becomes a location label and a metric label).
pub fn valid_agent_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl TokenBook {
    /// Parses a tokens file: `name: sha256hex` per line, `#` comments and blank lines allowed.
    pub fn parse(file: &str, text: &str) -> Result<Self, TokenError> {
        let mut hashes = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fail = |reason: &str| TokenError::Line {
                file: file.to_owned(),
                line: i + 1,
                reason: reason.to_owned(),
            };
            let (name, hash) = line
                .split_once(':')
                .ok_or_else(|| fail("expected `name: sha256hex` (make one with `sloop agent-token`)"))?;
            let name = name.trim();
            if !valid_agent_name(name) {
                return Err(fail(
                    "agent names use letters, digits, `-`, `_` and `.` (at most 64)",
                ));
            }
            if name == crate::observe::probe::schedule::LOCAL {
                return Err(fail("`local` is the controller's own location, not an agent"));
            }
            let hash = unhex(hash.trim()).ok_or_else(|| fail("the hash must be 64 hex digits (SHA-256)"))?;
            if hashes.insert(name.to_owned(), hash).is_some() {
                return Err(fail(&format!("agent `{name}` is listed twice")));
            }
        }
        Ok(Self { hashes })
    }

    /// Reads and parses a tokens file.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenError::Io {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Adds an agent with its token (tests and single-binary setups).
    pub fn with(mut self, name: &str, token: &Token) -> Self {
        self.hashes.insert(name.to_owned(), token.hash());
        self
    }

    /// The agent names.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        self.hashes.keys().map(String::as_str)
    }

    /// Whether `token` is `agent`'s. Compares the hashes in constant time, and spends the same
    /// work for an unknown agent, so timing tells nothing about names or tokens.
    pub fn verify(&self, agent: &str, token: &Token) -> bool {
        let presented = token.hash();
        match self.hashes.get(agent) {
            Some(stored) => bool::from(stored.ct_eq(&presented)),
            None => {
                let _ = [0u8; 32].ct_eq(&presented);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_agent_and_never_print() {
        let t = Token::generate().unwrap();
        let other = Token::generate().unwrap();
        let text = format!(
            "# agents\nfra: {}\n\nnyc:{}  # us east\n",
            t.hash_hex(),
            other.hash_hex()
        );
        let book = TokenBook::parse("tokens", &text).unwrap();
        assert!(book.verify("fra", &t));
        assert!(!book.verify("nyc", &t));
        assert!(!book.verify("ams", &t));
        assert!(book.verify("nyc", &other));
        assert_eq!(format!("{t:?} {t}"), "Token(***) ***");
        assert!(!format!("{book:?}").contains(&t.hash_hex()));
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = TokenBook::parse("agents.tokens", "fra: abc\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "agents.tokens:1: the hash must be 64 hex digits (SHA-256)"
        );
        let h = "a".repeat(64);
        let e = TokenBook::parse("t", &format!("fra: {h}\nfra: {h}\n")).unwrap_err();
        assert!(
            e.to_string().starts_with("t:2: agent `fra` is listed twice"),
            "{e}"
        );
        assert!(TokenBook::parse("t", &format!("local: {h}")).is_err());
        assert!(TokenBook::parse("t", "just words").is_err());
    }
}
