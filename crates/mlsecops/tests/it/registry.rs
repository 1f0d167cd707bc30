//! The registry through the CLI: a 3-level lineage graph built natively,
//! `lineage --down`, `revoke` and its blast radius, the ledger mirroring
//! every write, and the OpenLineage and DVC importers reproducing the same
//! graph from their own formats.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use md5::Digest as _;
use serde_json::{Value, json};

use crate::support::{Run, mlsecops_with_home, service};

/// raw.csv → clean.csv → {a.pt, b.pt}; a.pt + clean.csv → ft.pt.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::create_dir_all(w.join("data")).unwrap();
    std::fs::create_dir_all(w.join("models")).unwrap();
    std::fs::write(
        w.join("data/raw.csv"),
        "id,x,label\n1,0.5,0\n2,0.7,1\n3,,1\n",
    )
    .unwrap();
    std::fs::write(w.join("data/clean.csv"), "id,x,label\n1,0.5,0\n2,0.7,1\n").unwrap();
    std::fs::write(w.join("models/a.pt"), b"model a weights").unwrap();
    std::fs::write(w.join("models/b.pt"), b"model b weights").unwrap();
    std::fs::write(w.join("models/ft.pt"), b"fine-tuned weights").unwrap();
    dir
}

/// (digest, kind) nodes and (parent, child, relation) edges.
type Shape = (
    BTreeSet<(String, String)>,
    BTreeSet<(String, String, String)>,
);

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

struct Home {
    cwd: PathBuf,
    home: PathBuf,
}

impl Home {
    fn new(cwd: &Path, name: &str) -> Self {
        let h = Self {
            cwd: cwd.to_path_buf(),
            home: cwd.join(name),
        };
        let r = h.run(&["init"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        h
    }

    fn run(&self, args: &[&str]) -> Run {
        mlsecops_with_home(&self.cwd, args, &self.home)
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "mlsecops {args:?}\n{}{}", r.stdout, r.stderr);
        r.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The graph downstream of `reference` as (digest, kind) nodes and
    /// (parent, child, relation) edges.
    fn graph(&self, reference: &str) -> Shape {
        let g = self.json(&["lineage", reference, "--down", "--format", "json"]);
        let nodes = g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["digest"].as_str().unwrap().to_owned(),
                    n["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let edges = g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["parent"].as_str().unwrap().to_owned(),
                    e["child"].as_str().unwrap().to_owned(),
                    e["relation"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (nodes, edges)
    }
}

fn sha(path: &Path) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(std::fs::read(path).unwrap());
    format!("sha256:{}", hex(&d))
}

fn md5_of(path: &Path) -> String {
    hex(&md5::Md5::digest(std::fs::read(path).unwrap()))
}

#[allow(clippy::too_many_lines)]
#[test]
fn three_level_lineage_revoke_and_ledger() {
    let ws = workspace();
    let w = ws.path();
    let h = Home::new(w, "home");
    let add = |args: &[&str]| h.ok(args).trim().to_owned();
    let raw = add(&[
        "registry",
        "add",
        "dataset",
        "data/raw.csv",
        "--name",
        "raw",
    ]);
    assert_eq!(
        raw,
        sha(&w.join("data/raw.csv")),
        "prints the content digest"
    );
    let clean = add(&[
        "registry",
        "add",
        "dataset",
        "data/clean.csv",
        "--name",
        "clean",
        "--from",
        "raw",
        "--run",
        "clean",
        "--commit",
        "4f2a9c1",
        "--param",
        "drop_null=true",
    ]);
    let a = add(&[
        "registry",
        "add",
        "model",
        "models/a.pt",
        "--name",
        "model-a",
        "--from",
        "clean@v1",
    ]);
    let b = add(&[
        "registry",
        "add",
        "model",
        "models/b.pt",
        "--name",
        "model-b",
        "--from",
        &clean[..19],
    ]);
    let ft = add(&[
        "registry",
        "add",
        "model",
        "models/ft.pt",
        "--name",
        "model-ft",
        "--from",
        "model-a",
        "--from",
        "data/clean.csv",
    ]);
    // Registering again is idempotent and says so.
    let r = h.run(&[
        "registry",
        "add",
        "model",
        "models/a.pt",
        "--name",
        "model-a",
    ]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.trim(), a);
    assert!(r.stderr.contains("already registered"), "{}", r.stderr);
    // --format json prints everything, including the digest.
    let j = h.json(&["registry", "show", "model-ft", "--format", "json"]);
    assert_eq!(j["digest"], ft.as_str());
    assert_eq!(j["parents"].as_array().unwrap().len(), 2);

    // lineage --down raw lists every model.
    let down = h.json(&["lineage", "raw", "--down", "--format", "json"]);
    let models: BTreeSet<&str> = down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "model")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(models, BTreeSet::from(["model-a", "model-b", "model-ft"]));
    let table = h.ok(&["lineage", "raw", "--down"]);
    assert!(table.contains("derived_from ─ dataset clean@v1"), "{table}");
    assert!(
        table.contains("fine_tuned_from ─ model model-ft@v1"),
        "{table}"
    );
    // Upstream of the fine-tuned model: model-a, clean, raw — not model-b.
    let up = h.json(&["lineage", "models/ft.pt", "--up", "--format", "json"]);
    let names: BTreeSet<&str> = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["model-ft", "model-a", "clean", "raw"])
    );
    let dot = h.ok(&["lineage", "raw", "--down", "--format", "dot"]);
    assert!(dot.starts_with("digraph"), "{dot}");
    let ol = h.ok(&["lineage", "raw", "--down", "--format", "openlineage"]);
    assert_eq!(ol.lines().count(), 4, "one RunEvent per run:\n{ol}");

    // Tags, approvals and deployments.
    h.ok(&["registry", "tag", "model-b", "champion"]);
    assert_eq!(
        h.json(&["registry", "show", "model-b@champion", "--format", "json"])["digest"],
        b.as_str()
    );
    h.ok(&[
        "registry",
        "approve",
        "model-b@champion",
        "--stage",
        "production",
        "--comment",
        "passed gates",
    ]);
    h.ok(&["registry", "deploy", "model-b@champion", "--env", "prod"]);

    // Revoke the cleaned dataset: exactly clean and everything downstream.
    let r = h.run(&[
        "revoke",
        "clean",
        "--reason",
        "label flips found",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let blast: Value = serde_json::from_str(&r.stdout).unwrap();
    let revoked: BTreeSet<&str> = blast["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        revoked,
        BTreeSet::from([clean.as_str(), a.as_str(), b.as_str(), ft.as_str()])
    );
    assert_eq!(
        blast["deployments"].as_array().unwrap().len(),
        1,
        "model-b is deployed"
    );
    let list = h.json(&["registry", "list", "--format", "json"]);
    let now_revoked: BTreeSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.get("revoked").is_some())
        .map(|a| a["digest"].as_str().unwrap())
        .collect();
    assert_eq!(now_revoked, revoked, "raw stays usable");
    let r = h.run(&["registry", "deploy", "model-a", "--env", "prod"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("revoked"), "{}", r.stderr);

    // Every write is in the ledger, and the ledger verifies.
    let v = h.ok(&["audit", "verify"]);
    // 5 artifacts + 4 runs + tag + approval + deployment + revocation.
    assert!(v.contains("13 entries"), "{v}");
    let log = h.ok(&["audit", "log", "--limit", "100"]);
    let kinds: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["entry"]["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("registry.revocation")
    );

    // Blobs: the bytes come back out, verified.
    let out = w.join("restored.pt");
    h.ok(&["registry", "get", "model-ft", "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap(), b"fine-tuned weights");

    // Exports name the model and its training data.
    let bom = h.json(&["export", "cyclonedx", "model-ft"]);
    assert_eq!(bom["specVersion"], "1.6");
    let spdx = h.ok(&["export", "spdx", "model-ft"]);
    assert!(spdx.contains("trainedOn"), "{spdx}");
}

fn expected_graph(w: &Path) -> Shape {
    let d = |p: &str| sha(&w.join(p));
    let nodes = [
        ("data/raw.csv", "dataset"),
        ("data/clean.csv", "dataset"),
        ("models/a.pt", "model"),
        ("models/b.pt", "model"),
        ("models/ft.pt", "model"),
    ]
    .iter()
    .map(|(p, k)| (d(p), (*k).to_owned()))
    .collect();
    let edges = [
        ("data/raw.csv", "data/clean.csv", "derived_from"),
        ("data/clean.csv", "models/a.pt", "trained_on"),
        ("data/clean.csv", "models/b.pt", "trained_on"),
        ("models/a.pt", "models/ft.pt", "fine_tuned_from"),
        ("data/clean.csv", "models/ft.pt", "trained_on"),
    ]
    .iter()
    .map(|(p, c, r)| (d(p), d(c), (*r).to_owned()))
    .collect();
    (nodes, edges)
}

#[test]
fn native_openlineage_and_dvc_build_the_same_graph() {
    let ws = workspace();
    let w = ws.path();
    let expected = expected_graph(w);

    // Native.
    let native = Home::new(w, "native");
    native.ok(&[
        "registry",
        "add",
        "dataset",
        "data/raw.csv",
        "--name",
        "data/raw.csv",
    ]);
    native.ok(&[
        "registry",
        "add",
        "dataset",
        "data/clean.csv",
        "--name",
        "data/clean.csv",
        "--from",
        "data/raw.csv",
    ]);
    native.ok(&[
        "registry",
        "add",
        "model",
        "models/a.pt",
        "--name",
        "models/a.pt",
        "--from",
        "data/clean.csv",
    ]);
    native.ok(&[
        "registry",
        "add",
        "model",
        "models/b.pt",
        "--name",
        "models/b.pt",
        "--from",
        "data/clean.csv",
    ]);
    native.ok(&[
        "registry",
        "add",
        "model",
        "models/ft.pt",
        "--name",
        "models/ft.pt",
        "--from",
        "models/a.pt",
        "--from",
        "data/clean.csv",
    ]);
    assert_eq!(native.graph("data/raw.csv"), expected);

    // OpenLineage: START + COMPLETE per run, plus a failed run that must
    // not leave lineage behind.
    let ds = |name: &str| json!({"namespace": "file", "name": name});
    let mut events = Vec::new();
    let runs = [
        (
            "1f0c6a51-0000-4000-8000-000000000001",
            "clean",
            vec!["data/raw.csv"],
            vec!["data/clean.csv"],
        ),
        (
            "1f0c6a51-0000-4000-8000-000000000002",
            "train_a",
            vec!["data/clean.csv"],
            vec!["models/a.pt"],
        ),
        (
            "1f0c6a51-0000-4000-8000-000000000003",
            "train_b",
            vec!["data/clean.csv"],
            vec!["models/b.pt"],
        ),
        (
            "1f0c6a51-0000-4000-8000-000000000004",
            "finetune",
            vec!["models/a.pt", "data/clean.csv"],
            vec!["models/ft.pt"],
        ),
    ];
    for (id, job, ins, outs) in &runs {
        for (ty, t) in [
            ("START", "2026-11-20T10:00:00Z"),
            ("COMPLETE", "2026-11-20T10:05:00Z"),
        ] {
            events.push(json!({
                "eventType": ty, "eventTime": t,
                "run": {"runId": id},
                "job": {"namespace": "pipelines", "name": job},
                "inputs": ins.iter().map(|n| ds(n)).collect::<Vec<_>>(),
                "outputs": if ty == "COMPLETE" { outs.iter().map(|n| ds(n)).collect::<Vec<_>>() } else { vec![] },
                "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.24.0/integration/airflow",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            }));
        }
    }
    events.push(json!({
        "eventType": "FAIL", "eventTime": "2026-11-20T11:00:00Z",
        "run": {"runId": "1f0c6a51-0000-4000-8000-0000000000ff"},
        "job": {"namespace": "pipelines", "name": "broken"},
        "inputs": [ds("models/b.pt")], "outputs": [ds("data/raw.csv")],
        "producer": "test", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }));
    let jsonl = events
        .iter()
        .fold(String::new(), |s, e| s + &e.to_string() + "\n");
    std::fs::write(w.join("events.jsonl"), jsonl).unwrap();
    let ol = Home::new(w, "ol");
    ol.ok(&["registry", "import", "openlineage", "events.jsonl"]);
    assert_eq!(ol.graph("data/raw.csv"), expected);
    // Importing the same events again changes nothing.
    ol.ok(&["registry", "import", "openlineage", "events.jsonl"]);
    assert_eq!(ol.graph("data/raw.csv"), expected);
    assert!(ol.ok(&["audit", "verify"]).contains("ledger verified"));

    // DVC: a pointer file for the raw data and a dvc.lock for the stages.
    let m = |p: &str| md5_of(&w.join(p));
    let size = |p: &str| std::fs::metadata(w.join(p)).unwrap().len();
    let out = |p: &str| {
        format!(
            "    - path: {p}\n      hash: md5\n      md5: {}\n      size: {}\n",
            m(p),
            size(p)
        )
    };
    std::fs::write(
        w.join("data/raw.csv.dvc"),
        format!(
            "outs:\n- md5: {}\n  size: {}\n  hash: md5\n  path: raw.csv\n",
            m("data/raw.csv"),
            size("data/raw.csv")
        ),
    )
    .unwrap();
    let stage = |name: &str, deps: &[&str], outs: &[&str]| {
        let mut s = format!("  {name}:\n    cmd: python {name}.py\n    deps:\n");
        for d in deps {
            s += &out(d);
        }
        s += "    outs:\n";
        for o in outs {
            s += &out(o);
        }
        s
    };
    let lock = format!(
        "schema: '2.0'\nstages:\n{}{}{}{}",
        stage("clean", &["data/raw.csv"], &["data/clean.csv"]),
        stage("train_a", &["data/clean.csv"], &["models/a.pt"]),
        stage("train_b", &["data/clean.csv"], &["models/b.pt"]),
        stage(
            "finetune",
            &["models/a.pt", "data/clean.csv"],
            &["models/ft.pt"]
        ),
    );
    std::fs::write(w.join("dvc.lock"), lock).unwrap();
    let dvc = Home::new(w, "dvc");
    dvc.ok(&["registry", "import", "dvc", "data/raw.csv.dvc", "dvc.lock"]);
    assert_eq!(dvc.graph("data/raw.csv"), expected);

    // A file that changed since DVC recorded it is refused.
    std::fs::write(w.join("models/b.pt"), b"tampered").unwrap();
    let fresh = Home::new(w, "dvc2");
    let r = fresh.run(&["registry", "import", "dvc", "dvc.lock"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("models/b.pt") && r.stderr.contains("md5"),
        "{}",
        r.stderr
    );
}

#[test]
fn team_mode_postgres_and_s3() {
    let Some(pg) = service("MLSECOPS_TEST_POSTGRES_URL", "registry on PostgreSQL") else {
        return;
    };
    let Some(s3) = service("MLSECOPS_TEST_S3_ENDPOINT", "blobs on S3") else {
        return;
    };
    let ws = workspace();
    let w = ws.path();
    // A private schema and bucket for this test.
    let schema = format!("cli_{}", std::process::id());
    let sep = if pg.contains('?') { '&' } else { '?' };
    let url = format!("{pg}{sep}options=-csearch_path%3D{schema}");
    create_schema(&pg, &schema);
    let bucket = format!("mlsecops-cli-{}", std::process::id());
    create_bucket(&s3, &bucket);
    let run_raw = |home: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mlsecops"))
            .args(args)
            .current_dir(w)
            .env("MLSECOPS_HOME", w.join(home))
            .env("MLSECOPS_DATABASE_URL", &url)
            .env("MLSECOPS_BLOB_URL", format!("s3://{bucket}/blobs"))
            .env("AWS_ENDPOINT_URL", &s3)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let run = |home: &str, args: &[&str]| {
        let out = run_raw(home, args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Two team members with their own homes share one registry and bucket.
    run("alice", &["init"]);
    run("bob", &["init"]);
    let raw = run(
        "alice",
        &[
            "registry",
            "add",
            "dataset",
            "data/raw.csv",
            "--name",
            "raw",
        ],
    );
    run(
        "bob",
        &[
            "registry",
            "add",
            "model",
            "models/a.pt",
            "--name",
            "model-a",
            "--from",
            "raw",
        ],
    );
    let g: Value = serde_json::from_str(&run(
        "alice",
        &["lineage", "raw", "--down", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(g["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(g["root"], raw.trim());
    let out = w.join("a-from-s3.pt");
    run(
        "alice",
        &["registry", "get", "model-a", "-o", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"model a weights");

    // One ledger in the database, written in the same transactions; alice
    // holds the team key and signs, bob verifies with the public key he
    // trusted at init.
    assert_eq!(
        std::fs::read_to_string(w.join("alice/keys/ledger.pub")).unwrap(),
        std::fs::read_to_string(w.join("bob/keys/ledger.pub")).unwrap()
    );
    assert!(!w.join("bob/keys/ledger.key").exists());
    run("alice", &["registry", "tag", "model-a", "candidate"]);
    for who in ["alice", "bob"] {
        let v = run(who, &["audit", "verify"]);
        assert!(v.contains("ledger verified: 4 entries"), "{who}: {v}");
        assert!(v.contains("registry database"), "{v}");
    }
    let log = run("bob", &["audit", "log"]);
    assert_eq!(log.lines().count(), 4, "{log}");
    let proof: Value = serde_json::from_str(&run("bob", &["audit", "prove", "1"])).unwrap();
    assert_eq!(proof["tree_size"], 4);
    // A database administrator rewrites history: verification fails.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "UPDATE ledger_entries SET body = REPLACE(body, 'model-a', 'model-z') WHERE idx = 1",
        )
        .execute(&pool)
        .await
        .unwrap();
    });
    let r = run_raw("bob", &["audit", "verify"]);
    assert_eq!(r.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("FAILED: entry 1"), "{stdout}");
}

fn create_schema(pg: &str, schema: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(pg).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        )))
        .execute(&pool)
        .await
        .unwrap();
    });
}

fn create_bucket(endpoint: &str, bucket: &str) {
    use std::io::{Read, Write};
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(hostport).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(conn, "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// The README's worked example (examples/registry/walkthrough.sh) runs as
/// written and ends with a verified ledger.
#[test]
fn readme_walkthrough_runs() {
    let out = std::process::Command::new("bash")
        .arg(crate::support::root().join("examples/registry/walkthrough.sh"))
        .env("MLSECOPS_BIN", env!("CARGO_BIN_EXE_mlsecops"))
        .env("NO_COLOR", "1")
        .env_remove("MLSECOPS_DATABASE_URL")
        .env_remove("MLSECOPS_BLOB_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ledger verified"), "{stdout}");
    assert!(stdout.contains("REVOKED"), "{stdout}");
    assert!(
        stderr.contains("revoked 4 artifact(s) (3 model(s))"),
        "{stderr}"
    );
    assert!(stdout.contains("DEPLOYED"), "{stdout}");
}
