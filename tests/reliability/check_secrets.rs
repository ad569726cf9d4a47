//! `sloop check` on secrets typed into known fields of the wrong type: a bearer token written
//! as a string where `headers:` wants a map, a token map where `userData:` wants a path, a
//! password where a port, a boolean, an enum, a duration or a status list item belongs. Each
//! error still names the file, the line, the field and the type expected, and neither the
//! message nor the source excerpt (text) nor the JSON output shows the value. A near miss
//! (`yes` for a boolean, `80ms` for a number, `dryrun` for `dry-run`) is still quoted.

use std::process::Command;

/// (field path as `check` names it, planted secret, what the error must say is expected).
const PLANTED: [(&str, &str, &str); 7] = [
    (
        "headers",
        "PLANTED-hdr-Zm9vYmFyYmF6cXV4",
        "expected a map of fields",
    ),
    ("userData", "PLANTED-ud-4b1f0c9e2d7a", "expected text"),
    ("listenerPort", "PLANTED-port-x7Yq2LmP", "expected a whole number"),
    (
        "expectStatus[0]",
        "PLANTED-st-9c8b7a6f",
        "expected a whole number",
    ),
    ("tlsVerify", "PLANTED-tls-Q2xvdWRz", "expected true or false"),
    ("method", "PLANTED-m-a1b2c3d4e5", "is not one of"),
    ("timeout", "PLANTED-to-f00dfeed", "expected a duration"),
];

fn broken_policy() -> String {
    let text = std::fs::read_to_string("policies/election-web.yaml").expect("shipped policy");
    let secret = |field: &str| {
        PLANTED
            .iter()
            .find(|p| p.0 == field)
            .map(|p| p.1)
            .unwrap_or_default()
    };
    let edits = [
        (
            "        url: https://wahlen.example.de/\n",
            format!(
                "        url: https://wahlen.example.de/\n        headers: Bearer {}\n",
                secret("headers")
            ),
        ),
        (
            "      userData: boot/web.sh\n",
            format!("      userData: {{token: {}}}\n", secret("userData")),
        ),
        (
            "    listenerPort: 443\n",
            format!("    listenerPort: {}\n", secret("listenerPort")),
        ),
        (
            "        expectStatus: [200]\n",
            format!(
                "        expectStatus:\n          - {}\n",
                secret("expectStatus[0]")
            ),
        ),
        (
            "        url: https://wahlen.example.de/healthz\n",
            format!(
                "        url: https://wahlen.example.de/healthz\n        tlsVerify: {}\n        method: {}\n",
                secret("tlsVerify"),
                secret("method")
            ),
        ),
        (
            "      timeout: 1s\n",
            format!("      timeout: {}\n", secret("timeout")),
        ),
    ];
    let mut out = text.clone();
    for (from, to) in edits {
        assert!(
            out.contains(from),
            "election-web.yaml changed shape: no `{}`",
            from.trim()
        );
        out = out.replacen(from, &to, 1);
    }
    out
}

/// `sloop check --format FORMAT FILE`: whether it accepted the file, and stdout + stderr.
pub(crate) fn check(file: &std::path::Path, format: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args(["check", "--format", format])
        .arg(file)
        .output()
        .expect("run sloop check");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

#[test]
fn check_describes_wrongly_typed_values_without_quoting_them() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("check-typed-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("web.yaml");
    std::fs::write(&file, broken_policy()).expect("write policy");
    let mut failures = Vec::new();
    for format in ["text", "json"] {
        let (ok, all) = check(&file, format);
        if ok {
            failures.push(format!("check --format {format} accepted the broken policy"));
        }
        for (field, secret, expected) in PLANTED {
            if all.contains(secret) {
                let line = all.lines().find(|l| l.contains(secret)).unwrap_or_default();
                failures.push(format!(
                    "check --format {format} shows the {field} secret: {line}"
                ));
            }
            // The error for that field names the file, line, field and what it expects.
            let named = match format {
                "json" => serde_json::from_str::<serde_json::Value>(&all)
                    .ok()
                    .and_then(|v| v.get("errors")?.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .any(|e| {
                        let s = |k: &str| e.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
                        s("path").ends_with(field)
                            && s("message").contains(expected)
                            && s("file").ends_with("web.yaml")
                            && e.get("line").and_then(|l| l.as_u64()).is_some_and(|l| l > 0)
                    }),
                _ => all.lines().any(|l| {
                    l.contains("web.yaml:") && l.contains(&format!("{field}: ")) && l.contains(expected)
                }),
            };
            if !named {
                failures.push(format!(
                    "check --format {format}: no error names `{field}`, the file and `{expected}`:\n{all}"
                ));
            }
        }
        if format == "text" && !all.contains("a string of") {
            failures.push(format!("the text output describes no value by its kind:\n{all}"));
        }
    }
    crate::figure(
        "secrets",
        &format!(
            "check (text, json) on {} secrets under known fields of the wrong type: {} problems",
            PLANTED.len(),
            failures.len()
        ),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_still_quotes_near_misses_of_the_expected_shape() {
    let text = std::fs::read_to_string("policies/election-web.yaml").expect("shipped policy");
    let text = text
        .replacen("    listenerPort: 443\n", "    listenerPort: 443ms\n", 1)
        .replacen("      timeout: 1s\n", "      timeout: 1 parsec\n", 1)
        .replacen("      perInstance: true\n", "      perInstance: yes\n", 1)
        .replacen("      family: v6\n", "      family: ipv6\n", 1);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("check-near-miss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("web.yaml");
    std::fs::write(&file, text).expect("write policy");
    let (ok, all) = check(&file, "text");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "check accepted the broken policy:\n{all}");
    for quoted in ["`443ms`", "`1 parsec`", "`yes`", "`ipv6`"] {
        assert!(all.contains(quoted), "{quoted} is not quoted back:\n{all}");
    }
}
