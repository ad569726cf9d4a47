//! The directory watcher's rules, step by step on a real directory: a change counts once two
//! reads agree, an unreadable file is an error (never a removal), and a moved policy is a
//! rekey (never a removal).

use super::*;

const POLICY: &str = include_str!("../../../policies/minimal.yaml");

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sloop-source-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path(file), text).expect("write");
    }

    fn step(&self, state: &mut DirState) -> Vec<PolicyEvent> {
        state.step(scan(&self.0).expect("scan")).0
    }

    /// Scans until the directory has settled, returning every event on the way.
    fn settle(&self, state: &mut DirState) -> Vec<PolicyEvent> {
        let mut all = Vec::new();
        for _ in 0..4 {
            let (events, unsettled) = state.step(scan(&self.0).expect("scan"));
            all.extend(events);
            if !unsettled {
                break;
            }
        }
        all
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kinds(events: &[PolicyEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            PolicyEvent::Upsert { name, .. } => format!("upsert {}", file(name)),
            PolicyEvent::Invalid { name, .. } => format!("invalid {}", file(name)),
            PolicyEvent::Remove { name } => format!("remove {}", file(name)),
            PolicyEvent::Rekey { from, to } => format!("rekey {} -> {}", file(from), file(to)),
            PolicyEvent::Synced { .. } => "synced".into(),
        })
        .collect()
}

fn file(key: &str) -> String {
    Path::new(key)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn a_change_is_applied_only_when_two_reads_agree() {
    let d = Dir::new("stable");
    let mut state = DirState::default();
    d.write("web.yaml", POLICY);
    assert!(d.step(&mut state).is_empty(), "first read: waits for a second");
    assert_eq!(kinds(&d.step(&mut state)), ["upsert web.yaml"]);
    // Rewritten in place: the first half is a valid policy on its own (no `scaling`).
    let half = &POLICY[..POLICY.find("  scaling:").expect("scaling")];
    crate::policy::parse("half.yaml", half.as_bytes()).expect("the half file is valid on its own");
    d.write("web.yaml", half);
    assert!(
        d.step(&mut state).is_empty(),
        "the half file is seen once, not applied"
    );
    d.write("web.yaml", &POLICY.replace("60%", "70%"));
    assert!(d.step(&mut state).is_empty(), "changed again: still waiting");
    let events = d.step(&mut state);
    assert_eq!(kinds(&events), ["upsert web.yaml"]);
    let PolicyEvent::Upsert { text, .. } = &events[0] else {
        unreachable!()
    };
    assert!(
        text.contains("70%"),
        "the finished file is applied, never the half one"
    );
}

#[test]
fn an_unreadable_file_is_an_error_not_a_removal() {
    let d = Dir::new("unreadable");
    let mut state = DirState::default();
    d.write("web.yaml", POLICY);
    assert_eq!(kinds(&d.settle(&mut state)), ["upsert web.yaml"]);
    // A symlink to a file that cannot be read (here: to nothing at all).
    std::fs::remove_file(d.path("web.yaml")).expect("rm");
    std::os::unix::fs::symlink(d.path("missing-target.txt"), d.path("web.yaml")).expect("symlink");
    let events = d.settle(&mut state);
    assert_eq!(kinds(&events), ["invalid web.yaml"]);
    let PolicyEvent::Invalid { errors, .. } = &events[0] else {
        unreachable!()
    };
    assert!(errors[0].contains("cannot read the file"), "{errors:?}");
    assert!(errors[0].contains("last good version stays"), "{errors:?}");
    // Readable again with the same text: applied again.
    std::fs::remove_file(d.path("web.yaml")).expect("rm");
    d.write("web.yaml", POLICY);
    assert_eq!(kinds(&d.settle(&mut state)), ["upsert web.yaml"]);
}

#[test]
fn a_renamed_policy_file_is_a_rekey_not_a_removal() {
    let d = Dir::new("rename");
    let mut state = DirState::default();
    d.write("web.yaml", POLICY);
    assert_eq!(kinds(&d.settle(&mut state)), ["upsert web.yaml"]);
    std::fs::rename(d.path("web.yaml"), d.path("site.yaml")).expect("mv");
    assert_eq!(
        kinds(&d.settle(&mut state)),
        ["rekey web.yaml -> site.yaml", "upsert site.yaml"]
    );
    // Copied first, the old one removed a scan later (`cp` then `rm`): the copy is a duplicate
    // name while both exist, and takes the policy over when the old file goes.
    std::fs::copy(d.path("site.yaml"), d.path("www.yaml")).expect("cp");
    assert_eq!(kinds(&d.settle(&mut state)), ["upsert www.yaml"]);
    std::fs::remove_file(d.path("site.yaml")).expect("rm");
    assert_eq!(
        kinds(&d.settle(&mut state)),
        ["rekey site.yaml -> www.yaml", "upsert www.yaml"]
    );
    std::fs::remove_file(d.path("www.yaml")).expect("rm");
    assert!(
        d.step(&mut state).is_empty(),
        "a removal also waits for a second look"
    );
    assert_eq!(kinds(&d.step(&mut state)), ["remove www.yaml"]);
}
