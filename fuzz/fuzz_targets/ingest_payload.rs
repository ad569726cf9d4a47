//! Any bytes as an agent's result batch (the body of `POST /agent/v1/results`) and as an agent
//! token file: decoding and validation return `Ok` or an error, never a panic, a hang or
//! unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sloop::ingest::{TokenBook, batch, wire::Batch};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = serde_json::from_slice::<Batch>(data) {
        let _ = batch::validate(&b, 10_000);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TokenBook::parse("fuzz-tokens", text);
    }
});
