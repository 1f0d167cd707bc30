//! Micro benchmark of model hashing: hashes a directory (or a generated one)
//! with each requested setting and prints throughput in GB/s.
//!
//! ```text
//! cargo run --release -p mlsecops-sign --example hash_bench -- [DIR]
//!     [--generate MB] [--files N] [--hash sha256,blake2,blake3]
//!     [--shard BYTES] [--jobs N] [--repeat N]
//! ```
//!
//! Without DIR, `--generate MB` (default 1024) bytes are written to a
//! temporary directory as `--files` (default 8) equal files. Runs after the
//! first are from the page cache, so this measures hashing, not the disk.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use mlsecops_sign::hashing::{HashOptions, hash_model};
use mlsecops_sign::manifest::{HashType, Method, Serialization};

fn main() {
    let mut dir: Option<PathBuf> = None;
    let mut generate_mb: u64 = 1024;
    let mut files: u64 = 8;
    let mut hashes = vec![HashType::Sha256, HashType::Blake2, HashType::Blake3];
    let mut shard: Option<u64> = None;
    let mut jobs = 0usize;
    let mut repeat = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--generate" => generate_mb = val().parse().unwrap(),
            "--files" => files = val().parse().unwrap(),
            "--hash" => hashes = val().split(',').map(|h| h.parse().unwrap()).collect(),
            "--shard" => shard = Some(val().parse().unwrap()),
            "--jobs" => jobs = val().parse().unwrap(),
            "--repeat" => repeat = val().parse().unwrap(),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let tmp;
    let dir = if let Some(d) = dir {
        d
    } else {
        tmp = tempfile::tempdir().unwrap();
        let per_file = generate_mb * 1_000_000 / files.max(1);
        let mut block = vec![0u8; 1 << 20];
        for i in 0..files {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(tmp.path().join(format!("shard-{i:05}.bin"))).unwrap(),
            );
            let mut left = per_file;
            let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ i;
            while left > 0 {
                for b in block.chunks_exact_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b.copy_from_slice(&x.to_le_bytes());
                }
                let n = left.min(block.len() as u64) as usize;
                f.write_all(&block[..n]).unwrap();
                left -= n as u64;
            }
        }
        tmp.path().to_path_buf()
    };
    let total: u64 = walk_size(&dir);
    println!(
        "model {} ({:.3} GB), jobs {}",
        dir.display(),
        total as f64 / 1e9,
        if jobs == 0 {
            "all cores".into()
        } else {
            jobs.to_string()
        }
    );
    for hash in hashes {
        let method = shard.map_or(Method::Files, |shard_size| Method::Shards { shard_size });
        let s = Serialization::new(method, hash);
        let mut best = f64::INFINITY;
        let mut resources = 0;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            let m = hash_model(&dir, &s, &HashOptions { jobs, cache: None }).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            resources = m.resources.len();
        }
        println!(
            "{:<8} {:<22} {:>8.3} s  {:>6.2} GB/s  ({resources} resources)",
            hash.name(),
            match method {
                Method::Files => "files".to_owned(),
                Method::Shards { shard_size } => format!("shards {shard_size}"),
            },
            best,
            total as f64 / 1e9 / best
        );
    }
}

fn walk_size(p: &std::path::Path) -> u64 {
    let m = std::fs::metadata(p).unwrap();
    if m.is_file() {
        return m.len();
    }
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| walk_size(&e.unwrap().path()))
        .sum()
}
