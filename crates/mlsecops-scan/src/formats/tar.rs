//! Tar archives (ustar, GNU long names, pax): legacy PyTorch checkpoints and
//! tarred model folders. Members are scanned in place, never extracted.

use mlsecops_core::Severity;

use crate::ctx::Ctx;

/// Header checksum as tarfile checks it: the stored value (octal or
/// base-256) must equal the unsigned or the signed byte sum, with the
/// checksum field counted as spaces.
fn checksum_ok(h: &[u8]) -> bool {
    let Some(want) = octal(&h[148..156]) else {
        return false;
    };
    let unsigned: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b)
            }
        })
        .sum();
    let signed: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    i64::try_from(want).is_ok_and(|w| w == unsigned || w == signed)
}

/// True for a plausible tar header at the start of `data`.
#[must_use]
pub fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512
        && (&data[257..262] == b"ustar" || (data[0] != 0 && checksum_ok(&data[..512])))
}

fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256 for large sizes.
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let txt: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| char::from(b))
        .collect();
    let t = txt.trim();
    if t.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(t, 8).ok()
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn pax_value(body: &[u8], key: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    text.lines().find_map(|l| {
        let rec = l.split_once(' ')?.1;
        let (k, v) = rec.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

/// Scans every member of a tar archive.
pub(crate) fn scan(ctx: &mut Ctx<'_>, data: &[u8]) {
    ctx.saw("tar");
    let mut pos = 0usize;
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut count = 0usize;
    while pos + 512 <= data.len() {
        let h = &data[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            return;
        }
        if !checksum_ok(h) {
            ctx.report(
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                Some(pos as u64),
                "tar header checksum mismatch",
                None,
            );
            return;
        }
        count += 1;
        if count > ctx.limits.max_members {
            ctx.report(
                "SCAN-INCOMPLETE",
                Severity::Medium,
                Some(pos as u64),
                format!(
                    "tar has more than {} members; the rest was not scanned",
                    ctx.limits.max_members
                ),
                None,
            );
            return;
        }
        let Some(size) = octal(&h[124..136]) else {
            ctx.report(
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                Some(pos as u64 + 124),
                "tar member size is not a number",
                None,
            );
            return;
        };
        let typeflag = h[156];
        // A pax `size` record overrides the header of the member it precedes.
        let size = if matches!(typeflag, b'x' | b'g' | b'L' | b'K') {
            size
        } else {
            pax_size.take().unwrap_or(size)
        };
        let mut name = cstr(&h[..100]);
        if &h[257..262] == b"ustar" {
            let prefix = cstr(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let link = cstr(&h[157..257]);
        let body_start = pos + 512;
        // tarfile skips data only for regular files and unknown types: links,
        // devices, directories and FIFOs have none, whatever `size` says.
        let has_data = !(matches!(typeflag, b'1'..=b'6') || (typeflag == 0 && name.ends_with('/')));
        let size = if has_data { size } else { 0 };
        let body_end = usize::try_from(size)
            .ok()
            .and_then(|s| body_start.checked_add(s));
        let Some(body_end) = body_end.filter(|&e| e <= data.len()) else {
            ctx.report(
                "ARCHIVE-MALFORMED",
                Severity::Medium,
                Some(pos as u64),
                format!("tar member `{name}` runs past the end of the file"),
                None,
            );
            return;
        };
        let body = &data[body_start..body_end];
        let next = body_start + (usize::try_from(size).unwrap_or(0).div_ceil(512)) * 512;
        match typeflag {
            b'L' => {
                long_name = Some(cstr(body));
            }
            b'K' => {
                long_link = Some(cstr(body));
            }
            b'x' => {
                long_name = pax_value(body, "path").or(long_name);
                long_link = pax_value(body, "linkpath").or(long_link);
                pax_size = pax_value(body, "size").and_then(|v| v.trim().parse::<u64>().ok());
            }
            b'g' => {}
            _ => {
                let name = long_name.take().unwrap_or(name);
                let link = long_link.take().unwrap_or(link);
                if super::zip::is_traversal(&name) {
                    ctx.report(
                        "ARCHIVE-PATH-TRAVERSAL",
                        Severity::High,
                        Some(pos as u64),
                        format!("member name `{name}` escapes the extraction directory"),
                        Some(name.clone()),
                    );
                }
                match typeflag {
                    b'1' | b'2' => {
                        let kind = if typeflag == b'1' {
                            "hard link"
                        } else {
                            "symbolic link"
                        };
                        if super::zip::is_traversal(&link) {
                            ctx.report(
                                "ARCHIVE-PATH-TRAVERSAL",
                                Severity::High,
                                Some(pos as u64),
                                format!("{kind} `{name}` points outside the extraction directory, to `{link}`"),
                                Some(link.clone()),
                            );
                        }
                        ctx.report(
                            "ARCHIVE-LINK-MEMBER",
                            Severity::High,
                            Some(pos as u64),
                            format!("member `{name}` is a {kind} to `{link}`"),
                            Some(link),
                        );
                    }
                    // Regular, contiguous, sparse and unknown types are all
                    // read as regular files by tarfile.
                    b'3' | b'4' | b'5' | b'6' => {}
                    _ if has_data => {
                        ctx.in_member(&name, |c| crate::dispatch::scan_blob(c, body, &name));
                    }
                    _ => {}
                }
            }
        }
        if next <= pos {
            return;
        }
        pos = next;
    }
}
