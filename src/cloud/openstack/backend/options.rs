//! Settings of `OpenStackCloud`: page size, polling, per-action timeouts, drain grace.

use super::super::session::ApiOptions;
use std::{path::PathBuf, time::Duration};

/// How long each kind of action may take before it is reported as failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionTimeouts {
    /// Server create until ACTIVE.
    pub create: Duration,
    /// Delete until gone.
    pub delete: Duration,
    /// Reboot until ACTIVE.
    pub reboot: Duration,
    /// Rebuild until ACTIVE.
    pub rebuild: Duration,
    /// Live migration until ACTIVE on another host.
    pub migrate: Duration,
    /// Member change until ACTIVE.
    pub member: Duration,
}

impl Default for ActionTimeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            create: s(600),
            delete: s(300),
            reboot: s(300),
            rebuild: s(600),
            migrate: s(900),
            member: s(300),
        }
    }
}

/// Backend settings.
#[derive(Debug, Clone)]
pub struct CloudOptions {
    /// API client settings.
    pub api: ApiOptions,
    /// Page size for listings.
    pub page_size: usize,
    /// Polling interval while waiting for an action.
    pub poll: Duration,
    /// Per-action timeouts.
    pub timeouts: ActionTimeouts,
    /// Time a drained member keeps weight 0 before it is removed (open connections finish).
    pub drain_grace: Duration,
    /// Directory of the policy file (user data paths are relative to it).
    pub policy_dir: PathBuf,
}

impl Default for CloudOptions {
    fn default() -> Self {
        Self {
            api: ApiOptions::default(),
            page_size: 100,
            poll: Duration::from_secs(1),
            timeouts: ActionTimeouts::default(),
            drain_grace: Duration::from_secs(10),
            policy_dir: PathBuf::from("."),
        }
    }
}
