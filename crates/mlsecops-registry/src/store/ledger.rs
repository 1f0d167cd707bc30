//! The ledger kept in the registry database (team mode).
//!
//! With several processes or servers on one PostgreSQL, a ledger on one
//! machine's disk cannot be the record. Instead every registry event is
//! appended to `ledger_entries` inside the very transaction that made the
//! change, under the registry's write lock: the log is totally ordered,
//! gap-free, and never disagrees with the registry. The tree's right edge
//! (`ledger_state`) makes an append O(log n). Checkpoints are C2SP signed
//! notes made by whoever holds the team's ledger key; `verify_ledger`
//! recomputes every leaf and checks every checkpoint against a key the
//! verifier trusts (never one read from the database).

use mlsecops_ledger::{
    Checkpoint, Frontier, Hash, MerkleTree, Report, Signer, Tamper, Verifier, VerifyError,
    leaf_hash, verify_records,
};
use sqlx::{Row, Transaction};

use super::{SqlStore, begin_write};
use crate::Error;
use crate::content::hex;

/// One stored ledger entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    pub index: u64,
    pub body: String,
    pub leaf_hash: Hash,
}

fn parse_hash(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut h = [0u8; 32];
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(h)
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("ledger: {what}"))
}

async fn load_frontier(tx: &mut Transaction<'static, sqlx::Any>) -> Result<Frontier, Error> {
    let row = sqlx::query("SELECT size, frontier FROM ledger_state WHERE id = 1")
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else {
        return Ok(Frontier::new());
    };
    let size: i64 = row.try_get("size")?;
    let text: String = row.try_get("frontier")?;
    let nodes = text
        .split(',')
        .filter(|s| !s.is_empty())
        .map(parse_hash)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("stored frontier is not hex"))?;
    let size = u64::try_from(size).map_err(|_| corrupt("negative size"))?;
    Frontier::from_parts(size, nodes).ok_or_else(|| corrupt("frontier does not match size"))
}

/// Appends `bodies` inside `tx` (which holds the write lock); returns the
/// index of the first.
pub(crate) async fn append_in(
    tx: &mut Transaction<'static, sqlx::Any>,
    bodies: &[&str],
) -> Result<u64, Error> {
    let mut f = load_frontier(tx).await?;
    let first = f.size();
    for body in bodies {
        let h = leaf_hash(body.as_bytes());
        let idx = i64::try_from(f.size()).map_err(|_| corrupt("log too large"))?;
        sqlx::query("INSERT INTO ledger_entries (idx, leaf_hash, body) VALUES ($1, $2, $3)")
            .bind(idx)
            .bind(hex(&h))
            .bind(*body)
            .execute(&mut **tx)
            .await?;
        f.push(h);
    }
    let frontier = f
        .nodes()
        .iter()
        .map(|h| hex(h))
        .collect::<Vec<_>>()
        .join(",");
    let size = i64::try_from(f.size()).map_err(|_| corrupt("log too large"))?;
    sqlx::query(
        "INSERT INTO ledger_state (id, size, frontier) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier",
    )
    .bind(size)
    .bind(frontier)
    .execute(&mut **tx)
    .await?;
    Ok(first)
}

impl SqlStore {
    /// Whether registry events are appended to the in-database ledger.
    #[must_use]
    pub fn ledger_in_db(&self) -> bool {
        self.db_ledger
    }

    /// Appends entries (e.g. scan records) to the in-database ledger;
    /// returns `(first index, new size)` once committed.
    pub async fn ledger_append(&self, bodies: &[&str]) -> Result<(u64, u64), Error> {
        let mut tx = begin_write(&self.pool, self.backend).await?;
        let first = append_in(&mut tx, bodies).await?;
        tx.commit().await?;
        Ok((first, first + bodies.len() as u64))
    }

    /// Number of entries in the in-database ledger.
    pub async fn ledger_size(&self) -> Result<u64, Error> {
        let size: Option<i64> = sqlx::query_scalar("SELECT size FROM ledger_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(size.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
    }

    /// Entries `from .. from + limit`, in index order.
    pub async fn ledger_read(&self, from: u64, limit: u32) -> Result<Vec<LedgerEntry>, Error> {
        let rows = sqlx::query(
            "SELECT idx, leaf_hash, body FROM ledger_entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let idx: i64 = r.try_get("idx")?;
                let leaf: String = r.try_get("leaf_hash")?;
                Ok(LedgerEntry {
                    index: u64::try_from(idx).map_err(|_| corrupt("negative index"))?,
                    body: r.try_get("body")?,
                    leaf_hash: parse_hash(&leaf).ok_or_else(|| corrupt("leaf hash is not hex"))?,
                })
            })
            .collect()
    }

    /// The stored checkpoints (signed notes), oldest first.
    pub async fn ledger_checkpoints(&self) -> Result<Vec<String>, Error> {
        Ok(
            sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY seq")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Signs and stores a checkpoint of the current tree.
    pub async fn ledger_checkpoint(&self, origin: &str, signer: &Signer) -> Result<String, Error> {
        let mut tx = begin_write(&self.pool, self.backend).await?;
        let f = load_frontier(&mut tx).await?;
        let cp = Checkpoint {
            origin: origin.to_owned(),
            size: f.size(),
            root: f.root(),
            extensions: Vec::new(),
        };
        let note = cp.sign(&[signer]).map_err(|e| Error::Invalid {
            what: "checkpoint",
            value: e.to_string(),
            hint: "the ledger key name must be a valid checkpoint origin",
        })?;
        sqlx::query("INSERT INTO ledger_checkpoints (size, note) VALUES ($1, $2)")
            .bind(i64::try_from(f.size()).unwrap_or(i64::MAX))
            .bind(&note)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(note)
    }

    /// The team ledger's public key as recorded at `init`, if any.
    pub async fn ledger_key_hint(&self) -> Result<Option<String>, Error> {
        Ok(
            sqlx::query_scalar("SELECT value FROM ledger_meta WHERE key = 'verifier'")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Records the team ledger's public key unless one is recorded; returns
    /// the recorded one.
    pub async fn set_ledger_key_hint(&self, verifier: &str) -> Result<String, Error> {
        let mut tx = begin_write(&self.pool, self.backend).await?;
        sqlx::query(
            "INSERT INTO ledger_meta (key, value) VALUES ('verifier', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(verifier)
        .execute(&mut *tx)
        .await?;
        let v: String = sqlx::query_scalar("SELECT value FROM ledger_meta WHERE key = 'verifier'")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Every leaf hash of the first `size` entries (for proofs).
    pub async fn ledger_tree(&self, size: u64) -> Result<MerkleTree, Error> {
        let mut tree = MerkleTree::new();
        while tree.len() < size {
            let page = self.ledger_read(tree.len(), 10_000).await?;
            if page.is_empty() {
                break;
            }
            for e in page {
                if e.index != tree.len() || tree.len() >= size {
                    break;
                }
                tree.push(e.leaf_hash);
            }
        }
        if tree.len() < size {
            return Err(corrupt(&format!(
                "{size} entries expected, {} readable",
                tree.len()
            )));
        }
        Ok(tree)
    }

    /// Recomputes the in-database ledger and checks every checkpoint with
    /// `verifier`; names the first missing, altered or reordered entry.
    pub async fn verify_ledger(&self, verifier: &Verifier) -> Result<Report, Error> {
        let mut pairs: Vec<(Hash, Hash)> = Vec::new();
        let mut expected = 0u64;
        loop {
            let page = self.ledger_read(expected, 10_000).await?;
            let Some(last) = page.last().map(|e| e.index) else {
                break;
            };
            for e in &page {
                if e.index != expected {
                    return Err(Error::LedgerTampered(VerifyError::Tampered {
                        index: expected,
                        kind: Tamper::MissingEntries,
                    }));
                }
                pairs.push((leaf_hash(e.body.as_bytes()), e.leaf_hash));
                expected += 1;
            }
            if last + 1 != expected {
                break;
            }
        }
        let size = self.ledger_size().await?;
        if expected < size {
            return Err(Error::LedgerTampered(VerifyError::Tampered {
                index: expected,
                kind: Tamper::MissingEntries,
            }));
        }
        let notes = self.ledger_checkpoints().await?;
        verify_records(pairs, notes.into_iter().map(String::into_bytes), verifier)
            .map_err(Error::LedgerTampered)
    }
}
