//! Minimal, bounded HDF5 reader: just enough to read attributes of groups (Keras `model_config`).
//!
//! Works on an in-memory byte slice and never panics: every read goes through a bounds-checked
//! cursor that reports `Malformed` errors with absolute file offsets, all arithmetic on numbers
//! taken from the file is checked, every loop is bounded by [`Hdf5Limits`] (plus an internal
//! work budget of `max_objects × 256` structure entries), and the walk is cycle-safe.
//!
//! Supported:
//! - superblock versions 0–3 at 0, 512, 1024, … (offset/length sizes 2, 4, 8; user blocks:
//!   as the HDF5 library does, addresses are taken relative to the superblock's position);
//! - object headers v1 (continuation blocks) and v2 (`OHDR`/`OCHK`, times, phase-change fields);
//! - groups: symbol tables (v1 B-tree `TREE` + `SNOD` + local heap `HEAP`), compact link
//!   messages and dense link storage (link info message + fractal heap + v2 B-tree name index);
//!   only hard links are followed;
//! - attributes: attribute messages v1–v3 in object headers and dense attribute storage
//!   (attribute info message + fractal heap: managed, tiny and huge objects + v2 B-tree);
//! - datatypes: fixed strings (class 3) and variable-length strings (class 9, read from global
//!   heap collections `GCOL`), also through committed (shared) datatypes;
//! - dataspaces v1 and v2: scalar → [`AttrValue::Str`], simple (any rank, flattened) and null
//!   → [`AttrValue::StrList`].
//!
//! Not supported: attribute messages shared through the shared-message heap (reported with an
//! empty name and [`AttrValue::Other`]), strings inside compound/array/vlen-sequence types
//! ([`AttrValue::Other`]), filtered fractal heaps (an error; the HDF5 library never filters
//! attribute or link heaps), soft/external links (not followed), dataset contents, checksums
//! (not verified).
//!
//! An object reachable through several hard links is visited (and reported) once, under the
//! first path found. Strings are decoded as lossy UTF-8 with trailing NUL padding (and trailing spaces for
//! space-padded fixed strings) removed; embedded NULs are kept so nothing can hide behind them.

use std::collections::{HashMap, HashSet, VecDeque};

/// The 8-byte superblock signature.
const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Object header message: datatype.
const MSG_DATATYPE: u16 = 0x0003;
/// Object header message: link info (dense link storage).
const MSG_LINK_INFO: u16 = 0x0002;
/// Object header message: link.
const MSG_LINK: u16 = 0x0006;
/// Object header message: attribute.
const MSG_ATTRIBUTE: u16 = 0x000C;
/// Object header message: header continuation.
const MSG_CONTINUATION: u16 = 0x0010;
/// Object header message: symbol table (old-style group).
const MSG_SYMBOL_TABLE: u16 = 0x0011;
/// Object header message: attribute info (dense attribute storage).
const MSG_ATTRIBUTE_INFO: u16 = 0x0015;
/// Message flag bit: the message body is a shared-message reference.
const MSG_FLAG_SHARED: u8 = 0x02;

/// Cost charged against `max_attr_bytes` for every decoded string on top of its length.
const STRING_OVERHEAD: usize = 32;
/// Structure entries (messages, records, nodes, heap objects) allowed per `max_objects`.
const WORK_PER_OBJECT: usize = 256;
/// Deepest v1/v2 B-tree accepted (real trees are a few levels deep).
const MAX_BTREE_DEPTH: usize = 32;
/// Deepest chain of fractal heap indirect blocks followed.
const MAX_HEAP_NESTING: usize = 32;

/// Resource bounds for one call of [`attributes`] or [`global_heap_strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hdf5Limits {
    /// Groups and datasets visited (and, in [`global_heap_strings`], collections read).
    pub max_objects: usize,
    /// Group nesting depth below the root.
    pub max_depth: usize,
    /// Budget of decoded text (attribute names and values, link names, object paths), each
    /// string costing its length plus 32 bytes.
    pub max_attr_bytes: usize,
    /// Messages per object header, across all continuation chunks.
    pub max_messages: usize,
}

impl Default for Hdf5Limits {
    fn default() -> Self {
        Self {
            max_objects: 10_000,
            max_depth: 32,
            max_attr_bytes: 64 << 20,
            max_messages: 4096,
        }
    }
}

/// Value of an attribute, as far as this reader cares.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Fixed or variable-length string scalar, lossy UTF-8.
    Str(String),
    /// Array of strings (1-D; higher ranks are flattened, a null dataspace gives an empty list).
    StrList(Vec<String>),
    /// Any non-string datatype (or a shared datatype/dataspace that could not be resolved).
    Other,
}

/// One attribute of a group or dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Path of the object carrying the attribute: `/` for the root, `/model_weights/dense` …
    pub object_path: String,
    /// Attribute name (lossy UTF-8).
    pub name: String,
    /// Decoded value.
    pub value: AttrValue,
    /// File offset of the attribute message body (in the object header or the fractal heap).
    pub offset: u64,
}

/// Why an HDF5 file could not be read (completely).
#[derive(Debug, thiserror::Error)]
pub enum Hdf5Error {
    /// No superblock signature at any allowed offset.
    #[error("not an HDF5 file (no superblock signature)")]
    NotHdf5,
    /// A structure is inconsistent, truncated or unsupported.
    #[error("{what} at offset {offset}")]
    Malformed {
        /// What is wrong.
        what: String,
        /// Absolute file offset where it was noticed.
        offset: u64,
    },
    /// One of the [`Hdf5Limits`] (or the internal work budget) was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
}

/// Result type of this module.
type Result<T, E = Hdf5Error> = std::result::Result<T, E>;

/// Builds a [`Hdf5Error::Malformed`].
fn malformed(what: impl Into<String>, offset: usize) -> Hdf5Error {
    Hdf5Error::Malformed {
        what: what.into(),
        offset: offset as u64,
    }
}

/// Converts a file-supplied number to `usize`.
fn to_usize(v: u64, what: &str, at: usize) -> Result<usize> {
    usize::try_from(v).map_err(|_| malformed(format!("{what} too large ({v})"), at))
}

/// Rounds up to a multiple of 8.
fn pad8(n: usize) -> Option<usize> {
    n.checked_add(7).map(|v| v & !7)
}

/// Lossy UTF-8 of `bytes` without trailing NULs (and trailing spaces if `space_pad`).
fn text(bytes: &[u8], space_pad: bool) -> String {
    let mut end = bytes.len();
    while let Some(&b) = end.checked_sub(1).and_then(|i| bytes.get(i)) {
        if b == 0 || (space_pad && b == b' ') {
            end -= 1;
        } else {
            break;
        }
    }
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// Bounds-checked little-endian reader over `data[pos..end]`; errors carry absolute offsets.
#[derive(Clone)]
struct Cursor<'a> {
    /// The whole file.
    data: &'a [u8],
    /// Next byte to read.
    pos: usize,
    /// End (exclusive) of the region this cursor may read.
    end: usize,
}

impl<'a> Cursor<'a> {
    /// Cursor over `data[start..start + len]`, which must lie inside the file.
    fn new(data: &'a [u8], start: usize, len: usize, what: &str) -> Result<Self> {
        match start.checked_add(len) {
            Some(end) if end <= data.len() => Ok(Self {
                data,
                pos: start,
                end,
            }),
            _ => Err(malformed(
                format!("{what} ({len} bytes) extends past end of file"),
                start,
            )),
        }
    }

    /// Cursor from `start` to the end of the file.
    fn to_end(data: &'a [u8], start: usize, what: &str) -> Result<Self> {
        let len = data
            .len()
            .checked_sub(start)
            .ok_or_else(|| malformed(format!("{what} starts past end of file"), start))?;
        Self::new(data, start, len, what)
    }

    /// Bytes left in the region.
    fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// Reads `n` bytes.
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let stop = self
            .pos
            .checked_add(n)
            .filter(|&s| s <= self.end)
            .ok_or_else(|| malformed(format!("truncated {what}"), self.pos))?;
        let out = self
            .data
            .get(self.pos..stop)
            .ok_or_else(|| malformed(format!("truncated {what}"), self.pos))?;
        self.pos = stop;
        Ok(out)
    }

    /// Skips `n` bytes.
    fn skip(&mut self, n: usize, what: &str) -> Result<()> {
        self.take(n, what).map(|_| ())
    }

    /// Reads a little-endian unsigned integer of `size` (at most 8) bytes.
    fn uint(&mut self, size: usize, what: &str) -> Result<u64> {
        if size > 8 {
            return Err(malformed(
                format!("{what}: {size}-byte integer unsupported"),
                self.pos,
            ));
        }
        let bytes = self.take(size, what)?;
        let mut buf = [0u8; 8];
        if let Some(dst) = buf.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        Ok(u64::from_le_bytes(buf))
    }

    /// Reads `N` bytes as an array.
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let at = self.pos;
        self.take(N, what)?
            .try_into()
            .map_err(|_| malformed(format!("truncated {what}"), at))
    }

    /// Reads one byte.
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u16`.
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u32`.
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Reads a 4-byte signature and checks it.
    fn signature(&mut self, sig: [u8; 4], what: &str) -> Result<()> {
        let at = self.pos;
        if self.take(4, what)? == sig {
            Ok(())
        } else {
            Err(malformed(format!("bad {what} signature"), at))
        }
    }
}

/// One object header message: type, flags and the absolute range of its body.
#[derive(Clone, Copy)]
struct Msg {
    /// Message type.
    kind: u16,
    /// Message flags.
    flags: u8,
    /// Absolute offset of the body.
    start: usize,
    /// Body length.
    len: usize,
}

/// String datatype of an attribute, or not a string.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StrType {
    /// Fixed-length string of this many bytes per element.
    Fixed {
        /// Element size.
        size: usize,
        /// Space-padded (trailing spaces removed).
        space_pad: bool,
    },
    /// Variable-length string stored in the global heap.
    Vlen,
    /// Anything else.
    NotString,
}

/// Shape of a dataspace.
#[derive(Clone, Copy)]
enum Shape {
    /// One element.
    Scalar,
    /// This many elements (simple dataspace flattened, or 0 for null).
    Array(u64),
}

/// One object of a global heap collection: its index and the absolute range of its data.
#[derive(Clone, Copy)]
struct GObj {
    /// Heap object index.
    index: u16,
    /// Absolute offset of the object data.
    start: usize,
    /// Object data length.
    len: usize,
}

/// Parameters of a fractal heap needed to locate its objects.
struct FHeap {
    /// Length of heap IDs.
    id_len: usize,
    /// Address of the v2 B-tree of huge objects.
    huge_btree: Option<u64>,
    /// Huge object IDs hold address and length directly.
    huge_direct: bool,
    /// Doubling table width.
    width: u64,
    /// Starting block size.
    start_block: u64,
    /// log2 of the starting block size plus log2 of the width.
    first_row_bits: u64,
    /// Rows of direct blocks in an indirect block.
    max_direct_rows: u64,
    /// Bytes of a heap offset (in IDs and block headers).
    off_size: usize,
    /// Bytes of a managed object length in IDs.
    len_size: usize,
    /// Root block address.
    root: Option<u64>,
    /// Rows in the root indirect block (0: root is a direct block).
    cur_rows: u64,
}

/// The reader state for one call: file geometry, budgets, caches and the first error seen.
struct Reader<'a> {
    /// The whole file.
    data: &'a [u8],
    /// Absolute offset that file addresses are relative to.
    base: u64,
    /// Size of offsets (addresses) in bytes.
    so: usize,
    /// Size of lengths in bytes.
    sl: usize,
    /// Limits of this call.
    limits: Hdf5Limits,
    /// Remaining work units.
    work: usize,
    /// Remaining text budget.
    bytes: usize,
    /// A global budget ran out: stop everything.
    stop: bool,
    /// First error noticed (the walk goes on past local errors).
    error: Option<Hdf5Error>,
    /// Parsed global heap collections by absolute offset.
    gcols: HashMap<usize, HashMap<u16, GObj>>,
    /// Global heap collections referenced by attributes, in order of first reference.
    gcol_refs: Vec<usize>,
}

impl<'a> Reader<'a> {
    /// Reader with the given geometry and fresh budgets.
    fn new(data: &'a [u8], base: u64, so: usize, sl: usize, limits: &Hdf5Limits) -> Self {
        Self {
            data,
            base,
            so,
            sl,
            limits: *limits,
            work: limits.max_objects.saturating_mul(WORK_PER_OBJECT),
            bytes: limits.max_attr_bytes,
            stop: false,
            error: None,
            gcols: HashMap::new(),
            gcol_refs: Vec::new(),
        }
    }

    /// Parses the superblock; returns the reader and the absolute root object header offset.
    fn open(data: &'a [u8], limits: &Hdf5Limits) -> Result<(Self, usize)> {
        let sb = find_superblock(data).ok_or(Hdf5Error::NotHdf5)?;
        let sb = to_usize(sb, "superblock offset", 0)?;
        let mut c = Cursor::to_end(data, sb, "superblock")?;
        c.skip(8, "superblock signature")?;
        let version = c.u8("superblock version")?;
        let (so, sl) = match version {
            0 | 1 => {
                c.skip(4, "superblock versions")?;
                let so = c.u8("size of offsets")?;
                let sl = c.u8("size of lengths")?;
                c.skip(1 + 4 + 4, "superblock fields")?;
                if version == 1 {
                    c.skip(4, "indexed storage K")?;
                }
                (so, sl)
            }
            2 | 3 => {
                let so = c.u8("size of offsets")?;
                let sl = c.u8("size of lengths")?;
                c.skip(1, "consistency flags")?;
                (so, sl)
            }
            v => return Err(malformed(format!("unsupported superblock version {v}"), sb)),
        };
        for (name, size) in [("offsets", so), ("lengths", sl)] {
            if ![2, 4, 8].contains(&size) {
                return Err(malformed(format!("unsupported size of {name}: {size}"), sb));
            }
        }
        // The library takes addresses relative to where the superblock was found (user blocks).
        let r = Self::new(data, sb as u64, usize::from(so), usize::from(sl), limits);
        let root = if version < 2 {
            // base, free-space info, end of file, driver info; then the root symbol table
            // entry: link name offset, object header address, ...
            c.skip(r.so.saturating_mul(5), "superblock addresses")?;
            r.addr(&mut c, "root object header")?
        } else {
            // base, superblock extension, end of file, root object header.
            c.skip(r.so.saturating_mul(3), "superblock addresses")?;
            r.addr(&mut c, "root object header")?
        };
        let root = root.ok_or_else(|| malformed("undefined root object header address", sb))?;
        let root = r.abs(root, sb, "root object header")?;
        Ok((r, root))
    }

    /// Records `e` if it is the first error.
    fn note(&mut self, e: Hdf5Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Spends one work unit.
    fn tick(&mut self) -> Result<()> {
        if self.stop {
            return Err(Hdf5Error::Limit(
                "stopped after an exceeded limit".to_owned(),
            ));
        }
        if self.work == 0 {
            self.stop = true;
            return Err(Hdf5Error::Limit(format!(
                "work budget of {} structure entries (max_objects × {WORK_PER_OBJECT})",
                self.limits.max_objects.saturating_mul(WORK_PER_OBJECT)
            )));
        }
        self.work -= 1;
        Ok(())
    }

    /// Charges a string of `n` bytes against the text budget.
    fn charge(&mut self, n: usize) -> Result<()> {
        let cost = n.saturating_add(STRING_OVERHEAD);
        if cost > self.bytes {
            self.stop = true;
            return Err(Hdf5Error::Limit(format!(
                "max_attr_bytes ({}) of decoded text",
                self.limits.max_attr_bytes
            )));
        }
        self.bytes -= cost;
        Ok(())
    }

    /// Reads an address; `None` if it is the undefined address (all bits set).
    fn addr(&self, c: &mut Cursor<'_>, what: &str) -> Result<Option<u64>> {
        let v = c.uint(self.so, what)?;
        let undefined = if self.so >= 8 {
            u64::MAX
        } else {
            (1u64 << (self.so * 8)) - 1
        };
        Ok((v != undefined).then_some(v))
    }

    /// Reads a length field.
    fn length(&self, c: &mut Cursor<'_>, what: &str) -> Result<usize> {
        let at = c.pos;
        to_usize(c.uint(self.sl, what)?, what, at)
    }

    /// Converts a file address to an absolute offset inside the file.
    fn abs(&self, addr: u64, at: usize, what: &str) -> Result<usize> {
        self.base
            .checked_add(addr)
            .and_then(|a| usize::try_from(a).ok())
            .filter(|&a| a < self.data.len())
            .ok_or_else(|| malformed(format!("{what} address {addr} outside the file"), at))
    }

    /// Reads an address that must be defined and inside the file.
    fn req_addr(&self, c: &mut Cursor<'_>, what: &str) -> Result<usize> {
        let at = c.pos;
        let a = self
            .addr(c, what)?
            .ok_or_else(|| malformed(format!("undefined {what} address"), at))?;
        self.abs(a, at, what)
    }

    /// Reads all messages of the object header at `at`, following continuations.
    fn header_messages(&mut self, at: usize) -> Result<Vec<Msg>> {
        let mut c = Cursor::to_end(self.data, at, "object header")?;
        let first = c.take(4, "object header")?;
        let v2 = first == b"OHDR";
        let mut creation_order = false;
        let mut queue = VecDeque::new();
        if v2 {
            let version = c.u8("object header version")?;
            if version != 2 {
                return Err(malformed(format!("unsupported OHDR version {version}"), at));
            }
            let flags = c.u8("object header flags")?;
            if flags & 0x20 != 0 {
                c.skip(16, "object header times")?;
            }
            if flags & 0x10 != 0 {
                c.skip(4, "attribute phase change values")?;
            }
            creation_order = flags & 0x04 != 0;
            let size_at = c.pos;
            let size = to_usize(
                c.uint(1 << (flags & 3), "chunk size")?,
                "chunk size",
                size_at,
            )?;
            queue.push_back((c.pos, size));
        } else {
            if first.first() != Some(&1) {
                return Err(malformed("unknown object header version", at));
            }
            c.skip(4, "object reference count")?;
            let size_at = c.pos;
            let size = to_usize(
                u64::from(c.u32("object header size")?),
                "header size",
                size_at,
            )?;
            c.skip(4, "object header padding")?;
            queue.push_back((c.pos, size));
        }
        let mut seen = HashSet::from([at]);
        let mut msgs = Vec::new();
        let msg_header = match (v2, creation_order) {
            (true, true) => 6,
            (true, false) => 4,
            (false, _) => 8,
        };
        while let Some((start, len)) = queue.pop_front() {
            let mut c = Cursor::new(self.data, start, len, "object header chunk")?;
            while c.remaining() >= msg_header {
                self.tick()?;
                if msgs.len() >= self.limits.max_messages {
                    return Err(Hdf5Error::Limit(format!(
                        "more than {} messages in the object header at offset {at}",
                        self.limits.max_messages
                    )));
                }
                let (kind, size, flags) = if v2 {
                    let kind = u16::from(c.u8("message type")?);
                    let size = c.u16("message size")?;
                    let flags = c.u8("message flags")?;
                    if creation_order {
                        c.skip(2, "message creation order")?;
                    }
                    (kind, size, flags)
                } else {
                    let kind = c.u16("message type")?;
                    let size = c.u16("message size")?;
                    let flags = c.u8("message flags")?;
                    c.skip(3, "message reserved bytes")?;
                    (kind, size, flags)
                };
                let start = c.pos;
                let len = usize::from(size);
                c.skip(len, "header message body")?;
                if kind == MSG_CONTINUATION {
                    let (chunk, chunk_len) = self.continuation(start, len, v2)?;
                    if !seen.insert(chunk) {
                        return Err(malformed("object header continuation loop", start));
                    }
                    queue.push_back((chunk, chunk_len));
                }
                msgs.push(Msg {
                    kind,
                    flags,
                    start,
                    len,
                });
            }
        }
        Ok(msgs)
    }

    /// Decodes a continuation message: the absolute range of the messages of the next chunk.
    fn continuation(&self, start: usize, len: usize, v2: bool) -> Result<(usize, usize)> {
        let mut m = Cursor::new(self.data, start, len, "continuation message")?;
        let chunk = self.req_addr(&mut m, "continuation chunk")?;
        let chunk_len = self.length(&mut m, "continuation length")?;
        if !v2 {
            return Ok((chunk, chunk_len));
        }
        let mut k = Cursor::new(self.data, chunk, chunk_len, "continuation chunk")?;
        k.signature(*b"OCHK", "continuation chunk")?;
        let inner = chunk_len
            .checked_sub(8)
            .ok_or_else(|| malformed("continuation chunk too short", chunk))?;
        Ok((k.pos, inner))
    }

    /// Visits one object: appends its attributes to `out`, returns its hard links (name, address).
    fn visit(
        &mut self,
        at: usize,
        path: &str,
        out: &mut Vec<Attribute>,
    ) -> Result<Vec<(String, u64)>> {
        let msgs = self.header_messages(at)?;
        for m in msgs.iter().filter(|m| m.kind == MSG_ATTRIBUTE) {
            if self.stop {
                break;
            }
            let res = if m.flags & MSG_FLAG_SHARED != 0 {
                Ok((String::new(), AttrValue::Other))
            } else {
                self.attribute(m.start, m.len)
            };
            match res.and_then(|(name, value)| self.push_attr(out, path, name, value, m.start)) {
                Ok(()) => {}
                Err(e) => self.note(e),
            }
        }
        for m in msgs.iter().filter(|m| m.kind == MSG_ATTRIBUTE_INFO) {
            if self.stop {
                break;
            }
            if let Err(e) = self.dense_attributes(*m, path, out) {
                self.note(e);
            }
        }
        let mut children = Vec::new();
        for m in &msgs {
            if self.stop {
                break;
            }
            let res = match m.kind {
                MSG_SYMBOL_TABLE => self.symbol_table(*m, &mut children),
                MSG_LINK => self.link(m.start, m.len).map(|l| children.extend(l)),
                MSG_LINK_INFO => self.dense_links(*m, &mut children),
                _ => Ok(()),
            };
            if let Err(e) = res {
                self.note(e);
            }
        }
        Ok(children)
    }

    /// Charges and appends one attribute.
    fn push_attr(
        &mut self,
        out: &mut Vec<Attribute>,
        path: &str,
        name: String,
        value: AttrValue,
        offset: usize,
    ) -> Result<()> {
        self.charge(path.len())?;
        out.push(Attribute {
            object_path: path.to_owned(),
            name,
            value,
            offset: offset as u64,
        });
        Ok(())
    }

    /// Decodes an attribute message body: name and value.
    fn attribute(&mut self, start: usize, len: usize) -> Result<(String, AttrValue)> {
        let mut c = Cursor::new(self.data, start, len, "attribute message")?;
        let version = c.u8("attribute version")?;
        if !(1..=3).contains(&version) {
            return Err(malformed(
                format!("unsupported attribute message version {version}"),
                start,
            ));
        }
        let flags = c.u8("attribute flags")?;
        let flags = if version == 1 { 0 } else { flags };
        let name_size = usize::from(c.u16("attribute name size")?);
        let type_size = usize::from(c.u16("attribute datatype size")?);
        let space_size = usize::from(c.u16("attribute dataspace size")?);
        if version == 3 {
            c.skip(1, "attribute name encoding")?;
        }
        let padded = |n: usize| {
            if version == 1 {
                pad8(n).ok_or_else(|| malformed("attribute field size overflow", start))
            } else {
                Ok(n)
            }
        };
        let name_raw = c.take(padded(name_size)?, "attribute name")?;
        let name = text(name_raw.get(..name_size).unwrap_or_default(), false);
        self.charge(name.len())?;
        let type_at = c.pos;
        c.skip(padded(type_size)?, "attribute datatype")?;
        let space_at = c.pos;
        c.skip(padded(space_size)?, "attribute dataspace")?;
        let ty = if flags & 0x01 != 0 {
            self.shared_datatype(type_at, type_size)?
        } else {
            parse_datatype(&mut Cursor::new(
                self.data,
                type_at,
                type_size,
                "attribute datatype",
            )?)?
        };
        if ty == StrType::NotString || flags & 0x02 != 0 {
            return Ok((name, AttrValue::Other));
        }
        let shape = self.dataspace(&mut Cursor::new(
            self.data,
            space_at,
            space_size,
            "attribute dataspace",
        )?)?;
        let value = self.strings(ty, shape, c.pos, c.remaining())?;
        Ok((name, value))
    }

    /// Resolves a shared (committed) datatype reference to the datatype it points at.
    fn shared_datatype(&mut self, start: usize, len: usize) -> Result<StrType> {
        let mut c = Cursor::new(self.data, start, len, "shared datatype")?;
        let version = c.u8("shared message version")?;
        match version {
            1 => c.skip(7, "shared message reserved bytes")?,
            2 => c.skip(1, "shared message type")?,
            3 => {
                if c.u8("shared message type")? != 2 {
                    // Stored in the shared-message heap: not resolved.
                    return Ok(StrType::NotString);
                }
            }
            v => {
                return Err(malformed(
                    format!("unsupported shared message version {v}"),
                    start,
                ));
            }
        }
        let at = self.req_addr(&mut c, "committed datatype")?;
        let msgs = self.header_messages(at)?;
        match msgs.iter().find(|m| m.kind == MSG_DATATYPE) {
            Some(m) if m.flags & MSG_FLAG_SHARED == 0 => parse_datatype(&mut Cursor::new(
                self.data,
                m.start,
                m.len,
                "committed datatype",
            )?),
            _ => Ok(StrType::NotString),
        }
    }

    /// Parses a dataspace message.
    fn dataspace(&self, c: &mut Cursor<'_>) -> Result<Shape> {
        let at = c.pos;
        let version = c.u8("dataspace version")?;
        let rank = c.u8("dataspace rank")?;
        c.skip(1, "dataspace flags")?;
        let kind = match version {
            1 => {
                c.skip(5, "dataspace reserved bytes")?;
                u8::from(rank != 0)
            }
            2 => c.u8("dataspace type")?,
            v => return Err(malformed(format!("unsupported dataspace version {v}"), at)),
        };
        if rank > 32 {
            return Err(malformed(format!("dataspace rank {rank} above 32"), at));
        }
        let mut count: u64 = 1;
        for _ in 0..rank {
            let dim = c.uint(self.sl, "dataspace dimension")?;
            count = count
                .checked_mul(dim)
                .ok_or_else(|| malformed("dataspace size overflow", at))?;
        }
        match kind {
            0 => Ok(Shape::Scalar),
            1 if rank == 0 => Ok(Shape::Scalar),
            1 => Ok(Shape::Array(count)),
            2 => Ok(Shape::Array(0)),
            k => Err(malformed(format!("unknown dataspace type {k}"), at)),
        }
    }

    /// Decodes string attribute data at `start..start + len`.
    fn strings(
        &mut self,
        ty: StrType,
        shape: Shape,
        start: usize,
        len: usize,
    ) -> Result<AttrValue> {
        let (count, scalar) = match shape {
            Shape::Scalar => (1, true),
            Shape::Array(n) => (n, false),
        };
        let elem = match ty {
            StrType::Fixed { size, .. } => size,
            StrType::Vlen => self.so.saturating_add(8),
            StrType::NotString => return Ok(AttrValue::Other),
        };
        let need = count
            .checked_mul(elem as u64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= len)
            .ok_or_else(|| malformed("attribute data shorter than dataspace × datatype", start))?;
        let mut c = Cursor::new(self.data, start, need, "attribute data")?;
        let mut out = Vec::new();
        for _ in 0..count {
            self.tick()?;
            let s = match ty {
                StrType::Fixed { size, space_pad } => {
                    text(c.take(size, "fixed string")?, space_pad)
                }
                _ => self.vlen_string(&mut c)?,
            };
            self.charge(s.len())?;
            out.push(s);
        }
        Ok(if scalar {
            AttrValue::Str(out.pop().unwrap_or_default())
        } else {
            AttrValue::StrList(out)
        })
    }

    /// Reads one variable-length string element (length, collection address, object index).
    fn vlen_string(&mut self, c: &mut Cursor<'_>) -> Result<String> {
        let at = c.pos;
        let len = c.u32("vlen length")? as usize;
        let addr = self.addr(c, "global heap collection")?;
        let index = c.u32("global heap object index")?;
        if len == 0 {
            return Ok(String::new());
        }
        let addr = addr.ok_or_else(|| malformed("vlen string without global heap address", at))?;
        let gcol = self.abs(addr, at, "global heap collection")?;
        if !self.gcols.contains_key(&gcol) {
            let objs = self.global_heap(gcol)?;
            self.gcols
                .insert(gcol, objs.into_iter().map(|o| (o.index, o)).collect());
            self.gcol_refs.push(gcol);
        }
        let obj = self
            .gcols
            .get(&gcol)
            .zip(u16::try_from(index).ok())
            .and_then(|(objs, index)| objs.get(&index).copied())
            .ok_or_else(|| malformed(format!("global heap object {index} not found"), gcol))?;
        let bytes = Cursor::new(self.data, obj.start, obj.len.min(len), "global heap object")?
            .take(obj.len.min(len), "global heap object")?;
        Ok(text(bytes, false))
    }

    /// Parses the global heap collection at `at` into its object list.
    fn global_heap(&mut self, at: usize) -> Result<Vec<GObj>> {
        let mut c = Cursor::to_end(self.data, at, "global heap collection")?;
        c.signature(*b"GCOL", "global heap collection")?;
        let version = c.u8("global heap version")?;
        if version != 1 {
            return Err(malformed(
                format!("unsupported global heap version {version}"),
                at,
            ));
        }
        c.skip(3, "global heap reserved bytes")?;
        let size = self.length(&mut c, "global heap collection size")?;
        // Collection and object headers are both padded to multiples of 8 bytes.
        let header = pad8(8 + self.sl).unwrap_or(16);
        let mut c = Cursor::new(self.data, at, size, "global heap collection")?;
        c.skip(header, "global heap collection header")?;
        let mut objs = Vec::new();
        while c.remaining() >= header {
            self.tick()?;
            let index = c.u16("global heap object index")?;
            c.skip(6, "global heap object reference count")?;
            let len = self.length(&mut c, "global heap object size")?;
            c.skip(header - 8 - self.sl, "global heap object header padding")?;
            if index == 0 {
                break; // free space: the rest of the collection
            }
            let start = c.pos;
            c.skip(len, "global heap object")?;
            let pad = pad8(len).map_or(0, |p| p - len).min(c.remaining());
            c.skip(pad, "global heap object padding")?;
            objs.push(GObj { index, start, len });
        }
        Ok(objs)
    }

    /// Reads the children of an old-style group (symbol table message).
    fn symbol_table(&mut self, m: Msg, children: &mut Vec<(String, u64)>) -> Result<()> {
        let mut c = Cursor::new(self.data, m.start, m.len, "symbol table message")?;
        let btree = self.req_addr(&mut c, "group B-tree")?;
        let heap = self.req_addr(&mut c, "local heap")?;
        let mut h = Cursor::to_end(self.data, heap, "local heap")?;
        h.signature(*b"HEAP", "local heap")?;
        h.skip(4, "local heap version")?;
        let seg_len = self.length(&mut h, "local heap data size")?;
        h.skip(self.sl, "local heap free list")?;
        let seg_at = self.req_addr(&mut h, "local heap data")?;
        let segment = Cursor::new(self.data, seg_at, seg_len, "local heap data")?
            .take(seg_len, "local heap data")?;

        let mut stack = vec![(btree, None::<u8>)];
        let mut seen = HashSet::new();
        while let Some((node, level_expected)) = stack.pop() {
            self.tick()?;
            if !seen.insert(node) {
                return Err(malformed("group B-tree node reached twice", node));
            }
            let mut c = Cursor::to_end(self.data, node, "group B-tree node")?;
            c.signature(*b"TREE", "group B-tree node")?;
            if c.u8("B-tree node type")? != 0 {
                return Err(malformed("group B-tree node of wrong type", node));
            }
            let level = c.u8("B-tree node level")?;
            if level_expected.is_some_and(|l| l != level) || usize::from(level) > MAX_BTREE_DEPTH {
                return Err(malformed(format!("bad group B-tree level {level}"), node));
            }
            let used = c.u16("B-tree entries used")?;
            c.skip(self.so.saturating_mul(2), "B-tree siblings")?;
            let mut kids = Vec::new();
            for _ in 0..used {
                self.tick()?;
                c.skip(self.sl, "B-tree key")?;
                kids.push(self.req_addr(&mut c, "B-tree child")?);
            }
            if level == 0 {
                for snod in kids {
                    self.symbol_node(snod, segment, seg_at, children)?;
                }
            } else {
                stack.extend(kids.into_iter().rev().map(|k| (k, Some(level - 1))));
            }
        }
        Ok(())
    }

    /// Reads the entries of one symbol table node (`SNOD`), names from the local heap segment.
    fn symbol_node(
        &mut self,
        at: usize,
        segment: &[u8],
        seg_at: usize,
        children: &mut Vec<(String, u64)>,
    ) -> Result<()> {
        let mut c = Cursor::to_end(self.data, at, "symbol table node")?;
        c.signature(*b"SNOD", "symbol table node")?;
        c.skip(2, "symbol table node version")?;
        let count = c.u16("symbol count")?;
        for _ in 0..count {
            self.tick()?;
            let name_at = c.pos;
            let name_off = to_usize(
                c.uint(self.so, "link name offset")?,
                "link name offset",
                name_at,
            )?;
            let header = self.addr(&mut c, "symbol object header")?;
            c.skip(24, "symbol table entry cache")?;
            let Some(header) = header else {
                continue;
            };
            let name = segment
                .get(name_off..)
                .ok_or_else(|| malformed("link name outside local heap", seg_at))?;
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            self.charge(name.len())?;
            children.push((String::from_utf8_lossy(name).into_owned(), header));
        }
        Ok(())
    }

    /// Parses a link message; returns the name and target of a hard link.
    fn link(&mut self, start: usize, len: usize) -> Result<Option<(String, u64)>> {
        let mut c = Cursor::new(self.data, start, len, "link message")?;
        let version = c.u8("link version")?;
        if version != 1 {
            return Err(malformed(
                format!("unsupported link message version {version}"),
                start,
            ));
        }
        let flags = c.u8("link flags")?;
        let kind = if flags & 0x08 != 0 {
            c.u8("link type")?
        } else {
            0
        };
        if flags & 0x04 != 0 {
            c.skip(8, "link creation order")?;
        }
        if flags & 0x10 != 0 {
            c.skip(1, "link name charset")?;
        }
        let name_at = c.pos;
        let name_len = to_usize(
            c.uint(1 << (flags & 3), "link name length")?,
            "link name length",
            name_at,
        )?;
        let name = c.take(name_len, "link name")?;
        if kind != 0 {
            return Ok(None); // soft, external or user-defined link: not followed
        }
        self.charge(name.len())?;
        let name = String::from_utf8_lossy(name).into_owned();
        Ok(self.addr(&mut c, "link target")?.map(|a| (name, a)))
    }

    /// Reads the links of a group with dense link storage.
    fn dense_links(&mut self, m: Msg, children: &mut Vec<(String, u64)>) -> Result<()> {
        let mut c = Cursor::new(self.data, m.start, m.len, "link info message")?;
        c.skip(1, "link info version")?;
        let flags = c.u8("link info flags")?;
        if flags & 0x01 != 0 {
            c.skip(8, "maximum creation index")?;
        }
        let heap = self.addr(&mut c, "link fractal heap")?;
        let btree = self.addr(&mut c, "link name index")?;
        let (Some(heap), Some(btree)) = (heap, btree) else {
            return Ok(()); // compact storage
        };
        let heap = self.fractal_heap(self.abs(heap, m.start, "link fractal heap")?)?;
        let (records, rec_size) = self.btree2(self.abs(btree, m.start, "link name index")?, 5)?;
        for rec in records {
            // Record: name hash (4), heap ID.
            let id_at = rec.saturating_add(4);
            let (start, len) = self.heap_object(&heap, id_at, rec_size.saturating_sub(4))?;
            if let Some(l) = self.link(start, len)? {
                children.push(l);
            }
        }
        Ok(())
    }

    /// Reads the attributes of an object with dense attribute storage.
    fn dense_attributes(&mut self, m: Msg, path: &str, out: &mut Vec<Attribute>) -> Result<()> {
        let mut c = Cursor::new(self.data, m.start, m.len, "attribute info message")?;
        c.skip(1, "attribute info version")?;
        let flags = c.u8("attribute info flags")?;
        if flags & 0x01 != 0 {
            c.skip(2, "maximum creation index")?;
        }
        let heap = self.addr(&mut c, "attribute fractal heap")?;
        let btree = self.addr(&mut c, "attribute name index")?;
        let (Some(heap), Some(btree)) = (heap, btree) else {
            return Ok(()); // compact storage
        };
        let heap = self.fractal_heap(self.abs(heap, m.start, "attribute fractal heap")?)?;
        let (records, rec_size) =
            self.btree2(self.abs(btree, m.start, "attribute name index")?, 8)?;
        for rec in records {
            if self.stop {
                break;
            }
            // Record: heap ID (8), message flags (1), creation order (4), hash (4).
            let flags = Cursor::new(self.data, rec.saturating_add(8), 1, "attribute record")
                .and_then(|mut r| r.u8("attribute record flags"));
            let res = flags.and_then(|flags| {
                let (start, len) = self.heap_object(&heap, rec, rec_size.min(8))?;
                let (name, value) = if flags & MSG_FLAG_SHARED != 0 {
                    (String::new(), AttrValue::Other)
                } else {
                    self.attribute(start, len)?
                };
                self.push_attr(out, path, name, value, start)
            });
            if let Err(e) = res {
                self.note(e);
            }
        }
        Ok(())
    }

    /// Parses a fractal heap header (`FRHP`).
    fn fractal_heap(&mut self, at: usize) -> Result<FHeap> {
        self.tick()?;
        let mut c = Cursor::to_end(self.data, at, "fractal heap header")?;
        c.signature(*b"FRHP", "fractal heap header")?;
        c.skip(1, "fractal heap version")?;
        let id_len = usize::from(c.u16("heap ID length")?);
        let filter_len = c.u16("I/O filter length")?;
        c.skip(1, "fractal heap flags")?;
        let max_managed = c.u32("maximum managed object size")?;
        c.skip(self.sl, "next huge object ID")?;
        let huge_btree = self.addr(&mut c, "huge object B-tree")?;
        c.skip(self.sl, "free space")?;
        c.skip(self.so, "free space manager")?;
        c.skip(self.sl.saturating_mul(8), "fractal heap statistics")?;
        let width = u64::from(c.u16("table width")?);
        let start_block = c.uint(self.sl, "starting block size")?;
        let max_direct = c.uint(self.sl, "maximum direct block size")?;
        let max_heap_bits = c.u16("maximum heap size")?;
        c.skip(2, "starting rows")?;
        let root = self.addr(&mut c, "fractal heap root block")?;
        let cur_rows = u64::from(c.u16("root rows")?);
        if filter_len != 0 {
            return Err(malformed("filtered fractal heap not supported", at));
        }
        if !width.is_power_of_two()
            || !start_block.is_power_of_two()
            || !max_direct.is_power_of_two()
            || max_direct < start_block
            || !(1..=64).contains(&max_heap_bits)
        {
            return Err(malformed("inconsistent fractal heap parameters", at));
        }
        let log2 = |v: u64| u64::from(v.checked_ilog2().unwrap_or(0));
        let off_size = usize::from(max_heap_bits).div_ceil(8);
        let len_size = usize::try_from(
            (log2(max_direct).div_ceil(8)).min(log2(u64::from(max_managed)) / 8 + 1),
        )
        .map_err(|_| malformed("inconsistent fractal heap parameters", at))?;
        Ok(FHeap {
            id_len,
            huge_btree,
            huge_direct: id_len.saturating_sub(1) >= self.so.saturating_add(self.sl),
            width,
            start_block,
            first_row_bits: log2(start_block) + log2(width),
            max_direct_rows: log2(max_direct) - log2(start_block) + 2,
            off_size,
            len_size,
            root,
            cur_rows,
        })
    }

    /// Locates the object of the heap ID at `id_at` (at most `avail` bytes): absolute range.
    fn heap_object(&mut self, h: &FHeap, id_at: usize, avail: usize) -> Result<(usize, usize)> {
        self.tick()?;
        let mut c = Cursor::new(self.data, id_at, h.id_len.min(avail), "heap ID")?;
        let flags = c.u8("heap ID flags")?;
        if flags >> 6 != 0 {
            return Err(malformed("unsupported heap ID version", id_at));
        }
        match (flags >> 4) & 3 {
            0 => {
                let off = c.uint(h.off_size, "heap object offset")?;
                let len = to_usize(
                    c.uint(h.len_size, "heap object length")?,
                    "heap object length",
                    id_at,
                )?;
                self.managed_object(h, off, len, id_at)
            }
            1 => {
                let (addr, len) = if h.huge_direct {
                    let addr = self.req_addr(&mut c, "huge object")?;
                    (addr, self.length(&mut c, "huge object length")?)
                } else {
                    let key = c.uint(
                        h.id_len.saturating_sub(1).min(8).min(c.remaining()),
                        "huge object ID",
                    )?;
                    self.huge_object(h, key, id_at)?
                };
                Cursor::new(self.data, addr, len, "huge heap object")?;
                Ok((addr, len))
            }
            2 => {
                let low = usize::from(flags & 0x0f);
                let len = if h.id_len.saturating_sub(1) > 16 {
                    ((low << 8) | usize::from(c.u8("tiny object length")?)) + 1
                } else {
                    low + 1
                };
                let start = c.pos;
                c.skip(len, "tiny heap object")?;
                Ok((start, len))
            }
            _ => Err(malformed("unknown heap ID type", id_at)),
        }
    }

    /// Finds a huge object by ID in the heap's huge-object B-tree.
    fn huge_object(&mut self, h: &FHeap, key: u64, at: usize) -> Result<(usize, usize)> {
        let btree = h
            .huge_btree
            .ok_or_else(|| malformed("huge object without B-tree", at))?;
        let (records, _) = self.btree2(self.abs(btree, at, "huge object B-tree")?, 1)?;
        for rec in records {
            // Record: address, length, ID.
            let mut r = Cursor::to_end(self.data, rec, "huge object record")?;
            let addr = self.req_addr(&mut r, "huge object")?;
            let len = self.length(&mut r, "huge object length")?;
            if r.uint(self.sl, "huge object ID")? == key {
                return Ok((addr, len));
            }
        }
        Err(malformed(format!("huge heap object {key} not found"), at))
    }

    /// Locates a managed object at heap offset `off` through the doubling table.
    fn managed_object(
        &mut self,
        h: &FHeap,
        off: u64,
        len: usize,
        at: usize,
    ) -> Result<(usize, usize)> {
        let root = h
            .root
            .ok_or_else(|| malformed("object in an empty fractal heap", at))?;
        let mut block = self.abs(root, at, "fractal heap root block")?;
        if h.cur_rows == 0 {
            return self.direct_block(block, h.start_block, off, len);
        }
        let (mut rows, mut rel) = (h.cur_rows, off);
        for _ in 0..MAX_HEAP_NESTING {
            let mut c = Cursor::to_end(self.data, block, "fractal heap indirect block")?;
            c.signature(*b"FHIB", "fractal heap indirect block")?;
            c.skip(
                1usize.saturating_add(self.so).saturating_add(h.off_size),
                "indirect block header",
            )?;
            let entries_at = c.pos;
            let overflow = || malformed("fractal heap offset overflow", block);
            let mut row_start = 0u64;
            let mut found = None;
            for row in 0..rows {
                self.tick()?;
                let size = if row == 0 {
                    h.start_block
                } else {
                    u32::try_from(row - 1)
                        .ok()
                        .and_then(|shift| 1u64.checked_shl(shift))
                        .and_then(|p| p.checked_mul(h.start_block))
                        .ok_or_else(overflow)?
                };
                let row_end = size
                    .checked_mul(h.width)
                    .and_then(|s| s.checked_add(row_start))
                    .ok_or_else(overflow)?;
                if rel < row_end {
                    let inside = rel - row_start;
                    found = Some((row, size, inside / size, inside % size));
                    break;
                }
                row_start = row_end;
            }
            let (row, size, col, inner) = found
                .ok_or_else(|| malformed("fractal heap offset beyond indirect block", block))?;
            let entry = row
                .checked_mul(h.width)
                .and_then(|e| e.checked_add(col))
                .ok_or_else(overflow)?;
            let entry_at = to_usize(entry, "heap block entry", block)?
                .checked_mul(self.so)
                .and_then(|e| e.checked_add(entries_at))
                .ok_or_else(overflow)?;
            let mut e = Cursor::new(self.data, entry_at, self.so, "heap block entry")?;
            let child = self.req_addr(&mut e, "fractal heap child block")?;
            if row < h.max_direct_rows {
                return self.direct_block(child, size, inner, len);
            }
            rows = u64::from(size.checked_ilog2().unwrap_or(0))
                .checked_add(1)
                .and_then(|r| r.checked_sub(h.first_row_bits))
                .filter(|&r| r > 0)
                .ok_or_else(|| malformed("bad fractal heap indirect block size", block))?;
            block = child;
            rel = inner;
        }
        Err(malformed(
            "fractal heap indirect blocks nested too deeply",
            block,
        ))
    }

    /// Range of an object at `pos..pos + len` in the direct block at `at` of `size` bytes.
    fn direct_block(&self, at: usize, size: u64, pos: u64, len: usize) -> Result<(usize, usize)> {
        let mut c = Cursor::to_end(self.data, at, "fractal heap direct block")?;
        c.signature(*b"FHDB", "fractal heap direct block")?;
        if pos.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(malformed("heap object beyond its direct block", at));
        }
        let start = to_usize(pos, "heap object offset", at)?
            .checked_add(at)
            .ok_or_else(|| malformed("heap object offset overflow", at))?;
        Cursor::new(self.data, start, len, "heap object")?;
        Ok((start, len))
    }

    /// Collects the absolute offsets of all records of the v2 B-tree at `at` (of type `kind`),
    /// with the record size.
    fn btree2(&mut self, at: usize, kind: u8) -> Result<(Vec<usize>, usize)> {
        self.tick()?;
        let mut c = Cursor::to_end(self.data, at, "v2 B-tree header")?;
        c.signature(*b"BTHD", "v2 B-tree header")?;
        c.skip(1, "v2 B-tree version")?;
        if c.u8("v2 B-tree type")? != kind {
            return Err(malformed(format!("v2 B-tree is not of type {kind}"), at));
        }
        let node_size = c.u32("v2 B-tree node size")? as usize;
        let rec_size = usize::from(c.u16("v2 B-tree record size")?);
        let depth = usize::from(c.u16("v2 B-tree depth")?);
        c.skip(2, "v2 B-tree split/merge")?;
        let root = self.addr(&mut c, "v2 B-tree root")?;
        let root_nrec = u64::from(c.u16("v2 B-tree root records")?);
        let Some(root) = root else {
            return Ok((Vec::new(), rec_size));
        };
        let root = self.abs(root, at, "v2 B-tree root")?;
        if rec_size == 0 || depth > MAX_BTREE_DEPTH {
            return Err(malformed("unsupported v2 B-tree shape", at));
        }
        // Field sizes of child pointers, as the library derives them from the node size.
        let enc_size = |n: u64| (n.checked_ilog2().unwrap_or(0) / 8 + 1) as usize;
        let bad = || malformed("inconsistent v2 B-tree node size", at);
        let space = node_size.checked_sub(10).ok_or_else(bad)?;
        let leaf_max = u64::try_from(space / rec_size).map_err(|_| bad())?;
        let nrec_size = enc_size(leaf_max);
        let mut cum_max = vec![leaf_max];
        let mut cum_size = vec![0usize];
        for d in 1..=depth {
            let ptr = self.so
                + nrec_size
                + if d > 1 {
                    cum_size.get(d - 1).copied().unwrap_or(0)
                } else {
                    0
                };
            let max = u64::try_from(space.checked_sub(ptr).ok_or_else(bad)? / (rec_size + ptr))
                .map_err(|_| bad())?;
            let prev = cum_max.get(d - 1).copied().unwrap_or(0);
            let cum = max
                .checked_add(1)
                .and_then(|m| m.checked_mul(prev))
                .and_then(|m| m.checked_add(max))
                .unwrap_or(u64::MAX);
            cum_max.push(cum);
            cum_size.push(enc_size(cum));
        }

        let mut records = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![Step::Node(root, root_nrec, depth)];
        while let Some(step) = stack.pop() {
            let (node, nrec, d) = match step {
                Step::Rec(r) => {
                    records.push(r);
                    continue;
                }
                Step::Node(node, nrec, d) => (node, nrec, d),
            };
            self.tick()?;
            if !seen.insert(node) {
                return Err(malformed("v2 B-tree node reached twice", node));
            }
            let mut c = Cursor::new(self.data, node, node_size, "v2 B-tree node")?;
            c.signature(if d == 0 { *b"BTLF" } else { *b"BTIN" }, "v2 B-tree node")?;
            c.skip(2, "v2 B-tree node version/type")?;
            let nrec_us = to_usize(nrec, "v2 B-tree record count", node)?;
            let recs_at = c.pos;
            c.skip(
                nrec_us.checked_mul(rec_size).ok_or_else(bad)?,
                "v2 B-tree records",
            )?;
            let rec = |i: usize| recs_at + i * rec_size; // in bounds: checked by the skip above
            if d == 0 {
                for i in 0..nrec_us {
                    self.tick()?;
                    records.push(rec(i));
                }
                continue;
            }
            let total_size = if d > 1 {
                cum_size.get(d - 1).copied().unwrap_or(0)
            } else {
                0
            };
            let mut children = Vec::new();
            for _ in 0..=nrec_us {
                self.tick()?;
                let child = self.req_addr(&mut c, "v2 B-tree child")?;
                let child_nrec = c.uint(nrec_size, "v2 B-tree child records")?;
                c.skip(total_size, "v2 B-tree child total records")?;
                children.push((child, child_nrec));
            }
            // In-order: child 0, record 0, child 1, … pushed reversed.
            for (i, (child, child_nrec)) in children.into_iter().enumerate().rev() {
                stack.push(Step::Node(child, child_nrec, d - 1));
                if i > 0 {
                    stack.push(Step::Rec(rec(i - 1)));
                }
            }
        }
        Ok((records, rec_size))
    }
}

/// Traversal step of a v2 B-tree: a node to read or a record to emit (in key order).
enum Step {
    /// Node address, record count, depth.
    Node(usize, u64, usize),
    /// Record offset.
    Rec(usize),
}

/// Parses a datatype message: string kind, or not a string.
fn parse_datatype(c: &mut Cursor<'_>) -> Result<StrType> {
    let at = c.pos;
    let class = c.u8("datatype class")? & 0x0f;
    let bits = c.take(3, "datatype class bits")?;
    let size = c.u32("datatype size")? as usize;
    let low = bits.first().copied().unwrap_or(0) & 0x0f;
    match class {
        3 if size == 0 => Err(malformed("zero-size string datatype", at)),
        3 => Ok(StrType::Fixed {
            size,
            space_pad: low == 2,
        }),
        9 if low == 1 => Ok(StrType::Vlen),
        _ => Ok(StrType::NotString),
    }
}

/// Offset of the superblock signature (0, 512, 1024, 2048, … as the spec allows), if any.
#[must_use]
pub fn find_superblock(data: &[u8]) -> Option<u64> {
    let mut off: usize = 0;
    loop {
        if data.get(off..off.checked_add(SIGNATURE.len())?)? == SIGNATURE {
            return Some(off as u64);
        }
        off = if off == 0 { 512 } else { off.checked_mul(2)? };
    }
}

/// Walks the tree; returns the attributes found, the first error and the reader.
fn walk<'a>(
    data: &'a [u8],
    limits: &Hdf5Limits,
) -> (Vec<Attribute>, Option<Hdf5Error>, Option<Reader<'a>>) {
    let mut out = Vec::new();
    let (mut r, root) = match Reader::open(data, limits) {
        Ok(v) => v,
        Err(e) => return (out, Some(e), None),
    };
    let mut visited = HashSet::from([root]);
    let mut objects = 1usize;
    let mut stack = vec![(root, "/".to_owned(), 0usize)];
    if limits.max_objects == 0 {
        r.note(Hdf5Error::Limit("max_objects is 0".to_owned()));
        stack.clear();
    }
    while let Some((at, path, depth)) = stack.pop() {
        if r.stop {
            break;
        }
        let children = match r.visit(at, &path, &mut out) {
            Ok(c) => c,
            Err(e) => {
                r.note(e);
                continue;
            }
        };
        let mut next = Vec::new();
        for (name, addr) in children {
            let child = match r.abs(addr, at, "link target") {
                Ok(c) => c,
                Err(e) => {
                    r.note(e);
                    continue;
                }
            };
            if !visited.insert(child) {
                continue; // hard link to an object already seen (or a cycle)
            }
            if depth >= limits.max_depth {
                r.note(Hdf5Error::Limit(format!(
                    "group depth above {} at {path}",
                    limits.max_depth
                )));
                continue;
            }
            objects += 1;
            if objects > limits.max_objects {
                // Objects already queued are still visited; no more are queued.
                r.note(Hdf5Error::Limit(format!(
                    "more than {} objects",
                    limits.max_objects
                )));
                break;
            }
            let child_path = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            if let Err(e) = r.charge(child_path.len()) {
                r.note(e);
                break;
            }
            next.push((child, child_path, depth + 1));
        }
        stack.extend(next.into_iter().rev());
    }
    let err = r.error.take();
    (out, err, Some(r))
}

/// Walks the group tree from the root (bounded) and returns every attribute of every group and dataset it reaches,
/// root first. Must never panic on any input; hostile input yields `Hdf5Error` or a partial result.
///
/// # Errors
///
/// Any problem (malformed structure, exceeded limit) makes this an error; use
/// [`attributes_partial`] to get what could be read along with the first problem.
pub fn attributes(data: &[u8], limits: &Hdf5Limits) -> Result<Vec<Attribute>, Hdf5Error> {
    match attributes_partial(data, limits) {
        (attrs, None) => Ok(attrs),
        (_, Some(e)) => Err(e),
    }
}

/// Like [`attributes`], but keeps going past local problems (a broken attribute, group or
/// subtree is skipped) and returns everything read together with the first problem seen.
#[must_use]
pub fn attributes_partial(data: &[u8], limits: &Hdf5Limits) -> (Vec<Attribute>, Option<Hdf5Error>) {
    let (attrs, err, _) = walk(data, limits);
    (attrs, err)
}

/// Every object stored in global heap collections ("GCOL"), found by walking from attributes' references AND, as a fallback, by scanning for GCOL signatures; used to catch strings hidden where the walk doesn't reach. Bounded.
///
/// Returns `(file offset of the object data, lossy UTF-8 text)`, collections referenced by
/// attributes first. At most `max_objects` collections are read and `max_attr_bytes` of text
/// returned. Without a readable superblock, lengths are assumed to be 8 bytes.
#[must_use]
pub fn global_heap_strings(data: &[u8], limits: &Hdf5Limits) -> Vec<(u64, String)> {
    let (_, _, reader) = walk(data, limits);
    let (refs, sl) = reader.map_or((Vec::new(), 8), |r| (r.gcol_refs, r.sl));
    let mut r = Reader::new(data, 0, 8, sl, limits);
    let mut next = 0usize;
    let scan = std::iter::from_fn(|| {
        loop {
            let rest = data.get(next..)?;
            let at = next.checked_add(rest.iter().position(|&b| b == b'G')?)?;
            next = at.checked_add(1)?;
            if data.get(at..at.checked_add(4)?) == Some(b"GCOL".as_slice()) {
                return Some(at);
            }
        }
    });
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for at in refs.into_iter().chain(scan) {
        if !seen.insert(at) {
            continue;
        }
        if seen.len() > limits.max_objects {
            break;
        }
        let Ok(objs) = r.global_heap(at) else {
            if r.stop {
                break;
            }
            continue;
        };
        for o in objs {
            let bytes = data
                .get(o.start..o.start.saturating_add(o.len))
                .unwrap_or_default();
            let s = text(bytes, false);
            if r.charge(s.len()).is_err() {
                return out;
            }
            out.push((o.start as u64, s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads a fixture from `tests/data/hdf5/` (made with h5py 3.16 / HDF5 2.0).
    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/hdf5/",
                $name
            ))
            .as_slice()
        };
    }

    /// Keras 2 legacy `model.save('m.h5')` layout, superblock v0, old-style groups.
    const KERAS_V0: &[u8] = fixture!("keras_v0.h5");
    /// The same with `libver='latest'` (superblock v3, `OHDR`, link messages).
    const KERAS_LATEST: &[u8] = fixture!("keras_latest.h5");
    /// Fixed-length strings, a 2-D string array, a non-string, a cycle, soft/external links.
    const FIXED_STR: &[u8] = fixture!("fixed_str.h5");
    /// 12 root attributes and 10 links in dense storage (fractal heaps, v2 B-trees).
    const DENSE: &[u8] = fixture!("dense.h5");
    /// 512-byte user block, 4-byte offsets and lengths (superblock v2).
    const USERBLOCK_SIZES4: &[u8] = fixture!("ub_sizes4.h5");
    /// 2-byte offsets and lengths (superblock v2).
    const SIZES2: &[u8] = fixture!("sizes2.h5");

    /// Every fixture.
    const ALL: [&[u8]; 6] = [
        KERAS_V0,
        KERAS_LATEST,
        FIXED_STR,
        DENSE,
        USERBLOCK_SIZES4,
        SIZES2,
    ];

    /// The `model_config` JSON written into the Keras-like fixtures.
    const CONFIG: &str = r#"{"class_name": "Sequential", "config": {"name": "seq", "layers": [{"class_name": "Dense", "config": {"name": "dense", "units": 2}}]}}"#;

    /// The value of attribute `name` of the object at `path`; panics if absent.
    fn value<'a>(attrs: &'a [Attribute], path: &str, name: &str) -> &'a AttrValue {
        &attrs
            .iter()
            .find(|a| a.object_path == path && a.name == name)
            .unwrap_or_else(|| panic!("no attribute {path} {name} in {attrs:#?}"))
            .value
    }

    /// A string scalar value.
    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.to_owned())
    }

    /// A string list value.
    fn list(v: &[&str]) -> AttrValue {
        AttrValue::StrList(v.iter().map(|&x| x.to_owned()).collect())
    }

    /// Checks everything a Keras-like fixture must yield.
    fn check_keras(data: &[u8]) {
        let attrs = attributes(data, &Hdf5Limits::default()).unwrap();
        assert_eq!(attrs[0].object_path, "/");
        assert_eq!(value(&attrs, "/", "model_config"), &s(CONFIG));
        assert_eq!(value(&attrs, "/", "keras_version"), &s("2.15.0"));
        assert_eq!(value(&attrs, "/", "backend"), &s("tensorflow"));
        assert_eq!(
            value(&attrs, "/model_weights", "layer_names"),
            &list(&["dense"])
        );
        assert_eq!(value(&attrs, "/model_weights", "backend"), &s("tensorflow"));
        assert_eq!(
            value(&attrs, "/model_weights/dense", "weight_names"),
            &list(&["dense/kernel:0", "dense/bias:0"])
        );
        assert_eq!(
            value(&attrs, "/model_weights/dense/dense/kernel:0", "note"),
            &s("dataset attr")
        );
        assert_eq!(attrs.len(), 7);
        for a in &attrs {
            let off = usize::try_from(a.offset).unwrap();
            assert!(off < data.len(), "{a:?}");
        }
        let heap = global_heap_strings(data, &Hdf5Limits::default());
        let (off, _) = heap
            .iter()
            .find(|(_, t)| t == CONFIG)
            .expect("config in the global heap");
        let off = usize::try_from(*off).unwrap();
        assert_eq!(&data[off..off + CONFIG.len()], CONFIG.as_bytes());
        assert!(heap.iter().any(|(_, t)| t == "2.15.0"));
    }

    /// Superblock v0, v1 object headers, symbol-table groups.
    #[test]
    fn keras_legacy_superblock_v0() {
        assert_eq!(KERAS_V0[8], 0);
        check_keras(KERAS_V0);
    }

    /// Superblock v3, `OHDR`/`OCHK` object headers, link messages.
    #[test]
    fn keras_latest_superblock_v3() {
        assert_eq!(KERAS_LATEST[8], 3);
        check_keras(KERAS_LATEST);
    }

    /// Rewrites the v0 superblock of `KERAS_V0` as v1 (4 bytes longer): the root object
    /// header, which followed the superblock, is copied to the end of the file.
    fn as_superblock_v1(v0: &[u8]) -> Vec<u8> {
        let root = usize::try_from(u64::from_le_bytes(v0[64..72].try_into().unwrap())).unwrap();
        assert_eq!(root, 96, "root header right after the superblock");
        let header_size = u32::from_le_bytes(v0[root + 8..root + 12].try_into().unwrap()) as usize;
        let mut out = v0.to_vec();
        out.resize(out.len().next_multiple_of(8), 0);
        let new_root = out.len() as u64;
        out.extend_from_slice(&v0[root..root + 16 + header_size]);
        let mut sb = v0[..24].to_vec();
        sb[8] = 1;
        sb.extend_from_slice(&[32, 0, 0, 0]); // indexed storage K, reserved
        sb.extend_from_slice(&v0[24..64]); // addresses, root entry's link name offset
        sb.extend_from_slice(&new_root.to_le_bytes());
        sb.extend_from_slice(&v0[72..96]); // cache type, reserved, scratch pad
        out[..sb.len()].copy_from_slice(&sb);
        out
    }

    /// Superblock v1 (made from the v0 fixture).
    #[test]
    fn keras_superblock_v1() {
        let v1 = as_superblock_v1(KERAS_V0);
        assert_eq!(v1[8], 1);
        check_keras(&v1);
    }

    /// Fixed strings, non-strings, a 2-D string array, a hard-link cycle, soft/external links.
    #[test]
    fn fixed_strings_cycles_and_links() {
        let attrs = attributes(FIXED_STR, &Hdf5Limits::default()).unwrap();
        assert_eq!(value(&attrs, "/", "fixed"), &s("hello fixed"));
        assert_eq!(value(&attrs, "/", "fixed_list"), &list(&["a", "bb", "ccc"]));
        assert_eq!(value(&attrs, "/", "num"), &AttrValue::Other);
        assert_eq!(value(&attrs, "/", "vlist"), &list(&["x", "yy"]));
        assert_eq!(value(&attrs, "/", "bytes_scalar"), &s(CONFIG));
        assert_eq!(value(&attrs, "/c", "grid"), &list(&["p", "q", "r", "s"]));
        // The root is reached again through /c/up, and soft/external links are not followed.
        assert_eq!(attrs.len(), 6);
    }

    /// Attributes and links in fractal heaps indexed by v2 B-trees.
    #[test]
    fn dense_attributes_and_links() {
        let attrs = attributes(DENSE, &Hdf5Limits::default()).unwrap();
        for i in 0..12 {
            assert_eq!(
                value(&attrs, "/", &format!("attr{i:03}")),
                &s(&format!("value {i}"))
            );
        }
        for i in 0..10 {
            assert_eq!(
                value(&attrs, &format!("/g/sub{i:02}"), "idx"),
                &s(&i.to_string())
            );
        }
        assert_eq!(attrs.len(), 22);
        assert!(attrs[..12].iter().all(|a| a.object_path == "/"));
    }

    /// A user block (superblock at 512) and 4- and 2-byte offsets/lengths.
    #[test]
    fn user_block_and_small_sizes() {
        assert_eq!(find_superblock(USERBLOCK_SIZES4), Some(512));
        let attrs = attributes(USERBLOCK_SIZES4, &Hdf5Limits::default()).unwrap();
        assert_eq!(value(&attrs, "/", "model_config"), &s(r#"{"small": true}"#));
        assert_eq!(value(&attrs, "/grp", "names"), &list(&["one", "two"]));
        assert_eq!(value(&attrs, "/grp", "v"), &list(&["p", "q"]));
        assert!(
            global_heap_strings(USERBLOCK_SIZES4, &Hdf5Limits::default())
                .iter()
                .any(|(_, t)| t == r#"{"small": true}"#)
        );

        assert_eq!(SIZES2[9], 2, "size of offsets");
        let attrs = attributes(SIZES2, &Hdf5Limits::default()).unwrap();
        assert_eq!(value(&attrs, "/", "k"), &s("two byte"));
        assert_eq!(value(&attrs, "/a", "x"), &s("fx"));
    }

    /// Inputs without a (usable) superblock.
    #[test]
    fn not_hdf5() {
        assert_eq!(find_superblock(b""), None);
        assert_eq!(find_superblock(&[0u8; 4096]), None);
        assert!(matches!(
            attributes(b"PK\x03\x04", &Hdf5Limits::default()),
            Err(Hdf5Error::NotHdf5)
        ));
        assert!(global_heap_strings(b"GCOL", &Hdf5Limits::default()).is_empty());
        let mut v = vec![0u8; 2048];
        v[1024..1032].copy_from_slice(SIGNATURE);
        assert_eq!(find_superblock(&v), Some(1024));
        assert!(matches!(
            attributes(&v, &Hdf5Limits::default()),
            Err(Hdf5Error::Malformed { .. })
        ));
    }

    /// Each limit turns into `Hdf5Error::Limit`; partial results keep what was read.
    #[test]
    fn limits_are_enforced() {
        let lim = |f: fn(&mut Hdf5Limits)| {
            let mut l = Hdf5Limits::default();
            f(&mut l);
            l
        };
        for data in [KERAS_V0, KERAS_LATEST] {
            for l in [
                lim(|l| l.max_objects = 2),
                lim(|l| l.max_depth = 1),
                lim(|l| l.max_attr_bytes = 100),
                lim(|l| l.max_messages = 2),
            ] {
                assert!(
                    matches!(attributes(data, &l), Err(Hdf5Error::Limit(_))),
                    "{l:?}"
                );
            }
            // Partial results keep what was read before the limit.
            let (attrs, err) = attributes_partial(data, &lim(|l| l.max_objects = 1));
            assert!(matches!(err, Some(Hdf5Error::Limit(_))));
            assert_eq!(value(&attrs, "/", "model_config"), &s(CONFIG));
            assert!(attrs.iter().all(|a| a.object_path == "/"));
            assert!(global_heap_strings(data, &lim(|l| l.max_attr_bytes = 10)).is_empty());
        }
    }

    /// Crafted loops and garbage are reported, not followed.
    #[test]
    fn hostile_structures_are_errors() {
        // The root object header (v1, at 96) holds only a continuation message (body at 120);
        // point it at its own chunk (at 112, 24 bytes).
        let mut v = KERAS_V0.to_vec();
        assert_eq!(&v[112..116], &[0x10, 0, 16, 0]);
        v[120..128].copy_from_slice(&112u64.to_le_bytes());
        v[128..136].copy_from_slice(&24u64.to_le_bytes());
        match attributes(&v, &Hdf5Limits::default()) {
            Err(Hdf5Error::Malformed { what, offset }) => {
                assert!(what.contains("loop"), "{what}");
                assert_eq!(offset, 120);
            }
            other => panic!("{other:?}"),
        }
        // An unknown object header version at the root.
        let mut v = KERAS_LATEST.to_vec();
        let root = usize::try_from(u64::from_le_bytes(v[36..44].try_into().unwrap())).unwrap();
        assert_eq!(&v[root..root + 4], b"OHDR");
        v[root + 4] = 9;
        assert!(matches!(
            attributes(&v, &Hdf5Limits::default()),
            Err(Hdf5Error::Malformed { .. })
        ));
        // The global heap is still scanned when the walk fails.
        assert!(
            global_heap_strings(&v, &Hdf5Limits::default())
                .iter()
                .any(|(_, t)| t == CONFIG)
        );
    }

    /// Runs every entry point on `data`; only panics matter here.
    fn exercise(data: &[u8], heap: bool) {
        let limits = Hdf5Limits::default();
        let _ = attributes(data, &limits);
        let _ = find_superblock(data);
        if heap {
            let _ = global_heap_strings(data, &limits);
        }
    }

    /// Truncation at every length and a byte flip at every position of `data` (more flip
    /// patterns at every 4th position, the global heap scan at every 61st mutation).
    fn mutate_everywhere(data: &[u8]) {
        for len in 0..data.len() {
            exercise(&data[..len], len % 61 == 0);
        }
        let mut copy = data.to_vec();
        for i in 0..data.len() {
            let patterns: &[u8] = if i % 4 == 0 {
                &[0xff, 0x01, 0x80]
            } else {
                &[0xff]
            };
            for &x in patterns {
                copy[i] ^= x;
                exercise(&copy, i % 61 == 0);
                copy[i] ^= x;
            }
        }
    }

    /// Mutations of `KERAS_V0`.
    #[test]
    fn mutations_keras_v0() {
        mutate_everywhere(KERAS_V0);
    }

    /// Mutations of `KERAS_LATEST`.
    #[test]
    fn mutations_keras_latest() {
        mutate_everywhere(KERAS_LATEST);
    }

    /// Mutations of `FIXED_STR`.
    #[test]
    fn mutations_fixed_str() {
        mutate_everywhere(FIXED_STR);
    }

    /// Mutations of `DENSE`.
    #[test]
    fn mutations_dense() {
        mutate_everywhere(DENSE);
    }

    /// Mutations of `USERBLOCK_SIZES4` and `SIZES2`.
    #[test]
    fn mutations_small_sizes() {
        mutate_everywhere(USERBLOCK_SIZES4);
        mutate_everywhere(SIZES2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Random byte edits plus truncation of a random fixture.
        #[test]
        fn random_mutations_never_panic(
            which in 0usize..ALL.len(),
            edits in proptest::collection::vec((0usize..20_000, proptest::prelude::any::<u8>()), 1..16),
            cut in 0usize..20_000,
        ) {
            let mut data = ALL[which].to_vec();
            for (pos, byte) in edits {
                let n = data.len();
                data[pos % n] = byte;
            }
            data.truncate(cut.max(64));
            exercise(&data, true);
        }

        /// Random bytes behind a superblock signature.
        #[test]
        fn random_bytes_after_signature_never_panic(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
        ) {
            let mut data = SIGNATURE.to_vec();
            data.extend_from_slice(&tail);
            exercise(&data, true);
        }
    }
}
