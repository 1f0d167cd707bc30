//! A bounds-checked little-endian cursor over untrusted bytes.

/// Reading past the end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eof {
    /// Offset at which the read was attempted.
    pub offset: usize,
}

/// Cursor over a byte slice; every read is checked.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    #[must_use]
    pub fn pos(&self) -> usize {
        self.pos
    }
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Eof> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(Eof { offset: self.pos })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn take_u64(&mut self, n: u64) -> Result<&'a [u8], Eof> {
        let n = usize::try_from(n).map_err(|_| Eof { offset: self.pos })?;
        self.take(n)
    }
    pub fn u32(&mut self) -> Result<u32, Eof> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Result<u64, Eof> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Little-endian u16/u32 at `off`, or None when out of bounds.
#[must_use]
pub fn le16(d: &[u8], off: usize) -> Option<u16> {
    d.get(off..off.checked_add(2)?)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}
#[must_use]
pub fn le32(d: &[u8], off: usize) -> Option<u32> {
    d.get(off..off.checked_add(4)?)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
#[must_use]
pub fn le64(d: &[u8], off: usize) -> Option<u64> {
    let b = d.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}
