//! Settings of `OpenStackCloud`: page size, and how the tools' waiting helpers poll.
//!
//! The reconcile loop waits for nothing: actions are issued and their progress read from later
//! observations. The drain grace is the policy's (`traffic.drainGrace`).

use super::super::session::ApiOptions;
use std::{path::PathBuf, time::Duration};

/// Backend settings.
#[derive(Debug, Clone)]
pub struct CloudOptions {
    /// API client settings.
    pub api: ApiOptions,
    /// Page size for listings.
    pub page_size: usize,
    /// Polling interval of [`super::OpenStackCloud::live_migrate_to`], which waits (tools, tests).
    pub poll: Duration,
    /// How long [`super::OpenStackCloud::live_migrate_to`] waits for the server to settle.
    pub migrate_timeout: Duration,
    /// Directory of the policy file (user data paths are relative to it).
    pub policy_dir: PathBuf,
}

impl Default for CloudOptions {
    fn default() -> Self {
        Self {
            api: ApiOptions::default(),
            page_size: 100,
            poll: Duration::from_secs(1),
            migrate_timeout: Duration::from_secs(900),
            policy_dir: PathBuf::from("."),
        }
    }
}
