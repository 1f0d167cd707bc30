//! Throughput of `Detector::find` on generated mixed text, with and without
//! sensitive values, for the secret-only detector (`scan`) and the full one
//! (data guard, gateway). Prints MiB per second of on-CPU time (Linux; wall
//! clock elsewhere), best of REPEAT runs.
//!
//! ```text
//! cargo run --release -p mlsecops-sensitive --example throughput -- [MB] [REPEAT]
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

/// On-CPU time of this thread (Linux `schedstat`), so a loaded machine does
/// not distort the numbers; falls back to wall-clock time elsewhere.
fn cpu_now() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Seconds `f` took: on-CPU if available, else wall clock.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let (c0, w0) = (cpu_now(), Instant::now());
    let r = f();
    let secs = match (c0, cpu_now()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => w0.elapsed().as_secs_f64(),
    };
    (secs, r)
}

use mlsecops_sensitive::{Config, Detector, Kind};

/// Code, configs, logs and prose with many numbers, dates, versions and
/// identifiers, but nothing sensitive.
const CLEAN: &[&str] = &[
    "The model was trained for 12 epochs on 8 GPUs with a batch size of 256 and a learning rate of 3e-4. ",
    "Released on 2024-05-12, version 1.2.3.4 fixes issue #4521 (see commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3). ",
    "{\"id\": \"550e8400-e29b-41d4-a716-446655440000\", \"score\": 0.9134, \"tokens\": 4096, \"label\": \"positive\"}\n",
    "2024-05-12T10:30:00Z INFO request_id=7f3a9c latency_ms=123 status=200 path=/v1/chat/completions\n",
    "def tokenize(text: str, max_tokens: int = 512) -> list[int]:\n    return tokenizer.encode(text)[:max_tokens]\n",
    "Population of the city grew from 2,161,000 to 2,240,621 between 2010 and 2020, i.e. 3.66 percent. ",
    "Il était une fois une très belle histoire, racontée en français avec des accents: é, è, à, ç. ",
    "训练数据包含一百万条样本，模型参数量为七十亿。 ",
];

/// Chat-style prose: few digits.
const PROSE: &[&str] = &[
    "Can you summarise the attached report and list the three main risks? ",
    "Sure! The report argues that the supply chain of machine-learning models is exposed at several points. ",
    "First, serialized weights can carry executable payloads; second, datasets can leak personal data. ",
    "Il était une fois une très belle histoire, racontée en français avec des accents: é, è, à, ç. ",
    "Please rewrite this paragraph in a friendlier tone, keeping the technical terms intact.\n",
    "训练数据包含一百万条样本，模型参数量为七十亿。 ",
    "In 2023 the team shipped version 2 of the pipeline. ",
];

/// Values every detector should report.
const HITS: &[&str] = &[
    "Contact jane.doe@example.org or call +1 (415) 555-0132. ",
    "Card 4111 1111 1111 1111 exp 12/27, IBAN DE89 3704 0044 0532 0130 00. ",
    "SSN 536-22-5487, client 192.168.1.20. ",
    "token: ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 ",
    "DATABASE_URL=postgres://app:S3cr3t-P4ss@db.internal:5432/app\n",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
];

fn generate(pieces: &[&str], bytes: usize, hit_every: Option<usize>) -> String {
    let mut s = String::with_capacity(bytes + 256);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut since_hit = 0;
    while s.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let piece = match hit_every {
            Some(n) if since_hit >= n => {
                since_hit = 0;
                HITS[(x % HITS.len() as u64) as usize]
            }
            _ => pieces[(x % pieces.len() as u64) as usize],
        };
        since_hit += piece.len();
        s.push_str(piece);
    }
    s
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: usize = args.next().map_or(8, |a| a.parse().unwrap());
    let repeat: usize = args.next().map_or(9, |a| a.parse().unwrap());
    let texts = [
        ("prose", generate(PROSE, mb << 20, None)),
        ("mixed", generate(CLEAN, mb << 20, None)),
        ("1 hit/KiB", generate(CLEAN, mb << 20, Some(1024))),
    ];
    let detectors = [
        ("secrets (scan)", Detector::new()),
        ("all kinds", Detector::with_config(Config::all())),
        (
            "PII, no IP",
            Detector::with_config(Config::pii().without(Kind::IpAddress)),
        ),
    ];
    for (dname, d) in &detectors {
        for (tname, t) in &texts {
            let mut best = f64::INFINITY;
            let mut n = 0;
            for _ in 0..repeat {
                let (secs, m) = timed(|| black_box(d.find(black_box(t.as_bytes()))));
                n = m.len();
                best = best.min(secs);
            }
            let mbs = t.len() as f64 / f64::from(1 << 20) / best;
            println!(
                "{dname:<15} {tname:<10} {:>5} MiB  {mbs:>8.0} MiB/s  {n} matches",
                t.len() >> 20
            );
        }
    }
}
