//! Test fixtures for the server's views: a decision written as the few fields a test cares
//! about, the rest at their defaults.

use crate::decision::Decision;
use serde_json::Value;

/// `partial`'s fields over an empty decision.
pub fn decision(partial: Value) -> Decision {
    let mut full = serde_json::to_value(Decision::default()).expect("a decision serialises");
    if let (Some(full), Value::Object(partial)) = (full.as_object_mut(), partial) {
        full.extend(partial);
    }
    serde_json::from_value(full).expect("a decision fixture")
}
