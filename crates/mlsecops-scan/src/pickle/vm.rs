//! A symbolic pickle VM for protocols 0–5.
//!
//! It executes every opcode the way CPython's `Unpickler` would — stack,
//! marks, memo, frames — but on symbolic values: it never imports, calls or
//! builds anything. What it records is every global the stream would import
//! (`GLOBAL`, `INST`, `STACK_GLOBAL`, including operands fetched from the
//! memo), every call, and every construct that defeats static analysis
//! (names computed at load time, extension codes, calls on call results).
//!
//! Containers are only materialised in "rich" mode, switched on when the
//! stream imports joblib's `NumpyArrayWrapper`: joblib writes raw array bytes
//! *inside* the pickle stream right after that object's `BUILD`, and the VM
//! must know the array's size to step over them.

use std::collections::HashMap;

use super::globals::{Verdict, classify};

/// Why a stream could not be followed to its `STOP`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PickleError {
    /// Offset of the opcode that failed, from the start of the buffer.
    pub offset: u64,
    pub message: String,
}

/// One distinct global the stream imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalUse {
    pub module: String,
    pub name: String,
    pub verdict: Verdict,
    /// Offset of the first opcode that imports it.
    pub offset: u64,
    /// How many opcodes import it.
    pub count: u64,
    /// Imported through `STACK_GLOBAL` / `INST` / `GLOBAL`.
    pub via: &'static str,
}

/// A construct worth reporting that is not an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `STACK_GLOBAL` whose operands are not string constants.
    DynamicGlobal { offset: u64, detail: String },
    /// `EXT1`/`EXT2`/`EXT4`.
    ExtCode { offset: u64, code: u32 },
    /// `REDUCE`/`NEWOBJ`/`OBJ` whose callable is not an imported global.
    IndirectCall { offset: u64, opcode: &'static str },
    /// `BUILD` applied to an imported global itself.
    GlobalMutation { offset: u64, target: String },
}

/// What the VM learnt from one pickle (up to and including its `STOP`).
#[derive(Debug)]
pub struct Analysis<'a> {
    pub globals: Vec<GlobalUse>,
    pub events: Vec<Event>,
    /// Byte strings inside the stream that look like serialized payloads
    /// (a pickle or a zip): (offset, bytes).
    pub nested: Vec<(u64, &'a [u8])>,
    /// Offset just past `STOP`, or why the stream stopped early.
    pub end: Result<usize, PickleError>,
    /// Opcodes executed.
    pub ops: u64,
    /// Protocol announced by `PROTO`, if any.
    pub protocol: Option<u8>,
    /// The stream imports joblib's `NumpyArrayWrapper`: joblib.load reads
    /// raw array bytes inside it, so it needs a joblib reading too.
    pub saw_array_wrapper: bool,
}

/// Limits on the VM's memory.
#[derive(Clone, Copy, Debug)]
pub struct VmLimits {
    pub max_stack: usize,
    pub max_memo: usize,
    pub max_nested_depth: usize,
}

impl Default for VmLimits {
    fn default() -> Self {
        Self {
            max_stack: 8 << 20,
            max_memo: 16 << 20,
            max_nested_depth: 4,
        }
    }
}

const NO_GLOBAL: u32 = u32::MAX;
/// Longest module or attribute name worth resolving: longer ones cannot be
/// imported, and capping them keeps name hashing linear in the input.
const MAX_NAME: usize = 512;
const RICH_CAP: usize = 64;

/// Most containers, and values inside them, tracked in rich mode; past
/// these, values become untracked (bounded memory on hostile input).
const RICH_MAX_NODES: usize = 1 << 20;
const RICH_MAX_VALUES: usize = 4 << 20;
/// Most pairs kept per tracked dict (joblib's wrapper state has six).
const RICH_DICT_CAP: usize = 4096;

/// A container tracked in rich mode. Containers live in the VM's arena and
/// values refer to them by index, so self-referencing pickles (a dict that
/// contains itself) cannot create reference cycles.
#[derive(Debug)]
enum Node {
    Tuple(Vec<V>),
    Dict(Vec<(V, V)>),
    Obj { callee: u32, args: V, state: V },
}

/// A symbolic value: 16 bytes, `Copy`, no drop glue (the VM's hot path
/// moves millions of them).
#[derive(Clone, Copy, Debug)]
enum V {
    Any,
    Int(i64),
    /// A string constant: (offset, length) in the input buffer.
    Str(u32, u32),
    /// A decoded string (escapes resolved): index into `Vm::owned`.
    OwnedStr(u32),
    Global(u32),
    /// The result of a call (untracked outside rich mode).
    Result,
    Tuple(u32),
    Dict(u32),
    Obj(u32),
}

impl V {
    fn describe(self) -> &'static str {
        match self {
            V::Any => "a value",
            V::Int(_) => "an integer",
            V::Str(..) | V::OwnedStr(_) => "a string",
            V::Global(_) => "an imported global",
            V::Result | V::Obj(_) => "the result of a call",
            V::Tuple(_) => "a tuple",
            V::Dict(_) => "a dict",
        }
    }
}

/// A string argument as decoded from the stream.
enum Text<'a> {
    Borrowed(&'a [u8]),
    Owned(String),
}

struct Vm<'a, 'l> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    stack: Vec<V>,
    marks: Vec<usize>,
    /// Dense memo: 0 = unset, 1 = an untracked value, k + 2 = `memo_vals[k]`.
    /// Four bytes per key keeps million-object pickles cheap.
    memo: Vec<u32>,
    memo_vals: Vec<V>,
    memo_sparse: HashMap<u64, V>,
    /// Distinct memo keys (what `len(memo)` is for MEMOIZE).
    memo_count: u64,
    globals: Vec<GlobalUse>,
    global_ix: HashMap<String, HashMap<String, u32>>,
    /// Array bytes joblib reads from the file after the current frame:
    /// (file offset where they start, total length).
    hole: Option<(usize, usize)>,
    /// End of the current FRAME, when inside one.
    frame_end: Option<usize>,
    /// Values stored in tracked containers (bounded).
    rich_values: usize,
    events: Vec<Event>,
    nested: Vec<(u64, &'a [u8])>,
    rich: bool,
    arena: Vec<Node>,
    owned: Vec<Box<str>>,
    ops: u64,
    protocol: Option<u8>,
    limits: &'l VmLimits,
    depth: usize,
}

/// Follows one pickle starting at `start` in `data` to its `STOP`.
///
/// `rich` materialises small containers (needed to step over joblib's
/// inline array bytes); callers turn it on when the buffer mentions
/// joblib's `NumpyArrayWrapper`.
#[must_use]
pub fn analyze<'a>(
    data: &'a [u8],
    start: usize,
    base: u64,
    limits: &VmLimits,
    rich: bool,
) -> Analysis<'a> {
    analyze_depth(data, start, base, limits, 0, rich)
}

fn analyze_depth<'a>(
    data: &'a [u8],
    start: usize,
    base: u64,
    limits: &VmLimits,
    depth: usize,
    rich: bool,
) -> Analysis<'a> {
    let mut vm = Vm {
        data,
        pos: start,
        base,
        stack: Vec::with_capacity(64),
        marks: Vec::with_capacity(16),
        memo: Vec::new(),
        memo_vals: Vec::new(),
        memo_sparse: HashMap::new(),
        memo_count: 0,
        globals: Vec::new(),
        global_ix: HashMap::new(),
        hole: None,
        frame_end: None,
        rich_values: 0,
        events: Vec::new(),
        nested: Vec::new(),
        rich,
        arena: Vec::new(),
        owned: Vec::new(),
        ops: 0,
        protocol: None,
        limits,
        depth,
    };
    let end = vm.run().map_err(|e| *e);
    let saw_array_wrapper = (0..vm.globals.len() as u32).any(|g| vm.is_array_wrapper(g));
    Analysis {
        globals: vm.globals,
        events: vm.events,
        nested: vm.nested,
        end,
        ops: vm.ops,
        protocol: vm.protocol,
        saw_array_wrapper,
    }
}

/// Errors are boxed so the hot path moves an 8-byte `Result`.
type R<T> = Result<T, Box<PickleError>>;

impl<'a> Vm<'a, '_> {
    #[cold]
    #[inline(never)]
    fn err<T>(&self, at: usize, message: impl Into<String>) -> R<T> {
        Err(Box::new(PickleError {
            offset: self.base + at as u64,
            message: message.into(),
        }))
    }

    #[inline]
    fn take(&mut self, n: usize, at: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => self.err(
                at,
                format!("truncated: opcode needs {n} more bytes than the stream has"),
            ),
        }
    }

    #[inline]
    fn u8(&mut self, at: usize) -> R<u8> {
        Ok(self.take(1, at)?[0])
    }

    #[inline]
    fn le(&mut self, n: usize, at: usize) -> R<u64> {
        let b = self.take(n, at)?;
        let mut v = 0u64;
        for (i, &x) in b.iter().enumerate() {
            v |= u64::from(x) << (8 * i);
        }
        Ok(v)
    }

    fn line(&mut self, at: usize) -> R<&'a [u8]> {
        let rest = &self.data[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let s = &rest[..i];
                self.pos += i + 1;
                Ok(s)
            }
            None => self.err(at, "truncated: line argument has no newline"),
        }
    }

    #[inline]
    fn len_prefixed(&mut self, n: usize, at: usize) -> R<&'a [u8]> {
        let len = self.le(n, at)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(len, at)
    }

    /// A string value for `t`, borrowed from the input when possible.
    #[inline]
    fn text(&mut self, t: Text<'a>) -> V {
        match t {
            Text::Borrowed(b) => {
                let off = b.as_ptr() as usize - self.data.as_ptr() as usize;
                match (u32::try_from(off), u32::try_from(b.len())) {
                    (Ok(o), Ok(l)) => V::Str(o, l),
                    _ if b.len() <= 4096 => self.own(String::from_utf8_lossy(b).into_owned()),
                    _ => V::Any,
                }
            }
            Text::Owned(o) => self.own(o),
        }
    }

    fn own(&mut self, s: String) -> V {
        if self.owned.len() >= RICH_MAX_NODES {
            return V::Any;
        }
        self.owned.push(s.into_boxed_str());
        V::OwnedStr(self.owned.len() as u32 - 1)
    }

    fn str_of(&self, v: V) -> Option<std::borrow::Cow<'_, str>> {
        match v {
            V::Str(o, l) => self
                .data
                .get(o as usize..o as usize + l as usize)
                .map(String::from_utf8_lossy),
            V::OwnedStr(i) => self
                .owned
                .get(i as usize)
                .map(|s| std::borrow::Cow::Borrowed(&**s)),
            _ => None,
        }
    }

    #[inline]
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    #[inline]
    fn push(&mut self, v: V, at: usize) -> R<()> {
        if self.stack.len() >= self.limits.max_stack {
            return self.err(at, "stack limit exceeded");
        }
        self.stack.push(v);
        Ok(())
    }

    #[inline]
    fn pop(&mut self, at: usize) -> R<V> {
        if self.stack.len() <= self.fence() {
            return self.err(at, "unpickling stack underflow");
        }
        Ok(self.stack.pop().unwrap_or(V::Any))
    }

    #[inline]
    fn top(&self, at: usize) -> R<&V> {
        if self.stack.len() <= self.fence() {
            return self.err(at, "unpickling stack underflow");
        }
        self.stack
            .last()
            .map_or_else(|| self.err(at, "unpickling stack underflow"), Ok)
    }

    fn pop_mark(&mut self, at: usize) -> R<usize> {
        match self.marks.pop() {
            Some(m) => Ok(m),
            None => self.err(at, "mark not found"),
        }
    }

    #[inline]
    fn memo_put(&mut self, idx: u64, at: usize) -> R<()> {
        let v = *self.top(at)?;
        // Fast path: MEMOIZE / sequential PUTs append the next key.
        if idx == self.memo.len() as u64
            && self.memo.len() < self.limits.max_memo
            && self.memo_vals.len() < self.limits.max_memo
            && self.memo_sparse.is_empty()
        {
            let slot = if matches!(v, V::Any) {
                1
            } else {
                self.memo_vals.push(v);
                self.memo_vals.len() as u32 + 1
            };
            self.memo.push(slot);
            self.memo_count += 1;
            return Ok(());
        }
        self.memo_put_slow(idx, v, at)
    }

    #[inline(never)]
    fn memo_put_slow(&mut self, idx: u64, v: V, at: usize) -> R<()> {
        if let Ok(i) = usize::try_from(idx)
            && i <= self.memo.len().saturating_mul(2) + 4096
            && i < self.limits.max_memo
        {
            if i >= self.memo.len() {
                self.memo.resize(i + 1, 0);
            }
            // A key is new unless it is set here or was stored sparsely
            // before the dense part grew over it.
            let existed = self.memo[i] != 0 || self.memo_sparse.remove(&idx).is_some();
            if !existed {
                self.memo_count += 1;
            }
            let old = self.memo[i];
            self.memo[i] = if matches!(v, V::Any) {
                1
            } else if old >= 2 {
                // Overwrite in place: repeated PUTs must not grow memory.
                self.memo_vals[old as usize - 2] = v;
                old
            } else {
                if self.memo_vals.len() >= self.limits.max_memo {
                    return self.err(at, "memo limit exceeded");
                }
                self.memo_vals.push(v);
                self.memo_vals.len() as u32 + 1
            };
            return Ok(());
        }
        if self.memo_sparse.len() >= self.limits.max_memo {
            return self.err(at, "memo limit exceeded");
        }
        if self.memo_sparse.insert(idx, v).is_none() {
            self.memo_count += 1;
        }
        Ok(())
    }

    #[inline]
    fn memo_get(&mut self, idx: u64, at: usize) -> R<()> {
        let dense = usize::try_from(idx)
            .ok()
            .and_then(|i| self.memo.get(i).copied())
            .unwrap_or(0);
        let v = match dense {
            0 => self.memo_sparse.get(&idx).copied(),
            1 => Some(V::Any),
            k => self.memo_vals.get(k as usize - 2).copied(),
        };
        match v {
            Some(v) => self.push(v, at),
            None => self.err(at, format!("memo key {idx} not found")),
        }
    }

    fn intern_global(&mut self, module: &str, name: &str, at: usize, via: &'static str) -> u32 {
        if let Some(&ix) = self.global_ix.get(module).and_then(|m| m.get(name)) {
            self.globals[ix as usize].count += 1;
            return ix;
        }
        let verdict = classify(module, name);
        let ix = self.globals.len() as u32;
        self.globals.push(GlobalUse {
            module: module.to_owned(),
            name: name.to_owned(),
            verdict,
            offset: self.base + at as u64,
            count: 1,
            via,
        });
        self.global_ix
            .entry(module.to_owned())
            .or_default()
            .insert(name.to_owned(), ix);
        ix
    }

    fn global_name(&self, ix: u32) -> String {
        self.globals
            .get(ix as usize)
            .map_or_else(|| "?".to_owned(), |g| format!("{}.{}", g.module, g.name))
    }

    /// Whether global `ix` resolves to joblib's `NumpyArrayWrapper`
    /// (`joblib.numpy_pickle` + `NumpyArrayWrapper`, or any dotted split).
    fn is_array_wrapper(&self, ix: u32) -> bool {
        self.globals.get(ix as usize).is_some_and(|g| {
            let full = format!("{}.{}", g.module, g.name);
            full.ends_with("numpy_pickle.NumpyArrayWrapper")
        })
    }

    /// The class an object was built from: the callee itself, or the class
    /// argument of `copyreg._reconstructor` / `__newobj__` / `__newobj_ex__`.
    fn class_of(&self, callee: u32, args: V) -> Option<u32> {
        let g = self.globals.get(callee as usize)?;
        let via_copyreg = matches!(g.module.as_str(), "copyreg" | "copy_reg")
            && matches!(
                g.name.as_str(),
                "_reconstructor" | "__newobj__" | "__newobj_ex__"
            );
        if via_copyreg {
            match self.tuple_items(&args).and_then(|t| t.first()) {
                Some(V::Global(c)) => Some(*c),
                _ => None,
            }
        } else {
            Some(callee)
        }
    }

    fn note_bytes(&mut self, b: &'a [u8], at: usize) {
        let looks_nested = (b.len() >= 4 && b[0] == 0x80 && (2..=5).contains(&b[1]))
            || (b.len() >= 30 && b.starts_with(b"PK\x03\x04"));
        if looks_nested && self.nested.len() < 256 {
            self.nested.push((self.base + at as u64, b));
        }
    }

    fn alloc(&mut self, n: Node) -> Option<u32> {
        let size = match &n {
            Node::Tuple(v) => v.len(),
            Node::Dict(v) => 2 * v.len(),
            Node::Obj { .. } => 2,
        };
        if self.arena.len() >= RICH_MAX_NODES || self.rich_values + size > RICH_MAX_VALUES {
            return None;
        }
        self.rich_values += size;
        self.arena.push(n);
        Some(self.arena.len() as u32 - 1)
    }

    fn call_result(&mut self, callee: u32, args: V) -> V {
        if self.rich {
            let state = V::Any;
            self.alloc(Node::Obj {
                callee,
                args,
                state,
            })
            .map_or(V::Result, V::Obj)
        } else {
            V::Result
        }
    }

    fn new_dict(&mut self, pairs: Vec<(V, V)>) -> V {
        self.alloc(Node::Dict(pairs)).map_or(V::Any, V::Dict)
    }

    /// Adds pairs to the dict on top of the stack, when it is tracked.
    fn dict_extend(&mut self, pairs: impl IntoIterator<Item = (V, V)>, at: usize) -> R<()> {
        if let V::Dict(ix) = *self.top(at)?
            && let Some(Node::Dict(d)) = self.arena.get_mut(ix as usize)
        {
            for p in pairs {
                if d.len() >= RICH_DICT_CAP || self.rich_values + 2 > RICH_MAX_VALUES {
                    break;
                }
                self.rich_values += 2;
                d.push(p);
            }
        }
        Ok(())
    }

    fn callee_of(&mut self, f: &V, at: usize, opcode: &'static str) -> u32 {
        if let V::Global(ix) = f {
            *ix
        } else {
            self.events.push(Event::IndirectCall {
                offset: self.base + at as u64,
                opcode,
            });
            NO_GLOBAL
        }
    }

    fn tuple_from(&mut self, items: Vec<V>) -> V {
        if self.rich && items.len() <= RICH_CAP {
            self.alloc(Node::Tuple(items)).map_or(V::Any, V::Tuple)
        } else {
            V::Any
        }
    }

    fn run(&mut self) -> R<usize> {
        loop {
            if let Some((start, len)) = self.hole
                && self.pos >= start
            {
                self.hole = None;
                self.pos = start.saturating_add(len);
            }
            if self.frame_end.is_some_and(|e| self.pos >= e) {
                self.frame_end = None;
            }
            let at = self.pos;
            let Some(&op) = self.data.get(at) else {
                return self.err(at, "truncated: stream ends before STOP");
            };
            self.pos += 1;
            self.ops += 1;
            match op {
                b'.' => {
                    // STOP. Array bytes joblib read after the frame are behind us.
                    self.pop(at)?;
                    let end = self
                        .hole
                        .map_or(self.pos, |(s, l)| self.pos.max(s.saturating_add(l)));
                    return Ok(end.min(self.data.len()));
                }
                0x80 => {
                    let p = self.u8(at)?;
                    if p > 5 {
                        return self.err(at, format!("unsupported pickle protocol: {p}"));
                    }
                    if self.protocol.is_none() {
                        self.protocol = Some(p);
                    }
                }
                0x95 => {
                    // FRAME: the length only announces how much follows.
                    let n = self.le(8, at)?;
                    let end = usize::try_from(n)
                        .ok()
                        .and_then(|n| self.pos.checked_add(n));
                    self.frame_end = end.map(|e| e.min(self.data.len()));
                }
                b'(' => {
                    if self.marks.len() >= self.limits.max_stack {
                        return self.err(at, "mark limit exceeded");
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    if self.stack.len() > self.fence() {
                        self.stack.pop();
                    } else {
                        self.pop_mark(at)?;
                    }
                }
                b'1' => {
                    let m = self.pop_mark(at)?;
                    self.stack.truncate(m);
                }
                b'2' => {
                    let v = *self.top(at)?;
                    self.push(v, at)?;
                }
                b'N' | b')' | 0x88 | 0x89 => {
                    let v = match op {
                        0x88 => V::Int(1),
                        0x89 => V::Int(0),
                        b')' => self.tuple_from(Vec::new()),
                        _ => V::Any,
                    };
                    self.push(v, at)?;
                }
                b'F' => {
                    self.line(at)?;
                    self.push(V::Any, at)?;
                }
                b'I' | b'L' => {
                    let l = self.line(at)?;
                    let txt = std::str::from_utf8(l).unwrap_or("");
                    let txt = txt.trim_end_matches('L');
                    let v = match txt {
                        "00" => V::Int(0),
                        "01" => V::Int(1),
                        _ => txt.parse::<i64>().map_or(V::Any, V::Int),
                    };
                    self.push(v, at)?;
                }
                b'J' => {
                    let v = self.le(4, at)? as u32 as i32;
                    self.push(V::Int(i64::from(v)), at)?;
                }
                b'K' => {
                    let v = self.u8(at)?;
                    self.push(V::Int(i64::from(v)), at)?;
                }
                b'M' => {
                    let v = self.le(2, at)?;
                    self.push(V::Int(v as i64), at)?;
                }
                0x8a | 0x8b => {
                    let b = self.len_prefixed(if op == 0x8a { 1 } else { 4 }, at)?;
                    let v = if b.is_empty() {
                        V::Int(0)
                    } else if b.len() <= 8 {
                        let mut x = 0u64;
                        for (i, &c) in b.iter().enumerate() {
                            x |= u64::from(c) << (8 * i);
                        }
                        let shift = 64 - 8 * b.len() as u32;
                        V::Int(((x << shift) as i64) >> shift)
                    } else {
                        V::Any
                    };
                    self.push(v, at)?;
                }
                b'G' => {
                    self.take(8, at)?;
                    self.push(V::Any, at)?;
                }
                b'S' => {
                    let l = self.line(at)?;
                    let t = decode_repr_string(l)
                        .ok_or(())
                        .or_else(|()| self.err(at, "STRING opcode argument must be quoted"))?;
                    let v = self.text(t);
                    self.push(v, at)?;
                }
                b'V' => {
                    let l = self.line(at)?;
                    let t = decode_raw_unicode_escape(l);
                    let v = self.text(t);
                    self.push(v, at)?;
                }
                b'T' | b'U' | b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'U' | 0x8c => 1,
                        0x8d => 8,
                        _ => 4,
                    };
                    let b = self.len_prefixed(n, at)?;
                    if matches!(op, b'T' | b'U') {
                        self.note_bytes(b, at);
                    }
                    let v = self.text(Text::Borrowed(b));
                    self.push(v, at)?;
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'C' => 1,
                        b'B' => 4,
                        _ => 8,
                    };
                    let b = self.len_prefixed(n, at)?;
                    self.note_bytes(b, at);
                    self.push(V::Any, at)?;
                }
                0x97 => {
                    // NEXT_BUFFER: out-of-band buffer supplied by the caller.
                    self.push(V::Any, at)?;
                }
                0x98 => {
                    self.top(at)?;
                }
                b']' | b'}' | 0x8f => {
                    let v = if op == b'}' && self.rich {
                        self.new_dict(Vec::new())
                    } else {
                        V::Any
                    };
                    self.push(v, at)?;
                }
                b'l' | b't' | b'd' | 0x91 => {
                    let m = self.pop_mark(at)?;
                    if op == b'd' && !(self.stack.len() - m).is_multiple_of(2) {
                        return self.err(at, "odd number of items for DICT");
                    }
                    let v = if op == b't' && self.rich && self.stack.len() - m <= RICH_CAP {
                        let items: Vec<V> = self.stack.drain(m..).collect();
                        self.tuple_from(items)
                    } else if op == b'd' && self.rich && self.stack.len() - m <= 2 * RICH_DICT_CAP {
                        let items: Vec<V> = self.stack.drain(m..).collect();
                        let pairs = items.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                        self.new_dict(pairs)
                    } else {
                        self.stack.truncate(m);
                        V::Any
                    };
                    self.push(v, at)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < self.fence() + n {
                        return self.err(at, "unpickling stack underflow");
                    }
                    let split = self.stack.len() - n;
                    let v = if self.rich {
                        let items: Vec<V> = self.stack.drain(split..).collect();
                        self.tuple_from(items)
                    } else {
                        self.stack.truncate(split);
                        V::Any
                    };
                    self.push(v, at)?;
                }
                b'a' => {
                    self.pop(at)?;
                    self.top(at)?;
                }
                b'e' | 0x90 => {
                    let m = self.pop_mark(at)?;
                    self.stack.truncate(m);
                    self.top(at)?;
                }
                b's' => {
                    let v = self.pop(at)?;
                    let k = self.pop(at)?;
                    self.dict_extend([(k, v)], at)?;
                }
                b'u' => {
                    let m = self.pop_mark(at)?;
                    if !(self.stack.len() - m).is_multiple_of(2) {
                        return self.err(at, "odd number of items for SETITEMS");
                    }
                    if self.rich {
                        let items: Vec<V> = self.stack.drain(m..).collect();
                        let pairs: Vec<_> = items.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                        self.dict_extend(pairs, at)?;
                    } else {
                        self.stack.truncate(m);
                        self.top(at)?;
                    }
                }
                b'p' => {
                    let l = self.line(at)?;
                    let idx = parse_index(l)
                        .ok_or(())
                        .or_else(|()| self.err(at, "PUT index is not an integer"))?;
                    self.memo_put(idx, at)?;
                }
                b'q' => {
                    let i = u64::from(self.u8(at)?);
                    self.memo_put(i, at)?;
                }
                b'r' => {
                    let i = self.le(4, at)?;
                    self.memo_put(i, at)?;
                }
                0x94 => {
                    let i = self.memo_count;
                    self.memo_put(i, at)?;
                }
                b'g' => {
                    let l = self.line(at)?;
                    let idx = parse_index(l)
                        .ok_or(())
                        .or_else(|()| self.err(at, "GET index is not an integer"))?;
                    self.memo_get(idx, at)?;
                }
                b'h' => {
                    let i = u64::from(self.u8(at)?);
                    self.memo_get(i, at)?;
                }
                b'j' => {
                    let i = self.le(4, at)?;
                    self.memo_get(i, at)?;
                }
                b'c' | b'i' => {
                    let module = self.line(at)?;
                    let name = self.line(at)?;
                    let (Some(module), Some(name)) = (global_part(module), global_part(name))
                    else {
                        return self.err(at, "GLOBAL/INST operands are not valid names");
                    };
                    let via = if op == b'c' { "GLOBAL" } else { "INST" };
                    let ix = self.intern_global(&module, &name, at, via);
                    if op == b'c' {
                        self.push(V::Global(ix), at)?;
                    } else {
                        let m = self.pop_mark(at)?;
                        self.stack.truncate(m);
                        let v = self.call_result(ix, V::Any);
                        self.push(v, at)?;
                    }
                }
                0x93 => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    let v = if let (Some(m), Some(n)) = (self.str_of(module), self.str_of(name))
                        && m.len() <= MAX_NAME
                        && n.len() <= MAX_NAME
                    {
                        let (m, n) = (m.into_owned(), n.into_owned());
                        V::Global(self.intern_global(&m, &n, at, "STACK_GLOBAL"))
                    } else {
                        let detail = format!(
                            "module operand is {}, name operand is {}",
                            module.describe(),
                            name.describe()
                        );
                        self.events.push(Event::DynamicGlobal {
                            offset: self.base + at as u64,
                            detail,
                        });
                        V::Global(NO_GLOBAL)
                    };
                    self.push(v, at)?;
                }
                0x82..=0x84 => {
                    let n = match op {
                        0x82 => 1,
                        0x83 => 2,
                        _ => 4,
                    };
                    let code = self.le(n, at)? as u32;
                    self.events.push(Event::ExtCode {
                        offset: self.base + at as u64,
                        code,
                    });
                    self.push(V::Global(NO_GLOBAL), at)?;
                }
                b'R' => {
                    let args = self.pop(at)?;
                    let f = self.pop(at)?;
                    let callee = self.callee_of(&f, at, "REDUCE");
                    let v = self.call_result(callee, args);
                    self.push(v, at)?;
                }
                0x81 => {
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let callee = self.callee_of(&cls, at, "NEWOBJ");
                    let v = self.call_result(callee, args);
                    self.push(v, at)?;
                }
                0x92 => {
                    self.pop(at)?;
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let callee = self.callee_of(&cls, at, "NEWOBJ_EX");
                    let v = self.call_result(callee, args);
                    self.push(v, at)?;
                }
                b'o' => {
                    let m = self.pop_mark(at)?;
                    if self.stack.len() <= m {
                        return self.err(at, "OBJ needs a class after the mark");
                    }
                    let cls = self.stack[m];
                    self.stack.truncate(m);
                    let callee = self.callee_of(&cls, at, "OBJ");
                    let v = self.call_result(callee, V::Any);
                    self.push(v, at)?;
                }
                b'b' => {
                    let state = self.pop(at)?;
                    let target = *self.top(at)?;
                    match target {
                        V::Global(ix) => {
                            let target = self.global_name(ix);
                            self.events.push(Event::GlobalMutation {
                                offset: self.base + at as u64,
                                target,
                            });
                        }
                        V::Obj(ix) => {
                            let mut built = None;
                            if let Some(Node::Obj {
                                callee,
                                args,
                                state: s,
                            }) = self.arena.get_mut(ix as usize)
                            {
                                *s = state;
                                built = Some((*callee, *args));
                            }
                            let wrapper = built
                                .and_then(|(callee, args)| self.class_of(callee, args))
                                .is_some_and(|c| self.is_array_wrapper(c));
                            if wrapper {
                                self.skip_joblib_array(ix, at)?;
                            }
                        }
                        _ => {}
                    }
                }
                b'P' => {
                    self.line(at)?;
                    self.push(V::Any, at)?;
                }
                b'Q' => {
                    self.pop(at)?;
                    self.push(V::Any, at)?;
                }
                _ => return self.err(at, format!("invalid opcode 0x{op:02x}")),
            }
        }
    }

    /// joblib writes a wrapped array's bytes right after the wrapper's BUILD:
    /// a nested pickle for object arrays, otherwise optional alignment
    /// padding followed by the raw data.
    fn tuple_items(&self, v: &V) -> Option<&[V]> {
        match v {
            V::Tuple(ix) => match self.arena.get(*ix as usize) {
                Some(Node::Tuple(t)) => Some(t),
                _ => None,
            },
            _ => None,
        }
    }

    /// joblib's `NumpyArrayWrapper.read_array`, as its `NumpyUnpickler`
    /// runs it right after the wrapper's BUILD: object arrays are a nested
    /// pickle; other arrays are an optional padding byte (+ padding, when the
    /// wrapper has `numpy_array_alignment_bytes`) and the raw data. joblib's
    /// unpickler is the pure-Python one, so inside a FRAME the bytes are read
    /// from the file *after* the frame (a "hole" there).
    fn skip_joblib_array(&mut self, wrapper: u32, at: usize) -> R<()> {
        let state = match self.arena.get(wrapper as usize) {
            Some(Node::Obj {
                state: V::Dict(d), ..
            }) => *d,
            _ => return self.err(at, "joblib array wrapper without a state dict"),
        };
        let Some(Node::Dict(pairs)) = self.arena.get(state as usize) else {
            return self.err(at, "joblib array wrapper without a state dict");
        };
        // Python dicts keep the last value of a repeated key.
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| self.str_of(*k).is_some_and(|s| s == key))
                .map(|(_, v)| *v)
        };
        let padded = matches!(get("numpy_array_alignment_bytes"), Some(V::Int(_)));
        let shape = get("shape");
        let Some(V::Obj(dtype)) = get("dtype") else {
            return self.err(at, "joblib array wrapper without a dtype");
        };
        let Some(Node::Obj {
            args,
            state: dstate,
            ..
        }) = self.arena.get(dtype as usize)
        else {
            return self.err(at, "joblib array wrapper without a dtype");
        };
        let descr = self
            .tuple_items(args)
            .and_then(|t| t.first())
            .and_then(|d| self.str_of(*d).map(std::borrow::Cow::into_owned));
        let Some(descr) = descr else {
            return self.err(at, "joblib dtype without a descriptor");
        };
        let dstate = self
            .tuple_items(dstate)
            .map(<[V]>::to_vec)
            .unwrap_or_default();
        let elsize = match dstate.get(5) {
            Some(V::Int(n)) if *n > 0 => Some(*n as u64),
            _ => None,
        };
        // dtype flags bit 0 (NPY_ITEM_REFCOUNT): the dtype holds objects.
        let has_object_flag = matches!(dstate.get(7), Some(V::Int(f)) if f & 1 == 1);
        let kind = descr.trim_start_matches(['<', '>', '|', '=', '!']);
        if has_object_flag || kind.starts_with('O') || kind == "object" || kind == "object_" {
            if self.depth >= self.limits.max_nested_depth {
                return self.err(at, "joblib object arrays nested too deeply");
            }
            // joblib loads object arrays with plain `pickle.load`: no array skipping.
            let inner = analyze_depth(
                self.data,
                self.pos,
                self.base,
                self.limits,
                self.depth + 1,
                false,
            );
            self.merge(inner)?;
            return Ok(());
        }
        let flexible = matches!(kind.chars().next(), Some('S' | 'U' | 'V' | 'a'));
        let itemsize = if flexible {
            elsize.or_else(|| itemsize_of(&descr))
        } else {
            itemsize_of(&descr)
        };
        let Some(itemsize) = itemsize else {
            return self.err(at, format!("joblib array with unknown dtype `{descr}`"));
        };
        let mut count: u64 = 1;
        match shape.as_ref().and_then(|v| self.tuple_items(v)) {
            Some(dims) => {
                for d in dims {
                    let V::Int(n) = d else {
                        return self.err(at, "joblib array shape is not a tuple of integers");
                    };
                    count = count
                        .checked_mul(u64::try_from(*n).unwrap_or(u64::MAX))
                        .ok_or(())
                        .or_else(|()| self.err(at, "joblib array shape overflows"))?;
                }
            }
            None => return self.err(at, "joblib array wrapper without a shape"),
        }
        let nbytes = count
            .checked_mul(itemsize)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(())
            .or_else(|()| self.err(at, "joblib array size overflows"))?;
        // Where the array bytes are: here, or after the current frame.
        let (start, prior) = match (self.frame_end, self.hole) {
            (Some(end), Some((hs, hl))) if end > self.pos => (hs, hl),
            (Some(end), None) if end > self.pos => (end, 0),
            _ => (self.pos, 0),
        };
        let mut cursor = start.saturating_add(prior);
        if padded {
            let Some(&pad) = self.data.get(cursor) else {
                return self.err(at, "truncated: joblib array padding");
            };
            cursor = cursor.saturating_add(1 + usize::from(pad));
        }
        let end = cursor.saturating_add(nbytes);
        if end > self.data.len() {
            return self.err(at, "truncated: joblib array data runs past the end");
        }
        if start == self.pos {
            self.pos = end;
        } else {
            self.hole = Some((start, end - start));
        }
        Ok(())
    }

    fn merge(&mut self, inner: Analysis<'a>) -> R<()> {
        for g in inner.globals {
            let ix = self.intern_global(&g.module, &g.name, (g.offset - self.base) as usize, g.via);
            self.globals[ix as usize].count += g.count - 1;
        }
        self.events.extend(inner.events);
        self.nested.extend(inner.nested);
        self.ops += inner.ops;
        match inner.end {
            Ok(end) => {
                self.pos = end;
                Ok(())
            }
            Err(e) => Err(Box::new(e)),
        }
    }
}

/// Byte size of one element of a numpy dtype descriptor (`<f8`, `|b1`, `U5`, `M8[ns]`).
fn itemsize_of(descr: &str) -> Option<u64> {
    let d = descr.trim_start_matches(['<', '>', '|', '=']);
    let mut chars = d.chars();
    let kind = chars.next()?;
    let digits: String = chars.take_while(char::is_ascii_digit).collect();
    if let Ok(n) = digits.parse::<u64>() {
        return Some(if kind == 'U' { n.checked_mul(4)? } else { n });
    }
    match kind {
        '?' | 'b' | 'B' => Some(1),
        'h' | 'H' | 'e' => Some(2),
        'i' | 'I' | 'f' => Some(4),
        'l' | 'L' | 'q' | 'Q' | 'd' | 'F' => Some(8),
        'g' | 'D' => Some(16),
        'G' => Some(32),
        _ => None,
    }
}

/// A memo key as Python's `int()` reads it (sign, surrounding whitespace,
/// underscores between digits). Negative keys are folded away from the
/// dense range.
fn parse_index(l: &[u8]) -> Option<u64> {
    let t = std::str::from_utf8(l).ok()?.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = u64::from(c.to_digit(10)?);
        v = v.saturating_mul(10).saturating_add(d);
    }
    Some(if neg && v != 0 { u64::MAX - v } else { v })
}

/// A GLOBAL/INST operand: a dotted Python identifier (anything else cannot
/// be imported, so the real unpickler fails there too).
fn global_part(l: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(l).ok()?;
    let s = s.strip_suffix('\r').unwrap_or(s);
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    ok.then(|| s.to_owned())
}

/// Decodes a protocol 0 `STRING` argument (a Python `repr` of a str).
fn decode_repr_string(l: &[u8]) -> Option<Text<'_>> {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    if l.len() < 2 || l[0] != l[l.len() - 1] || !(l[0] == b'\'' || l[0] == b'"') {
        return None;
    }
    let inner = &l[1..l.len() - 1];
    if !inner.contains(&b'\\') {
        return Some(Text::Borrowed(inner));
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c != b'\\' || i + 1 == inner.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = inner[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut k = 0;
                while k < 2 && i < inner.len() && (b'0'..=b'7').contains(&inner[i]) {
                    v = v * 8 + u32::from(inner[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push((v & 0xff) as u8);
            }
            b'x' if i + 2 <= inner.len() => {
                let h = std::str::from_utf8(&inner[i..i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(b) => out.push(b),
                    None => out.extend_from_slice(b"\\x"),
                }
                i += 2;
            }
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            other => out.push(other),
        }
    }
    Some(Text::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Decodes a protocol 0 `UNICODE` argument (raw-unicode-escape).
fn decode_raw_unicode_escape(l: &[u8]) -> Text<'_> {
    if !l.contains(&b'\\') {
        return Text::Borrowed(l);
    }
    let mut out = String::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        if l[i] == b'\\' && i + 1 < l.len() && (l[i + 1] == b'u' || l[i + 1] == b'U') {
            let n = if l[i + 1] == b'u' { 4 } else { 8 };
            if let Some(hex) = l.get(i + 2..i + 2 + n)
                && let Some(c) = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
            {
                out.push(c);
                i += 2 + n;
                continue;
            }
        }
        // raw-unicode-escape maps other bytes as latin-1
        out.push(char::from(l[i]));
        i += 1;
    }
    Text::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn globals(data: &[u8]) -> Vec<String> {
        let a = analyze(data, 0, 0, &VmLimits::default(), false);
        a.globals
            .iter()
            .map(|g| format!("{}.{}", g.module, g.name))
            .collect()
    }

    /// (pickle bytes, globals it imports, stops cleanly)
    fn check(data: &[u8], want: &[&str], clean: bool) {
        let a = analyze(data, 0, 0, &VmLimits::default(), false);
        let got: Vec<String> = a
            .globals
            .iter()
            .map(|g| format!("{}.{}", g.module, g.name))
            .collect();
        assert_eq!(got, want, "{data:?}");
        assert_eq!(a.end.is_ok(), clean, "{:?}", a.end);
    }

    #[test]
    fn data_driven() {
        // protocol 0 GLOBAL + REDUCE
        check(b"cos\nsystem\n(S'id'\ntR.", &["os.system"], true);
        // protocol 4 STACK_GLOBAL with memoized operands fetched by BINGET
        check(
            b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93)R.",
            &["os.system"],
            true,
        );
        // STRING with escapes decodes before the verdict
        check(b"S'o\\x73'\nS'system'\n\x93.", &["os.system"], true);
        // the payload before a truncation still counts
        check(
            b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00",
            &["posix.system"],
            false,
        );
        // INST imports and calls
        check(
            b"(S'x'\nisubprocess\ncheck_output\n.",
            &["subprocess.check_output"],
            true,
        );
        // invalid opcode
        check(b"\x80\x02\xff", &[], false);
        // stack underflow after MARK
        check(b"(R.", &[], false);
    }

    #[test]
    fn memoize_indices_follow_distinct_keys() {
        // BINPUT 5, then MEMOIZE must use index 1 (len(memo)), not 6.
        let p = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x8c\x03zzz\x94h\x00h\x01\x93.";
        assert_eq!(globals(p), ["os.system"]);
        let p =
            b"\x80\x04\x8c\x01a\x94\x8c\x01b\x94\x8c\x02os\x94\x8c\x06system\x94h\x02h\x03\x93.";
        assert_eq!(globals(p), ["os.system"]);
        // sparse then dense key: MEMOIZE index counts distinct keys only
        let mut p = b"\x80\x04\x8c\x02os".to_vec();
        p.extend_from_slice(b"r\x00\x00\x01\x00"); // LONG_BINPUT 65536 (sparse)
        p.extend_from_slice(b"\x94"); // MEMOIZE -> key 1
        p.extend_from_slice(b"\x8c\x06system\x94"); // key 2
        p.extend_from_slice(b"h\x01h\x02\x93.");
        assert_eq!(globals(&p), ["os.system"]);
    }

    #[test]
    fn dynamic_and_ext_events() {
        let a = analyze(
            b"\x80\x04cbuiltins\nstr\n\x8c\x02os\x85R\x8c\x06system\x93.",
            0,
            0,
            &VmLimits::default(),
            false,
        );
        assert!(
            a.events
                .iter()
                .any(|e| matches!(e, Event::DynamicGlobal { .. }))
        );
        let a = analyze(b"\x80\x02\x82\x01).", 0, 0, &VmLimits::default(), false);
        assert!(
            a.events
                .iter()
                .any(|e| matches!(e, Event::ExtCode { code: 1, .. }))
        );
    }

    #[test]
    fn self_referencing_containers_are_fine() {
        // rich mode: a dict stored into itself (was an Rc cycle, found by the fuzzer)
        let p = b"\x80\x04}\x94\x8c\x01ah\x00s\x8c\x01bh\x00sh\x00h\x00(h\x00h\x00u.";
        let a = analyze(p, 0, 0, &VmLimits::default(), true);
        assert!(a.end.is_ok(), "{:?}", a.end);
    }

    #[test]
    fn itemsizes() {
        assert_eq!(itemsize_of("<f8"), Some(8));
        assert_eq!(itemsize_of("|b1"), Some(1));
        assert_eq!(itemsize_of("<U5"), Some(20));
        assert_eq!(itemsize_of("M8[ns]"), Some(8));
        assert_eq!(itemsize_of("?"), Some(1));
        assert_eq!(itemsize_of("zz"), None);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048), rich in any::<bool>()) {
            let limits = VmLimits { max_stack: 4096, max_memo: 4096, max_nested_depth: 3 };
            let a = analyze(&data, 0, 0, &limits, rich);
            if let Ok(end) = a.end {
                prop_assert!(end <= data.len());
            }
        }

        #[test]
        fn opcode_soup_never_panics(ops in proptest::collection::vec(prop_oneof![
            Just(b"(".to_vec()), Just(b")".to_vec()), Just(b"}".to_vec()), Just(b"]".to_vec()),
            Just(b"\x94".to_vec()), Just(b"h\x00".to_vec()), Just(b"q\x01".to_vec()), Just(b"s".to_vec()),
            Just(b"u".to_vec()), Just(b"t".to_vec()), Just(b"\x86".to_vec()), Just(b"R".to_vec()),
            Just(b"b".to_vec()), Just(b"\x93".to_vec()), Just(b"\x8c\x02os".to_vec()), Just(b"K\x05".to_vec()),
            Just(b"cnumpy\ndtype\n".to_vec()), Just(b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n".to_vec()),
            Just(b"0".to_vec()), Just(b"1".to_vec()), Just(b"2".to_vec()), Just(b"\x81".to_vec()),
        ], 0..200)) {
            let data: Vec<u8> = ops.concat();
            let _ = analyze(&data, 0, 0, &VmLimits::default(), true);
        }
    }
}
