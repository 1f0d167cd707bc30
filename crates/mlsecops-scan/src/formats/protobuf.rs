//! A bounded protocol-buffers wire-format reader: enough to walk ONNX and
//! TensorFlow messages field by field without generated code.

/// A field's value as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// One decoded field and the offset of its tag within the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub number: u32,
    pub value: Wire<'a>,
    pub offset: usize,
}

impl<'a> Field<'a> {
    #[must_use]
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Wire::Bytes(b) => Some(b),
            _ => None,
        }
    }
    #[must_use]
    pub fn str(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
    #[must_use]
    pub fn varint(&self) -> Option<u64> {
        match self.value {
            Wire::Varint(v) => Some(v),
            _ => None,
        }
    }
}

/// Malformed wire data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset}")]
pub struct PbError {
    pub offset: usize,
    pub message: &'static str,
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, PbError> {
    let start = *pos;
    let mut v = 0u64;
    for i in 0..10 {
        let Some(&x) = b.get(*pos) else {
            return Err(PbError {
                offset: start,
                message: "truncated varint",
            });
        };
        *pos += 1;
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(PbError {
        offset: start,
        message: "varint longer than 10 bytes",
    })
}

/// Iterates over the fields of one message.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

/// Fields of the message encoded in `buf`.
#[must_use]
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields {
        buf,
        pos: 0,
        failed: false,
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, PbError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.read();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

impl<'a> Fields<'a> {
    fn read(&mut self) -> Result<Field<'a>, PbError> {
        let offset = self.pos;
        let tag = varint(self.buf, &mut self.pos)?;
        let number = u32::try_from(tag >> 3).map_err(|_| PbError {
            offset,
            message: "field number too large",
        })?;
        if number == 0 {
            return Err(PbError {
                offset,
                message: "field number 0",
            });
        }
        let value = match tag & 7 {
            0 => Wire::Varint(varint(self.buf, &mut self.pos)?),
            1 => {
                let b = self.take(8, offset)?;
                Wire::Fixed64(u64::from_le_bytes(b.try_into().map_err(|_| PbError {
                    offset,
                    message: "truncated fixed64",
                })?))
            }
            2 => {
                let n = varint(self.buf, &mut self.pos)?;
                let n = usize::try_from(n).map_err(|_| PbError {
                    offset,
                    message: "length too large",
                })?;
                Wire::Bytes(self.take(n, offset)?)
            }
            5 => {
                let b = self.take(4, offset)?;
                Wire::Fixed32(u32::from_le_bytes(b.try_into().map_err(|_| PbError {
                    offset,
                    message: "truncated fixed32",
                })?))
            }
            _ => {
                return Err(PbError {
                    offset,
                    message: "unsupported wire type (groups are not used by these formats)",
                });
            }
        };
        Ok(Field {
            number,
            value,
            offset,
        })
    }

    fn take(&mut self, n: usize, offset: usize) -> Result<&'a [u8], PbError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(PbError {
                offset,
                message: "length runs past the end of the message",
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// True when `buf` decodes completely as a protobuf message.
#[must_use]
pub fn parses(buf: &[u8]) -> bool {
    fields(buf).all(|f| f.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields() {
        // field 1 varint 150, field 2 bytes "hi"
        let buf = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i'];
        let f: Vec<_> = fields(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(f[0].varint(), Some(150));
        assert_eq!(f[1].str().as_deref(), Some("hi"));
        for cut in 0..buf.len() {
            let _ = fields(&buf[..cut]).count();
        }
        assert!(!parses(&[0x12, 0x05, 1]));
    }
}
