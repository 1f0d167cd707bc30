//! Blob store behaviour on the local filesystem (always) and on a real
//! S3-compatible server (`MLSECOPS_TEST_S3_ENDPOINT`, e.g. moto started by
//! scripts/services.sh; SKIP when unset, failure under
//! `MLSECOPS_REQUIRE_SERVICES=1`).

use std::io::{Read, Write};

use mlsecops_registry::Error;
use mlsecops_registry::blob::{BlobStore, S3Options};
use mlsecops_registry::content::digest_path;

fn s3(case: &str) -> Option<BlobStore> {
    let Ok(endpoint) = std::env::var("MLSECOPS_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("MLSECOPS_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "MLSECOPS_TEST_S3_ENDPOINT is required (MLSECOPS_REQUIRE_SERVICES=1)"
        );
        println!(
            "SKIP s3::{case}: MLSECOPS_TEST_S3_ENDPOINT not set (run `eval \"$(scripts/services.sh up)\"`)"
        );
        return None;
    };
    // One bucket per case, created with a plain HTTP request (moto accepts
    // unsigned bucket creation; object_store itself never creates buckets).
    let bucket = format!("mlsecops-{}-{}", case.replace('_', "-"), std::process::id());
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(hostport).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "creating bucket: {resp}");
    let opts = S3Options {
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    };
    Some(BlobStore::open_with(&format!("s3://{bucket}/team/blobs"), &opts).unwrap())
}

fn local() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
    (dir, store)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Round trips small and multipart-sized files, dedups, and refuses a
/// file whose content is not the digest it was announced with.
fn round_trip(store: &BlobStore) {
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let small = work.path().join("small.bin");
    std::fs::write(&small, b"hello blobs").unwrap();
    let big = work.path().join("big.bin");
    // 20 MiB + 7: above the multipart threshold, not a multiple of a part.
    let data: Vec<u8> = (0..(20 << 20) + 7)
        .map(|i: u32| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(&big, &data).unwrap();
    for p in [&small, &big] {
        let c = digest_path(p).unwrap();
        assert!(!rt.block_on(store.exists(&c.digest)).unwrap());
        assert!(rt.block_on(store.put_file(p, &c.digest)).unwrap(), "stored");
        assert!(rt.block_on(store.exists(&c.digest)).unwrap());
        assert!(
            !rt.block_on(store.put_file(p, &c.digest)).unwrap(),
            "second put is skipped"
        );
        let out = work.path().join("out.bin");
        let n = rt.block_on(store.get_to_file(&c.digest, &out)).unwrap();
        assert_eq!(n, c.size);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(p).unwrap());
    }
    let d = rt.block_on(store.put_bytes(b"manifest".to_vec())).unwrap();
    assert_eq!(rt.block_on(store.get(&d)).unwrap(), b"manifest");
    // Announced digest does not match the bytes: refused, nothing stored.
    let other = digest_path(&small).unwrap().digest.replace('a', "b");
    if mlsecops_registry::store::is_digest(&other) {
        let e = rt.block_on(store.put_file(&big, &other)).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        assert!(!rt.block_on(store.exists(&other)).unwrap());
    }
    let missing = format!("sha256:{}", "0".repeat(64));
    assert!(matches!(
        rt.block_on(store.get(&missing)),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        rt.block_on(store.exists("sha256:nothex")),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn filesystem_round_trip() {
    let (_d, store) = local();
    round_trip(&store);
}

#[test]
fn s3_round_trip() {
    let Some(store) = s3("round_trip") else {
        return;
    };
    round_trip(&store);
}

#[test]
fn filesystem_layout_and_corruption_detected() {
    let (dir, store) = local();
    let rt = rt();
    let d = rt.block_on(store.put_bytes(b"payload".to_vec())).unwrap();
    let hex = d.trim_start_matches("sha256:");
    let path = dir
        .path()
        .join("blobs/sha256")
        .join(&hex[..2])
        .join(&hex[2..]);
    assert_eq!(std::fs::read(&path).unwrap(), b"payload");
    // No staging files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path() != path)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Flip a byte on disk: reads refuse it and downloads leave no file.
    std::fs::write(&path, b"paylo4d").unwrap();
    let e = rt.block_on(store.get(&d)).unwrap_err();
    assert!(matches!(e, Error::BlobCorrupt { .. }), "{e}");
    let out = dir.path().join("restored");
    assert!(rt.block_on(store.get_to_file(&d, &out)).is_err());
    assert!(!out.exists());
}
