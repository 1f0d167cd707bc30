//! A small migration runner: each backend has its own folder of numbered SQL
//! files, embedded at build time. Applied migrations are recorded with a
//! checksum; a changed or unknown migration stops the store from opening.

use sha2::{Digest as _, Sha256};
use sqlx::{AnyPool, Row};

use super::{Backend, now_ms};
use crate::Error;

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sql: include_str!("../../migrations/sqlite/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "ledger",
        sql: include_str!("../../migrations/sqlite/0002_ledger.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sql: include_str!("../../migrations/postgres/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "ledger",
        sql: include_str!("../../migrations/postgres/0002_ledger.sql"),
    },
];

fn checksum(sql: &str) -> String {
    crate::content::hex(&Sha256::digest(sql.as_bytes()))
}

pub(crate) fn migrations(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// Applies pending migrations inside one write transaction (so concurrent
/// openers serialize: SQLite `BEGIN IMMEDIATE`, PostgreSQL advisory lock).
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), Error> {
    let mut tx = super::begin_write(pool, backend).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS mlsecops_migrations (
            version BIGINT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied = sqlx::query("SELECT version, checksum FROM mlsecops_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?;
    let known = migrations(backend);
    for row in &applied {
        let version: i64 = row.try_get("version")?;
        let sum: String = row.try_get("checksum")?;
        match known.iter().find(|m| m.version == version) {
            None => {
                return Err(Error::Migration(format!(
                    "the database has schema version {version}, newer than this mlsecops knows; upgrade mlsecops"
                )));
            }
            Some(m) if checksum(m.sql) != sum => {
                return Err(Error::Migration(format!(
                    "migration {version} ({}) differs from the one applied to this database",
                    m.name
                )));
            }
            Some(_) => {}
        }
    }
    for m in known {
        let done = applied
            .iter()
            .any(|r| r.try_get::<i64, _>("version").is_ok_and(|v| v == m.version));
        if done {
            continue;
        }
        tracing::info!(
            version = m.version,
            name = m.name,
            "applying registry migration"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO mlsecops_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m.sql))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
