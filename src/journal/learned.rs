//! What the load forecast learned, kept beside the journal: one `forecast-<policy>.json` per
//! policy, so a restart keeps the daily and weekly profile (a week of learning) and the boot
//! times, instead of starting blind. Written whole through a temporary file and a rename, so a
//! crash leaves the old file or the new one; a file that does not read is ignored with a
//! warning (the forecast learns again), never an error that stops the controller.

use super::Journal;
use crate::judge::forecast::ForecastState;
use std::path::{Path, PathBuf};

fn path_of(dir: &Path, policy: &str) -> PathBuf {
    // Policy names are lowercase letters, digits and `-` (validated), so they are file names.
    dir.join(format!("forecast-{policy}.json"))
}

impl Journal {
    /// The forecast state an earlier run of `policy` saved, if there is a readable one.
    pub fn learned_forecast(&self, policy: &str) -> Option<ForecastState> {
        let path = path_of(self.dir.as_ref()?, policy);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Learned forecast unreadable; learning again.");
                return None;
            }
        };
        match serde_json::from_str(&text) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Learned forecast damaged; learning again.");
                None
            }
        }
    }

    /// Saves `state` for `policy` (nothing for a journal kept in memory).
    pub fn save_forecast(&self, policy: &str, state: &ForecastState) -> Result<(), String> {
        let Some(dir) = self.dir.as_ref() else {
            return Ok(());
        };
        let path = path_of(dir, policy);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string(state).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::DiskLimits;

    #[test]
    fn the_learned_forecast_survives_a_restart_and_a_damaged_file_is_ignored() {
        let dir = std::env::temp_dir().join(format!("sloop-forecast-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let journal = Journal::on_disk(&dir, DiskLimits::default(), 16).expect("journal");
        assert_eq!(journal.learned_forecast("web"), None);
        let mut state = ForecastState::default();
        for k in 0..400 {
            state
                .profile
                .observe(f64::from(k) * 10.0, 300.0 + f64::from(k % 7));
        }
        state.reports.push_back((3990.0, 305.0));
        journal.save_forecast("web", &state).expect("saved");
        let again = Journal::on_disk(&dir, DiskLimits::default(), 16).expect("journal");
        assert_eq!(again.learned_forecast("web"), Some(state));
        assert_eq!(again.learned_forecast("other"), None);
        std::fs::write(dir.join("forecast-web.json"), "{not json").expect("write");
        assert_eq!(again.learned_forecast("web"), None);
        assert!(
            again.persisted_charges("web").is_empty(),
            "the file is not read as a journal"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
