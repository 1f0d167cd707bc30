//! One conformance suite for every `Store` backend: each case runs against
//! SQLite (always) and PostgreSQL (the real server at
//! `MLSECOPS_TEST_POSTGRES_URL`; a SKIP line when it is unset, a failure
//! when `MLSECOPS_REQUIRE_SERVICES=1`). Each PostgreSQL case gets its own
//! schema so cases run in parallel without seeing each other.

use std::sync::atomic::{AtomicU32, Ordering};

use mlsecops_registry::lineage::{
    ArtifactKind, Direction, ListFilter, NewArtifact, NewRun, Relation,
};
use mlsecops_registry::{Actor, Error, OpenOptions, SqlStore, Store};
use serde_json::json;
use sha2::{Digest as _, Sha256};

struct Fixture {
    url: String,
    store: SqlStore,
    _dir: Option<tempfile::TempDir>,
    cleanup: Option<(sqlx::AnyPool, String)>,
}

impl Fixture {
    async fn another(&self) -> SqlStore {
        SqlStore::open(&self.url, &files_ledger()).await.unwrap()
    }

    /// Another store on the same database with the in-database ledger on.
    async fn with_db_ledger(&self) -> SqlStore {
        let opts = OpenOptions {
            ledger_in_db: Some(true),
            ..OpenOptions::default()
        };
        SqlStore::open(&self.url, &opts).await.unwrap()
    }

    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.store.pool())
            .await
            .unwrap();
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((admin, schema)) = self.cleanup {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
}

/// Both backends mirror events into a file ledger unless a case asks for
/// the in-database ledger, so every case sees the same behaviour.
fn files_ledger() -> OpenOptions {
    OpenOptions {
        ledger_in_db: Some(false),
        ..OpenOptions::default()
    }
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("registry.db").display());
    let store = SqlStore::open(&url, &files_ledger()).await.unwrap();
    Fixture {
        url,
        store,
        _dir: Some(dir),
        cleanup: None,
    }
}

async fn postgres(case: &str) -> Option<Fixture> {
    static N: AtomicU32 = AtomicU32::new(0);
    let Ok(base) = std::env::var("MLSECOPS_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("MLSECOPS_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "MLSECOPS_TEST_POSTGRES_URL is required (MLSECOPS_REQUIRE_SERVICES=1)"
        );
        println!(
            "SKIP postgres::{case}: MLSECOPS_TEST_POSTGRES_URL not set (run `eval \"$(scripts/services.sh up)\"`)"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.unwrap();
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        case
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let store = SqlStore::open(&url, &files_ledger()).await.unwrap();
    Some(Fixture {
        url,
        store,
        _dir: None,
        cleanup: Some((admin, schema)),
    })
}

fn digest_of(s: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(s.as_bytes())
        .iter()
        .fold(String::from("sha256:"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn digest_of_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn new(name: &str, kind: ArtifactKind, content: &str) -> NewArtifact {
    NewArtifact {
        digest: digest_of(content),
        kind,
        name: name.into(),
        size: content.len() as u64,
        files: 1,
        media_type: None,
        source: Some(format!("/data/{name}")),
        metadata: json!({"note": content}),
    }
}

fn alice() -> Actor {
    Actor("alice".into())
}

fn run(inputs: &[&str], outputs: &[&str]) -> NewRun {
    NewRun {
        name: Some("train".into()),
        source: "cli".into(),
        external_id: None,
        code_commit: Some("0123abc".into()),
        parameters: json!({"lr": 0.01}),
        environment: json!({"python": "3.12"}),
        inputs: inputs.iter().map(|d| ((*d).to_owned(), None)).collect(),
        outputs: outputs.iter().map(|d| (*d).to_owned()).collect(),
    }
}

/// raw → clean → {model-a, model-b}; model-a → ft. Returns the digests.
async fn three_levels(s: &impl Store) -> [String; 5] {
    let raw = new("raw", ArtifactKind::Dataset, "raw");
    let clean = new("clean", ArtifactKind::Dataset, "clean");
    let a = new("model-a", ArtifactKind::Model, "a");
    let b = new("model-b", ArtifactKind::Model, "b");
    let ft = new("model-ft", ArtifactKind::Model, "ft");
    for n in [&raw, &clean, &a, &b, &ft] {
        s.put_artifact(n, &alice()).await.unwrap();
    }
    s.record_run(&run(&[&raw.digest], &[&clean.digest]), &alice())
        .await
        .unwrap();
    s.record_run(&run(&[&clean.digest], &[&a.digest, &b.digest]), &alice())
        .await
        .unwrap();
    s.record_run(&run(&[&a.digest, &clean.digest], &[&ft.digest]), &alice())
        .await
        .unwrap();
    [raw.digest, clean.digest, a.digest, b.digest, ft.digest]
}

mod cases {
    use super::*;

    pub async fn register_and_resolve(f: &Fixture) {
        let s = &f.store;
        let n = new("credit-risk", ArtifactKind::Model, "v1 bytes");
        let w = s.put_artifact(&n, &alice()).await.unwrap();
        assert!(w.created);
        assert_eq!(w.value.version, 1);
        assert_eq!(w.value.digest, n.digest);
        assert_eq!(w.value.metadata, json!({"note": "v1 bytes"}));
        assert_eq!(w.value.created_by, "alice");
        // Same digest, same name: idempotent, no new version.
        let again = s.put_artifact(&n, &alice()).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.value, w.value);
        // Same digest, other name: a conflict, not a silent alias.
        let mut other = n.clone();
        other.name = "other".into();
        assert!(matches!(
            s.put_artifact(&other, &alice()).await,
            Err(Error::Conflict(_))
        ));
        // A second version.
        let n2 = new("credit-risk", ArtifactKind::Model, "v2 bytes");
        let w2 = s.put_artifact(&n2, &alice()).await.unwrap();
        assert_eq!(w2.value.version, 2);

        assert_eq!(s.resolve(&n.digest).await.unwrap().version, 1);
        assert_eq!(s.resolve("credit-risk").await.unwrap().version, 2);
        assert_eq!(s.resolve("credit-risk@v1").await.unwrap().digest, n.digest);
        assert_eq!(s.resolve("credit-risk@2").await.unwrap().digest, n2.digest);
        let prefix = &n.digest[..7 + 12];
        assert_eq!(s.resolve(prefix).await.unwrap().digest, n.digest);
        assert_eq!(
            s.resolve(&n.digest["sha256:".len() + 7..])
                .await
                .ok()
                .map(|a| a.digest),
            None,
            "a suffix is not a prefix"
        );
        assert!(matches!(
            s.resolve("credit-risk@v9").await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(s.resolve("nope").await, Err(Error::NotFound(_))));
        assert!(matches!(
            s.resolve(&digest_of("unregistered")).await,
            Err(Error::NotFound(_))
        ));
        // Invalid input is refused, not stored.
        let mut bad = new("x", ArtifactKind::Dataset, "x");
        bad.digest = "sha256:XYZ".into();
        assert!(matches!(
            s.put_artifact(&bad, &alice()).await,
            Err(Error::Invalid { .. })
        ));
        let mut bad = new("bad name!", ArtifactKind::Dataset, "y");
        bad.name = "bad name!".into();
        assert!(matches!(
            s.put_artifact(&bad, &alice()).await,
            Err(Error::Invalid { .. })
        ));
        let all = s.list_artifacts(&ListFilter::default()).await.unwrap();
        assert_eq!(all.len(), 2);
        let models = s
            .list_artifacts(&ListFilter {
                kind: Some(ArtifactKind::Dataset),
                ..ListFilter::default()
            })
            .await
            .unwrap();
        assert!(models.is_empty());
        let limited = s
            .list_artifacts(&ListFilter {
                limit: Some(1),
                ..ListFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(limited.len(), 1);
    }

    pub async fn ambiguous_prefix(f: &Fixture) {
        let s = &f.store;
        // Find two contents whose digests share the first hex digits.
        let mut seen = std::collections::HashMap::new();
        let mut pair = None;
        for i in 0..5000 {
            let c = format!("content {i}");
            let d = digest_of(&c);
            if let Some(prev) = seen.insert(d[..7 + 3].to_owned(), c.clone()) {
                pair = Some((prev, c));
                break;
            }
        }
        let (c1, c2) = pair.unwrap();
        s.put_artifact(&new("p1", ArtifactKind::Dataset, &c1), &alice())
            .await
            .unwrap();
        s.put_artifact(&new("p2", ArtifactKind::Dataset, &c2), &alice())
            .await
            .unwrap();
        let d1 = digest_of(&c1);
        // 3 shared hex digits: below the 6-digit minimum, read as a name.
        assert!(s.resolve(&d1[..7 + 3]).await.is_err());
        let mut n = 6;
        while digest_of(&c2).starts_with(&d1[..7 + n]) {
            n += 1;
        }
        assert_eq!(s.resolve(&d1[..7 + n]).await.unwrap().digest, d1);
        if digest_of(&c2).starts_with(&d1[..7 + 6]) {
            assert!(matches!(
                s.resolve(&d1[..7 + 6]).await,
                Err(Error::Ambiguous { .. })
            ));
        }
    }

    pub async fn tags(f: &Fixture) {
        let s = &f.store;
        let v1 = new("fraud", ArtifactKind::Model, "1");
        let v2 = new("fraud", ArtifactKind::Model, "2");
        s.put_artifact(&v1, &alice()).await.unwrap();
        s.put_artifact(&v2, &alice()).await.unwrap();
        assert_eq!(
            s.set_tag("fraud", "champion", &v1.digest, &alice())
                .await
                .unwrap(),
            None
        );
        assert_eq!(s.resolve("fraud@champion").await.unwrap().digest, v1.digest);
        let prev = s
            .set_tag("fraud", "champion", &v2.digest, &Actor("bob".into()))
            .await
            .unwrap();
        assert_eq!(prev.as_deref(), Some(v1.digest.as_str()));
        assert_eq!(s.resolve("fraud@champion").await.unwrap().digest, v2.digest);
        let t = s.tags(&v2.digest).await.unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].updated_by, "bob");
        assert!(s.tags(&v1.digest).await.unwrap().is_empty());
        // Version-shaped tags would shadow name@version.
        for bad in ["v3", "7"] {
            assert!(matches!(
                s.set_tag("fraud", bad, &v1.digest, &alice()).await,
                Err(Error::Invalid { .. })
            ));
        }
        assert!(matches!(
            s.set_tag("fraud", "x", &digest_of("missing"), &alice())
                .await,
            Err(Error::NotFound(_))
        ));
    }

    pub async fn lineage_three_levels(f: &Fixture) {
        let s = &f.store;
        let [raw, clean, a, b, ft] = three_levels(s).await;
        let down = s.lineage(&raw, Direction::Down).await.unwrap();
        let names: Vec<_> = down.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["raw", "clean", "model-a", "model-b", "model-ft"]);
        assert_eq!(down.edges.len(), 5, "{:#?}", down.edges);
        assert_eq!(down.runs.len(), 3);
        let rel = |p: &str, c: &str| {
            down.edges
                .iter()
                .find(|e| e.parent == p && e.child == c)
                .map(|e| e.relation)
        };
        assert_eq!(rel(&raw, &clean), Some(Relation::DerivedFrom));
        assert_eq!(rel(&clean, &a), Some(Relation::TrainedOn));
        assert_eq!(rel(&a, &ft), Some(Relation::FineTunedFrom));
        assert_eq!(rel(&clean, &ft), Some(Relation::TrainedOn));

        let up = s.lineage(&ft, Direction::Up).await.unwrap();
        let mut names: Vec<_> = up.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.remove(0), "model-ft");
        names.sort_unstable();
        assert_eq!(names, ["clean", "model-a", "raw"]);
        assert!(up.node(&b).is_none(), "a sibling is not upstream");

        let mid = s.lineage(&a, Direction::Both).await.unwrap();
        assert_eq!(mid.nodes.len(), 4, "raw, clean, a, ft");
        assert!(mid.node(&b).is_none());

        let leaf = s.lineage(&b, Direction::Down).await.unwrap();
        assert_eq!(leaf.nodes.len(), 1);
        assert!(leaf.edges.is_empty());

        // Cycles are refused.
        let cyc = s.record_run(&run(&[&ft], &[&raw]), &alice()).await;
        assert!(matches!(cyc, Err(Error::Conflict(_))), "{cyc:?}");
        // Runs must reference registered artifacts.
        let missing = s
            .record_run(&run(&[&digest_of("ghost")], &[&ft]), &alice())
            .await;
        assert!(matches!(missing, Err(Error::NotFound(_))));
    }

    pub async fn run_merge_by_external_id(f: &Fixture) {
        let s = &f.store;
        let x = new("x", ArtifactKind::Dataset, "x");
        let y = new("y", ArtifactKind::Dataset, "y");
        let m = new("m", ArtifactKind::Model, "m");
        for n in [&x, &y, &m] {
            s.put_artifact(n, &alice()).await.unwrap();
        }
        let mut r = run(&[&x.digest], &[&m.digest]);
        r.source = "openlineage".into();
        r.external_id = Some("0190-run".into());
        let first = s.record_run(&r, &alice()).await.unwrap();
        assert!(first.created);
        // The same event again: nothing new.
        let same = s.record_run(&r, &alice()).await.unwrap();
        assert!(!same.created);
        assert_eq!(same.value.id, first.value.id);
        // A later event of the same run adds an input: merged into the run.
        r.inputs.push((y.digest.clone(), Some(Relation::TestedOn)));
        let merged = s.record_run(&r, &alice()).await.unwrap();
        assert!(merged.created);
        assert_eq!(merged.value.id, first.value.id);
        let g = s.lineage(&m.digest, Direction::Up).await.unwrap();
        assert_eq!(g.edges.len(), 2);
        assert_eq!(g.runs.len(), 1);
        assert!(
            g.edges
                .iter()
                .any(|e| e.parent == y.digest && e.relation == Relation::TestedOn)
        );
    }

    pub async fn revoke_blast_radius(f: &Fixture) {
        let s = &f.store;
        let [raw, clean, a, b, ft] = three_levels(s).await;
        let unrelated = new("other", ArtifactKind::Dataset, "unrelated");
        s.put_artifact(&unrelated, &alice()).await.unwrap();
        let dep = s.deploy(&ft, "production", &alice()).await.unwrap();
        s.approve(&a, "production", true, Some("looks good"), &alice())
            .await
            .unwrap();

        // Revoking model-a hits a and ft only.
        let r1 = s.revoke(&a, "backdoor found", &alice()).await.unwrap();
        let mut got: Vec<_> = r1.revoked.iter().map(|x| x.digest.clone()).collect();
        assert_eq!(got[0], a, "root first");
        got.sort();
        let mut want = vec![a.clone(), ft.clone()];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(r1.deployments, vec![dep.clone()]);
        assert!(r1.already_revoked.is_empty());

        // Revoking raw: everything downstream; a and ft were already revoked.
        let r2 = s.revoke(&raw, "poisoned rows", &alice()).await.unwrap();
        let mut got: Vec<_> = r2.revoked.iter().map(|x| x.digest.clone()).collect();
        got.sort();
        let mut want = vec![raw.clone(), clean.clone(), b.clone()];
        want.sort();
        assert_eq!(got, want);
        let mut already: Vec<_> = r2
            .already_revoked
            .iter()
            .map(|x| x.digest.clone())
            .collect();
        already.sort();
        let mut want = vec![a.clone(), ft.clone()];
        want.sort();
        assert_eq!(already, want);

        let ftr = s.artifact(&ft).await.unwrap().unwrap().revoked.unwrap();
        assert_eq!(ftr.cause, a, "ft was revoked because of model-a");
        assert_eq!(ftr.reason, "backdoor found");
        let br = s.artifact(&b).await.unwrap().unwrap().revoked.unwrap();
        assert_eq!(br.cause, raw);
        assert!(
            s.artifact(&unrelated.digest)
                .await
                .unwrap()
                .unwrap()
                .revoked
                .is_none()
        );
        // Revoked artifacts cannot be deployed or approved.
        assert!(matches!(
            s.deploy(&b, "production", &alice()).await,
            Err(Error::Revoked { .. })
        ));
        assert!(matches!(
            s.approve(&b, "production", true, None, &alice()).await,
            Err(Error::Revoked { .. })
        ));
        // Rejecting one is still allowed.
        s.approve(&b, "production", false, Some("revoked"), &alice())
            .await
            .unwrap();
        // Something made later from a revoked dataset is revoked at once,
        // with the original cause.
        let late = new("late-model", ArtifactKind::Model, "late");
        s.put_artifact(&late, &alice()).await.unwrap();
        s.record_run(&run(&[&clean], &[&late.digest]), &alice())
            .await
            .unwrap();
        let lr = s
            .artifact(&late.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked
            .unwrap();
        assert_eq!(
            (lr.cause.as_str(), lr.reason.as_str()),
            (raw.as_str(), "poisoned rows")
        );
        // Revoking again changes nothing.
        let r3 = s.revoke(&raw, "again", &alice()).await.unwrap();
        assert!(r3.revoked.is_empty());
        assert_eq!(r3.already_revoked.len(), 6);
        assert!(matches!(
            s.revoke(&raw, "  ", &alice()).await,
            Err(Error::Invalid { .. })
        ));
    }

    pub async fn attachments_approvals_deployments(f: &Fixture) {
        let s = &f.store;
        let m = new("m", ArtifactKind::Model, "m");
        s.put_artifact(&m, &alice()).await.unwrap();
        let report = digest_of("report bytes");
        let at = s
            .attach(
                &m.digest,
                "scan-report",
                Some(&report),
                &json!({"high": 0}),
                &alice(),
            )
            .await
            .unwrap();
        assert!(at.id.starts_with("sha256:"));
        let list = s.attachments(&m.digest).await.unwrap();
        assert_eq!(list, vec![at]);
        let ap = s
            .approve(&m.digest, "staging", true, None, &Actor("carol".into()))
            .await
            .unwrap();
        let ap2 = s
            .approve(&m.digest, "staging", true, None, &Actor("carol".into()))
            .await
            .unwrap();
        assert_ne!(ap.id, ap2.id, "two approvals are two records");
        assert_eq!(s.approvals(&m.digest).await.unwrap().len(), 2);
        let d = s.deploy(&m.digest, "prod-eu", &alice()).await.unwrap();
        assert_eq!(s.deployments(&m.digest).await.unwrap(), vec![d]);
        assert!(matches!(
            s.attach(
                &digest_of("ghost"),
                "scan-report",
                None,
                &json!({}),
                &alice()
            )
            .await,
            Err(Error::NotFound(_))
        ));
    }

    pub async fn events_mirror_every_write(f: &Fixture) {
        let s = &f.store;
        let [raw, ..] = three_levels(s).await;
        s.revoke(&raw, "test", &alice()).await.unwrap();
        // 5 artifacts + 3 runs + 1 revocation.
        let pending = s.pending_events(100).await.unwrap();
        let kinds: Vec<_> = pending.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds.len(), 9, "{kinds:?}");
        assert_eq!(
            kinds.iter().filter(|k| **k == "registry.artifact").count(),
            5
        );
        assert_eq!(kinds.iter().filter(|k| **k == "registry.run").count(), 3);
        assert_eq!(kinds.last(), Some(&"registry.revocation"));
        for e in &pending {
            assert_eq!(e.id, digest_of(&e.body), "event id is the body digest");
            let v: serde_json::Value = serde_json::from_str(&e.body).unwrap();
            assert_eq!(v["kind"], e.kind);
            assert_eq!(v["actor"], "alice");
        }
        assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
        s.mark_ledgered(pending[0].seq, 41).await.unwrap();
        let rest = s.pending_events(100).await.unwrap();
        assert_eq!(rest.len(), 8);
        let all = s.events(0, 100).await.unwrap();
        assert_eq!(all[0].ledger_index, Some(41));
        assert_eq!(s.events(all[3].seq, 100).await.unwrap().len(), 5);
    }

    pub async fn concurrent_writers_serialize(f: &Fixture) {
        // Several independent stores (as separate processes or servers
        // would have) register versions of one name at once.
        let mut handles = Vec::new();
        for w in 0..4 {
            let s = f.another().await;
            handles.push(tokio::spawn(async move {
                for i in 0..10 {
                    let n = new("shared", ArtifactKind::Dataset, &format!("w{w} i{i}"));
                    s.put_artifact(&n, &Actor(format!("writer{w}")))
                        .await
                        .unwrap();
                }
                s.close().await;
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let all = f
            .store
            .list_artifacts(&ListFilter {
                name: Some("shared".into()),
                ..ListFilter::default()
            })
            .await
            .unwrap();
        let versions: Vec<i64> = all.iter().map(|a| a.version).collect();
        assert_eq!(versions, (1..=40).collect::<Vec<_>>());
        assert_eq!(f.store.pending_events(1000).await.unwrap().len(), 40);
    }

    pub async fn db_ledger_is_written_in_the_same_transaction(f: &Fixture) {
        use mlsecops_ledger::{Signer, Tamper, VerifyError};
        let signer = Signer::generate("team.example/ledger").unwrap();
        let verifier = signer.verifier();
        // Four writers (processes or servers) at once, each with its store.
        let mut handles = Vec::new();
        for w in 0..4 {
            let s = f.with_db_ledger().await;
            handles.push(tokio::spawn(async move {
                for i in 0..8 {
                    let n = new(&format!("d{w}"), ArtifactKind::Dataset, &format!("{w}/{i}"));
                    s.put_artifact(&n, &alice()).await.unwrap();
                }
                s.close().await;
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let s = f.with_db_ledger().await;
        assert!(s.ledger_in_db());
        // A scan record appended directly.
        let (first, size) = s.ledger_append(&[r#"{"kind":"scan"}"#]).await.unwrap();
        assert_eq!((first, size), (32, 33));
        // Every event got its ledger index at commit: nothing pending.
        assert!(s.pending_events(100).await.unwrap().is_empty());
        let events = s.events(0, 100).await.unwrap();
        let mut idx: Vec<i64> = events.iter().map(|e| e.ledger_index.unwrap()).collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..32).collect::<Vec<_>>(), "gap-free and unique");
        let entries = s.ledger_read(0, 100).await.unwrap();
        for e in &events {
            let i = usize::try_from(e.ledger_index.unwrap()).unwrap();
            assert_eq!(entries[i].body, e.body);
        }
        s.ledger_checkpoint("team.example/ledger", &signer)
            .await
            .unwrap();
        let r = s.verify_ledger(&verifier).await.unwrap();
        assert_eq!((r.size, r.checkpoints), (33, 1));
        let tree = s.ledger_tree(33).await.unwrap();
        assert_eq!(tree.root(), r.root);

        // A database administrator edits an entry: found at its index.
        f.exec("UPDATE ledger_entries SET body = body || ' ' WHERE idx = 5")
            .await;
        let e = s.verify_ledger(&verifier).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::LedgerTampered(VerifyError::Tampered {
                    index: 5,
                    kind: Tamper::HashMismatch
                })
            ),
            "{e}"
        );
        f.exec("UPDATE ledger_entries SET body = SUBSTR(body, 1, LENGTH(body) - 1) WHERE idx = 5")
            .await;
        s.verify_ledger(&verifier).await.unwrap();
        // ... or rewrites an entry and its hash together: the signed
        // checkpoint gives it away.
        let e7 = &s.ledger_read(7, 1).await.unwrap()[0];
        let forged = e7.body.replace("alice", "mallory");
        let h = mlsecops_ledger::leaf_hash(forged.as_bytes());
        let hx = digest_of_hex(&h);
        f.exec(&format!(
            "UPDATE ledger_entries SET body = '{}', leaf_hash = '{hx}' WHERE idx = 7",
            forged.replace('\'', "''")
        ))
        .await;
        let e = s.verify_ledger(&verifier).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::LedgerTampered(VerifyError::Tampered {
                    kind: Tamper::CheckpointMismatch {
                        checkpoint_size: 33
                    },
                    ..
                })
            ),
            "{e}"
        );
        // ... or deletes one.
        f.exec("DELETE FROM ledger_entries WHERE idx = 3").await;
        let e = s.verify_ledger(&verifier).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::LedgerTampered(VerifyError::Tampered {
                    index: 3,
                    kind: Tamper::MissingEntries
                })
            ),
            "{e}"
        );
        // A checkpoint signed by another key is refused.
        let other = Signer::generate("team.example/ledger").unwrap().verifier();
        assert!(s.verify_ledger(&other).await.is_err());
        s.close().await;
    }

    pub async fn reopen_keeps_data_and_migrations_are_idempotent(f: &Fixture) {
        let n = new("keep", ArtifactKind::Code, "code");
        f.store.put_artifact(&n, &alice()).await.unwrap();
        let (a, b) = tokio::join!(f.another(), f.another());
        assert_eq!(a.resolve("keep").await.unwrap().kind, ArtifactKind::Code);
        assert_eq!(b.resolve(&n.digest).await.unwrap().name, "keep");
        a.close().await;
        b.close().await;
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let f = super::sqlite().await;
                    super::cases::$case(&f).await;
                    f.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(f) = super::postgres(stringify!($case)).await else { return };
                    super::cases::$case(&f).await;
                    f.finish().await;
                }
            )*
        }
    };
}

conformance!(
    register_and_resolve,
    ambiguous_prefix,
    tags,
    lineage_three_levels,
    run_merge_by_external_id,
    revoke_blast_radius,
    attachments_approvals_deployments,
    events_mirror_every_write,
    concurrent_writers_serialize,
    db_ledger_is_written_in_the_same_transaction,
    reopen_keeps_data_and_migrations_are_idempotent,
);
