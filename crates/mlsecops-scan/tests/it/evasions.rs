//! Regression tests for evasions found in review: each is a file the real
//! loader would execute, built byte by byte.

use mlsecops_core::Severity;
use mlsecops_scan::{ScanOptions, Scanner};

const PAYLOAD: &[u8] = b"cos\nsystem\n(S'id'\ntR";

fn rules(name: &str, data: &[u8]) -> Vec<(String, Severity)> {
    let r = Scanner::new(ScanOptions::default()).scan_bytes(name, data);
    r.findings
        .into_iter()
        .map(|f| (f.rule, f.severity))
        .collect()
}

fn assert_code_exec(name: &str, data: &[u8]) {
    let got = rules(name, data);
    assert!(
        got.iter()
            .any(|(r, s)| r == "PICKLE-CODE-EXEC" && *s == Severity::Critical),
        "{name}: payload missed, got {got:?}"
    );
}

fn tar_header_checksum(block: &mut [u8]) {
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    block[148..156].copy_from_slice(s.as_bytes());
}

#[test]
fn pickle_disguised_as_tar() {
    let mut block = vec![0u8; 1024];
    let p = [b"\x80\x02".as_slice(), PAYLOAD, b"."].concat();
    block[..p.len()].copy_from_slice(&p);
    block[257..263].copy_from_slice(b"ustar\0");
    tar_header_checksum(&mut block[..512]);
    assert_code_exec("model.pt", &block);
}

#[test]
fn pickle_followed_by_hdf5() {
    let mut data = [b"\x80\x02".as_slice(), PAYLOAD, b"."].concat();
    data.resize(512, 0);
    data.extend_from_slice(b"\x89HDF\r\n\x1a\n");
    data.resize(2048, 0);
    assert_code_exec("model.pt", &data);
}

#[test]
fn joblib_wrapper_read_by_plain_pickle() {
    // pickle.load executes the 21 "array bytes" that joblib.load would skip.
    let data = [
        b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(U\x05shapeK\x15\x85U\x05dtypecnumpy\ndtype\n(U\x02u1K\x00K\x01tRub".as_slice(),
        PAYLOAD,
        b"0.",
    ]
    .concat();
    assert_code_exec("model.joblib", &data);
}

#[test]
fn joblib_array_bytes_after_the_frame() {
    // joblib reads the array after the current frame; the payload inside the
    // frame right after BUILD is executed.
    let frame = [
        b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(\x8c\x05shapeK\x04\x85\x8c\x05dtypecnumpy\ndtype\n(\x8c\x02u1K\x00K\x01tRub".as_slice(),
        PAYLOAD,
        b"0.",
    ]
    .concat();
    let mut data = b"\x80\x04\x95".to_vec();
    data.extend_from_slice(&(frame.len() as u64).to_le_bytes());
    data.extend_from_slice(&frame);
    data.extend_from_slice(b"AAAA");
    assert_code_exec("model.joblib", &data);
    let got = rules("model.joblib", &data);
    assert!(
        !got.iter().any(|(r, _)| r == "PICKLE-TRAILING-DATA"),
        "{got:?}"
    );
}

#[test]
fn python_int_grammar_for_memo_keys() {
    assert_code_exec("x.pkl", &[b"Np-0\n0".as_slice(), PAYLOAD, b"."].concat());
    assert_code_exec("x.pkl", &[b"Np1_0\n0".as_slice(), PAYLOAD, b"."].concat());
}

#[test]
fn long_protocol_0_lines() {
    let mut data = b"S'".to_vec();
    data.extend(std::iter::repeat_n(b'A', 70_000));
    data.extend_from_slice(b"'\n0");
    data.extend_from_slice(PAYLOAD);
    data.push(b'.');
    assert_code_exec("x.pkl", &data);
}

#[test]
fn repeated_memo_overwrites_do_not_grow_memory() {
    let mut data = b"\x80\x02\x8c\x01a".to_vec();
    for _ in 0..200_000 {
        data.extend_from_slice(b"q\x00");
    }
    data.extend_from_slice(b"0");
    data.extend_from_slice(PAYLOAD);
    data.push(b'.');
    assert_code_exec("x.pkl", &data);
}

/// A stored zip: `members`, then the central directory and end record with
/// the given declared count and comment-length field.
fn stored_zip(members: &[(&str, &[u8])], declared: u16, comment_len: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let off = out.len() as u32;
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let mut h = Vec::new();
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend_from_slice(&crc.sum().to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        let mut c = Vec::new();
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        c.extend_from_slice(&crc.sum().to_le_bytes());
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 12]);
        c.extend_from_slice(&off.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        central.extend_from_slice(&c);
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&declared.to_le_bytes());
    out.extend_from_slice(&declared.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&comment_len.to_le_bytes());
    out
}

#[test]
fn zip_with_a_wrong_member_count_is_still_scanned() {
    let evil = [b"\x80\x02".as_slice(), PAYLOAD, b"."].concat();
    let z = stored_zip(&[("archive/data.pkl", &evil)], 7, 0);
    assert_code_exec("model.pt", &z);
    assert!(
        rules("model.pt", &z)
            .iter()
            .any(|(r, _)| r == "ARCHIVE-HEADER-MISMATCH")
    );
}

#[test]
fn zip_end_record_with_a_bogus_comment_length() {
    let evil = [b"\x80\x02".as_slice(), PAYLOAD, b"."].concat();
    let z = stored_zip(&[("archive/data.pkl", &evil)], 1, 40);
    assert_code_exec("model.pt", &z);
}

#[test]
fn second_gzip_member_after_nul_padding() {
    use std::io::Write;
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let benign = b"\x80\x02}q\x00.";
    let evil = [PAYLOAD, b"."].concat();
    // gzip.open(...) concatenates members: the pickle is `benign` + `evil`
    // read as one stream, so the second pickle runs after the first.
    let mut data = gz(benign);
    data.extend_from_slice(&[0u8; 64]);
    data.extend_from_slice(&gz(&evil));
    assert_code_exec("model.pkl.gz", &data);
}
