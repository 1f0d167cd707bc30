//! `mlsecops data check | profile | diff` end to end on the ground-truth
//! cases of `crates/mlsecops-data/tests/cases`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{mlsecops, root};

fn case(name: &str) -> PathBuf {
    root().join("crates/mlsecops-data/tests/cases").join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_reports_rows_ids_and_splits_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = case("duplicates").join("data.csv");
    let clean = dir.path().join("clean.csv");
    let rejected = dir.path().join("rejected.csv");
    let html = dir.path().join("report.html");
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "check",
            s(&data),
            "--label",
            "class",
            "--id",
            "id",
            "--format",
            "json",
            "--quarantine-out",
            s(&clean),
            "--rejected-out",
            s(&rejected),
            "--html",
            s(&html),
        ],
    );
    // Duplicates are low/medium: the default gate (high) passes.
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["kind"], "data-check");
    let findings = report["findings"].as_array().unwrap();
    let dups: Vec<&Value> = findings
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("DATA-DUPLICATE-"))
        .collect();
    assert_eq!(dups.len(), 36, "{}", r.stdout);
    for f in &dups {
        assert!(f["location"]["row"].is_u64(), "{f}");
        assert!(f["location"]["row_id"].is_string(), "{f}");
    }
    // Every input row is in exactly one output; rejected rows say why.
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count() - 1;
    let input = lines(&data);
    assert_eq!(lines(&clean) + lines(&rejected), input);
    let rejected_text = std::fs::read_to_string(&rejected).unwrap();
    assert!(
        rejected_text
            .lines()
            .next()
            .unwrap()
            .ends_with("_mlsecops_reasons")
    );
    assert!(rejected_text.contains("DATA-DUPLICATE-CONFLICT"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Class balance"));
    assert!(!page.contains("<script"));
}

#[test]
fn backdoor_and_trigger_fail_the_gate() {
    let data = case("backdoor-digits").join("data.csv");
    let r = mlsecops(
        &root(),
        &[
            "data",
            "check",
            s(&data),
            "--label",
            "label",
            "--id",
            "id",
            "--skip",
            "labels",
            "outliers",
            "duplicates",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"DATA-BACKDOOR-CLASS"), "{rules:?}");
    assert!(rules.contains(&"DATA-BACKDOOR-TRIGGER"), "{rules:?}");
    assert_eq!(
        rules.iter().filter(|r| **r == "DATA-BACKDOOR-ROW").count(),
        60
    );
}

#[test]
fn profile_then_check_against_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let contract = dir.path().join("contract.toml");
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "profile",
            s(&case("schema").join("trusted.csv")),
            "--id",
            "id",
            "-o",
            s(&contract),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&contract).unwrap();
    assert!(
        text.contains("[[column]]") && text.contains("format = \"uuid\""),
        "{text}"
    );
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "check",
            s(&case("schema").join("broken.csv")),
            "--contract",
            s(&contract),
            "--id",
            "id",
            "--format",
            "sarif",
        ],
    );
    // Duplicate keys are high: the gate fails.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let sarif: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for want in [
        "DATA-SCHEMA-FORMAT",
        "DATA-SCHEMA-DUPLICATE-KEY",
        "DATA-SCHEMA-NULL",
    ] {
        assert!(ids.contains(&want), "{ids:?}");
    }
    // Rule metadata comes from the data guard's table.
    assert!(
        rules
            .iter()
            .all(|r| r["name"].as_str().is_some_and(|n| !n.is_empty()))
    );
}

#[test]
fn diff_reports_relabels_and_shift_once_per_column() {
    let r = mlsecops(
        &root(),
        &[
            "data",
            "diff",
            s(&case("diff").join("old.csv")),
            s(&case("diff").join("new.csv")),
            "--key",
            "id",
            "--label",
            "class",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let count = |rule: &str| findings.iter().filter(|f| f["rule"] == rule).count();
    assert!(count("DATA-DRIFT-RELABEL") >= 1);
    assert!(count("DATA-DRIFT-SCHEMA") >= 1);
    let shifts: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "DATA-DRIFT-SHIFT")
        .filter_map(|f| f["location"]["column"].as_str())
        .collect();
    let mut unique = shifts.clone();
    unique.dedup();
    assert_eq!(shifts, unique, "one shift finding per column");
    assert!(shifts.contains(&"magnesium"), "{shifts:?}");
}

#[test]
fn hostile_csv_is_a_clear_error_naming_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "a,b,c\n1,2,3\n4,5\n6,7,8\n").unwrap();
    let r = mlsecops(dir.path(), &["data", "check", s(&ragged)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("ragged.csv") && r.stderr.contains("row 1"),
        "{}",
        r.stderr
    );
    let bomb = dir.path().join("bomb.csv");
    let mut text = String::from("a,b\n1,\"");
    text.push_str(&"x".repeat(200_000));
    std::fs::write(&bomb, text).unwrap();
    let r = mlsecops(
        dir.path(),
        &["data", "check", s(&bomb), "--max-record-bytes", "65536"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bomb.csv") && r.stderr.contains("quote"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn data_rules_are_documented() {
    let r = mlsecops(&root(), &["rule", "DATA-BACKDOOR-TRIGGER"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Trigger-like"));
    let r = mlsecops(&root(), &["rule", "data-pii-iban"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Runs `mlsecops ARGS` and returns its exit code and peak resident set
/// size in bytes, read from the kernel's accounting of that one child
/// (`wait4`), so other tests' processes do not count.
fn run_measuring_peak_rss(cwd: &Path, args: &[&str]) -> (i32, u64) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mlsecops"))
        .args(args)
        .current_dir(cwd)
        .env("MLSECOPS_HOME", cwd.join(".mlsecops"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero is a valid `rusage` (plain integers and timevals).
    #[allow(unsafe_code)]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child; both pointers are to live
    // locals of the right types. `child` is never waited on afterwards.
    #[allow(unsafe_code)]
    let got = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in KiB.
    (code, u64::try_from(usage.ru_maxrss).unwrap() * 1024)
}

/// The contract check streams: on a file twice the size of the memory cap,
/// with rows failing the contract all through it, memory grows by less
/// than half the cap over the same check on a 1 MB file. (The growth is
/// what the data costs; the process's baseline, the binary's own pages
/// included, is not the data's doing and grew when tract was linked in.)
#[test]
fn contract_check_memory_stays_under_a_cap_on_a_larger_file() {
    use std::io::Write as _;
    const CAP: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let trusted = dir.path().join("trusted.csv");
    let big = dir.path().join("big.csv");
    let write = |path: &Path, rows: usize, clean: bool| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        writeln!(f, "id,note,score,kind").unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut note = vec![b'a'; 1000];
        for i in 0..rows {
            // A cheap PRNG fills the free-text column.
            for b in &mut note {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = b"abcdefghijklmnopqrstuvwxyz "[(x % 27) as usize];
            }
            // Every 97th row is out of range, every 89th has a bad category.
            let score = if !clean && i % 97 == 96 {
                5.0
            } else {
                (i % 1000) as f64 / 1000.0
            };
            let kind = if !clean && i % 89 == 88 {
                "zz"
            } else {
                ["ab", "cd"][i % 2]
            };
            f.write_all(format!("{i},").as_bytes()).unwrap();
            f.write_all(&note).unwrap();
            writeln!(f, ",{score},{kind}").unwrap();
        }
        f.flush().unwrap();
    };
    write(&trusted, 1000, true);
    write(&big, 140_000, false);
    let size = std::fs::metadata(&big).unwrap().len();
    assert!(size > 2 * CAP, "{size}");
    let contract = dir.path().join("contract.toml");
    let r = mlsecops(
        dir.path(),
        &[
            "data",
            "profile",
            s(&trusted),
            "--id",
            "id",
            "-o",
            s(&contract),
            "-q",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let check = |file: &Path| {
        run_measuring_peak_rss(
            dir.path(),
            &[
                "data",
                "check",
                s(file),
                "--id",
                "id",
                "--contract",
                s(&contract),
                "--skip",
                "duplicates",
                "outliers",
                "labels",
                "backdoor",
                "secrets",
                "--batch-bytes",
                "4194304",
                "--format",
                "json",
                "-o",
                s(&dir.path().join("small.json")),
            ],
        )
    };
    let (_, base) = check(&trusted);
    let (code, peak) = run_measuring_peak_rss(
        dir.path(),
        &[
            "data",
            "check",
            s(&big),
            "--id",
            "id",
            "--contract",
            s(&contract),
            "--skip",
            "duplicates",
            "outliers",
            "labels",
            "backdoor",
            "secrets",
            "--batch-bytes",
            "4194304",
            "--format",
            "json",
            "-o",
            s(&dir.path().join("report.json")),
        ],
    );
    eprintln!(
        "contract check: peak RSS {} MiB for a {} MiB file ({} MiB for 1 MB)",
        peak >> 20,
        size >> 20,
        base >> 20
    );
    assert!(
        peak.saturating_sub(base) < CAP / 2,
        "peak RSS grew by {} MiB over the 1 MB check",
        (peak - base) >> 20
    );
    // Out-of-range and bad-category rows are medium: the high gate passes.
    assert_eq!(code, 0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let findings = report["findings"].as_array().unwrap();
    let rules: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains("DATA-SCHEMA-OUT-OF-RANGE"), "{rules:?}");
    assert!(rules.contains("DATA-SCHEMA-BAD-CATEGORY"), "{rules:?}");
}
