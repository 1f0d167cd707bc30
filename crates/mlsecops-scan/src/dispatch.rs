//! Format detection by content (never by extension alone) and routing of a
//! buffer to the scanner for its format.

use crate::ctx::Ctx;
use crate::formats::{
    compress, gguf, hdf5_scan, jsondoc, npy, protobuf_scan, safetensors, tar, zip,
};
use crate::pickle;

/// Formats recognised by their bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Empty,
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zlib,
    Lzma,
    Lz4,
    JoblibZfile,
    Npy,
    Hdf5,
    Gguf,
    Pickle,
    Safetensors,
    Json,
    Other,
}

/// Detects the format of `data` from its leading (and, for zips, trailing) bytes.
#[must_use]
pub fn detect(data: &[u8]) -> Format {
    if data.is_empty() {
        return Format::Empty;
    }
    let starts = |m: &[u8]| data.starts_with(m);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Format::Zip;
    }
    if starts(b"\x1f\x8b") {
        return Format::Gzip;
    }
    if data.len() >= 4 && starts(b"BZh") && (b'1'..=b'9').contains(&data[3]) {
        return Format::Bzip2;
    }
    if starts(b"\xfd7zXZ\x00") {
        return Format::Xz;
    }
    if data.len() >= 2 && data[0] == 0x78 && matches!(data[1], 0x01 | 0x5e | 0x9c | 0xda) {
        return Format::Zlib;
    }
    if starts(b"\x04\x22\x4d\x18") {
        return Format::Lz4;
    }
    if starts(b"ZF0x") {
        return Format::JoblibZfile;
    }
    if data.len() >= 13
        && data[0] == 0x5d
        && data[1..3] == [0, 0]
        && (data[5..13] == [0xff; 8] || data[12] == 0)
    {
        return Format::Lzma;
    }
    if starts(b"\x93NUMPY") {
        return Format::Npy;
    }
    if crate::formats::hdf5::find_superblock(data).is_some() {
        return Format::Hdf5;
    }
    if starts(b"GGUF") {
        return Format::Gguf;
    }
    if data.len() >= 512 && tar::is_tar(data) {
        return Format::Tar;
    }
    if pickle::has_proto_header(data) {
        return Format::Pickle;
    }
    if data.len() >= 9 && data[8] == b'{' {
        let n = u64::from_le_bytes(data[..8].try_into().unwrap_or([0xff; 8]));
        if n > 1 && n < (1 << 40) {
            return Format::Safetensors;
        }
    }
    let first = data.iter().copied().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'['))
        && std::str::from_utf8(&data[..data.len().min(4096)]).is_ok()
    {
        return Format::Json;
    }
    if zip::find_eocd(data).is_some() {
        return Format::Zip;
    }
    Format::Other
}

/// Scans one buffer (a file or an archive member). `name` is the file or
/// member name, used only for hints that content alone cannot give
/// (`saved_model.pb`, `.onnx`), never to skip a check.
pub(crate) fn scan_blob(ctx: &mut Ctx<'_>, data: &[u8], name: &str) {
    let format = detect(data);
    match format {
        Format::Empty => {}
        Format::Zip => zip::scan(ctx, data),
        Format::Tar => tar::scan(ctx, data),
        Format::Gzip
        | Format::Bzip2
        | Format::Xz
        | Format::Zlib
        | Format::Lzma
        | Format::Lz4
        | Format::JoblibZfile => compress::scan(ctx, data, format),
        Format::Npy => npy::scan(ctx, data),
        Format::Hdf5 => hdf5_scan::scan(ctx, data),
        Format::Gguf => gguf::scan(ctx, data),
        Format::Pickle => pickle::scan_stream(ctx, data),
        Format::Safetensors => safetensors::scan(ctx, data),
        Format::Json => jsondoc::scan(ctx, data, name),
        Format::Other => scan_other(ctx, data, name),
    }
    // A file can be two formats at once (a pickle followed by a tar, zip or
    // HDF5 tail, or one that starts with another format's magic bytes):
    // `pickle.load` reads it from byte 0 whatever else it is.
    if !matches!(
        format,
        Format::Empty | Format::Pickle | Format::Json | Format::Other
    ) {
        pickle::scan_polyglot(ctx, data);
    }
}

fn scan_other(ctx: &mut Ctx<'_>, data: &[u8], name: &str) {
    if protobuf_scan::scan_if_protobuf(ctx, data, name) {
        pickle::scan_polyglot(ctx, data);
        return;
    }
    if pickle::scan_if_pickle(ctx, data) {
        return;
    }
    if data.len() <= ctx.limits.max_json && std::str::from_utf8(data).is_ok() {
        ctx.saw("text");
        crate::formats::secrets::scan_text(ctx, data, 0);
        return;
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".onnx") || lower.ends_with(".pb") {
        // The name promises a protobuf model but the bytes are not one.
        let rule = if lower.ends_with(".onnx") {
            "ONNX-MALFORMED"
        } else {
            "TF-MALFORMED"
        };
        ctx.report(
            rule,
            mlsecops_core::Severity::Medium,
            Some(0),
            format!("`{name}` is named like a protobuf model but does not parse as one"),
            None,
        );
    }
}
