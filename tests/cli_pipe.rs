//! `sloop schema | head -c 1`: a reader that goes away must not make sloop panic (plain
//! `println!` does, on EPIPE). The read end is closed before sloop writes, so every write fails.

use std::process::{Command, Stdio};

#[test]
fn closed_stdout_is_not_a_panic() {
    for args in [&["schema"][..], &["explain", "policies/election-web.yaml"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sloop"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sloop");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for sloop");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "sloop {args:?} panicked on a closed pipe: {stderr}"
        );
        assert!(
            out.status.success(),
            "sloop {args:?} failed: {:?} {stderr}",
            out.status
        );
        assert!(
            !stderr.contains("cannot write"),
            "a closed pipe is not worth a warning: {stderr}"
        );
    }
}
