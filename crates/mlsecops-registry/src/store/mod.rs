//! The metadata store: one [`Store`] trait, implemented over SQLite (the
//! embedded default) and PostgreSQL (team mode) by [`SqlStore`].
//!
//! Both backends run the same runtime queries (the dialect subset both
//! speak: `$N` parameters, `ON CONFLICT`, recursive CTEs) through sqlx's
//! `Any` driver; what differs lives in [`Backend`]: migrations, connection
//! setup, and how a write transaction takes the registry's write lock
//! (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on
//! PostgreSQL, so several processes or servers serialize their writes).
//!
//! Every write commits an [`Event`] in the same transaction; the caller
//! mirrors pending events into the ledger (`pending_events` /
//! `mark_ledgered`), so a crash between the two loses nothing.

mod ledger;
mod migrate;

pub use ledger::LedgerEntry;

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

use mlsecops_lineage::{
    Approval, Artifact, ArtifactKind, Attachment, BlastRadius, Deployment, Direction, Edge, Event,
    Graph, ListFilter, NewArtifact, NewRun, Relation, Revocation, Run, Tag,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row, Transaction};

use crate::Error;

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Who performs a write (recorded in every row and event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(pub String);

/// The result of a write that may find its value already present.
#[derive(Clone, Debug, PartialEq)]
pub struct Written<T> {
    pub value: T,
    /// `false` when an identical record existed (no event was written).
    pub created: bool,
}

/// The registry's metadata operations. Reads never block writers; writes
/// are serialized across processes and servers by the backend.
pub trait Store: Send + Sync {
    fn backend(&self) -> Backend;

    /// Registers an artifact version. Registering the same digest under the
    /// same name again returns the existing record; under another name it
    /// is a conflict (use a tag instead).
    fn put_artifact(
        &self,
        new: &NewArtifact,
        actor: &Actor,
    ) -> impl Future<Output = Result<Written<Artifact>, Error>> + Send;

    fn artifact(
        &self,
        digest: &str,
    ) -> impl Future<Output = Result<Option<Artifact>, Error>> + Send;

    /// Resolves a full digest, a unique digest prefix (≥ 6 hex digits),
    /// `name` (latest version), `name@vN` / `name@N`, or `name@tag`.
    fn resolve(&self, reference: &str) -> impl Future<Output = Result<Artifact, Error>> + Send;

    fn list_artifacts(
        &self,
        filter: &ListFilter,
    ) -> impl Future<Output = Result<Vec<Artifact>, Error>> + Send;

    /// Points `name@tag` at `digest`; returns the digest it pointed at before.
    fn set_tag(
        &self,
        name: &str,
        tag: &str,
        digest: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    fn tags(&self, digest: &str) -> impl Future<Output = Result<Vec<Tag>, Error>> + Send;

    /// Records a run and the lineage edges from each input to each output.
    /// A run with the same `(source, external_id)` is merged (idempotent
    /// imports). Edges that would close a cycle are refused.
    fn record_run(
        &self,
        run: &NewRun,
        actor: &Actor,
    ) -> impl Future<Output = Result<Written<Run>, Error>> + Send;

    fn lineage(
        &self,
        digest: &str,
        direction: Direction,
    ) -> impl Future<Output = Result<Graph, Error>> + Send;

    fn attach(
        &self,
        subject: &str,
        kind: &str,
        blob: Option<&str>,
        summary: &Value,
        actor: &Actor,
    ) -> impl Future<Output = Result<Attachment, Error>> + Send;

    fn attachments(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<Attachment>, Error>> + Send;

    fn approve(
        &self,
        subject: &str,
        stage: &str,
        approved: bool,
        comment: Option<&str>,
        actor: &Actor,
    ) -> impl Future<Output = Result<Approval, Error>> + Send;

    fn approvals(&self, subject: &str)
    -> impl Future<Output = Result<Vec<Approval>, Error>> + Send;

    /// Records a deployment; refused for a revoked artifact.
    fn deploy(
        &self,
        subject: &str,
        environment: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<Deployment, Error>> + Send;

    fn deployments(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<Deployment>, Error>> + Send;

    /// Revokes `digest` and everything downstream of it.
    fn revoke(
        &self,
        digest: &str,
        reason: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<BlastRadius, Error>> + Send;

    /// Events not yet mirrored into the ledger, oldest first.
    fn pending_events(&self, limit: u32) -> impl Future<Output = Result<Vec<Event>, Error>> + Send;

    fn mark_ledgered(
        &self,
        seq: i64,
        ledger_index: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Every event from `after_seq` on (for audits and replication).
    fn events(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Event>, Error>> + Send;
}

static DRIVERS: Once = Once::new();

/// Unix milliseconds now.
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 UTC with milliseconds for a Unix-millisecond time.
#[must_use]
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// True for `sha256:` followed by 64 lowercase hex digits.
#[must_use]
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn check_digest(s: &str) -> Result<(), Error> {
    if is_digest(s) {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "digest",
            value: s.to_owned(),
            hint: "expected sha256: followed by 64 lowercase hex digits",
        })
    }
}

fn check_name(what: &'static str, s: &str) -> Result<(), Error> {
    let ok = !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'))
        && !s.starts_with("sha256:");
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what,
            value: s.to_owned(),
            hint: "use 1-200 characters from A-Z a-z 0-9 - _ . / :, not starting with sha256:",
        })
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn nonce() -> String {
    let mut b = [0u8; 12];
    // A nonce only keeps two identical records in the same millisecond
    // apart; a failing OS RNG falls back to the time, which is still unique
    // enough for that purpose within one process.
    if getrandom::fill(&mut b).is_err() {
        b[..8].copy_from_slice(&now_ms().to_le_bytes());
    }
    crate::content::hex(&b)
}

/// Starts a write transaction holding the registry's write lock.
pub(crate) async fn begin_write(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Transaction<'static, sqlx::Any>, Error> {
    match backend {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            // One registry-wide lock, released at commit/rollback.
            sqlx::query("SELECT pg_advisory_xact_lock(7243001372)")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// Options for opening a store.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub max_connections: u32,
    /// How long a writer waits for the write lock (SQLite busy timeout).
    pub lock_timeout: Duration,
    /// Append every event to the in-database ledger in its own transaction
    /// (team mode). `None`: yes for PostgreSQL, no for SQLite (whose home
    /// keeps the ledger in files).
    pub ledger_in_db: Option<bool>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 4,
            lock_timeout: Duration::from_secs(30),
            ledger_in_db: None,
        }
    }
}

/// The SQL implementation of [`Store`] for both backends.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    db_ledger: bool,
}

const ARTIFACT_COLUMNS: &str = "a.digest, a.kind, a.name, a.version, a.size, a.files, a.media_type, a.source, \
     a.metadata, a.created_at, a.created_by, r.reason AS r_reason, r.cause AS r_cause, \
     r.created_at AS r_created_at, r.created_by AS r_created_by";

const EDGE: &str = "SELECT e.parent, e.child, e.relation, e.run_id FROM edges e WHERE";

/// The recursive walk as a CTE named `walk`. Queries use it only as
/// `x IN (SELECT digest FROM walk)`: SQLite then walks first and probes the
/// indexes, where a join let its planner scan every artifact instead.
fn walk_cte(direction: Direction) -> &'static str {
    match direction {
        Direction::Down => {
            "WITH RECURSIVE walk(digest) AS (SELECT CAST($1 AS TEXT) UNION \
             SELECT e.child FROM edges e JOIN walk w ON e.parent = w.digest) "
        }
        Direction::Up => {
            "WITH RECURSIVE walk(digest) AS (SELECT CAST($1 AS TEXT) UNION \
             SELECT e.parent FROM edges e JOIN walk w ON e.child = w.digest) "
        }
        Direction::Both => {
            "WITH RECURSIVE down(digest) AS (SELECT CAST($1 AS TEXT) UNION \
             SELECT e.child FROM edges e JOIN down w ON e.parent = w.digest), \
             up(digest) AS (SELECT CAST($1 AS TEXT) UNION \
             SELECT e.parent FROM edges e JOIN up w ON e.child = w.digest), \
             walk(digest) AS (SELECT digest FROM down UNION SELECT digest FROM up) "
        }
    }
}

fn json_col(row: &AnyRow, col: &str) -> Result<Value, Error> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| Error::Corrupt(format!("column {col}: {e}")))
}

fn u64_col(row: &AnyRow, col: &str) -> Result<u64, Error> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| Error::Corrupt(format!("column {col}: negative value {v}")))
}

fn artifact_from_row(row: &AnyRow) -> Result<Artifact, Error> {
    let kind: String = row.try_get("kind")?;
    let digest: String = row.try_get("digest")?;
    let revoked = match row.try_get::<Option<String>, _>("r_reason")? {
        Some(reason) => Some(Revocation {
            digest: digest.clone(),
            reason,
            cause: row.try_get("r_cause")?,
            created_at: row.try_get("r_created_at")?,
            created_by: row.try_get("r_created_by")?,
        }),
        None => None,
    };
    Ok(Artifact {
        kind: ArtifactKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("artifact {digest}: kind {kind:?}")))?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        size: u64_col(row, "size")?,
        files: u64_col(row, "files")?,
        media_type: row.try_get("media_type")?,
        source: row.try_get("source")?,
        metadata: json_col(row, "metadata")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        revoked,
        digest,
    })
}

fn run_from_row(row: &AnyRow) -> Result<Run, Error> {
    Ok(Run {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        source: row.try_get("source")?,
        external_id: row.try_get("external_id")?,
        code_commit: row.try_get("code_commit")?,
        parameters: json_col(row, "parameters")?,
        environment: json_col(row, "environment")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

fn edge_from_row(row: &AnyRow) -> Result<Edge, Error> {
    let rel: String = row.try_get("relation")?;
    Ok(Edge {
        parent: row.try_get("parent")?,
        child: row.try_get("child")?,
        relation: Relation::parse(&rel)
            .ok_or_else(|| Error::Corrupt(format!("edge relation {rel:?}")))?,
        run: row.try_get("run_id")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<Event, Error> {
    Ok(Event {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        ledger_index: row.try_get("ledger_index")?,
    })
}

/// Inserts an event row; returns its id (`sha256:` of the body).
async fn insert_event(
    tx: &mut Transaction<'static, sqlx::Any>,
    kind: &str,
    mut body: Value,
    actor: &Actor,
    now: i64,
    db_ledger: bool,
) -> Result<String, Error> {
    if let Value::Object(m) = &mut body {
        m.insert("kind".into(), json!(kind));
        m.insert("time".into(), json!(rfc3339_ms(now)));
        m.insert("actor".into(), json!(actor.0));
        m.insert("v".into(), json!(1));
    }
    // serde_json maps are ordered by key: the body is canonical.
    let text = serde_json::to_string(&body).map_err(|e| Error::Corrupt(e.to_string()))?;
    let id = sha256_hex(text.as_bytes());
    let ledger_index = if db_ledger {
        let i = ledger::append_in(tx, &[&text]).await?;
        Some(i64::try_from(i).unwrap_or(i64::MAX))
    } else {
        None
    };
    sqlx::query("INSERT INTO events (id, kind, body, ledger_index) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(kind)
        .bind(&text)
        .bind(ledger_index)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

impl SqlStore {
    /// Opens (creating if needed) the store at `url`: `sqlite://PATH`,
    /// a bare filesystem path (SQLite), or `postgres://…`. Pending
    /// migrations are applied.
    pub async fn open(url: &str, opts: &OpenOptions) -> Result<Self, Error> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            if path.is_empty() || path.contains('?') {
                return Err(Error::Invalid {
                    what: "database URL",
                    value: url.to_owned(),
                    hint: "use sqlite://PATH, a file path, or postgres://USER@HOST/DB",
                });
            }
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        };
        let busy_ms = opts.lock_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.lock_timeout + Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                        // WAL: readers never block the writer; FULL: a
                        // committed write survives power loss.
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms};"
                        )))
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| Error::Connect {
                backend: backend.as_str(),
                source: e,
            })?;
        migrate::run(&pool, backend).await?;
        let db_ledger = opts.ledger_in_db.unwrap_or(backend == Backend::Postgres);
        Ok(Self {
            pool,
            backend,
            db_ledger,
        })
    }

    /// The connection pool, for backend-specific maintenance and benchmarks.
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn artifact_in(
        &self,
        exec: &mut sqlx::AnyConnection,
        digest: &str,
    ) -> Result<Option<Artifact>, Error> {
        let sql = format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts a LEFT JOIN revocations r ON r.digest = a.digest \
             WHERE a.digest = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(digest)
            .fetch_optional(exec)
            .await?;
        row.as_ref().map(artifact_from_row).transpose()
    }

    async fn artifacts_where(
        &self,
        where_sql: &str,
        binds: &[&str],
    ) -> Result<Vec<Artifact>, Error> {
        let sql = format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts a LEFT JOIN revocations r ON r.digest = a.digest \
             WHERE {where_sql} ORDER BY a.name, a.version"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(*b);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(artifact_from_row)
            .collect()
    }

    /// The digests reachable from `digest` (inclusive) in `direction`,
    /// inside the given transaction.
    async fn walk_in(
        tx: &mut Transaction<'static, sqlx::Any>,
        digest: &str,
        direction: Direction,
    ) -> Result<Vec<String>, Error> {
        let sql = format!("{}SELECT digest FROM walk", walk_cte(direction));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(digest)
            .fetch_all(&mut **tx)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(Error::from))
            .collect()
    }
}

impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn put_artifact(
        &self,
        new: &NewArtifact,
        actor: &Actor,
    ) -> Result<Written<Artifact>, Error> {
        check_digest(&new.digest)?;
        check_name("name", &new.name)?;
        let mut tx = begin_write(&self.pool, self.backend).await?;
        if let Some(existing) = self.artifact_in(&mut tx, &new.digest).await? {
            if existing.name == new.name && existing.kind == new.kind {
                return Ok(Written {
                    value: existing,
                    created: false,
                });
            }
            return Err(Error::Conflict(format!(
                "{} is already registered as {} {}@v{}; tag it instead of registering it twice",
                new.digest, existing.kind, existing.name, existing.version
            )));
        }
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM artifacts WHERE name = $1",
        )
        .bind(&new.name)
        .fetch_one(&mut *tx)
        .await?;
        let now = now_ms();
        let metadata =
            serde_json::to_string(&new.metadata).map_err(|e| Error::Corrupt(e.to_string()))?;
        let size = i64::try_from(new.size).map_err(|_| Error::Invalid {
            what: "size",
            value: new.size.to_string(),
            hint: "at most 2^63-1 bytes",
        })?;
        let files = i64::try_from(new.files).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO artifacts (digest, kind, name, version, size, files, media_type, source, metadata, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&new.digest)
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(version)
        .bind(size)
        .bind(files)
        .bind(new.media_type.as_deref())
        .bind(new.source.as_deref())
        .bind(&metadata)
        .bind(now)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            "registry.artifact",
            json!({"artifact": {
                "digest": new.digest, "kind": new.kind, "name": new.name, "version": version,
                "size": new.size, "files": new.files, "media_type": new.media_type,
                "metadata": new.metadata,
            }}),
            actor,
            now,
            self.db_ledger,
        )
        .await?;
        let value = self
            .artifact_in(&mut tx, &new.digest)
            .await?
            .ok_or_else(|| Error::Corrupt("inserted artifact vanished".into()))?;
        tx.commit().await?;
        Ok(Written {
            value,
            created: true,
        })
    }

    async fn artifact(&self, digest: &str) -> Result<Option<Artifact>, Error> {
        let mut conn = self.pool.acquire().await?;
        self.artifact_in(&mut conn, digest).await
    }

    async fn resolve(&self, reference: &str) -> Result<Artifact, Error> {
        let not_found = || Error::NotFound(format!("no artifact matches {reference:?}"));
        if is_digest(reference) {
            return self.artifact(reference).await?.ok_or_else(not_found);
        }
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        let is_hex = hex.len() >= 6
            && hex.len() < 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_hex {
            let pattern = format!("sha256:{hex}%");
            let found = self
                .artifacts_where("a.digest LIKE $1", &[&pattern])
                .await?;
            return match found.len() {
                0 if reference.starts_with("sha256:") => Err(not_found()),
                0 => self.resolve_name(reference).await,
                1 => Ok(found.into_iter().next().ok_or_else(not_found)?),
                _ => Err(Error::Ambiguous {
                    reference: reference.to_owned(),
                    candidates: found.into_iter().map(|a| a.digest).collect(),
                }),
            };
        }
        self.resolve_name(reference).await
    }

    async fn list_artifacts(&self, filter: &ListFilter) -> Result<Vec<Artifact>, Error> {
        let mut clauses = vec!["1 = 1".to_owned()];
        let mut binds: Vec<String> = Vec::new();
        if let Some(k) = filter.kind {
            binds.push(k.as_str().to_owned());
            clauses.push(format!("a.kind = ${}", binds.len()));
        }
        if let Some(n) = &filter.name {
            binds.push(n.clone());
            clauses.push(format!("a.name = ${}", binds.len()));
        }
        let mut where_sql = clauses.join(" AND ");
        if let Some(l) = filter.limit {
            // ORDER BY is appended by artifacts_where; a limit needs a subquery.
            where_sql = format!(
                "a.digest IN (SELECT a.digest FROM artifacts a WHERE {where_sql} ORDER BY a.created_at DESC LIMIT {l})"
            );
        }
        let refs: Vec<&str> = binds.iter().map(String::as_str).collect();
        self.artifacts_where(&where_sql, &refs).await
    }

    async fn set_tag(
        &self,
        name: &str,
        tag: &str,
        digest: &str,
        actor: &Actor,
    ) -> Result<Option<String>, Error> {
        check_name("name", name)?;
        check_name("tag", tag)?;
        if tag.starts_with('v') && tag[1..].bytes().all(|b| b.is_ascii_digit()) && tag.len() > 1
            || tag.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::Invalid {
                what: "tag",
                value: tag.to_owned(),
                hint: "tags that look like versions (v3, 3) would shadow name@version",
            });
        }
        check_digest(digest)?;
        let mut tx = begin_write(&self.pool, self.backend).await?;
        if self.artifact_in(&mut tx, digest).await?.is_none() {
            return Err(Error::NotFound(format!("no artifact {digest}")));
        }
        let previous: Option<String> =
            sqlx::query_scalar("SELECT digest FROM tags WHERE name = $1 AND tag = $2")
                .bind(name)
                .bind(tag)
                .fetch_optional(&mut *tx)
                .await?;
        if previous.as_deref() == Some(digest) {
            return Ok(previous);
        }
        let now = now_ms();
        sqlx::query(
            "INSERT INTO tags (name, tag, digest, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name, tag) DO UPDATE SET digest = excluded.digest, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(name)
        .bind(tag)
        .bind(digest)
        .bind(now)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            "registry.tag",
            json!({"tag": {"name": name, "tag": tag, "digest": digest, "previous": previous}}),
            actor,
            now,
            self.db_ledger,
        )
        .await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn tags(&self, digest: &str) -> Result<Vec<Tag>, Error> {
        let rows = sqlx::query(
            "SELECT name, tag, digest, updated_at, updated_by FROM tags WHERE digest = $1 ORDER BY name, tag",
        )
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Tag {
                    name: r.try_get("name")?,
                    tag: r.try_get("tag")?,
                    digest: r.try_get("digest")?,
                    updated_at: r.try_get("updated_at")?,
                    updated_by: r.try_get("updated_by")?,
                })
            })
            .collect()
    }

    async fn record_run(&self, run: &NewRun, actor: &Actor) -> Result<Written<Run>, Error> {
        if run.outputs.is_empty() {
            return Err(Error::Invalid {
                what: "run",
                value: run.name.clone().unwrap_or_default(),
                hint: "a run must produce at least one output",
            });
        }
        for d in run.inputs.iter().map(|(d, _)| d).chain(&run.outputs) {
            check_digest(d)?;
        }
        let mut tx = begin_write(&self.pool, self.backend).await?;
        // Kinds of every endpoint (and their existence).
        let mut kinds = std::collections::HashMap::new();
        for d in run.inputs.iter().map(|(d, _)| d).chain(&run.outputs) {
            let a = self
                .artifact_in(&mut tx, d)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no artifact {d}; register it first")))?;
            kinds.insert(d.clone(), a.kind);
        }
        let now = now_ms();
        let existing = match &run.external_id {
            Some(ext) => sqlx::query(
                "SELECT id, name, source, external_id, code_commit, parameters, environment, created_at, created_by \
                 FROM runs WHERE source = $1 AND external_id = $2",
            )
            .bind(&run.source)
            .bind(ext)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(run_from_row)
            .transpose()?,
            None => None,
        };
        let mut edges = Vec::new();
        for out in &run.outputs {
            for (input, relation) in &run.inputs {
                if input == out {
                    continue;
                }
                let rel = relation.unwrap_or_else(|| Relation::infer(kinds[input], kinds[out]));
                edges.push((input.clone(), out.clone(), rel));
            }
        }
        // Refuse cycles: an output may not already be upstream of an input.
        for out in &run.outputs {
            let downstream = Self::walk_in(&mut tx, out, Direction::Down).await?;
            if let Some((input, _)) = run
                .inputs
                .iter()
                .find(|(i, _)| downstream.contains(i) && i != out)
            {
                return Err(Error::Conflict(format!(
                    "{out} is already upstream of {input}: recording this run would make a cycle"
                )));
            }
        }
        let (value, created) = if let Some(existing) = existing {
            (existing, false)
        } else {
            let body = json!({"run": {
                "name": run.name, "source": run.source, "external_id": run.external_id,
                "code_commit": run.code_commit, "parameters": run.parameters,
                "environment": run.environment,
                "inputs": run.inputs.iter().map(|(d, r)| json!({"digest": d, "relation": r})).collect::<Vec<_>>(),
                "outputs": run.outputs, "nonce": nonce(),
            }});
            let id =
                insert_event(&mut tx, "registry.run", body, actor, now, self.db_ledger).await?;
            let params = serde_json::to_string(&run.parameters)
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            let env = serde_json::to_string(&run.environment)
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO runs (id, name, source, external_id, code_commit, parameters, environment, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(run.name.as_deref())
            .bind(&run.source)
            .bind(run.external_id.as_deref())
            .bind(run.code_commit.as_deref())
            .bind(&params)
            .bind(&env)
            .bind(now)
            .bind(&actor.0)
            .execute(&mut *tx)
            .await?;
            let value = Run {
                id,
                name: run.name.clone(),
                source: run.source.clone(),
                external_id: run.external_id.clone(),
                code_commit: run.code_commit.clone(),
                parameters: run.parameters.clone(),
                environment: run.environment.clone(),
                created_at: now,
                created_by: actor.0.clone(),
            };
            (value, true)
        };
        let mut added = Vec::new();
        for (parent, child, rel) in &edges {
            let n = sqlx::query(
                "INSERT INTO edges (parent, child, relation, run_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (parent, child, relation) DO NOTHING",
            )
            .bind(parent)
            .bind(child)
            .bind(rel.as_str())
            .bind(&value.id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                added.push(json!({"parent": parent, "child": child, "relation": rel}));
            }
        }
        if !created && !added.is_empty() {
            insert_event(
                &mut tx,
                "registry.run.edges",
                json!({"run": value.id, "edges": added}),
                actor,
                now,
                self.db_ledger,
            )
            .await?;
        }
        // Whatever is made from a revoked artifact is revoked too, with the
        // same cause: a blast radius cannot be escaped by registering later.
        for (input, _) in &run.inputs {
            let Some(r) = self
                .artifact_in(&mut tx, input)
                .await?
                .and_then(|a| a.revoked)
            else {
                continue;
            };
            for out in &run.outputs {
                let reach = Self::walk_in(&mut tx, out, Direction::Down).await?;
                let mut newly = Vec::new();
                for d in &reach {
                    let n = sqlx::query(
                        "INSERT INTO revocations (digest, reason, cause, created_at, created_by) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING",
                    )
                    .bind(d)
                    .bind(&r.reason)
                    .bind(&r.cause)
                    .bind(now)
                    .bind(&actor.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n > 0 {
                        newly.push(d.clone());
                    }
                }
                if !newly.is_empty() {
                    newly.sort();
                    insert_event(
                        &mut tx,
                        "registry.revocation",
                        json!({"revocation": {"root": r.cause, "reason": r.reason, "revoked": newly, "inherited_via": input}}),
                        actor,
                        now,
                        self.db_ledger,
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(Written {
            created: created || !added.is_empty(),
            value,
        })
    }

    async fn lineage(&self, digest: &str, direction: Direction) -> Result<Graph, Error> {
        check_digest(digest)?;
        let mut conn = self.pool.acquire().await?;
        let root = self
            .artifact_in(&mut conn, digest)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no artifact {digest}")))?;
        let cte = walk_cte(direction);
        let edges_sql = match direction {
            Direction::Down => format!("{cte}{EDGE} e.parent IN (SELECT digest FROM walk)"),
            Direction::Up => format!("{cte}{EDGE} e.child IN (SELECT digest FROM walk)"),
            // A UNION of two indexed probes; an OR would scan every edge.
            Direction::Both => format!(
                "{cte}{EDGE} e.parent IN (SELECT digest FROM down) \
                 UNION {EDGE} e.child IN (SELECT digest FROM up)"
            ),
        };
        let mut edges: Vec<Edge> = sqlx::query(sqlx::AssertSqlSafe(edges_sql))
            .bind(digest)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(edge_from_row)
            .collect::<Result<_, _>>()?;
        // One walk: the nodes are the root and the edges' endpoints.
        let mut digests: Vec<&str> = edges
            .iter()
            .flat_map(|e| [e.parent.as_str(), e.child.as_str()])
            .filter(|d| *d != root.digest)
            .collect();
        digests.sort_unstable();
        digests.dedup();
        let mut nodes: Vec<Artifact> = Vec::with_capacity(digests.len() + 1);
        for chunk in digests.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {ARTIFACT_COLUMNS} FROM artifacts a LEFT JOIN revocations r ON r.digest = a.digest \
                 WHERE a.digest IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in chunk {
                q = q.bind(*d);
            }
            for row in q.fetch_all(&mut *conn).await? {
                nodes.push(artifact_from_row(&row)?);
            }
        }
        let mut run_ids: Vec<&str> = edges.iter().filter_map(|e| e.run.as_deref()).collect();
        run_ids.sort_unstable();
        run_ids.dedup();
        let mut runs: Vec<Run> = Vec::with_capacity(run_ids.len());
        for chunk in run_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, name, source, external_id, code_commit, parameters, environment, created_at, created_by \
                 FROM runs WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut *conn).await? {
                runs.push(run_from_row(&row)?);
            }
        }
        nodes.sort_by(|a, b| (a.kind, &a.name, a.version).cmp(&(b.kind, &b.name, b.version)));
        nodes.insert(0, root);
        edges.sort();
        runs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(Graph {
            root: digest.to_owned(),
            direction,
            nodes,
            edges,
            runs,
        })
    }

    async fn attach(
        &self,
        subject: &str,
        kind: &str,
        blob: Option<&str>,
        summary: &Value,
        actor: &Actor,
    ) -> Result<Attachment, Error> {
        check_digest(subject)?;
        check_name("attachment kind", kind)?;
        if let Some(b) = blob {
            check_digest(b)?;
        }
        let mut tx = begin_write(&self.pool, self.backend).await?;
        if self.artifact_in(&mut tx, subject).await?.is_none() {
            return Err(Error::NotFound(format!("no artifact {subject}")));
        }
        let now = now_ms();
        let id = insert_event(
            &mut tx,
            "registry.attachment",
            json!({"attachment": {"subject": subject, "kind": kind, "blob": blob, "summary": summary, "nonce": nonce()}}),
            actor,
            now,
            self.db_ledger,
        )
        .await?;
        let text = serde_json::to_string(summary).map_err(|e| Error::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO attachments (id, subject, kind, blob, summary, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(subject)
        .bind(kind)
        .bind(blob)
        .bind(&text)
        .bind(now)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Attachment {
            id,
            subject: subject.to_owned(),
            kind: kind.to_owned(),
            blob: blob.map(str::to_owned),
            summary: summary.clone(),
            created_at: now,
            created_by: actor.0.clone(),
        })
    }

    async fn attachments(&self, subject: &str) -> Result<Vec<Attachment>, Error> {
        self.by_subject(
            "SELECT id, subject, kind, blob, summary, created_at, created_by FROM attachments \
             WHERE subject = $1 ORDER BY created_at, id",
            subject,
            attachment_from_row,
        )
        .await
    }

    async fn approve(
        &self,
        subject: &str,
        stage: &str,
        approved: bool,
        comment: Option<&str>,
        actor: &Actor,
    ) -> Result<Approval, Error> {
        check_digest(subject)?;
        check_name("stage", stage)?;
        let decision = if approved { "approved" } else { "rejected" };
        let mut tx = begin_write(&self.pool, self.backend).await?;
        let Some(a) = self.artifact_in(&mut tx, subject).await? else {
            return Err(Error::NotFound(format!("no artifact {subject}")));
        };
        if approved && let Some(r) = &a.revoked {
            return Err(Error::Revoked {
                digest: subject.to_owned(),
                reason: r.reason.clone(),
            });
        }
        let now = now_ms();
        let id = insert_event(
            &mut tx,
            "registry.approval",
            json!({"approval": {"subject": subject, "stage": stage, "decision": decision, "comment": comment, "nonce": nonce()}}),
            actor,
            now,
            self.db_ledger,
        )
        .await?;
        sqlx::query(
            "INSERT INTO approvals (id, subject, stage, decision, comment, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(subject)
        .bind(stage)
        .bind(decision)
        .bind(comment)
        .bind(now)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Approval {
            id,
            subject: subject.to_owned(),
            stage: stage.to_owned(),
            decision: decision.to_owned(),
            comment: comment.map(str::to_owned),
            created_at: now,
            created_by: actor.0.clone(),
        })
    }

    async fn approvals(&self, subject: &str) -> Result<Vec<Approval>, Error> {
        self.by_subject(
            "SELECT id, subject, stage, decision, comment, created_at, created_by FROM approvals \
             WHERE subject = $1 ORDER BY created_at, id",
            subject,
            approval_from_row,
        )
        .await
    }

    async fn deploy(
        &self,
        subject: &str,
        environment: &str,
        actor: &Actor,
    ) -> Result<Deployment, Error> {
        check_digest(subject)?;
        check_name("environment", environment)?;
        let mut tx = begin_write(&self.pool, self.backend).await?;
        let Some(a) = self.artifact_in(&mut tx, subject).await? else {
            return Err(Error::NotFound(format!("no artifact {subject}")));
        };
        if let Some(r) = &a.revoked {
            return Err(Error::Revoked {
                digest: subject.to_owned(),
                reason: r.reason.clone(),
            });
        }
        let now = now_ms();
        let id = insert_event(
            &mut tx,
            "registry.deployment",
            json!({"deployment": {"subject": subject, "environment": environment, "nonce": nonce()}}),
            actor,
            now,
            self.db_ledger,
        )
        .await?;
        sqlx::query(
            "INSERT INTO deployments (id, subject, environment, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(subject)
        .bind(environment)
        .bind(now)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Deployment {
            id,
            subject: subject.to_owned(),
            environment: environment.to_owned(),
            created_at: now,
            created_by: actor.0.clone(),
        })
    }

    async fn deployments(&self, subject: &str) -> Result<Vec<Deployment>, Error> {
        self.by_subject(
            "SELECT id, subject, environment, created_at, created_by FROM deployments \
             WHERE subject = $1 ORDER BY created_at, id",
            subject,
            deployment_from_row,
        )
        .await
    }

    async fn revoke(
        &self,
        digest: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<BlastRadius, Error> {
        check_digest(digest)?;
        if reason.trim().is_empty() {
            return Err(Error::Invalid {
                what: "reason",
                value: String::new(),
                hint: "say why the artifact is revoked",
            });
        }
        let mut tx = begin_write(&self.pool, self.backend).await?;
        if self.artifact_in(&mut tx, digest).await?.is_none() {
            return Err(Error::NotFound(format!("no artifact {digest}")));
        }
        let cte = walk_cte(Direction::Down);
        let before_sql = format!(
            "{cte}SELECT {ARTIFACT_COLUMNS} FROM artifacts a LEFT JOIN revocations r ON r.digest = a.digest \
             WHERE a.digest IN (SELECT digest FROM walk)"
        );
        let before: Vec<Artifact> = sqlx::query(sqlx::AssertSqlSafe(before_sql.clone()))
            .bind(digest)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(artifact_from_row)
            .collect::<Result<_, _>>()?;
        let (already, fresh): (Vec<Artifact>, Vec<Artifact>) =
            before.into_iter().partition(|a| a.revoked.is_some());
        let now = now_ms();
        if !fresh.is_empty() {
            let insert_sql = format!(
                "{cte}INSERT INTO revocations (digest, reason, cause, created_at, created_by) \
                 SELECT w.digest, $2, $1, $3, $4 FROM walk w WHERE true ON CONFLICT (digest) DO NOTHING"
            );
            sqlx::query(sqlx::AssertSqlSafe(insert_sql))
                .bind(digest)
                .bind(reason)
                .bind(now)
                .bind(&actor.0)
                .execute(&mut *tx)
                .await?;
            let mut revoked: Vec<&str> = fresh.iter().map(|a| a.digest.as_str()).collect();
            revoked.sort_unstable();
            insert_event(
                &mut tx,
                "registry.revocation",
                json!({"revocation": {"root": digest, "reason": reason, "revoked": revoked}}),
                actor,
                now,
                self.db_ledger,
            )
            .await?;
        }
        let deployments_sql = format!(
            "{cte}SELECT id, subject, environment, created_at, created_by FROM deployments \
             WHERE subject IN (SELECT digest FROM walk) ORDER BY created_at, id"
        );
        let deployments = sqlx::query(sqlx::AssertSqlSafe(deployments_sql))
            .bind(digest)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(deployment_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut revoked: Vec<Artifact> = sqlx::query(sqlx::AssertSqlSafe(before_sql))
            .bind(digest)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(artifact_from_row)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|a| fresh.iter().any(|f| f.digest == a.digest))
            .collect();
        tx.commit().await?;
        revoked.sort_by(|a, b| {
            (a.digest != digest, a.kind, &a.name, a.version).cmp(&(
                b.digest != digest,
                b.kind,
                &b.name,
                b.version,
            ))
        });
        let mut already = already;
        already.sort_by(|a, b| (a.kind, &a.name, a.version).cmp(&(b.kind, &b.name, b.version)));
        Ok(BlastRadius {
            root: digest.to_owned(),
            revoked,
            already_revoked: already,
            deployments,
        })
    }

    async fn pending_events(&self, limit: u32) -> Result<Vec<Event>, Error> {
        let rows = sqlx::query(
            "SELECT seq, id, kind, body, ledger_index FROM events WHERE ledger_index IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn mark_ledgered(&self, seq: i64, ledger_index: u64) -> Result<(), Error> {
        let idx = i64::try_from(ledger_index).unwrap_or(i64::MAX);
        sqlx::query("UPDATE events SET ledger_index = $1 WHERE seq = $2")
            .bind(idx)
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn events(&self, after_seq: i64, limit: u32) -> Result<Vec<Event>, Error> {
        let rows = sqlx::query(
            "SELECT seq, id, kind, body, ledger_index FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

fn attachment_from_row(r: &AnyRow) -> Result<Attachment, Error> {
    Ok(Attachment {
        id: r.try_get("id")?,
        subject: r.try_get("subject")?,
        kind: r.try_get("kind")?,
        blob: r.try_get("blob")?,
        summary: json_col(r, "summary")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

fn approval_from_row(r: &AnyRow) -> Result<Approval, Error> {
    Ok(Approval {
        id: r.try_get("id")?,
        subject: r.try_get("subject")?,
        stage: r.try_get("stage")?,
        decision: r.try_get("decision")?,
        comment: r.try_get("comment")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

fn deployment_from_row(r: &AnyRow) -> Result<Deployment, Error> {
    Ok(Deployment {
        id: r.try_get("id")?,
        subject: r.try_get("subject")?,
        environment: r.try_get("environment")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

impl SqlStore {
    /// Rows of one table about one subject, in recording order.
    async fn by_subject<T>(
        &self,
        sql: &'static str,
        subject: &str,
        map: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let rows = sqlx::query(sql).bind(subject).fetch_all(&self.pool).await?;
        rows.iter().map(map).collect()
    }

    async fn resolve_name(&self, reference: &str) -> Result<Artifact, Error> {
        let not_found = || Error::NotFound(format!("no artifact matches {reference:?}"));
        if let Some((name, tag)) = reference.rsplit_once('@') {
            let version = tag.strip_prefix('v').unwrap_or(tag);
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
                let found = self
                    .artifacts_where(
                        "a.name = $1 AND CAST(a.version AS TEXT) = $2",
                        &[name, version.trim_start_matches('0')],
                    )
                    .await?;
                return found.into_iter().next().ok_or_else(not_found);
            }
            let digest: Option<String> =
                sqlx::query_scalar("SELECT digest FROM tags WHERE name = $1 AND tag = $2")
                    .bind(name)
                    .bind(tag)
                    .fetch_optional(&self.pool)
                    .await?;
            let digest = digest.ok_or_else(not_found)?;
            return self.artifact(&digest).await?.ok_or_else(not_found);
        }
        let found = self
            .artifacts_where(
                "a.name = $1 AND a.version = (SELECT MAX(version) FROM artifacts WHERE name = $1)",
                &[reference],
            )
            .await?;
        found.into_iter().next().ok_or_else(not_found)
    }
}
