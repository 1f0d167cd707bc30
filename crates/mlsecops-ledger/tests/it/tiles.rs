//! Publishing a real log as C2SP tiles and verifying it from the files alone.

use mlsecops_ledger::tiles::{TILE_WIDTH, entries_path, root_from_tiles, write_tiles};
use mlsecops_ledger::{Checkpoint, Log, Signer};

#[test]
fn published_tiles_verify_from_static_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("public");
    let signer = Signer::generate("mlsecops.test/tiles").unwrap();
    let mut log = Log::open(dir.path().join("log")).unwrap();
    let entries: Vec<Vec<u8>> = (0..700u32)
        .map(|i| format!("event {i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    log.append_batch(&refs).unwrap();
    let note = log.checkpoint("mlsecops.test/tiles", &signer).unwrap();
    let files = write_tiles(&mut log, &out, &note).unwrap();
    assert!(files > 5);

    // A verifier with only the files and the public key:
    let text = std::fs::read(out.join("checkpoint")).unwrap();
    let (cp, _) = Checkpoint::open(&text, &[signer.verifier()]).unwrap();
    let root = root_from_tiles(cp.size, |p| std::fs::read(out.join(p)).ok()).unwrap();
    assert_eq!(root, cp.root);
    assert_eq!(root, log.root());

    // The last entry bundle holds the tail entries, length-prefixed.
    let last = (cp.size - 1) / TILE_WIDTH;
    let width = cp.size - last * TILE_WIDTH;
    let bundle = std::fs::read(out.join(entries_path(last, width))).unwrap();
    let mut pos = 0;
    let mut n = 0;
    while pos < bundle.len() {
        let len = u16::from_be_bytes([bundle[pos], bundle[pos + 1]]) as usize;
        let want = &entries[(last * TILE_WIDTH) as usize + n];
        assert_eq!(&bundle[pos + 2..pos + 2 + len], want.as_slice());
        pos += 2 + len;
        n += 1;
    }
    assert_eq!(n as u64, width);

    // Tampering with a published tile is caught by the checkpoint.
    // (tile/0/002.p/188 holds leaves 512..700, which the head is built from)
    let tile = out.join("tile/0/002.p/188");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[5] ^= 0x40;
    std::fs::write(&tile, bytes).unwrap();
    let root = root_from_tiles(cp.size, |p| std::fs::read(out.join(p)).ok()).unwrap();
    assert_ne!(root, cp.root);
}
