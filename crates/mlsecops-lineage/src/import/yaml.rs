//! A small, strictly bounded reader for the YAML subset DVC writes (`.dvc`
//! files, `dvc.lock`), so the crate needs no YAML dependency.
//!
//! Supported: one document (optional `%YAML` directive and `---` / `...`
//! markers), block mappings and sequences by indentation (including compact
//! `- key: value` entries and sequences at their parent key's indentation),
//! plain scalars (also folded over several lines), single- and double-quoted
//! scalars with every YAML escape, literal `|` and folded `>` block scalars
//! with chomping and indentation indicators, flow sequences and mappings
//! (`[a, b]`, `{a: 1}`, nested, over several lines), comments.
//!
//! Refused with [`ImportError::Unsupported`]: anchors, aliases, tags, explicit
//! `?` keys, collections as keys, several documents, `%TAG` directives.
//!
//! Plain scalars resolve as the YAML 1.2 core schema says (`null`/`~`,
//! `true`/`false`, decimal/`0o`/`0x` integers, floats); `.inf` and `.nan`
//! have no JSON form and stay strings, as do integers beyond 64 bits.
//! Mapping keys are the key's text; duplicate keys are an error.
//!
//! Bounds: input at most [`MAX_YAML_BYTES`], nesting at most [`MAX_DEPTH`]
//! collections; every construct is read in time linear in its length (a
//! look-ahead rereads at most one line or run of blank lines).

use std::collections::HashSet;

use serde_json::{Map, Number, Value};

use super::ImportError;

/// Largest input accepted, in bytes.
pub const MAX_YAML_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed YAML node and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: NodeValue,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `null`, a boolean, a number or a string.
    Scalar(Value),
    Seq(Vec<Node>),
    /// Entries in document order; keys are unique.
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    /// The line of the key.
    pub line: usize,
    pub value: Node,
}

impl Node {
    fn scalar(line: usize, v: Value) -> Self {
        Self {
            line,
            value: NodeValue::Scalar(v),
        }
    }

    /// The node as JSON (mappings become objects).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Scalar(v) => v.clone(),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => {
                let mut m = Map::new();
                for e in entries {
                    m.insert(e.key.clone(), e.value.to_json());
                }
                Value::Object(m)
            }
        }
    }

    /// The string, if this is a string scalar.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Scalar(Value::Null))
    }

    /// The entries, if this is a mapping.
    #[must_use]
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Map(e) => Some(e),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    #[must_use]
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The entry for `key`, if this is a mapping that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }
}

/// Parses one YAML document into JSON.
pub fn parse(text: &str) -> Result<Value, ImportError> {
    Ok(parse_document(text)?.to_json())
}

/// Parses one YAML document, keeping the line of every node.
pub fn parse_document(text: &str) -> Result<Node, ImportError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(ImportError::TooLarge {
            size: text.len(),
            limit: MAX_YAML_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        text
    };
    let mut p = Parser::new(text);
    p.document()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// The document's root node.
    Top,
    /// The value of a block mapping entry.
    MapValue,
    /// An entry of a block sequence.
    SeqItem,
}

#[derive(Clone, Copy)]
struct Mark {
    pos: usize,
    line: usize,
    line_start: usize,
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    /// Byte offset where the line of `pos` starts.
    line_start: usize,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            s,
            b: s.as_bytes(),
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    // ---- cursor -------------------------------------------------------

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.pos + k).copied()
    }

    fn eof(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn col(&self) -> usize {
        self.pos - self.line_start
    }

    fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
            line_start: self.line_start,
        }
    }

    fn reset(&mut self, m: Mark) {
        self.pos = m.pos;
        self.line = m.line;
        self.line_start = m.line_start;
    }

    /// Steps over a `\n` at the cursor.
    fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// Moves to the end of the current line (onto its `\n`, or EOF).
    fn skip_to_eol(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_inline_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Whether the cursor is the first non-blank on its line.
    fn first_on_line(&self) -> bool {
        self.b[self.line_start..self.pos].iter().all(|&c| is_ws(c))
    }

    /// Whether a `#` at the cursor starts a comment.
    fn at_comment(&self) -> bool {
        self.peek() == Some(b'#') && (self.pos == self.line_start || is_ws(self.b[self.pos - 1]))
    }

    /// Whether only blanks and a comment remain on the line.
    fn rest_is_blank(&self) -> bool {
        let mut i = self.pos;
        while i < self.b.len() && is_ws(self.b[i]) {
            i += 1;
        }
        match self.b.get(i) {
            None | Some(b'\n') => true,
            Some(b'#') => i == self.line_start || is_ws(self.b[i - 1]),
            Some(_) => false,
        }
    }

    fn at_marker(&self, m: [u8; 3]) -> bool {
        self.col() == 0
            && self.b[self.pos..].starts_with(&m)
            && self
                .b
                .get(self.pos + 3)
                .is_none_or(|&c| c == b'\n' || is_ws(c))
    }

    fn at_doc_marker(&self) -> bool {
        self.at_marker(*b"---") || self.at_marker(*b"...")
    }

    /// Whether a block sequence entry (`-` then blank) starts at the cursor.
    fn at_seq_entry(&self) -> bool {
        self.peek() == Some(b'-') && self.peek_at(1).is_none_or(|c| c == b'\n' || is_ws(c))
    }

    /// Skips blanks, comments and line breaks in block context.
    fn skip_space(&mut self) -> Result<(), ImportError> {
        loop {
            self.skip_inline_ws();
            if self.at_comment() {
                self.skip_to_eol();
            }
            match self.peek() {
                Some(b'\n') => self.newline(),
                Some(_) => {
                    if self.first_on_line() && self.b[self.line_start..self.pos].contains(&b'\t') {
                        return Err(self.syntax("tab character used for indentation"));
                    }
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
    }

    /// Skips blanks, comments and line breaks in flow context.
    fn skip_flow_space(&mut self) {
        loop {
            self.skip_inline_ws();
            if self.at_comment() {
                self.skip_to_eol();
            }
            if self.peek() == Some(b'\n') {
                self.newline();
            } else {
                return;
            }
        }
    }

    fn syntax(&self, message: impl Into<String>) -> ImportError {
        ImportError::Syntax {
            line: self.line,
            message: message.into(),
        }
    }

    fn unsupported(&self, what: &'static str) -> ImportError {
        ImportError::Unsupported {
            line: self.line,
            what,
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), ImportError> {
        if depth > MAX_DEPTH {
            Err(ImportError::TooDeep {
                line: self.line,
                limit: MAX_DEPTH,
            })
        } else {
            Ok(())
        }
    }

    /// Rejects node properties and reserved indicators at the cursor.
    fn check_node_start(&self) -> Result<(), ImportError> {
        match self.peek() {
            Some(b'&') => Err(self.unsupported("anchors")),
            Some(b'*') => Err(self.unsupported("aliases")),
            Some(b'!') => Err(self.unsupported("tags")),
            Some(b'?') if self.peek_at(1).is_none_or(|c| c == b'\n' || is_ws(c)) => {
                Err(self.unsupported("explicit keys (`?`)"))
            }
            Some(c @ (b'@' | b'`')) => Err(self.syntax(format!(
                "`{}` is reserved and cannot start a plain scalar",
                c as char
            ))),
            _ => Ok(()),
        }
    }

    // ---- document -----------------------------------------------------

    fn document(&mut self) -> Result<Node, ImportError> {
        self.skip_space()?;
        let mut directives = false;
        while self.col() == 0 && self.peek() == Some(b'%') {
            if !self.b[self.pos..].starts_with(b"%YAML") {
                return Err(self.unsupported("directives other than %YAML"));
            }
            directives = true;
            self.skip_to_eol();
            self.skip_space()?;
        }
        let mut root_ctx = Ctx::Top;
        if self.at_marker(*b"---") {
            self.pos += 3;
            if !self.rest_is_blank() {
                // `--- value`: the root starts on the marker line.
                root_ctx = Ctx::MapValue;
            }
        } else if directives {
            return Err(self.syntax("expected `---` after directives"));
        }
        let root = if self.at_marker(*b"...") || self.eof() {
            Node::scalar(self.line, Value::Null)
        } else {
            self.block_node(-1, root_ctx, 0)?
        };
        self.skip_space()?;
        if self.at_marker(*b"...") {
            self.pos += 3;
            self.skip_space()?;
        }
        if self.eof() {
            Ok(root)
        } else if self.at_marker(*b"---") || self.peek() == Some(b'%') {
            Err(self.unsupported("multiple documents"))
        } else if !self.first_on_line() {
            Err(self.syntax("unexpected content after a value"))
        } else {
            Err(self.syntax("unexpected content (bad indentation?)"))
        }
    }

    // ---- block context ------------------------------------------------

    /// A node inside a block collection whose own indentation is
    /// `parent_indent` (-1 for the root).
    fn block_node(
        &mut self,
        parent_indent: isize,
        ctx: Ctx,
        depth: usize,
    ) -> Result<Node, ImportError> {
        let start_line = self.line;
        self.skip_space()?;
        if self.eof() || (self.col() == 0 && self.at_doc_marker()) {
            return Ok(Node::scalar(start_line, Value::Null));
        }
        let inline = !self.first_on_line();
        let col = self.col() as isize;
        if !inline {
            let same_indent_seq =
                col == parent_indent && ctx == Ctx::MapValue && self.at_seq_entry();
            if col <= parent_indent && !same_indent_seq {
                return Ok(Node::scalar(start_line, Value::Null));
            }
        }
        // A value on its key's line cannot open a block collection.
        let block_allowed = !inline || ctx == Ctx::SeqItem;
        let Some(c) = self.peek() else {
            return Ok(Node::scalar(start_line, Value::Null));
        };
        match c {
            b'-' if self.at_seq_entry() => {
                if !block_allowed {
                    return Err(self.syntax("a block sequence cannot start on its key's line"));
                }
                self.block_seq(self.col(), depth + 1)
            }
            b'|' | b'>' => self.block_scalar(parent_indent),
            b'[' | b'{' => {
                let node = self.flow_node(depth)?;
                self.skip_inline_ws();
                if self.peek() == Some(b':') {
                    return Err(self.unsupported("flow collections as mapping keys"));
                }
                if !self.rest_is_blank() {
                    return Err(self.syntax("unexpected content after a flow collection"));
                }
                self.skip_to_eol();
                Ok(node)
            }
            b'"' | b'\'' => {
                let m = self.mark();
                let line = self.line;
                let s = self.quoted()?;
                self.skip_inline_ws();
                if self.peek() == Some(b':')
                    && self.peek_at(1).is_none_or(|c| c == b'\n' || is_ws(c))
                {
                    if self.line != line {
                        return Err(self.syntax("a mapping key must fit on one line"));
                    }
                    if !block_allowed {
                        return Err(self.syntax("mapping values are not allowed here"));
                    }
                    self.reset(m);
                    return self.block_map(self.col(), depth + 1);
                }
                if !self.rest_is_blank() {
                    return Err(self.syntax("unexpected content after a quoted scalar"));
                }
                self.skip_to_eol();
                Ok(Node::scalar(line, Value::String(s)))
            }
            b',' | b']' | b'}' => Err(self.syntax(format!("unexpected `{}`", c as char))),
            _ => {
                self.check_node_start()?;
                if self.key_colon().is_some() {
                    if !block_allowed {
                        return Err(self.syntax("mapping values are not allowed here"));
                    }
                    return self.block_map(self.col(), depth + 1);
                }
                self.plain_block(parent_indent)
            }
        }
    }

    /// If the rest of the line is `plain key: …`, the offset of that colon.
    fn key_colon(&self) -> Option<usize> {
        let mut i = self.pos;
        while i < self.b.len() {
            match self.b[i] {
                b'\n' => return None,
                b'#' if i > self.pos && is_ws(self.b[i - 1]) => return None,
                b':' if self.b.get(i + 1).is_none_or(|&c| c == b'\n' || is_ws(c)) => {
                    return Some(i);
                }
                _ => i += 1,
            }
        }
        None
    }

    fn block_map(&mut self, indent: usize, depth: usize) -> Result<Node, ImportError> {
        self.check_depth(depth)?;
        let start = self.line;
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let key_line = self.line;
            let key = match self.peek() {
                Some(b'"' | b'\'') => {
                    let k = self.quoted()?;
                    if self.line != key_line {
                        return Err(self.syntax("a mapping key must fit on one line"));
                    }
                    self.skip_inline_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.syntax("expected `:` after a mapping key"));
                    }
                    k
                }
                Some(b'[' | b'{') => {
                    return Err(self.unsupported("flow collections as mapping keys"));
                }
                _ if self.at_seq_entry() => {
                    return Err(self.syntax("expected a mapping key, found a sequence entry"));
                }
                _ => {
                    self.check_node_start()?;
                    let Some(colon) = self.key_colon() else {
                        return Err(self.syntax("expected a mapping key followed by `:`"));
                    };
                    let k = self.s[self.pos..colon]
                        .trim_end_matches([' ', '\t'])
                        .to_owned();
                    self.pos = colon;
                    k
                }
            };
            self.pos += 1; // the `:`
            if !seen.insert(key.clone()) {
                return Err(ImportError::Syntax {
                    line: key_line,
                    message: format!("duplicate mapping key {key:?}"),
                });
            }
            let value = self.block_node(indent as isize, Ctx::MapValue, depth)?;
            entries.push(Entry {
                key,
                line: key_line,
                value,
            });
            self.skip_space()?;
            if self.eof() || self.at_doc_marker() {
                break;
            }
            if !self.first_on_line() {
                return Err(self.syntax("unexpected content after a value"));
            }
            let col = self.col();
            if col < indent {
                break;
            }
            if col > indent {
                return Err(self.syntax("bad indentation of a mapping entry"));
            }
        }
        Ok(Node {
            line: start,
            value: NodeValue::Map(entries),
        })
    }

    fn block_seq(&mut self, indent: usize, depth: usize) -> Result<Node, ImportError> {
        self.check_depth(depth)?;
        let start = self.line;
        let mut items = Vec::new();
        loop {
            self.pos += 1; // the `-`
            items.push(self.block_node(indent as isize, Ctx::SeqItem, depth)?);
            self.skip_space()?;
            if self.eof() || self.at_doc_marker() {
                break;
            }
            if !self.first_on_line() {
                return Err(self.syntax("unexpected content after a value"));
            }
            let col = self.col();
            if col < indent {
                break;
            }
            if col > indent {
                return Err(self.syntax("bad indentation of a sequence entry"));
            }
            if !self.at_seq_entry() {
                break;
            }
        }
        Ok(Node {
            line: start,
            value: NodeValue::Seq(items),
        })
    }

    /// One line's worth of a plain scalar in block context; stops at a
    /// comment (then returns `true`) or the line end.
    fn plain_segment(&mut self) -> Result<(&'a str, bool), ImportError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'\n' => break,
                b'#' if self.pos > start && is_ws(self.b[self.pos - 1]) => {
                    let seg = self.s[start..self.pos].trim_end_matches([' ', '\t']);
                    self.skip_to_eol();
                    return Ok((seg, true));
                }
                b':' if self.peek_at(1).is_none_or(|c| c == b'\n' || is_ws(c)) => {
                    return Err(self.syntax("mapping values are not allowed here"));
                }
                _ => self.pos += 1,
            }
        }
        Ok((self.s[start..self.pos].trim_end_matches([' ', '\t']), false))
    }

    fn plain_block(&mut self, parent_indent: isize) -> Result<Node, ImportError> {
        let line = self.line;
        let (first, mut done) = self.plain_segment()?;
        let mut text = String::from(first);
        while !done {
            // Look ahead for a continuation line, more indented than the parent.
            let m = self.mark();
            let mut breaks = 0usize;
            let mut found = false;
            while self.peek() == Some(b'\n') {
                self.newline();
                let mut indent = 0usize;
                while self.peek() == Some(b' ') {
                    self.pos += 1;
                    indent += 1;
                }
                self.skip_inline_ws();
                match self.peek() {
                    Some(b'\n') => breaks += 1,
                    None => break,
                    Some(_) => {
                        found = indent as isize > parent_indent
                            && !self.at_comment()
                            && !(indent == 0 && self.at_doc_marker_at_line_start());
                        break;
                    }
                }
            }
            if !found {
                self.reset(m);
                break;
            }
            if breaks == 0 {
                text.push(' ');
            } else {
                text.extend(std::iter::repeat_n('\n', breaks));
            }
            let (seg, comment) = self.plain_segment()?;
            text.push_str(seg);
            done = comment;
        }
        Ok(Node::scalar(line, resolve_plain(&text)))
    }

    fn at_doc_marker_at_line_start(&self) -> bool {
        let at = self.line_start;
        let rest = &self.b[at..];
        (rest.starts_with(b"---") || rest.starts_with(b"..."))
            && rest.get(3).is_none_or(|&c| c == b'\n' || is_ws(c))
    }

    fn block_scalar(&mut self, parent_indent: isize) -> Result<Node, ImportError> {
        #[derive(PartialEq)]
        enum Chomp {
            Clip,
            Strip,
            Keep,
        }
        let line = self.line;
        let literal = self.peek() == Some(b'|');
        self.pos += 1;
        let mut chomp = None;
        let mut explicit = None;
        loop {
            match self.peek() {
                Some(b'-') if chomp.is_none() => chomp = Some(Chomp::Strip),
                Some(b'+') if chomp.is_none() => chomp = Some(Chomp::Keep),
                Some(c @ b'1'..=b'9') if explicit.is_none() => {
                    explicit = Some(usize::from(c - b'0'));
                }
                _ => break,
            }
            self.pos += 1;
        }
        let chomp = chomp.unwrap_or(Chomp::Clip);
        if !self.rest_is_blank() || (self.peek() == Some(b'#')) {
            return Err(self.syntax("invalid block scalar header"));
        }
        self.skip_to_eol();
        let base = parent_indent.max(-1);
        let mut indent: Option<usize> =
            explicit.map(|m| usize::try_from(base + m as isize).unwrap_or(0));
        let mut lines: Vec<&'a str> = Vec::new();
        while self.peek() == Some(b'\n') {
            let m = self.mark();
            self.newline();
            if self.eof() {
                break;
            }
            let ls = self.pos;
            let mut sp = 0usize;
            while self.peek() == Some(b' ') {
                self.pos += 1;
                sp += 1;
            }
            let content_start = self.pos;
            self.skip_to_eol();
            let whole = &self.s[ls..self.pos];
            let rest = &self.s[content_start..self.pos];
            if rest.trim_matches([' ', '\t']).is_empty() {
                let keep = indent.map_or("", |i| whole.get(i..).unwrap_or(""));
                lines.push(if keep.trim_matches([' ', '\t']).is_empty() {
                    ""
                } else {
                    keep
                });
                continue;
            }
            let ind = if let Some(i) = indent {
                i
            } else {
                if sp as isize <= parent_indent {
                    self.reset(m);
                    break;
                }
                indent = Some(sp);
                sp
            };
            if sp < ind || (ind == 0 && (whole.starts_with("---") || whole.starts_with("..."))) {
                self.reset(m);
                break;
            }
            lines.push(&whole[ind..]);
        }
        let last = lines.iter().rposition(|l| !l.is_empty());
        let (content, trailing) = match last {
            Some(i) => (&lines[..=i], lines.len() - i - 1),
            None => (&lines[..0], lines.len()),
        };
        let mut out = String::new();
        if literal {
            for (i, l) in content.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(l);
            }
        } else {
            let mut pending = 0usize;
            let mut prev_more: Option<bool> = None;
            for l in content {
                if l.is_empty() {
                    pending += 1;
                    continue;
                }
                let more = l.starts_with([' ', '\t']);
                match prev_more {
                    None => out.extend(std::iter::repeat_n('\n', pending)),
                    Some(pm) if !pm && !more => {
                        if pending == 0 {
                            out.push(' ');
                        } else {
                            out.extend(std::iter::repeat_n('\n', pending));
                        }
                    }
                    Some(_) => out.extend(std::iter::repeat_n('\n', pending + 1)),
                }
                out.push_str(l);
                prev_more = Some(more);
                pending = 0;
            }
        }
        if content.is_empty() {
            if chomp == Chomp::Keep {
                out.extend(std::iter::repeat_n('\n', trailing));
            }
        } else {
            match chomp {
                Chomp::Strip => {}
                Chomp::Clip => out.push('\n'),
                Chomp::Keep => out.extend(std::iter::repeat_n('\n', trailing + 1)),
            }
        }
        Ok(Node::scalar(line, Value::String(out)))
    }

    // ---- scalars shared by both contexts -----------------------------

    /// A single- or double-quoted scalar starting at the cursor.
    fn quoted(&mut self) -> Result<String, ImportError> {
        let start_line = self.line;
        let double = self.peek() == Some(b'"');
        self.pos += 1;
        let mut out = String::new();
        // Length of `out` that line folding must not trim (escaped blanks).
        let mut protect = 0usize;
        loop {
            let run_start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'\n' || (double && (c == b'"' || c == b'\\')) || (!double && c == b'\'') {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.s[run_start..self.pos]);
            match self.peek() {
                None => {
                    return Err(ImportError::Syntax {
                        line: start_line,
                        message: "unterminated quoted scalar".into(),
                    });
                }
                Some(b'\'') => {
                    if self.peek_at(1) == Some(b'\'') {
                        out.push('\'');
                        self.pos += 2;
                        protect = out.len();
                    } else {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    if self.peek_at(1) == Some(b'\n') {
                        self.pos += 1;
                        self.fold_quoted(&mut out, true)?;
                    } else {
                        self.escape(&mut out)?;
                    }
                    protect = out.len();
                }
                Some(_) => {
                    // A line break: trailing blanks of the line are dropped.
                    let keep = out[protect..].trim_end_matches([' ', '\t']).len() + protect;
                    out.truncate(keep);
                    self.fold_quoted(&mut out, false)?;
                    protect = out.len();
                }
            }
        }
    }

    /// At a `\n` inside a quoted scalar: folds it (and following blank
    /// lines) and skips the next line's leading blanks.
    fn fold_quoted(&mut self, out: &mut String, escaped: bool) -> Result<(), ImportError> {
        let mut breaks = 0usize;
        loop {
            self.newline();
            if self.at_doc_marker() {
                return Err(self.syntax("document marker inside a quoted scalar"));
            }
            self.skip_inline_ws();
            if self.peek() == Some(b'\n') {
                breaks += 1;
            } else {
                break;
            }
        }
        if breaks > 0 {
            out.extend(std::iter::repeat_n('\n', breaks));
        } else if !escaped {
            out.push(' ');
        }
        Ok(())
    }

    /// A `\` escape in a double-quoted scalar (not an escaped line break).
    fn escape(&mut self, out: &mut String) -> Result<(), ImportError> {
        let Some(c) = self.peek_at(1) else {
            return Err(self.syntax("unterminated quoted scalar"));
        };
        self.pos += 2;
        let ch = match c {
            b'0' => '\0',
            b'a' => '\u{7}',
            b'b' => '\u{8}',
            b't' | b'\t' => '\t',
            b'n' => '\n',
            b'v' => '\u{b}',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'e' => '\u{1b}',
            b' ' => ' ',
            b'"' => '"',
            b'/' => '/',
            b'\\' => '\\',
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' | b'u' | b'U' => {
                let n = match c {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = self.s.get(self.pos..self.pos + n).unwrap_or("");
                let code = if hex.len() == n && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    u32::from_str_radix(hex, 16).ok()
                } else {
                    None
                };
                let Some(ch) = code.and_then(char::from_u32) else {
                    return Err(self.syntax(format!("invalid escape `\\{}`", c as char)));
                };
                self.pos += n;
                ch
            }
            _ => {
                let shown = self.s[self.pos - 1..].chars().next().unwrap_or('?');
                return Err(self.syntax(format!("invalid escape `\\{shown}`")));
            }
        };
        out.push(ch);
        Ok(())
    }

    // ---- flow context -------------------------------------------------

    fn flow_node(&mut self, depth: usize) -> Result<Node, ImportError> {
        self.skip_flow_space();
        let line = self.line;
        match self.peek() {
            None => Err(self.syntax("unexpected end of input in a flow collection")),
            Some(b'[') => self.flow_seq(depth + 1),
            Some(b'{') => self.flow_map(depth + 1),
            Some(b'"' | b'\'') => Ok(Node::scalar(line, Value::String(self.quoted()?))),
            Some(c @ (b']' | b'}' | b',' | b'|' | b'>' | b'#')) => {
                Err(self.syntax(format!("unexpected `{}` in a flow collection", c as char)))
            }
            Some(b'-')
                if self
                    .peek_at(1)
                    .is_none_or(|c| c == b'\n' || is_ws(c) || is_flow_indicator(c)) =>
            {
                Err(self.syntax("block sequence entries are not allowed in a flow collection"))
            }
            Some(_) => {
                self.check_node_start()?;
                let raw = self.flow_plain()?;
                Ok(Node::scalar(line, resolve_plain(&raw)))
            }
        }
    }

    /// A plain scalar in flow context (may span lines); the raw text.
    fn flow_plain(&mut self) -> Result<String, ImportError> {
        let mut out = String::new();
        loop {
            let start = self.pos;
            let mut stop_line = false;
            while let Some(c) = self.peek() {
                let ends = match c {
                    b'\n' => {
                        stop_line = true;
                        true
                    }
                    b',' | b'[' | b']' | b'{' | b'}' => true,
                    b'#' => self.pos > start && is_ws(self.b[self.pos - 1]),
                    b':' => self
                        .peek_at(1)
                        .is_none_or(|c| c == b'\n' || is_ws(c) || is_flow_indicator(c)),
                    _ => false,
                };
                if ends {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.s[start..self.pos].trim_end_matches([' ', '\t']));
            if !stop_line {
                break;
            }
            // Line break: continue if the next non-blank is more scalar text.
            let m = self.mark();
            let mut breaks = 0usize;
            while self.peek() == Some(b'\n') {
                self.newline();
                self.skip_inline_ws();
                if self.peek() == Some(b'\n') {
                    breaks += 1;
                }
            }
            let more = match self.peek() {
                None => false,
                Some(c) => {
                    !(matches!(c, b',' | b'[' | b']' | b'{' | b'}' | b'#')
                        || (c == b':'
                            && self
                                .peek_at(1)
                                .is_none_or(|n| n == b'\n' || is_ws(n) || is_flow_indicator(n)))
                        || self.at_doc_marker())
                }
            };
            if !more {
                self.reset(m);
                break;
            }
            if breaks == 0 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', breaks));
            }
        }
        if out.is_empty() {
            return Err(self.syntax("expected a value in a flow collection"));
        }
        Ok(out)
    }

    fn flow_seq(&mut self, depth: usize) -> Result<Node, ImportError> {
        self.check_depth(depth)?;
        let line = self.line;
        self.pos += 1; // `[`
        let mut items = Vec::new();
        loop {
            self.skip_flow_space();
            match self.peek() {
                None => return Err(unterminated(line)),
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => {}
            }
            let item_line = self.line;
            let mut item = self.flow_node(depth)?;
            self.skip_flow_space();
            if self.peek() == Some(b':') {
                // `[key: value]`: a single-pair mapping.
                self.pos += 1;
                let key = flow_key_text(&item).ok_or(ImportError::Unsupported {
                    line: item_line,
                    what: "collections as mapping keys",
                })?;
                self.skip_flow_space();
                let value = if matches!(self.peek(), Some(b',' | b']')) {
                    Node::scalar(self.line, Value::Null)
                } else {
                    self.flow_node(depth + 1)?
                };
                item = Node {
                    line: item_line,
                    value: NodeValue::Map(vec![Entry {
                        key,
                        line: item_line,
                        value,
                    }]),
                };
                self.skip_flow_space();
            }
            items.push(item);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(unterminated(line)),
                Some(_) => return Err(self.syntax("expected `,` or `]` in a flow sequence")),
            }
        }
        Ok(Node {
            line,
            value: NodeValue::Seq(items),
        })
    }

    fn flow_map(&mut self, depth: usize) -> Result<Node, ImportError> {
        self.check_depth(depth)?;
        let line = self.line;
        self.pos += 1; // `{`
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            self.skip_flow_space();
            let key_line = self.line;
            let key = match self.peek() {
                None => return Err(unterminated(line)),
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b'"' | b'\'') => self.quoted()?,
                Some(b'[' | b'{') => return Err(self.unsupported("collections as mapping keys")),
                Some(c @ (b',' | b']' | b'#')) => {
                    return Err(
                        self.syntax(format!("unexpected `{}` in a flow mapping", c as char))
                    );
                }
                Some(_) => {
                    self.check_node_start()?;
                    self.flow_plain()?
                }
            };
            self.skip_flow_space();
            let value = if self.peek() == Some(b':') {
                self.pos += 1;
                self.skip_flow_space();
                if matches!(self.peek(), Some(b',' | b'}')) {
                    Node::scalar(self.line, Value::Null)
                } else {
                    self.flow_node(depth)?
                }
            } else {
                Node::scalar(key_line, Value::Null)
            };
            if !seen.insert(key.clone()) {
                return Err(ImportError::Syntax {
                    line: key_line,
                    message: format!("duplicate mapping key {key:?}"),
                });
            }
            entries.push(Entry {
                key,
                line: key_line,
                value,
            });
            self.skip_flow_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(unterminated(line)),
                Some(_) => return Err(self.syntax("expected `,` or `}` in a flow mapping")),
            }
        }
        Ok(Node {
            line,
            value: NodeValue::Map(entries),
        })
    }
}

fn unterminated(line: usize) -> ImportError {
    ImportError::Syntax {
        line,
        message: "unterminated flow collection".into(),
    }
}

/// The text of a scalar used as a key inside `[key: value]`.
fn flow_key_text(node: &Node) -> Option<String> {
    match &node.value {
        NodeValue::Scalar(Value::String(s)) => Some(s.clone()),
        NodeValue::Scalar(Value::Null) => Some("null".into()),
        NodeValue::Scalar(v) => Some(v.to_string()),
        _ => None,
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Number(Number::from(i));
        }
        if let Ok(u) = s.parse::<u64>() {
            return Value::Number(Number::from(u));
        }
        return Value::String(s.to_owned());
    }
    for (prefix, radix) in [("0o", 8), ("0x", 16)] {
        if let Some(digits) = s.strip_prefix(prefix)
            && !digits.is_empty()
            && digits.bytes().all(|b| (b as char).is_digit(radix))
        {
            return u64::from_str_radix(digits, radix).map_or_else(
                |_| Value::String(s.to_owned()),
                |u| Value::Number(Number::from(u)),
            );
        }
    }
    if is_core_float(s)
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(s.to_owned())
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = digits(&mut i);
        if int == 0 && frac == 0 {
            return false;
        }
    } else if int == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(yaml: &str, expected: &Value) {
        match parse(yaml) {
            Ok(v) => assert_eq!(&v, expected, "input:\n{yaml}"),
            Err(e) => panic!("input:\n{yaml}\nerror: {e}"),
        }
    }

    fn check_err(yaml: &str, expected: &str) {
        match parse(yaml) {
            Ok(v) => panic!("input:\n{yaml}\nparsed as {v}"),
            Err(e) => assert_eq!(e.to_string(), expected, "input:\n{yaml}"),
        }
    }

    #[test]
    fn scalars_resolve_by_core_schema() {
        check(
            "a: 1\nb: -2\nc: 0.5\nd: 1e3\ne: true\nf: ~\ng: null\nh:\ni: '2.0'\nj: \"x\"\nk: 0x1f\nl: 0o17\nm: .inf\nn: 1.2.3\no: +7\np: .5\nq: 99999999999999999999999\n",
            &json!({"a": 1, "b": -2, "c": 0.5, "d": 1000.0, "e": true, "f": null, "g": null, "h": null,
                    "i": "2.0", "j": "x", "k": 31, "l": 15, "m": ".inf", "n": "1.2.3", "o": 7, "p": 0.5,
                    "q": "99999999999999999999999"}),
        );
        check("42\n", &json!(42));
        check("", &Value::Null);
        check("# only a comment\n", &Value::Null);
        check(
            "md5: 22a1a2931c8370d3aeedd7183606fd7f.dir\n",
            &json!({"md5": "22a1a2931c8370d3aeedd7183606fd7f.dir"}),
        );
        check(
            "url: http://example.com:8080/x#frag\n",
            &json!({"url": "http://example.com:8080/x#frag"}),
        );
        check(
            "a: b # comment\nc: d#not\n",
            &json!({"a": "b", "c": "d#not"}),
        );
    }

    #[test]
    fn block_collections() {
        check(
            "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: data\n      md5: abc.dir\n      size: 10\n      nfiles: 2\n    - path: train.py\n    outs:\n      - path: model.pt\n",
            &json!({"schema": "2.0", "stages": {"train": {"cmd": "python train.py",
                "deps": [{"path": "data", "md5": "abc.dir", "size": 10, "nfiles": 2}, {"path": "train.py"}],
                "outs": [{"path": "model.pt"}]}}}),
        );
        check(
            "- a\n- - b\n  - c\n-\n- d: 1\n  e: 2\n",
            &json!(["a", ["b", "c"], null, {"d": 1, "e": 2}]),
        );
        check("a:\n- 1\n- 2\nb: 3\n", &json!({"a": [1, 2], "b": 3}));
        check("a:\n  b:\n  c: 1\n", &json!({"a": {"b": null, "c": 1}}));
        check(
            "\"quoted key\": 1\n'single': 2\n",
            &json!({"quoted key": 1, "single": 2}),
        );
        check("---\na: 1\n...\n", &json!({"a": 1}));
        check("%YAML 1.2\n---\na: 1\n", &json!({"a": 1}));
        check("--- [1, 2]\n", &json!([1, 2]));
        check("a: 1\r\nb: 2\r\n", &json!({"a": 1, "b": 2}));
        check("\u{feff}a: 1\n", &json!({"a": 1}));
        check("a:    \n\n\n  # comment\n  b: 1\n", &json!({"a": {"b": 1}}));
    }

    #[test]
    fn multi_line_scalars() {
        check(
            "cmd: python src/train.py --data data/clean.csv --out models/a.pt --epochs\n  10 --lr 0.01\nnext: x\n",
            &json!({"cmd": "python src/train.py --data data/clean.csv --out models/a.pt --epochs 10 --lr 0.01", "next": "x"}),
        );
        check(
            "a: one\n  two\n\n  three\n",
            &json!({"a": "one two\nthree"}),
        );
        check("- a\n  b\n- c\n", &json!(["a b", "c"]));
        check("a: 'it''s\n   folded'\n", &json!({"a": "it's folded"}));
        check(
            "a: \"esc \\t \\\" \\\\ \\x41 \\u00e9 \\U0001F600 \\N\"\n",
            &json!({"a": "esc \t \" \\ A é 😀 \u{85}"}),
        );
        check("a: \"line \\\n   joined\"\n", &json!({"a": "line joined"}));
        check("a: \"x  \n\n  y\"\n", &json!({"a": "x\ny"}));
        check(
            "a: |\n  line 1\n   line 2\n\n  line 3\n\nb: 1\n",
            &json!({"a": "line 1\n line 2\n\nline 3\n", "b": 1}),
        );
        check("a: |-\n  x\n  y\n", &json!({"a": "x\ny"}));
        check("a: |+\n  x\n\n\nb: 1\n", &json!({"a": "x\n\n\n", "b": 1}));
        check(
            "a: >\n  folded\n  text\n\n  para\n    more\n  end\n",
            &json!({"a": "folded text\npara\n  more\nend\n"}),
        );
        check("a: |2\n    x\n  y\n", &json!({"a": "  x\ny\n"}));
        check("- |\n  x\n- y\n", &json!(["x\n", "y"]));
        check("a: |\nb: 1\n", &json!({"a": "", "b": 1}));
    }

    #[test]
    fn flow_collections() {
        check(
            "a: [1, two, \"3\", [x], {k: v}]\n",
            &json!({"a": [1, "two", "3", ["x"], {"k": "v"}]}),
        );
        check(
            "a: {x: 1, 'y': [a, b], z}\n",
            &json!({"a": {"x": 1, "y": ["a", "b"], "z": null}}),
        );
        check("a: [\n  1,\n  2, # two\n]\n", &json!({"a": [1, 2]}));
        check("a: {\"k\":1}\n", &json!({"a": {"k": 1}}));
        check("a: [k: v, w]\n", &json!({"a": [{"k": "v"}, "w"]}));
        check("a: []\nb: {}\n", &json!({"a": [], "b": {}}));
        check(
            "a: [http://x/y, a:b]\n",
            &json!({"a": ["http://x/y", "a:b"]}),
        );
        check(
            "a: [multi\n  word, b]\n",
            &json!({"a": ["multi word", "b"]}),
        );
    }

    #[test]
    fn errors_name_lines() {
        check_err("a: &x 1\n", "line 1: anchors are not supported");
        check_err("a: 1\nb: *x\n", "line 2: aliases are not supported");
        check_err("a: !!str 1\n", "line 1: tags are not supported");
        check_err(
            "? a\n: b\n",
            "line 1: explicit keys (`?`) are not supported",
        );
        check_err(
            "a: 1\n---\nb: 2\n",
            "line 2: multiple documents are not supported",
        );
        check_err("a: 1\na: 2\n", "line 2: duplicate mapping key \"a\"");
        check_err("a: b: c\n", "line 1: mapping values are not allowed here");
        check_err(
            "a: 1\n  b: 2\n",
            "line 2: mapping values are not allowed here",
        );
        check_err(
            "a:\n    b: 1\n  c: 2\n",
            "line 3: bad indentation of a mapping entry",
        );
        check_err("a: 'open\n", "line 1: unterminated quoted scalar");
        check_err("a: [1, 2\n", "line 1: unterminated flow collection");
        check_err("a: \"\\q\"\n", "line 1: invalid escape `\\q`");
        check_err("a: \"\\ud800\"\n", "line 1: invalid escape `\\u`");
        check_err("a:\n\tb: 1\n", "line 2: tab character used for indentation");
        check_err(
            "a: - b\n",
            "line 1: a block sequence cannot start on its key's line",
        );
        check_err(
            "- a\nb: c\n",
            "line 2: unexpected content (bad indentation?)",
        );
        check_err(
            "a: [1] x\n",
            "line 1: unexpected content after a flow collection",
        );
        check_err(
            "a: 'x' y\n",
            "line 1: unexpected content after a quoted scalar",
        );
        check_err(
            "[a]: 1\n",
            "line 1: flow collections as mapping keys are not supported",
        );
        check_err("a: |x\n", "line 1: invalid block scalar header");
        check_err(
            "%TAG ! tag:x\n---\na: 1\n",
            "line 1: directives other than %YAML are not supported",
        );
        check_err(
            "a: @x\n",
            "line 1: `@` is reserved and cannot start a plain scalar",
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep_flow = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse(&deep_flow),
            Err(ImportError::TooDeep { .. })
        ));
        let ok_flow = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok_flow).is_ok());
        let mut deep_block = String::new();
        for i in 0..=MAX_DEPTH {
            deep_block.push_str(&" ".repeat(i));
            deep_block.push_str("k:\n");
        }
        assert!(matches!(
            parse(&deep_block),
            Err(ImportError::TooDeep {
                line: 65,
                limit: 64
            })
        ));
        let seqs = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        assert!(matches!(parse(&seqs), Err(ImportError::TooDeep { .. })));
    }

    #[test]
    fn size_is_bounded() {
        let big = "a".repeat(MAX_YAML_BYTES + 1);
        assert!(matches!(parse(&big), Err(ImportError::TooLarge { .. })));
    }

    #[test]
    fn lines_are_kept() {
        let doc = parse_document("a: 1\nb:\n  - x\n  - y: 2\n").unwrap();
        let b = doc.get("b").unwrap();
        assert_eq!(b.line, 2);
        let items = b.value.as_seq().unwrap();
        assert_eq!(items[0].line, 3);
        assert_eq!(items[1].line, 4);
        assert_eq!(items[1].get("y").unwrap().line, 4);
    }
}
