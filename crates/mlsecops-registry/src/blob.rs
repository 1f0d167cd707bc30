//! Content-addressed blob storage over `object_store`.
//!
//! Objects live at `sha256/<first two hex>/<remaining 62 hex>` under the
//! store's root: a local directory (`.mlsecops/blobs/`, the default) or an
//! S3-compatible bucket (`s3://bucket/prefix`, team mode; credentials,
//! region and endpoint come from the standard `AWS_*` environment
//! variables). Writes are atomic (a local write goes to a staging file that
//! is fsynced and renamed; S3 objects appear whole), skipped when the object
//! already exists, and verified: the bytes are hashed while they are
//! uploaded, and a file that changed since it was digested is refused.
//! Reads verify the digest too, so a corrupted object is never returned.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::prefix::PrefixStore;
use object_store::{
    GetOptions, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};
use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::content::hex;

/// Files at or above this size are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// Part size for multipart uploads (S3 needs ≥ 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// A content-addressed blob store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for a local store: objects are fsynced after writing.
    local_root: Option<PathBuf>,
    url: String,
}

fn key(digest: &str) -> Result<ObjPath, Error> {
    if !crate::store::is_digest(digest) {
        return Err(Error::Invalid {
            what: "digest",
            value: digest.to_owned(),
            hint: "expected sha256: followed by 64 lowercase hex digits",
        });
    }
    let h = &digest["sha256:".len()..];
    Ok(ObjPath::from(format!("sha256/{}/{}", &h[..2], &h[2..])))
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

/// Explicit S3 settings; anything unset comes from the standard `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL`, …).
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl BlobStore {
    /// Opens `url`: `s3://bucket[/prefix]`, `file:///dir`, or a directory
    /// path (created if missing).
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::open_with(url, &S3Options::default())
    }

    /// [`BlobStore::open`] with explicit S3 settings.
    pub fn open_with(url: &str, s3: &S3Options) -> Result<Self, Error> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Invalid {
                    what: "blob URL",
                    value: url.to_owned(),
                    hint: "use s3://BUCKET[/PREFIX]",
                });
            }
            let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
            let endpoint = s3.endpoint.clone().or_else(|| {
                std::env::var("AWS_ENDPOINT_URL")
                    .or_else(|_| std::env::var("AWS_ENDPOINT"))
                    .ok()
            });
            if let Some(k) = &s3.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = &s3.secret_access_key {
                b = b.with_secret_access_key(k);
            }
            if let Some(r) = &s3.region {
                b = b.with_region(r);
            }
            if let Some(ep) = endpoint {
                // An explicitly configured plain-HTTP endpoint (a local
                // S3-compatible server) is allowed; AWS itself is HTTPS.
                b = b
                    .with_allow_http(ep.starts_with("http://"))
                    .with_endpoint(ep);
            }
            if s3.region.is_none()
                && std::env::var_os("AWS_REGION").is_none()
                && std::env::var_os("AWS_DEFAULT_REGION").is_none()
            {
                b = b.with_region("us-east-1");
            }
            let s3 = b.build()?;
            let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix.trim_matches('/')))
            };
            return Ok(Self {
                store,
                local_root: None,
                url: url.to_owned(),
            });
        }
        let dir = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let root = dir.canonicalize().map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let fs = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(fs),
            local_root: Some(root),
            url: url.to_owned(),
        })
    }

    /// Where the store lives, as given to [`BlobStore::open`].
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object key of a digest (for error messages and docs).
    pub fn key_of(digest: &str) -> Result<String, Error> {
        key(digest).map(|k| k.to_string())
    }

    pub async fn exists(&self, digest: &str) -> Result<bool, Error> {
        let k = key(digest)?;
        let opts = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(&k, opts).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores `bytes`; returns their digest.
    pub async fn put_bytes(&self, bytes: Vec<u8>) -> Result<String, Error> {
        let digest = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
        if !self.exists(&digest).await? {
            let k = key(&digest)?;
            self.store
                .put_opts(&k, PutPayload::from(bytes), PutOptions::default())
                .await?;
            self.sync_local(&k)?;
        }
        Ok(digest)
    }

    /// Stores many files (path, expected digest); returns how many were
    /// new. On a local store every object is fsynced and each directory
    /// touched is fsynced once at the end, before this returns.
    pub async fn put_files(&self, files: &[(&Path, &str)]) -> Result<usize, Error> {
        let mut stored = 0;
        if let Some(root) = &self.local_root {
            let mut dirs = std::collections::BTreeSet::new();
            for (path, digest) in files {
                if let Some(dir) = local_put(root, path, digest)? {
                    dirs.insert(dir);
                    stored += 1;
                }
            }
            for dir in dirs {
                std::fs::File::open(&dir)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::Io {
                        path: dir.display().to_string(),
                        source: e,
                    })?;
            }
            return Ok(stored);
        }
        for (path, digest) in files {
            stored += usize::from(self.put_file_remote(path, digest).await?);
        }
        Ok(stored)
    }

    /// Stores the file at `path`, which must hash to `digest`. Returns
    /// `false` when the object was already present.
    pub async fn put_file(&self, path: &Path, digest: &str) -> Result<bool, Error> {
        if self.local_root.is_some() {
            return Ok(self.put_files(&[(path, digest)]).await? == 1);
        }
        self.put_file_remote(path, digest).await
    }

    async fn put_file_remote(&self, path: &Path, digest: &str) -> Result<bool, Error> {
        let k = key(digest)?;
        if self.exists(digest).await? {
            return Ok(false);
        }
        let io = |e| Error::Io {
            path: path.display().to_string(),
            source: e,
        };
        let mut f = std::fs::File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        let mut hasher = Sha256::new();
        let changed = |actual: String| {
            Error::Conflict(format!(
                "{} changed while it was being stored (expected {digest}, read {actual}); register it again",
                path.display()
            ))
        };
        if len < MULTIPART_THRESHOLD {
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            f.by_ref()
                .take(MULTIPART_THRESHOLD)
                .read_to_end_bounded(&mut buf)
                .map_err(io)?;
            hasher.update(&buf);
            let actual = format!("sha256:{}", hex(&hasher.finalize()));
            if actual != digest {
                return Err(changed(actual));
            }
            self.store
                .put_opts(&k, PutPayload::from(buf), PutOptions::default())
                .await?;
        } else {
            let upload = self
                .store
                .put_multipart_opts(&k, PutMultipartOptions::default())
                .await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut buf = vec![0u8; PART_SIZE];
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = w.abort().await;
                        return Err(io(e));
                    }
                };
                hasher.update(&buf[..n]);
                w.wait_for_capacity(4).await?;
                w.write(&buf[..n]);
            }
            let actual = format!("sha256:{}", hex(&hasher.finalize()));
            if actual != digest {
                let _ = w.abort().await;
                return Err(changed(actual));
            }
            w.finish().await?;
        }
        self.sync_local(&k)?;
        Ok(true)
    }

    /// Starts reading an object; a missing one is `NotFound` naming the store.
    async fn open_object(
        &self,
        k: &ObjPath,
        digest: &str,
    ) -> Result<object_store::GetResult, Error> {
        self.store
            .get_opts(k, GetOptions::default())
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    Error::NotFound(format!("blob {digest} is not in {}", self.url))
                } else {
                    e.into()
                }
            })
    }

    /// The object's bytes, verified against the digest.
    pub async fn get(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let k = key(digest)?;
        let bytes = self.open_object(&k, digest).await?.bytes().await?;
        let actual = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
        if actual != digest {
            return Err(Error::BlobCorrupt {
                digest: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes.to_vec())
    }

    /// Writes the object to `dest` atomically (staging file, fsync,
    /// rename), verifying the digest before the rename.
    pub async fn get_to_file(&self, digest: &str, dest: &Path) -> Result<u64, Error> {
        use futures_util::StreamExt as _;
        use std::io::Write as _;
        let k = key(digest)?;
        let io = |p: &Path, e| Error::Io {
            path: p.display().to_string(),
            source: e,
        };
        let mut stream = self.open_object(&k, digest).await?.into_stream();
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let staging = parent.join(format!(
            ".{}.mlsecops-partial",
            dest.file_name()
                .map_or_else(|| "blob".into(), |n| n.to_string_lossy())
        ));
        let mut f = std::fs::File::create(&staging).map_err(|e| io(&staging, e))?;
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            n += chunk.len() as u64;
            f.write_all(&chunk).map_err(|e| io(&staging, e))?;
        }
        f.sync_all().map_err(|e| io(&staging, e))?;
        drop(f);
        let actual = format!("sha256:{}", hex(&hasher.finalize()));
        if actual != digest {
            let _ = std::fs::remove_file(&staging);
            return Err(Error::BlobCorrupt {
                digest: digest.to_owned(),
                actual,
            });
        }
        std::fs::rename(&staging, dest).map_err(|e| io(dest, e))?;
        Ok(n)
    }

    /// fsyncs a freshly written local object and its directory, so an
    /// acknowledged blob survives power loss.
    fn sync_local(&self, k: &ObjPath) -> Result<(), Error> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let p = root.join(k.as_ref());
        let io = |p: &Path, e| Error::Io {
            path: p.display().to_string(),
            source: e,
        };
        std::fs::File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&p, e))?;
        if let Some(dir) = p.parent() {
            std::fs::File::open(dir)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(dir, e))?;
        }
        Ok(())
    }
}

/// Local fast path: one pass that copies `path` into a staging file next
/// to its final place while hashing it, fsyncs it, checks the digest and
/// renames it into place. Returns the directory to fsync, or `None` when
/// the object already existed.
fn local_put(root: &Path, path: &Path, digest: &str) -> Result<Option<PathBuf>, Error> {
    use std::io::Write as _;
    let k = key(digest)?;
    let dest = root.join(k.as_ref());
    if dest.is_file() {
        return Ok(None);
    }
    let dir = dest
        .parent()
        .ok_or_else(|| Error::Corrupt(format!("blob key {k} has no directory")))?
        .to_path_buf();
    let io = |p: &Path, e| Error::Io {
        path: p.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let staging = dir.join(format!(
        ".{}.{}.partial",
        &digest["sha256:".len()..],
        std::process::id()
    ));
    let result = (|| {
        let mut src = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut out = std::fs::File::create(&staging).map_err(|e| io(&staging, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(path, e)),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| io(&staging, e))?;
        }
        let actual = format!("sha256:{}", hex(&hasher.finalize()));
        if actual != digest {
            return Err(Error::Conflict(format!(
                "{} changed while it was being stored (expected {digest}, read {actual}); register it again",
                path.display()
            )));
        }
        out.sync_all().map_err(|e| io(&staging, e))?;
        std::fs::rename(&staging, &dest).map_err(|e| io(&dest, e))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    Ok(Some(dir))
}

/// `read_to_end` into a buffer from a reader the caller already bounded
/// with `take` (the lint bans unbounded `read_to_end` in libraries).
trait ReadBounded {
    fn read_to_end_bounded(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize>;
}

impl<R: std::io::Read> ReadBounded for std::io::Take<R> {
    fn read_to_end_bounded(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match self.read(&mut chunk) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    total += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
