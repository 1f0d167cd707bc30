//! Crash safety: a writer process is killed with SIGKILL at random moments,
//! again and again; after every kill the log must verify and must still hold
//! every entry whose append had been acknowledged.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlsecops_ledger::{Log, Signer, verify};

const ORIGIN: &str = "mlsecops.test/crash";

fn entry_bytes(i: u64) -> Vec<u8> {
    format!("entry {i} {}", "x".repeat((i % 97) as usize)).into_bytes()
}

/// The child: appends forever, printing each acknowledged index.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var("MLSECOPS_LEDGER_CRASH_DIR") else {
        return; // only meaningful when spawned by `writer_killed_at_random_points`
    };
    let signer =
        Signer::from_key_string(&std::env::var("MLSECOPS_LEDGER_CRASH_KEY").unwrap()).unwrap();
    let mut log = Log::open(&dir).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let n = log.size();
        let batch: Vec<Vec<u8>> = (n..n + 1 + n % 7).map(entry_bytes).collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let (_, new_size) = log.append_batch(&refs).unwrap();
        if new_size % 50 < 4 {
            log.checkpoint(ORIGIN, &signer).unwrap();
        }
        writeln!(out, "{new_size}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn writer_killed_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let signer = Signer::generate(ORIGIN).unwrap();
    let verifier = signer.verifier();
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut acked: u64 = 0;
    let iterations = 200;
    let deadline = Instant::now() + Duration::from_mins(4);
    for it in 0..iterations {
        assert!(
            Instant::now() < deadline,
            "crash test ran out of time at iteration {it}"
        );
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MLSECOPS_LEDGER_CRASH_DIR", &log_dir)
            .env("MLSECOPS_LEDGER_CRASH_KEY", signer.to_private_key_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the first acknowledgement (the writer is past opening the
        // log), then kill it after a random 0-20 ms: the kill lands wherever
        // the writer is, mostly inside writes and fsyncs.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % 20_000);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        if let Some(Ok(l)) = lines.next()
            && let Ok(n) = l.trim().parse::<u64>()
        {
            acked = acked.max(n);
        }
        std::thread::sleep(delay);
        child.kill().unwrap();
        let _ = child.wait();
        // Reading after the kill: lines printed before it are acknowledged too.
        for l in lines.map_while(Result::ok) {
            if let Ok(n) = l.trim().parse::<u64>() {
                acked = acked.max(n);
            }
        }
        let report = verify(&log_dir, &verifier).unwrap_or_else(|e| panic!("iteration {it}: {e}"));
        assert!(
            report.size >= acked,
            "iteration {it}: acknowledged {acked} entries, log holds {}",
            report.size
        );
        let mut log = Log::open(&log_dir).unwrap();
        for i in (0..acked).step_by(37).chain(acked.checked_sub(1)) {
            assert_eq!(
                log.entry(i).unwrap(),
                entry_bytes(i),
                "iteration {it}: entry {i}"
            );
        }
    }
    assert!(acked > 0, "the writer never acknowledged anything");
    println!(
        "crash test: {iterations} kills, {acked} acknowledged entries, all present and verified"
    );
}
