//! Lineage query benchmark: builds the same 100k-node lineage graph in
//! SQLite and in PostgreSQL and times `Store::lineage` both ways.
//!
//! ```text
//! eval "$(scripts/services.sh up)"   # PostgreSQL on loopback
//! cargo run --release -p mlsecops-registry --example lineage_bench -- [NODES]
//! ```
//!
//! Graph (for NODES = 100,000): 2% raw datasets, 8% derived datasets (from
//! one raw, a tenth of them from a shared "hub" corpus too), 40% models
//! trained on 1–3 derived datasets, 50% fine-tuned models (a base model +
//! one derived dataset). Queries: full provenance of a random fine-tuned
//! model (up), blast radius of a random raw dataset (down), and blast
//! radius of the hub (down, thousands of nodes).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mlsecops_registry::lineage::Direction;
use mlsecops_registry::{OpenOptions, SqlStore, Store};

/// A tiny deterministic PRNG (xorshift64*), so both backends get the same graph.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn digest(i: usize) -> String {
    format!("sha256:{i:064x}")
}

struct Plan {
    kinds: Vec<&'static str>,
    edges: Vec<(usize, usize, &'static str)>,
    raw: std::ops::Range<usize>,
    ft: std::ops::Range<usize>,
    hub: usize,
}

fn plan(nodes: usize) -> Plan {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let n_raw = nodes * 2 / 100;
    let n_der = nodes * 8 / 100;
    let n_mod = nodes * 40 / 100;
    let n_ft = nodes - n_raw - n_der - n_mod;
    let raw = 0..n_raw;
    let der = n_raw..n_raw + n_der;
    let md = der.end..der.end + n_mod;
    let ft = md.end..md.end + n_ft;
    let hub = 0;
    let mut kinds = vec!["dataset"; der.end];
    kinds.extend(std::iter::repeat_n("model", n_mod + n_ft));
    let mut edges = Vec::new();
    for d in der.clone() {
        let r = 1 + rng.below(n_raw - 1);
        edges.push((r, d, "derived_from"));
        if rng.below(10) == 0 {
            edges.push((hub, d, "derived_from"));
        }
    }
    for m in md.clone() {
        let k = 1 + rng.below(3);
        let mut seen = Vec::new();
        for _ in 0..k {
            let d = der.start + rng.below(n_der);
            if !seen.contains(&d) {
                seen.push(d);
                edges.push((d, m, "trained_on"));
            }
        }
    }
    for f in ft.clone() {
        // Fine-tune from a plain model or, a fifth of the time, from an
        // earlier fine-tuned model (deeper chains).
        let base = if f > ft.start && rng.below(5) == 0 {
            ft.start + rng.below(f - ft.start)
        } else {
            md.start + rng.below(n_mod)
        };
        edges.push((base, f, "fine_tuned_from"));
        edges.push((der.start + rng.below(n_der), f, "trained_on"));
    }
    Plan {
        kinds,
        edges,
        raw,
        ft,
        hub,
    }
}

async fn load(store: &SqlStore, p: &Plan) -> Duration {
    let t = Instant::now();
    let pool = store.pool();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO runs (id, name, source, created_at, created_by) VALUES ('bench', 'bench', 'bench', 0, 'bench')")
        .execute(&mut *tx)
        .await
        .unwrap();
    for chunk in p.kinds.iter().enumerate().collect::<Vec<_>>().chunks(500) {
        let mut sql = String::from(
            "INSERT INTO artifacts (digest, kind, name, version, size, files, metadata, created_at, created_by) VALUES ",
        );
        for (k, (i, kind)) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{}', '{kind}', 'n{i}', 1, 1, 1, '{{}}', {i}, 'bench')",
                digest(*i)
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for chunk in p.edges.chunks(500) {
        let mut sql =
            String::from("INSERT INTO edges (parent, child, relation, run_id, created_at) VALUES ");
        for (k, (a, b, r)) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{}', '{}', '{r}', 'bench', 0)",
                digest(*a),
                digest(*b)
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // Fresh planner statistics on both backends.
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    t.elapsed()
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

type Pick<'a> = Box<dyn Fn(&mut Rng) -> usize + 'a>;

async fn measure(store: &SqlStore, p: &Plan, label: &str) {
    let mut rng = Rng(42);
    let queries: [(&str, Direction, Pick); 3] = [
        (
            "up: provenance of a fine-tuned model",
            Direction::Up,
            Box::new(|r: &mut Rng| p.ft.start + r.below(p.ft.len())),
        ),
        (
            "down: blast radius of a raw dataset",
            Direction::Down,
            Box::new(|r: &mut Rng| p.raw.start + 1 + r.below(p.raw.len() - 1)),
        ),
        (
            "down: blast radius of the hub corpus",
            Direction::Down,
            Box::new(|_: &mut Rng| p.hub),
        ),
    ];
    for (name, dir, pick) in &queries {
        let iters = if name.contains("hub") { 10 } else { 100 };
        let mut times = Vec::with_capacity(iters);
        let mut sizes = Vec::with_capacity(iters);
        // One warm-up query.
        store.lineage(&digest(pick(&mut rng)), *dir).await.unwrap();
        for _ in 0..iters {
            let d = digest(pick(&mut rng));
            let t = Instant::now();
            let g = store.lineage(&d, *dir).await.unwrap();
            times.push(t.elapsed());
            sizes.push(g.nodes.len());
        }
        sizes.sort_unstable();
        let med_nodes = sizes[sizes.len() / 2];
        let max_nodes = sizes[sizes.len() - 1];
        let p50 = percentile(&mut times, 0.5);
        let p95 = percentile(&mut times, 0.95);
        println!(
            "| {label} | {name} | {med_nodes} (max {max_nodes}) | {:.2} | {:.2} |",
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let nodes: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let p = plan(nodes);
    println!(
        "graph: {} nodes, {} edges (hub feeds {} derived datasets)",
        p.kinds.len(),
        p.edges.len(),
        p.edges.iter().filter(|e| e.0 == p.hub).count()
    );
    println!();
    println!("| backend | query | nodes returned (median) | p50 ms | p95 ms |");
    println!("|---|---|---:|---:|---:|");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = SqlStore::open(&url, &OpenOptions::default()).await.unwrap();
    let load_sqlite = load(&sqlite, &p).await;
    measure(&sqlite, &p, "SQLite").await;
    let pg_url = std::env::var("MLSECOPS_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("MLSECOPS_TEST_POSTGRES_URL"))
        .ok();
    let mut load_pg = None;
    if let Some(base) = pg_url {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.unwrap();
        sqlx::raw_sql("DROP SCHEMA IF EXISTS lineage_bench CASCADE; CREATE SCHEMA lineage_bench")
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3Dlineage_bench");
        let pg = SqlStore::open(&url, &OpenOptions::default()).await.unwrap();
        load_pg = Some(load(&pg, &p).await);
        measure(&pg, &p, "PostgreSQL").await;
        pg.close().await;
        sqlx::raw_sql("DROP SCHEMA lineage_bench CASCADE")
            .execute(&admin)
            .await
            .unwrap();
    } else {
        println!(
            "| PostgreSQL | SKIP: set MLSECOPS_TEST_POSTGRES_URL (scripts/services.sh up) | | | |"
        );
    }
    println!();
    println!(
        "bulk load: SQLite {:.1} s{}",
        load_sqlite.as_secs_f64(),
        load_pg
            .map(|d| format!(", PostgreSQL {:.1} s", d.as_secs_f64()))
            .unwrap_or_default()
    );
}
