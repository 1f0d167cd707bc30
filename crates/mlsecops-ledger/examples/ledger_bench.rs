//! Measures the ledger against the registry issue's targets: batched append
//! throughput, inclusion-proof latency on a large log, and full `verify`.
//!
//! `cargo run --release -p mlsecops-ledger --example ledger_bench -- [ENTRIES] [PROOF_ENTRIES]`
//! (defaults: 1,000,000 entries on disk; 10,000,000 leaves for proofs).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use mlsecops_ledger::{Log, MerkleTree, Signer, leaf_hash, verify, verify_inclusion};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let proof_n = args.get(1).copied().unwrap_or(10_000_000);
    let dir = tempfile::tempdir()?;
    let signer = Signer::generate("mlsecops.bench/ledger")?;

    // 1. Appends, 10,000 entries per fsync'd batch, ~100-byte JSON-ish entries.
    let mut log = Log::open(dir.path().join("log"))?;
    let batch = 10_000u64;
    let t = Instant::now();
    let mut i = 0u64;
    while i < n {
        let items: Vec<Vec<u8>> = (i..(i + batch).min(n))
            .map(|k| {
                format!(
                    "{{\"seq\":{k},\"kind\":\"model.registered\",\"digest\":\"sha256:{k:064x}\"}}"
                )
                .into_bytes()
            })
            .collect();
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        log.append_batch(&refs)?;
        i += batch;
    }
    log.checkpoint("mlsecops.bench/ledger", &signer)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "append: {n} entries in {secs:.2} s = {:.0} entries/s (batches of {batch}, fsync per batch)",
        n as f64 / secs
    );

    // 2. Full verify of the on-disk log.
    let t = Instant::now();
    let report = verify(dir.path().join("log"), &signer.verifier())?;
    println!(
        "verify: {} entries in {:.3} s",
        report.size,
        t.elapsed().as_secs_f64()
    );

    // 3. Inclusion proofs on a tree of `proof_n` leaves.
    let t = Instant::now();
    let tree = MerkleTree::from_leaf_hashes((0..proof_n).map(|k| leaf_hash(&k.to_le_bytes())));
    println!(
        "tree: {proof_n} leaves built in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let root = tree.root();
    let samples = 1000u64;
    let t = Instant::now();
    for s in 0..samples {
        let idx = (s * 7_919_993) % proof_n;
        let proof = tree.inclusion_proof(idx, proof_n)?;
        verify_inclusion(idx, proof_n, &leaf_hash(&idx.to_le_bytes()), &proof, &root)?;
    }
    let per = t.elapsed().as_secs_f64() / samples as f64;
    println!(
        "inclusion proof + verification on {proof_n} leaves: {:.1} µs each",
        per * 1e6
    );
    Ok(())
}
