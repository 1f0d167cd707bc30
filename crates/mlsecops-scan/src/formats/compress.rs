//! Compressed streams (gzip, bzip2, xz, zlib, lzma, joblib's old `ZF`
//! files): decompressed with hard size and ratio limits, then scanned as
//! whatever they contain. A bomb is a finding, and the prefix that was
//! decompressed before the limit is still scanned.

use std::io::Read;

use mlsecops_core::Severity;

use crate::ctx::Ctx;
use crate::dispatch::Format;

/// Result of a bounded decompression.
pub(crate) struct Inflated {
    pub data: Vec<u8>,
    /// The stream had more output than the limit allowed.
    pub truncated: bool,
    /// The stream was corrupt after `data.len()` bytes.
    pub error: Option<String>,
}

/// Reads at most `limit` bytes from `r`, never allocating past it.
pub(crate) fn read_bounded(mut r: impl Read, limit: u64) -> Inflated {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let room = limit.saturating_sub(data.len() as u64);
        if room == 0 {
            // Probe one more byte to know whether the stream really goes on.
            let mut one = [0u8; 1];
            let more = matches!(r.read(&mut one), Ok(n) if n > 0);
            return Inflated {
                data,
                truncated: more,
                error: None,
            };
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        match r.read(&mut buf[..want]) {
            Ok(0) => {
                return Inflated {
                    data,
                    truncated: false,
                    error: None,
                };
            }
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Inflated {
                    data,
                    truncated: false,
                    error: Some(e.to_string()),
                };
            }
        }
    }
}

/// A `Write` that refuses to grow past a limit (for lzma-rs's push API).
struct BoundedSink {
    data: Vec<u8>,
    limit: u64,
    truncated: bool,
}

impl BoundedSink {
    /// The result of an lzma-rs run into this sink (hitting the limit is
    /// truncation, not corruption).
    fn finish(self, r: Result<(), lzma_rs::error::Error>) -> Inflated {
        let error = match r {
            Err(e) if !self.truncated => Some(e.to_string()),
            _ => None,
        };
        Inflated {
            data: self.data,
            truncated: self.truncated,
            error,
        }
    }
}

impl std::io::Write for BoundedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.data.len() as u64);
        if room == 0 {
            self.truncated = true;
            return Err(std::io::Error::other("decompression limit reached"));
        }
        let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The byte budget left for one more decompressed stream in this file.
pub(crate) fn budget(ctx: &Ctx<'_>) -> u64 {
    ctx.limits.max_decompressed.min(
        ctx.limits
            .max_total_decompressed
            .saturating_sub(ctx.decompressed),
    )
}

/// Decompresses `data` in format `fmt` within the file's budget.
pub(crate) fn inflate(ctx: &Ctx<'_>, data: &[u8], fmt: Format) -> Inflated {
    let limit = budget(ctx);
    match fmt {
        Format::Gzip => inflate_gzip_members(data, limit),
        Format::Bzip2 => read_bounded(bzip2::read::MultiBzDecoder::new(data), limit),
        Format::Zlib => read_bounded(flate2::read::ZlibDecoder::new(data), limit),
        Format::JoblibZfile => {
            // joblib < 0.10: b"ZF" + the hex length padded to 19 characters,
            // then a zlib stream at offset 21.
            let start = 21.min(data.len());
            read_bounded(flate2::read::ZlibDecoder::new(&data[start..]), limit)
        }
        Format::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(data), limit),
        Format::Xz | Format::Lzma => {
            let mut sink = BoundedSink {
                data: Vec::new(),
                limit,
                truncated: false,
            };
            let mut input = std::io::BufReader::new(data);
            let r = if fmt == Format::Xz {
                lzma_rs::xz_decompress(&mut input, &mut sink)
            } else {
                lzma_rs::lzma_decompress(&mut input, &mut sink)
            };
            sink.finish(r)
        }
        _ => Inflated {
            data: Vec::new(),
            truncated: false,
            error: Some("not a compressed stream".into()),
        },
    }
}

/// gzip members one after another, skipping NUL padding between them as
/// Python's `gzip` module does.
fn inflate_gzip_members(data: &[u8], limit: u64) -> Inflated {
    let mut out = Inflated {
        data: Vec::new(),
        truncated: false,
        error: None,
    };
    let mut rest = data;
    while rest.starts_with(b"\x1f\x8b") {
        let room = limit.saturating_sub(out.data.len() as u64);
        let mut dec = flate2::bufread::GzDecoder::new(rest);
        let part = read_bounded(&mut dec, room);
        out.data.extend_from_slice(&part.data);
        if part.truncated || part.error.is_some() {
            out.truncated = part.truncated;
            out.error = part.error;
            return out;
        }
        rest = dec.into_inner();
        let pad = rest.iter().take_while(|&&b| b == 0).count();
        rest = &rest[pad..];
    }
    if !rest.is_empty() && out.data.is_empty() {
        out.error = Some("not a gzip stream".into());
    }
    out
}

/// Decompresses a zip method-14 (LZMA) member within the file's budget.
pub(crate) fn inflate_zip_lzma(ctx: &Ctx<'_>, raw: &[u8], declared: u64) -> Inflated {
    let limit = budget(ctx);
    let Some(stream) = raw.get(4..) else {
        return Inflated {
            data: Vec::new(),
            truncated: false,
            error: Some("truncated LZMA header".into()),
        };
    };
    let mut sink = BoundedSink {
        data: Vec::new(),
        limit,
        truncated: false,
    };
    let opts = lzma_rs::decompress::Options {
        unpacked_size: lzma_rs::decompress::UnpackedSize::UseProvided(Some(declared)),
        memlimit: Some(usize::try_from(limit).unwrap_or(usize::MAX)),
        allow_incomplete: false,
    };
    let r = lzma_rs::lzma_decompress_with_options(
        &mut std::io::BufReader::new(stream),
        &mut sink,
        &opts,
    );
    sink.finish(r)
}

/// Reports limit hits for a stream of `compressed` bytes that inflated into
/// `out`; returns whether what was inflated should still be scanned.
pub(crate) fn check_inflated(ctx: &mut Ctx<'_>, out: &Inflated, compressed: u64, what: &str) {
    let produced = out.data.len() as u64;
    if out.truncated {
        let ratio = produced / compressed.max(1);
        if ratio > ctx.limits.max_ratio || produced >= ctx.limits.max_decompressed {
            ctx.report(
                "ARCHIVE-BOMB",
                Severity::High,
                Some(0),
                format!(
                    "{what} expands past the {} byte limit (ratio over {ratio}:1 from {compressed} compressed bytes); only the first {produced} bytes were scanned",
                    budget(ctx)
                ),
                None,
            );
        } else {
            ctx.report(
                "SCAN-INCOMPLETE",
                Severity::Medium,
                Some(0),
                format!("{what} exceeds the decompression budget; only the first {produced} bytes were scanned"),
                None,
            );
        }
    } else if produced > ctx.limits.ratio_floor
        && produced / compressed.max(1) > ctx.limits.max_ratio
    {
        ctx.report(
            "ARCHIVE-BOMB",
            Severity::High,
            Some(0),
            format!(
                "{what} expands {}:1 ({compressed} → {produced} bytes)",
                produced / compressed.max(1)
            ),
            None,
        );
    }
    if let Some(e) = &out.error {
        ctx.report(
            "ARCHIVE-MALFORMED",
            Severity::Medium,
            Some(produced),
            format!("{what} is corrupt after {produced} decompressed bytes: {e}"),
            None,
        );
    }
    ctx.decompressed = ctx.decompressed.saturating_add(produced);
}

/// Scans a whole-file compressed stream.
pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8], fmt: Format) {
    let name = match fmt {
        Format::Gzip => "gzip",
        Format::Bzip2 => "bzip2",
        Format::Xz => "xz",
        Format::Zlib => "zlib",
        Format::Lzma => "lzma",
        Format::Lz4 => "lz4",
        _ => "joblib-zfile",
    };
    ctx.saw(name);
    let out = inflate(ctx, data, fmt);
    check_inflated(ctx, &out, data.len() as u64, &format!("{name} stream"));
    let inner = out.data;
    if !inner.is_empty() {
        let member = format!("<{name}>");
        ctx.in_member(&member, |c| crate::dispatch::scan_blob(c, &inner, ""));
    }
}
