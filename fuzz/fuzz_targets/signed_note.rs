//! Fuzz the C2SP signed-note and checkpoint parsers of the ledger.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_ledger::{Checkpoint, Verifier, note};

// Go's sumdb/note example verifier key (public test vector).
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    let Ok(v) = Verifier::from_key_string(VKEY) else { return };
    let _ = note::open(data, std::slice::from_ref(&v));
    let _ = Checkpoint::open(data, std::slice::from_ref(&v));
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Checkpoint::parse(s);
        let _ = Verifier::from_key_string(s);
    }
});
