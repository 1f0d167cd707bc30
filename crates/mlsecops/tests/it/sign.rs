//! `mlsecops sign|verify|attest`: round trips, tamper detection with the
//! right reason, and two-way interoperability with the reference OpenSSF
//! model-signing (driven through `tests/interop/oms.py` with the Python at
//! `MLSECOPS_TEST_PYTHON`, which `scripts/services.sh` provisions).

use std::path::{Path, PathBuf};
use std::process::Command;

use mlsecops_sign::keys::{KeyKind, SigningKey};

use crate::support::{Run, mlsecops, root, service};

fn model(dir: &Path) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(m.join("layers")).unwrap();
    std::fs::write(m.join("config.json"), br#"{"hidden": 64}"#).unwrap();
    let weights: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(m.join("layers/weights.bin"), &weights).unwrap();
    std::fs::write(m.join("empty.txt"), b"").unwrap();
    std::fs::write(m.join(".gitattributes"), b"*.bin lfs").unwrap();
    m
}

fn keys(dir: &Path) -> (PathBuf, PathBuf) {
    let k = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let (private, public) = (dir.join("key.pem"), dir.join("pub.pem"));
    std::fs::write(&private, k.to_pem().as_bytes()).unwrap();
    std::fs::write(&public, k.verifying_key().to_pem()).unwrap();
    (private, public)
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Copies a directory tree (the fixtures are small).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// Each way the model or its signature can be tampered with, and the words
/// the verdict must contain.
fn tampered(
    dir: &Path,
    m: &Path,
    sig: &Path,
) -> Vec<(&'static str, PathBuf, PathBuf, &'static str)> {
    let mut cases = Vec::new();
    let mk = |name: &str| {
        let d = dir.join(format!("t-{name}"));
        copy_tree(m, &d);
        let s2 = dir.join(format!("t-{name}.sig"));
        std::fs::copy(sig, &s2).unwrap();
        (d, s2)
    };
    let (d, s2) = mk("flip");
    let mut w = std::fs::read(d.join("layers/weights.bin")).unwrap();
    w[1234] ^= 1;
    std::fs::write(d.join("layers/weights.bin"), w).unwrap();
    cases.push(("flipped byte", d, s2, "weights.bin"));
    let (d, s2) = mk("add");
    std::fs::write(d.join("extra.py"), b"import os").unwrap();
    cases.push(("added file", d, s2, "extra.py"));
    let (d, s2) = mk("remove");
    std::fs::remove_file(d.join("config.json")).unwrap();
    cases.push(("removed file", d, s2, "config.json"));
    let (d, s2) = mk("rename");
    std::fs::rename(d.join("config.json"), d.join("config2.json")).unwrap();
    cases.push(("renamed file", d, s2, "config"));
    let (d, s2) = mk("payload");
    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(&s2).unwrap()).unwrap();
    let p = b["dsseEnvelope"]["payload"].as_str().unwrap().to_owned();
    // Change one base64 character of the payload (still valid base64).
    let mut chars: Vec<char> = p.chars().collect();
    chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
    b["dsseEnvelope"]["payload"] = serde_json::json!(chars.into_iter().collect::<String>());
    std::fs::write(&s2, serde_json::to_vec(&b).unwrap()).unwrap();
    cases.push(("edited payload", d, s2, ""));
    let (d, s2) = mk("sigbyte");
    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(&s2).unwrap()).unwrap();
    let sg = b["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut chars: Vec<char> = sg.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    b["dsseEnvelope"]["signatures"][0]["sig"] =
        serde_json::json!(chars.into_iter().collect::<String>());
    std::fs::write(&s2, serde_json::to_vec(&b).unwrap()).unwrap();
    cases.push(("changed signature byte", d, s2, ""));
    cases
}

#[test]
fn sign_verify_and_every_tamper_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let (key, public) = keys(d);
    for (method, hash) in [
        ("files", "sha256"),
        ("shards", "sha256"),
        ("files", "blake3"),
        ("files", "blake2"),
    ] {
        let sig = d.join(format!("{method}-{hash}.sig"));
        let mut args = vec![
            "sign",
            s(&m),
            "--key",
            s(&key),
            "-o",
            s(&sig),
            "--method",
            method,
            "--hash",
            hash,
        ];
        if method == "shards" {
            args.extend(["--shard-size", "1024"]);
        }
        let r = mlsecops(d, &args);
        ok(&r);
        assert!(r.stdout.starts_with("sha256:"), "{}", r.stdout);
        let r = mlsecops(
            d,
            &["verify", s(&m), "--signature", s(&sig), "--key", s(&public)],
        );
        ok(&r);
        assert!(r.stdout.contains("verified:"), "{}", r.stdout);
    }
    let sig = d.join("files-sha256.sig");
    for (what, tm, ts, needle) in tampered(d, &m, &sig) {
        let r = mlsecops(
            d,
            &["verify", s(&tm), "--signature", s(&ts), "--key", s(&public)],
        );
        assert_eq!(r.code, 1, "{what}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("FAILED") && r.stdout.contains(needle),
            "{what}: {}",
            r.stdout
        );
    }
    // The wrong key.
    let (_, other) = keys(&d.join("other-key").tap_mkdir());
    let r = mlsecops(
        d,
        &["verify", s(&m), "--signature", s(&sig), "--key", s(&other)],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    // Unsigned extra files are accepted only when asked.
    let extra = d.join("t-add");
    let r = mlsecops(
        d,
        &[
            "verify",
            s(&extra),
            "--signature",
            s(&d.join("t-add.sig")),
            "--key",
            s(&public),
            "--ignore-unsigned-files",
        ],
    );
    ok(&r);
    // ... but a signed file that is missing still fails.
    let gone = d.join("t-remove");
    let r = mlsecops(
        d,
        &[
            "verify",
            s(&gone),
            "--signature",
            s(&d.join("t-remove.sig")),
            "--key",
            s(&public),
            "--ignore-unsigned-files",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("config.json"), "{}", r.stdout);
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn incremental_and_precomputed_digests_sign_the_same_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let (key, public) = keys(d);
    let cache = d.join("hash.cache");
    let a = mlsecops(
        d,
        &[
            "sign",
            s(&m),
            "--key",
            s(&key),
            "-o",
            s(&d.join("a.sig")),
            "--cache",
            s(&cache),
        ],
    );
    ok(&a);
    let b = mlsecops(
        d,
        &[
            "sign",
            s(&m),
            "--key",
            s(&key),
            "-o",
            s(&d.join("b.sig")),
            "--cache",
            s(&cache),
        ],
    );
    ok(&b);
    assert_eq!(a.stdout, b.stdout, "same root digest with the cache");
    // A digest list in sha256sum format signs the same root digest.
    let mut list = String::new();
    for f in ["config.json", "empty.txt", "layers/weights.bin"] {
        use sha2::Digest as _;
        let h = sha2::Sha256::digest(std::fs::read(m.join(f)).unwrap());
        let hex: String = h.iter().fold(String::new(), |mut acc, x| {
            use std::fmt::Write as _;
            let _ = write!(acc, "{x:02x}");
            acc
        });
        list += &format!("{hex}  {f}\n");
    }
    std::fs::write(d.join("digests.txt"), list).unwrap();
    let c = mlsecops(
        d,
        &[
            "sign",
            s(&m),
            "--key",
            s(&key),
            "-o",
            s(&d.join("c.sig")),
            "--digests",
            s(&d.join("digests.txt")),
        ],
    );
    ok(&c);
    assert_eq!(a.stdout, c.stdout);
    ok(&mlsecops(
        d,
        &[
            "verify",
            s(&m),
            "--signature",
            s(&d.join("c.sig")),
            "--key",
            s(&public),
        ],
    ));
}

#[test]
fn attestations_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let (key, public) = keys(d);
    // The CI key comes from `keys generate --kind ecdsa-p256` (0600).
    ok(&mlsecops(
        d,
        &["keys", "generate", "--name", "ci", "--kind", "ecdsa-p256"],
    ));
    let ci_key = d.join(".mlsecops/keys/ci.pem");
    let listed = mlsecops(d, &["keys", "list"]);
    assert!(
        listed.stdout.contains("ci") && listed.stdout.contains("ecdsa-p256"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains("PRIVATE"), "{}", listed.stdout);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ci_key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let sig = d.join("model.sig");
    ok(&mlsecops(
        d,
        &["sign", s(&m), "--key", s(&key), "-o", s(&sig)],
    ));
    std::fs::write(d.join("data.csv"), b"x,y\n1,2\n").unwrap();
    ok(&mlsecops(
        d,
        &[
            "attest",
            s(&m),
            "--type",
            "provenance",
            "--key",
            s(&ci_key),
            "--signature",
            s(&sig),
            "--dataset",
            s(&d.join("data.csv")),
            "--commit",
            "4f2a9c1",
            "--repo",
            "https://git.example/ml",
            "--param",
            "lr=0.01",
        ],
    ));
    let report = d.join("scan.json");
    std::fs::write(&report, br#"{"summary": {"findings": 0}}"#).unwrap();
    ok(&mlsecops(
        d,
        &[
            "attest",
            s(&m),
            "--type",
            "scan",
            "--key",
            s(&ci_key),
            "--signature",
            s(&sig),
            "--report",
            s(&report),
        ],
    ));
    // Attached to the model's registry entry when asked.
    ok(&mlsecops(d, &["init"]));
    ok(&mlsecops(
        d,
        &["registry", "add", "model", s(&m), "--name", "fraud"],
    ));
    ok(&mlsecops(
        d,
        &["sign", s(&m), "--key", s(&key), "-o", s(&sig), "--attach"],
    ));
    ok(&mlsecops(
        d,
        &[
            "attest",
            s(&m),
            "--type",
            "scan",
            "--key",
            s(&ci_key),
            "--signature",
            s(&sig),
            "--report",
            s(&report),
            "--attach",
            "-o",
            s(&d.join("attached.intoto.jsonl")),
        ],
    ));
    let shown: serde_json::Value = serde_json::from_str(
        &mlsecops(d, &["registry", "show", "fraud", "--format", "json"]).stdout,
    )
    .unwrap();
    let kinds: Vec<&str> = shown["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["model-signature", "attestation"]);
    let att = d.join("model.intoto.jsonl");
    assert_eq!(std::fs::read_to_string(&att).unwrap().lines().count(), 2);
    let policy = d.join("policy.toml");
    std::fs::write(&policy, "[[require]]\npredicate_type = \"provenance\"\nkeys = [\".mlsecops/keys/ci.pub.pem\"]\n\n[[require]]\npredicate_type = \"scan\"\nkeys = [\".mlsecops/keys/ci.pub.pem\"]\n").unwrap();
    let r = mlsecops(
        d,
        &[
            "verify",
            s(&m),
            "--signature",
            s(&sig),
            "--key",
            s(&public),
            "--policy",
            s(&policy),
        ],
    );
    ok(&r);
    assert!(
        r.stderr
            .contains("policy: https://slsa.dev/provenance/v1 satisfied"),
        "{}",
        r.stderr
    );
    // A policy asking for an attestation nobody made fails, naming it.
    std::fs::write(
        &policy,
        "[[require]]\npredicate_type = \"data-check\"\nkeys = [\".mlsecops/keys/ci.pub.pem\"]\n",
    )
    .unwrap();
    let r = mlsecops(
        d,
        &[
            "verify",
            s(&m),
            "--signature",
            s(&sig),
            "--key",
            s(&public),
            "--policy",
            s(&policy),
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("data-check"), "{}", r.stdout);
    // Signed by the wrong key for the requirement.
    std::fs::write(
        &policy,
        "[[require]]\npredicate_type = \"provenance\"\nkeys = [\"pub.pem\"]\n",
    )
    .unwrap();
    let r = mlsecops(
        d,
        &[
            "verify",
            s(&m),
            "--signature",
            s(&sig),
            "--key",
            s(&public),
            "--policy",
            s(&policy),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
}

fn oms(py: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(py)
        .arg(root().join("tests/interop/oms.py"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn two_way_interop_with_the_reference() {
    let Some(py) = service(
        "MLSECOPS_TEST_PYTHON",
        "model-signing interop (reference Python)",
    ) else {
        return;
    };
    let (has, _) = oms(&py, &["--help"]);
    assert!(has, "tests/interop/oms.py does not run with {py}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let (key, public) = (d.join("key.pem"), d.join("pub.pem"));
    let (ok_gen, out) = oms(&py, &["keygen", s(&key), s(&public)]);
    assert!(ok_gen, "{out}");
    // Reference signs; we verify.
    for (method, hash, extra) in [
        ("files", "sha256", None),
        ("shards", "sha256", Some("1024")),
        ("files", "blake3", None),
    ] {
        let sig = d.join(format!("ref-{method}-{hash}.sig"));
        let mut args = vec![
            "sign",
            s(&m),
            s(&sig),
            s(&key),
            "--method",
            method,
            "--hash",
            hash,
        ];
        if let Some(x) = extra {
            args.extend(["--shard-size", x]);
        }
        let (signed, out) = oms(&py, &args);
        assert!(signed, "reference sign {method}/{hash}: {out}");
        let r = mlsecops(
            d,
            &["verify", s(&m), "--signature", s(&sig), "--key", s(&public)],
        );
        assert_eq!(
            r.code, 0,
            "we reject the reference's {method}/{hash}: {}{}",
            r.stdout, r.stderr
        );
    }
    // We sign; the reference verifies (files/sha256, shards, blake3).
    for (method, hash) in [
        ("files", "sha256"),
        ("shards", "sha256"),
        ("files", "blake3"),
    ] {
        let sig = d.join(format!("ours-{method}-{hash}.sig"));
        let mut args = vec![
            "sign",
            s(&m),
            "--key",
            s(&key),
            "-o",
            s(&sig),
            "--method",
            method,
            "--hash",
            hash,
        ];
        if method == "shards" {
            args.extend(["--shard-size", "1024"]);
        }
        ok(&mlsecops(d, &args));
        let (verified, out) = oms(&py, &["verify", s(&m), s(&sig), s(&public)]);
        assert!(verified, "the reference rejects our {method}/{hash}: {out}");
    }
    // Tampered copies are rejected by both.
    let ref_sig = d.join("ref-files-sha256.sig");
    for (what, tm, ts, _) in tampered(d, &m, &ref_sig) {
        let r = mlsecops(
            d,
            &["verify", s(&tm), "--signature", s(&ts), "--key", s(&public)],
        );
        assert_eq!(r.code, 1, "we accept {what}: {}", r.stdout);
        let (verified, out) = oms(&py, &["verify", s(&tm), s(&ts), s(&public)]);
        assert!(!verified, "the reference accepts {what}: {out}");
    }
    let ours = d.join("ours-files-sha256.sig");
    for (what, tm, ts, _) in tampered(&d.join("ours").tap_mkdir(), &m, &ours) {
        let (verified, out) = oms(&py, &["verify", s(&tm), s(&ts), s(&public)]);
        assert!(
            !verified,
            "the reference accepts {what} of our signature: {out}"
        );
    }
    // The wrong key, both ways.
    let (k2, p2) = (d.join("k2.pem"), d.join("p2.pem"));
    assert!(oms(&py, &["keygen", s(&k2), s(&p2)]).0);
    let r = mlsecops(
        d,
        &["verify", s(&m), "--signature", s(&ref_sig), "--key", s(&p2)],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(!oms(&py, &["verify", s(&m), s(&ours), s(&p2)]).0);
}

/// Certificate-chain signing and verification, and the reference's real
/// keyless Sigstore bundles verified offline against a trusted root.
#[test]
fn certificates_and_sigstore_bundles() {
    let data = root().join("crates/mlsecops-sign/tests/data");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = model(d);
    let x = data.join("x509");
    let sig = d.join("cert.sig");
    ok(&mlsecops(
        d,
        &[
            "sign",
            s(&m),
            "--key",
            s(&x.join("good.key.pem")),
            "--certificate-chain",
            s(&x.join("good.chain.pem")),
            "-o",
            s(&sig),
        ],
    ));
    ok(&mlsecops(
        d,
        &[
            "verify",
            s(&m),
            "--signature",
            s(&sig),
            "--root-certs",
            s(&x.join("good.root.pem")),
        ],
    ));
    let r = mlsecops(
        d,
        &[
            "verify",
            s(&m),
            "--signature",
            s(&sig),
            "--root-certs",
            s(&x.join("no-bc.root.pem")),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("trusted issuer"), "{}", r.stdout);

    let st = data.join("sigstore");
    for v in ["v1.0.0-sigstore", "v1.1.0-sigstore"] {
        let model = st.join(v);
        let sig = model.join("model.sig");
        let args = |identity: &'static str| {
            vec![
                "verify".to_owned(),
                s(&model).to_owned(),
                "--signature".into(),
                s(&sig).to_owned(),
                "--sigstore-trusted-root".into(),
                s(&st.join("trusted_root.json")).to_owned(),
                "--identity".into(),
                identity.to_owned(),
                "--issuer".into(),
                "https://sigstore.verify.ibm.com/oauth2".into(),
            ]
        };
        let good = args("stefanb@us.ibm.com");
        let refs: Vec<&str> = good.iter().map(String::as_str).collect();
        ok(&mlsecops(d, &refs));
        let bad = args("someone@example.com");
        let refs: Vec<&str> = bad.iter().map(String::as_str).collect();
        let r = mlsecops(d, &refs);
        assert_eq!(r.code, 1, "{v}: {}", r.stdout);
    }
}
