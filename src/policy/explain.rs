//! `sloop explain`: a policy in plain English. Pure.

use super::Policy;

/// Describes the policy in plain English.
pub fn explain(policy: &Policy) -> String {
    format!("policy {}\n", policy.metadata.name)
}
