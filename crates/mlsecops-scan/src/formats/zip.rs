//! A defensive zip reader. It follows the central directory (as Python's
//! `zipfile` and PyTorch's loader do), cross-checks every local header, walks
//! the local headers too (so content that only a streaming reader would see
//! is not missed), and reports every inconsistency an attacker could use to
//! show a scanner one thing and a loader another.

use std::collections::{HashMap, HashSet};

use mlsecops_core::Severity;

use super::bytes::{le16, le32, le64};
use crate::ctx::Ctx;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_EOCD64: u32 = 0x0606_4b50;
const SIG_LOCATOR64: u32 = 0x0706_4b50;

/// One member as the central directory (or a stray local header) describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Name, lossily decoded for display.
    pub name: String,
    pub raw_name: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// Absolute offset of the local header.
    pub local_offset: u64,
    /// Absolute offset of the member's data, when its local header is readable.
    pub data_offset: Option<u64>,
    pub external_attr: u32,
    pub made_by: u16,
}

impl Entry {
    #[must_use]
    pub fn encrypted(&self) -> bool {
        self.flags & 1 != 0 || self.method == 99
    }
    #[must_use]
    pub fn is_symlink(&self) -> bool {
        (self.made_by >> 8) == 3 && (self.external_attr >> 16) & 0o170_000 == 0o120_000
    }
    #[must_use]
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// A structural problem found while indexing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub rule: &'static str,
    pub severity: Severity,
    pub offset: u64,
    pub message: String,
}

/// The parsed layout of a zip file.
#[derive(Clone, Debug, Default)]
pub struct Index {
    pub entries: Vec<Entry>,
    /// Members found only by walking local headers (not in the central directory).
    pub hidden: Vec<Entry>,
    /// Bytes before the first member (self-extractor / polyglot prefix).
    pub prepended: u64,
    pub issues: Vec<Issue>,
}

/// Why a zip cannot be indexed at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset}")]
pub struct ZipError {
    pub offset: u64,
    pub message: String,
}

fn zerr<T>(offset: u64, message: impl Into<String>) -> Result<T, ZipError> {
    Err(ZipError {
        offset,
        message: message.into(),
    })
}

/// Offset of the end-of-central-directory record, searched like `zipfile`.
#[must_use]
pub fn find_eocd(data: &[u8]) -> Option<usize> {
    if data.len() < 22 {
        return None;
    }
    let last = data.len() - 22;
    if le32(data, last) == Some(SIG_EOCD) && le16(data, last + 20) == Some(0) {
        return Some(last);
    }
    let lo = last.saturating_sub(65_535);
    // Like `zipfile`: the last signature in the final 64 KiB, whatever its
    // comment length says.
    (lo..=last).rev().find(|&i| le32(data, i) == Some(SIG_EOCD))
}

fn issue(ix: &mut Index, rule: &'static str, severity: Severity, offset: u64, message: String) {
    if ix.issues.len() < 1000 {
        ix.issues.push(Issue {
            rule,
            severity,
            offset,
            message,
        });
    }
}

/// Applies every zip64 extended-information record (as zipfile does).
fn zip64_extra(extra: &[u8], usize_: &mut u64, csize: &mut u64, off: &mut u64) {
    let mut p = 0usize;
    while p + 4 <= extra.len() {
        let (Some(id), Some(len)) = (le16(extra, p), le16(extra, p + 2)) else {
            break;
        };
        let body = extra.get(p + 4..p + 4 + usize::from(len)).unwrap_or(&[]);
        if id == 1 {
            let mut q = 0usize;
            for field in [&mut *usize_, &mut *csize, &mut *off] {
                if *field == u64::from(u32::MAX)
                    && let Some(v) = le64(body, q)
                {
                    *field = v;
                    q += 8;
                }
            }
        }
        p += 4 + usize::from(len);
    }
}

/// The Info-ZIP Unicode Path extra field (0x7075), when its CRC matches the
/// header name: zipfile then uses it as the member's name.
fn unicode_path(extra: &[u8], raw_name: &[u8]) -> Option<String> {
    let mut p = 0usize;
    while p + 4 <= extra.len() {
        let id = le16(extra, p)?;
        let len = usize::from(le16(extra, p + 2)?);
        let body = extra.get(p + 4..p + 4 + len)?;
        if id == 0x7075 && body.len() >= 5 && body[0] == 1 {
            let mut crc = flate2::Crc::new();
            crc.update(raw_name);
            if le32(body, 1) == Some(crc.sum()) {
                return std::str::from_utf8(&body[5..]).ok().map(str::to_owned);
            }
        }
        p += 4 + len;
    }
    None
}

struct Local {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    csize: u64,
    usize_: u64,
    data_offset: u64,
}

fn read_local(data: &[u8], at: u64) -> Option<Local> {
    let at = usize::try_from(at).ok()?;
    if le32(data, at)? != SIG_LOCAL {
        return None;
    }
    let flags = le16(data, at + 6)?;
    let method = le16(data, at + 8)?;
    let mut csize = u64::from(le32(data, at + 18)?);
    let mut usize_ = u64::from(le32(data, at + 22)?);
    let nlen = usize::from(le16(data, at + 26)?);
    let xlen = usize::from(le16(data, at + 28)?);
    let name = data.get(at + 30..at + 30 + nlen)?.to_vec();
    let extra = data.get(at + 30 + nlen..at + 30 + nlen + xlen)?;
    let mut dummy = 0;
    zip64_extra(extra, &mut usize_, &mut csize, &mut dummy);
    Some(Local {
        name,
        flags,
        method,
        csize,
        usize_,
        data_offset: (at + 30 + nlen + xlen) as u64,
    })
}

fn decode_name(raw: &[u8], flags: u16) -> String {
    if flags & 0x800 != 0 {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        // cp437 for the ASCII range is ASCII; other bytes are shown as-is.
        raw.iter()
            .map(|&b| {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    char::from_u32(u32::from(b)).unwrap_or('?')
                }
            })
            .collect()
    }
}

/// Indexes a zip file: central directory, local headers, and every
/// inconsistency between them.
pub fn parse(data: &[u8], max_members: usize) -> Result<Index, ZipError> {
    let Some(eocd) = find_eocd(data) else {
        return zerr(data.len() as u64, "no end-of-central-directory record");
    };
    let mut ix = Index::default();
    let mut n_total = u64::from(le16(data, eocd + 10).unwrap_or(0));
    let mut cd_size = u64::from(le32(data, eocd + 12).unwrap_or(0));
    let mut cd_offset = u64::from(le32(data, eocd + 16).unwrap_or(0));
    let mut record_start = eocd as u64;
    if eocd >= 20 && le32(data, eocd - 20) == Some(SIG_LOCATOR64) {
        // As zipfile: the zip64 end record sits right before its locator;
        // fall back to the locator's pointer when it does not.
        let e64 = match eocd.checked_sub(76) {
            Some(p) if le32(data, p) == Some(SIG_EOCD64) => p,
            _ => {
                let ptr = le64(data, eocd - 16)
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(usize::MAX);
                if le32(data, ptr) != Some(SIG_EOCD64) {
                    return zerr(
                        (eocd - 20) as u64,
                        "zip64 locator points to no zip64 end record",
                    );
                }
                ptr
            }
        };
        n_total = le64(data, e64 + 32).unwrap_or(0);
        cd_size = le64(data, e64 + 40).unwrap_or(0);
        cd_offset = le64(data, e64 + 48).unwrap_or(0);
        record_start = e64 as u64;
    }
    // zipfile: concat = end-record position - size - offset (may be
    // negative); only the resulting directory start must be >= 0.
    let concat = i128::from(record_start) - i128::from(cd_size) - i128::from(cd_offset);
    let Ok(cd_start) = u64::try_from(i128::from(cd_offset) + concat) else {
        return zerr(eocd as u64, "central directory lies beyond the end record");
    };
    ix.prepended = u64::try_from(concat).unwrap_or(0);
    let cd_end = cd_start.saturating_add(cd_size).min(data.len() as u64);
    if n_total as usize > max_members {
        issue(
            &mut ix,
            "SCAN-INCOMPLETE",
            Severity::Medium,
            eocd as u64,
            format!(
                "archive declares {n_total} members; only the first {max_members} are examined"
            ),
        );
    }
    let mut p = usize::try_from(cd_start).unwrap_or(usize::MAX);
    let mut names: HashSet<Vec<u8>> = HashSet::new();
    // Walk the directory by its size, as zipfile does (the count is only
    // cross-checked: miniz, used by PyTorch, trusts it instead).
    let mut i = 0u64;
    while (p as u64) < cd_end && ix.entries.len() < max_members {
        if le32(data, p) != Some(SIG_CENTRAL) {
            issue(
                &mut ix,
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                p as u64,
                format!(
                    "central directory entry {i} is missing or truncated; later entries were not read"
                ),
            );
            break;
        }
        i += 1;
        let made_by = le16(data, p + 4).unwrap_or(0);
        let flags = le16(data, p + 8).unwrap_or(0);
        let method = le16(data, p + 10).unwrap_or(0);
        let mut csize = u64::from(le32(data, p + 20).unwrap_or(0));
        let mut usize_ = u64::from(le32(data, p + 24).unwrap_or(0));
        let (Some(nlen), Some(xlen), Some(clen)) =
            (le16(data, p + 28), le16(data, p + 30), le16(data, p + 32))
        else {
            issue(
                &mut ix,
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                p as u64,
                "truncated central directory entry".into(),
            );
            break;
        };
        let external_attr = le32(data, p + 38).unwrap_or(0);
        let mut local = u64::from(le32(data, p + 42).unwrap_or(0));
        let (nlen, xlen, clen) = (usize::from(nlen), usize::from(xlen), usize::from(clen));
        let Some(raw_name) = data.get(p + 46..p + 46 + nlen) else {
            issue(
                &mut ix,
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                p as u64,
                "central directory name runs past the end".into(),
            );
            break;
        };
        let extra = data.get(p + 46 + nlen..p + 46 + nlen + xlen).unwrap_or(&[]);
        zip64_extra(extra, &mut usize_, &mut csize, &mut local);
        let mut name = decode_name(raw_name, flags);
        if let Some(u) = unicode_path(extra, raw_name) {
            // zipfile renames the member from the Info-ZIP Unicode Path field.
            name = u;
        }
        let local_offset = u64::try_from(i128::from(local) + concat).unwrap_or(u64::MAX);
        let mut entry = Entry {
            name: name.clone(),
            raw_name: raw_name.to_vec(),
            method,
            flags,
            compressed_size: csize,
            uncompressed_size: usize_,
            local_offset,
            data_offset: None,
            external_attr,
            made_by,
        };
        if !names.insert(raw_name.to_vec()) {
            issue(
                &mut ix,
                "ARCHIVE-DUPLICATE-MEMBER",
                Severity::High,
                p as u64,
                format!(
                    "member `{name}` appears more than once; loaders disagree on which copy they read"
                ),
            );
        }
        match read_local(data, local_offset) {
            None => issue(
                &mut ix,
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                local_offset,
                format!("member `{name}` has no readable local header"),
            ),
            Some(l) => {
                entry.data_offset = Some(l.data_offset);
                let mut diffs = Vec::new();
                if l.name != raw_name {
                    diffs.push(format!("local name `{}`", decode_name(&l.name, l.flags)));
                }
                if l.method != method {
                    diffs.push(format!("local method {} vs central {method}", l.method));
                }
                if (l.flags & 1) != (flags & 1) {
                    diffs.push("encryption flag differs".to_owned());
                }
                if l.flags & 8 == 0 && l.csize != 0 && (l.csize != csize || l.usize_ != usize_) {
                    diffs.push(format!(
                        "local sizes {}/{} vs central {csize}/{usize_}",
                        l.csize, l.usize_
                    ));
                }
                if !diffs.is_empty() {
                    issue(
                        &mut ix,
                        "ARCHIVE-HEADER-MISMATCH",
                        Severity::High,
                        local_offset,
                        format!(
                            "member `{name}`: central directory and local header disagree ({})",
                            diffs.join("; ")
                        ),
                    );
                }
            }
        }
        ix.entries.push(entry);
        p = p + 46 + nlen + xlen + clen;
    }
    if i != n_total && ix.entries.len() < max_members {
        issue(
            &mut ix,
            "ARCHIVE-HEADER-MISMATCH",
            Severity::High,
            eocd as u64,
            format!(
                "end record declares {n_total} members but the central directory holds {i} (zipfile and PyTorch's reader disagree)"
            ),
        );
    }
    // Data ranges: in bounds and not overlapping.
    let mut ranges: Vec<(u64, u64, usize)> = Vec::new();
    for (k, e) in ix.entries.iter().enumerate() {
        if let Some(d) = e.data_offset {
            let end = d.saturating_add(e.compressed_size);
            if end > data.len() as u64 {
                let msg = format!("member `{}` data runs past the end of the file", e.name);
                ix.issues.push(Issue {
                    rule: "ARCHIVE-MALFORMED",
                    severity: Severity::Medium,
                    offset: d,
                    message: msg,
                });
            }
            ranges.push((e.local_offset, end, k));
        }
    }
    ranges.sort_unstable();
    let mut reported_overlap = 0;
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 && reported_overlap < 10 {
            reported_overlap += 1;
            let (a, b) = (&ix.entries[w[0].2].name, &ix.entries[w[1].2].name);
            let msg = format!(
                "members `{a}` and `{b}` share bytes (overlapping entries: a zip bomb or parser-confusion technique)"
            );
            ix.issues.push(Issue {
                rule: "ARCHIVE-OVERLAPPING-MEMBERS",
                severity: Severity::High,
                offset: w[1].0,
                message: msg,
            });
        }
    }
    let start = ix.prepended;
    walk_locals(data, start, cd_start, &mut ix, max_members);
    let first_local = ix
        .entries
        .iter()
        .chain(ix.hidden.iter())
        .map(|e| e.local_offset)
        .min()
        .unwrap_or(ix.prepended);
    if first_local > 0 {
        let msg = format!(
            "{first_local} bytes precede the first zip member (a polyglot file can be read as another format)"
        );
        ix.issues.push(Issue {
            rule: "ARCHIVE-PREPENDED-DATA",
            severity: Severity::Medium,
            offset: 0,
            message: msg,
        });
    }
    Ok(ix)
}

/// Walks local headers sequentially and records those the central
/// directory does not list (a streaming reader would extract them).
fn walk_locals(data: &[u8], start: u64, cd_start: u64, ix: &mut Index, max_members: usize) {
    let known: HashMap<u64, usize> = ix
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.local_offset, i))
        .collect();
    let mut at = start;
    let mut steps = 0usize;
    while at < cd_start && steps < max_members.saturating_mul(2) {
        steps += 1;
        let Some(l) = read_local(data, at) else { break };
        let next = if let Some(&i) = known.get(&at) {
            l.data_offset.saturating_add(ix.entries[i].compressed_size)
        } else {
            if l.flags & 8 != 0 && l.csize == 0 {
                break;
            }
            let name = decode_name(&l.name, l.flags);
            let msg = format!(
                "local header for `{name}` is not listed in the central directory (hidden from zipfile, visible to streaming readers)"
            );
            ix.issues.push(Issue {
                rule: "ARCHIVE-HEADER-MISMATCH",
                severity: Severity::High,
                offset: at,
                message: msg,
            });
            ix.hidden.push(Entry {
                name,
                raw_name: l.name.clone(),
                method: l.method,
                flags: l.flags,
                compressed_size: l.csize,
                uncompressed_size: l.usize_,
                local_offset: at,
                data_offset: Some(l.data_offset),
                external_attr: 0,
                made_by: 0,
            });
            l.data_offset.saturating_add(l.csize)
        };
        // Skip an optional data descriptor.
        let mut n = next;
        if l.flags & 8 != 0 {
            let nu = usize::try_from(n).unwrap_or(usize::MAX);
            n = n.saturating_add(if le32(data, nu) == Some(0x0807_4b50) {
                16
            } else {
                12
            });
        }
        if n <= at {
            break;
        }
        at = n;
    }
}

/// True when a member name escapes the extraction directory.
#[must_use]
pub fn is_traversal(name: &str) -> bool {
    let b = name.as_bytes();
    name.starts_with('/')
        || name.starts_with('\\')
        || (b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic())
        || name.split(['/', '\\']).any(|c| c == "..")
}

/// Prefixes `P/` for which `P/data.pkl` exists: PyTorch archives, whose
/// `P/data/<n>` members are raw tensor storage and never unpickled.
fn torch_prefixes(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| e.name.strip_suffix("data.pkl").map(str::to_owned))
        .filter(|p| p.is_empty() || p.ends_with('/'))
        .collect()
}

fn is_storage(name: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        name.strip_prefix(p.as_str())
            .and_then(|r| r.strip_prefix("data/"))
            .is_some_and(|k| {
                !k.is_empty() && !k.contains('/') && k.bytes().all(|b| b.is_ascii_digit())
            })
    })
}

/// Scans a zip: structure first, then every member's content.
pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    let ix = match parse(data, ctx.limits.max_members) {
        Ok(ix) => ix,
        Err(e) => {
            ctx.saw("zip");
            ctx.report(
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                Some(e.offset),
                format!("zip structure cannot be read: {}", e.message),
                None,
            );
            return;
        }
    };
    let prefixes = torch_prefixes(&ix.entries);
    let is_keras = ix.entries.iter().any(|e| e.name == "config.json")
        && ix.entries.iter().any(|e| e.name == "metadata.json");
    ctx.saw(if !prefixes.is_empty() {
        "pytorch-zip"
    } else if is_keras {
        "keras"
    } else if ix.entries.iter().any(|e| e.name.ends_with(".npy")) {
        "npz"
    } else {
        "zip"
    });
    for i in &ix.issues {
        ctx.report(i.rule, i.severity, Some(i.offset), i.message.clone(), None);
    }
    // Bytes before the first member are whatever a reader that ignores the
    // central directory offsets (or a polyglot's other format) sees.
    let first = ix
        .entries
        .iter()
        .chain(ix.hidden.iter())
        .map(|e| e.local_offset)
        .min()
        .unwrap_or(0);
    if first > 0 {
        let head = &data[..usize::try_from(first).unwrap_or(0).min(data.len())];
        ctx.in_member("<prepended data>", |c| {
            crate::dispatch::scan_blob(c, head, "");
        });
    }
    // Each byte range is scanned once, however many entries point at it.
    let mut done: HashSet<(Option<u64>, u64, u16)> = HashSet::new();
    for e in ix.entries.iter().chain(ix.hidden.iter()) {
        if done.insert((e.data_offset, e.compressed_size, e.method)) {
            scan_entry(ctx, data, e, &prefixes);
        }
    }
}

fn scan_entry(ctx: &mut Ctx<'_>, data: &[u8], e: &Entry, prefixes: &[String]) {
    if is_traversal(&e.name) {
        ctx.report(
            "ARCHIVE-PATH-TRAVERSAL",
            Severity::High,
            Some(e.local_offset),
            format!("member name `{}` escapes the extraction directory", e.name),
            Some(e.name.clone()),
        );
    }
    if e.is_symlink() {
        ctx.report(
            "ARCHIVE-LINK-MEMBER",
            Severity::High,
            Some(e.local_offset),
            format!("member `{}` is a symbolic link", e.name),
            None,
        );
        return;
    }
    // PyTorch looks members up by their raw name, zipfile by the (possibly
    // Unicode-path) name: a member is tensor storage only under both.
    let raw = String::from_utf8_lossy(&e.raw_name);
    if e.is_dir() || (is_storage(&e.name, prefixes) && is_storage(&raw, prefixes)) {
        return;
    }
    if e.encrypted() {
        ctx.report(
            "ARCHIVE-ENCRYPTED-MEMBER",
            Severity::Medium,
            Some(e.local_offset),
            format!("member `{}` is encrypted and cannot be inspected", e.name),
            None,
        );
        return;
    }
    let Some(start) = e.data_offset else { return };
    let end = start
        .saturating_add(e.compressed_size)
        .min(data.len() as u64);
    let raw =
        &data[usize::try_from(start.min(end)).unwrap_or(0)..usize::try_from(end).unwrap_or(0)];
    let name = e.name.clone();
    match e.method {
        0 => {
            ctx.in_member(&name, |c| crate::dispatch::scan_blob(c, raw, &name));
        }
        14 => {
            // LZMA (zipfile supports it): 2-byte version, 2-byte properties
            // size, the 5 property bytes, then the raw stream.
            let out = super::compress::inflate_zip_lzma(ctx, raw, e.uncompressed_size);
            ctx.in_member(&name, |c| {
                super::compress::check_inflated(c, &out, e.compressed_size, "member");
                crate::dispatch::scan_blob(c, &out.data, &name);
            });
        }
        8 | 12 => {
            let declared_ratio = e.uncompressed_size / e.compressed_size.max(1);
            if e.uncompressed_size > ctx.limits.ratio_floor && declared_ratio > ctx.limits.max_ratio
            {
                ctx.report(
                    "ARCHIVE-BOMB",
                    Severity::High,
                    Some(e.local_offset),
                    format!(
                        "member `{name}` declares a {declared_ratio}:1 expansion ({} → {} bytes)",
                        e.compressed_size, e.uncompressed_size
                    ),
                    None,
                );
            }
            let inflate = |limit: u64| {
                if e.method == 8 {
                    super::compress::read_bounded(flate2::read::DeflateDecoder::new(raw), limit)
                } else {
                    super::compress::read_bounded(bzip2::read::BzDecoder::new(raw), limit)
                }
            };
            // A compressed numeric array (np.savez_compressed) is decided by its
            // header: inflate a prefix first and skip the tensor bytes.
            let prefix = inflate(64 * 1024);
            if prefix.data.starts_with(b"\x93NUMPY")
                && super::npy::parse_header(&prefix.data).is_ok_and(|h| !h.object)
            {
                ctx.in_member(&name, |c| c.saw("npy"));
                return;
            }
            let out = if prefix.truncated {
                inflate(super::compress::budget(ctx))
            } else {
                prefix
            };
            ctx.in_member(&name, |c| {
                super::compress::check_inflated(c, &out, e.compressed_size, "member");
                crate::dispatch::scan_blob(c, &out.data, &name);
            });
        }
        m => {
            ctx.report(
                "ARCHIVE-UNSUPPORTED-METHOD",
                Severity::Medium,
                Some(e.local_offset),
                format!("member `{name}` uses compression method {m}, which cannot be inspected"),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_names() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "C:\\x", "..\\x", "\\x"] {
            assert!(is_traversal(bad), "{bad}");
        }
        for ok in ["archive/data.pkl", "a..b/c", "x/.../y"] {
            assert!(!is_traversal(ok), "{ok}");
        }
    }

    #[test]
    fn storage_members() {
        let p = vec!["archive/".to_owned()];
        assert!(is_storage("archive/data/0", &p));
        assert!(is_storage("archive/data/123", &p));
        assert!(!is_storage("archive/data.pkl", &p));
        assert!(!is_storage("archive/data/0/x", &p));
        assert!(!is_storage("other/data/0", &p));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"PK\x05\x06", 10).is_err());
        let mut eocd = vec![0u8; 22];
        eocd[..4].copy_from_slice(&SIG_EOCD.to_le_bytes());
        eocd[10] = 5;
        eocd[12] = 0xff;
        assert!(parse(&eocd, 10).is_err());
    }
}
