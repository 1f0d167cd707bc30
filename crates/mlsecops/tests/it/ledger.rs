//! The home directory, keys, `scan --record` and `audit log|prove|verify`.

use crate::support::{mlsecops_with_home, root};

#[test]
fn record_prove_verify_and_detect_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let run = |args: &[&str]| mlsecops_with_home(&root(), args, &home);

    let r = run(&["audit", "verify"]);
    assert_eq!(r.code, 2, "no home yet");
    assert!(r.stderr.contains("mlsecops init"), "{}", r.stderr);

    let r = run(&["init", "--origin", "example.test/ledger"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("keys/ledger.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private key must be owner-only");
    }
    let r = run(&["keys", "list"]);
    assert!(r.stdout.contains("example.test/ledger"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("PRIVATE"),
        "keys list must never print private keys"
    );

    assert_eq!(run(&["scan", "examples/scan/benign", "--record"]).code, 0);
    assert_eq!(
        run(&["scan", "examples/scan/malicious", "--record"]).code,
        1
    );

    let r = run(&["audit", "verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("2 entries"), "{}", r.stdout);

    let r = run(&["audit", "log"]);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["entry"]["kind"], "scan");
    assert_eq!(lines[1]["entry"]["max_severity"], "CRITICAL");
    assert!(
        lines[0]["entry"]["targets"][0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let r = run(&["audit", "prove", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let proof: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(proof["tree_size"], 2);
    assert_eq!(proof["origin"], "example.test/ledger");

    // One flipped byte in the stored entries: verify names the entry and fails.
    let entries = home.join("ledger/entries");
    let mut bytes = std::fs::read(&entries).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&entries, bytes).unwrap();
    let r = run(&["audit", "verify"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("entry 0"), "{}", r.stdout);
}

#[test]
fn keys_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let run = |args: &[&str]| mlsecops_with_home(&root(), args, &home);
    assert_eq!(
        run(&[
            "keys",
            "generate",
            "--name",
            "ci",
            "--key-name",
            "ci.example/signer"
        ])
        .code,
        0
    );
    let r = run(&["keys", "generate", "--name", "ci"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("never overwritten"), "{}", r.stderr);
    assert_eq!(run(&["keys", "generate", "--name", "../evil"]).code, 2);
}
