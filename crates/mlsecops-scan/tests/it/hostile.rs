//! Hostile inputs: mutations of corpus files must never panic.

use std::path::PathBuf;

use mlsecops_scan::{ScanOptions, Scanner};

fn files(dir: &PathBuf, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.metadata().unwrap().len() < 64 * 1024 {
            out.push(p);
        }
    }
}

/// Truncations and byte flips of every small corpus file (deterministic).
#[test]
fn mutations_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let mut all = Vec::new();
    files(&dir, &mut all);
    all.sort();
    let scanner = Scanner::new(ScanOptions::default());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut runs = 0;
    for p in all {
        let data = std::fs::read(&p).unwrap();
        if data.is_empty() {
            continue;
        }
        let name = p.to_string_lossy().into_owned();
        for _ in 0..12 {
            let mut m = data.clone();
            match next() % 3 {
                0 => m.truncate((next() % data.len() as u64) as usize),
                1 => {
                    let i = (next() % data.len() as u64) as usize;
                    m[i] ^= 1 << (next() % 8);
                }
                _ => {
                    let i = (next() % data.len() as u64) as usize;
                    m[i] = (next() & 0xff) as u8;
                    let j = (next() % data.len() as u64) as usize;
                    m[j] = 0xff;
                }
            }
            let _ = scanner.scan_bytes(&name, &m);
            runs += 1;
        }
    }
    assert!(runs > 1000, "only {runs} mutated inputs");
}
