//! Pickle streams: drives the symbolic VM over every pickle in a buffer and
//! turns what it learnt into findings.

mod globals;
mod vm;

pub use globals::{Verdict, classify};
pub use vm::{Analysis, Event, GlobalUse, PickleError, VmLimits, analyze};

use std::collections::HashSet;

use mlsecops_core::Severity;

use crate::ctx::Ctx;

/// The magic number pickle that opens a legacy (pre-1.6) `torch.save` file.
const TORCH_LEGACY_MAGIC: &[u8] = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// True when `data` opens with a pickle protocol 2–5 header.
#[must_use]
pub fn has_proto_header(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x80 && data[1] <= 5
}

/// Legacy sequential `torch.save`: magic, protocol, sys_info, object and
/// storage-key pickles, then raw storage bytes that are never unpickled.
fn is_torch_legacy(data: &[u8]) -> bool {
    data.len() > 14 && data[0] == 0x80 && data[2..].starts_with(TORCH_LEGACY_MAGIC)
}

/// Runs the VM over `data` if it parses as a pickle (protocol 0/1 streams
/// have no header). Returns false, reporting nothing, when it is not one.
pub(crate) fn scan_if_pickle(ctx: &mut Ctx<'_>, data: &[u8]) -> bool {
    if has_proto_header(data) {
        scan_stream(ctx, data);
        return true;
    }
    let first = analyze(data, 0, 0, &ctx.limits.vm, false);
    let is_pickle = first.end.is_ok() || !first.globals.is_empty() || !first.events.is_empty();
    if is_pickle {
        scan_stream_from(ctx, data, Some(first));
    }
    is_pickle
}

/// Reads `data` as a pickle too when it is primarily another format (a
/// polyglot): reports only what the VM finds, never parse errors.
pub(crate) fn scan_polyglot(ctx: &mut Ctx<'_>, data: &[u8]) {
    let a = analyze(data, 0, 0, &ctx.limits.vm, false);
    if !a.globals.is_empty() || !a.events.is_empty() {
        ctx.report(
            "ARCHIVE-PREPENDED-DATA",
            Severity::Medium,
            Some(0),
            "the file also reads as a pickle (polyglot): its pickle reading was scanned too",
            None,
        );
        let mut seen = Seen::default();
        emit(ctx, a, &mut seen);
    }
}

/// Scans every pickle in `data` (several may follow each other).
pub(crate) fn scan_stream(ctx: &mut Ctx<'_>, data: &[u8]) {
    scan_stream_from(ctx, data, None);
}

/// What was already reported for one buffer, so two readings of the same
/// stream report each global and event once.
#[derive(Default)]
struct Seen {
    globals: HashSet<(String, String)>,
    events: HashSet<u64>,
}

/// Why a reading stopped before the end of the buffer.
struct StreamEnd {
    /// Bytes after a complete pickle that are not another pickle.
    trailing: bool,
    offset: u64,
    message: String,
}

/// Follows every pickle of the stream with one reading: `joblib` steps over
/// the raw array bytes joblib's unpickler reads; the plain reading executes
/// them as opcodes, as `pickle.load`/`torch.load` would. Returns why it
/// stopped early (if it did) and whether the stream imports joblib's array
/// wrapper.
fn read_stream<'a>(
    ctx: &mut Ctx<'_>,
    data: &'a [u8],
    mut first: Option<Analysis<'a>>,
    joblib: bool,
    seen: &mut Seen,
) -> (Option<StreamEnd>, bool) {
    let legacy = is_torch_legacy(data);
    let mut pos = 0usize;
    let mut count = 0usize;
    let mut wrapper = false;
    loop {
        let a = first
            .take()
            .unwrap_or_else(|| analyze(data, pos, 0, &ctx.limits.vm, joblib));
        wrapper |= a.saw_array_wrapper;
        let nothing_found = a.globals.is_empty() && a.events.is_empty();
        let end = a.end.clone();
        emit(ctx, a, seen);
        match end {
            Ok(end) => {
                count += 1;
                pos = end;
                if pos >= data.len() || (legacy && count == 5) {
                    return (None, wrapper);
                }
            }
            Err(e) => {
                let stop = if count > 0 && nothing_found {
                    StreamEnd {
                        trailing: true,
                        offset: pos as u64,
                        message: format!(
                            "{} bytes after the last pickle's STOP are not a pickle",
                            data.len() - pos
                        ),
                    }
                } else {
                    StreamEnd {
                        trailing: false,
                        offset: e.offset,
                        message: format!(
                            "pickle stream cannot be followed to its end: {}",
                            e.message
                        ),
                    }
                };
                return (Some(stop), wrapper);
            }
        }
    }
}

fn report_end(ctx: &mut Ctx<'_>, data: &[u8], end: Option<StreamEnd>) {
    let Some(e) = end else { return };
    if e.trailing {
        let at = usize::try_from(e.offset)
            .unwrap_or(data.len())
            .min(data.len());
        ctx.report(
            "PICKLE-TRAILING-DATA",
            Severity::Medium,
            Some(e.offset),
            e.message,
            Some(hex_preview(&data[at..])),
        );
    } else {
        ctx.report(
            "PICKLE-MALFORMED",
            Severity::Medium,
            Some(e.offset),
            e.message,
            None,
        );
    }
}

fn scan_stream_from<'a>(ctx: &mut Ctx<'_>, data: &'a [u8], first: Option<Analysis<'a>>) {
    ctx.saw(if is_torch_legacy(data) {
        "pytorch-legacy"
    } else {
        "pickle"
    });
    let mut seen = Seen::default();
    // Read as pickle.load / torch.load do; when the stream holds joblib
    // array wrappers, read it again as joblib.load does (array bytes stepped
    // over) and report both — a payload may hide from either reading.
    let (plain_end, wrapper) = read_stream(ctx, data, first, false, &mut seen);
    if wrapper {
        let (joblib_end, _) = read_stream(ctx, data, None, true, &mut seen);
        report_end(ctx, data, joblib_end);
    } else {
        report_end(ctx, data, plain_end);
    }
}

fn hex_preview(b: &[u8]) -> String {
    b.iter()
        .take(16)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn emit(ctx: &mut Ctx<'_>, a: Analysis<'_>, seen: &mut Seen) {
    for g in &a.globals {
        let Some(rule) = g.verdict.rule() else {
            continue;
        };
        if !seen.globals.insert((g.module.clone(), g.name.clone())) {
            continue;
        }
        let full = format!("{}.{}", g.module, g.name);
        let times = if g.count > 1 {
            format!(" ({} times)", g.count)
        } else {
            String::new()
        };
        let (severity, what) = match g.verdict {
            Verdict::CodeExec => (
                Severity::Critical,
                "can execute code when the file is loaded",
            ),
            Verdict::FileAccess => (
                Severity::High,
                "can read, write or delete files when the file is loaded",
            ),
            Verdict::Network => (
                Severity::High,
                "can open network connections when the file is loaded",
            ),
            _ => (
                Severity::Medium,
                "is not on the allowlist of globals known safe for model loading",
            ),
        };
        ctx.report(
            rule,
            severity,
            Some(g.offset),
            format!("imports `{full}` via {}{times}: it {what}", g.via),
            Some(full),
        );
    }
    for e in &a.events {
        let (Event::DynamicGlobal { offset, .. }
        | Event::ExtCode { offset, .. }
        | Event::IndirectCall { offset, .. }
        | Event::GlobalMutation { offset, .. }) = e;
        if !seen.events.insert(*offset) {
            continue;
        }
        match e {
            Event::DynamicGlobal { offset, detail } => ctx.report(
                "PICKLE-DYNAMIC-GLOBAL",
                Severity::Critical,
                Some(*offset),
                format!("STACK_GLOBAL imports a name computed at load time ({detail})"),
                None,
            ),
            Event::ExtCode { offset, code } => ctx.report(
                "PICKLE-EXT-CODE",
                Severity::High,
                Some(*offset),
                format!(
                    "extension code {code} imports a global through the copyreg extension registry"
                ),
                Some(format!("EXT {code}")),
            ),
            Event::IndirectCall { offset, opcode } => ctx.report(
                "PICKLE-INDIRECT-CALL",
                Severity::High,
                Some(*offset),
                format!("{opcode} calls something that is not an imported global (a call result)"),
                None,
            ),
            Event::GlobalMutation { offset, target } => ctx.report(
                "PICKLE-GLOBAL-MUTATION",
                Severity::High,
                Some(*offset),
                format!("BUILD sets attributes on the imported global `{target}` itself"),
                Some(target.clone()),
            ),
        }
    }
    for (offset, bytes) in a.nested {
        if !seen.events.insert(offset | (1 << 63)) {
            continue;
        }
        let name = format!("<bytes@{offset}>");
        ctx.in_member(&name, |c| crate::dispatch::scan_blob(c, bytes, ""));
    }
}
