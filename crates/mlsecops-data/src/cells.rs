//! Cell access shared by the contract, diff, extraction and quarantine
//! code: any Arrow array's cell as text (into a reused buffer) or as `f64`.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;

/// Formats the cells of one array as text without allocating per cell.
pub(crate) struct TextCells<'a> {
    array: &'a ArrayRef,
    fmt: Option<ArrayFormatter<'a>>,
}

impl<'a> TextCells<'a> {
    pub(crate) fn new(array: &'a ArrayRef) -> Self {
        let fmt = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).ok();
        Self { array, fmt }
    }

    /// Writes cell `i` into `buf` (cleared first); `false` when null.
    pub(crate) fn write(&self, i: usize, buf: &mut String) -> bool {
        buf.clear();
        if self.array.is_null(i) {
            return false;
        }
        match self.array.data_type() {
            DataType::Utf8 => buf.push_str(self.array.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => buf.push_str(self.array.as_string::<i64>().value(i)),
            DataType::Utf8View => buf.push_str(self.array.as_string_view().value(i)),
            _ => {
                if let Some(f) = &self.fmt {
                    let _ = write!(buf, "{}", f.value(i));
                }
            }
        }
        true
    }

    /// Cell `i` as an owned string (`None` when null).
    pub(crate) fn get(&self, i: usize) -> Option<String> {
        let mut s = String::new();
        self.write(i, &mut s).then_some(s)
    }
}

/// Cell `i` as a number: numeric arrays directly, booleans as 0/1, strings
/// parsed; `None` for nulls and unparsable text.
pub(crate) fn f64_at(a: &ArrayRef, i: usize) -> Option<f64> {
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Float64 => a.as_primitive::<Float64Type>().value(i),
        DataType::Float32 => f64::from(a.as_primitive::<Float32Type>().value(i)),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i) as f64,
        DataType::Int32 => f64::from(a.as_primitive::<Int32Type>().value(i)),
        DataType::Int16 => f64::from(a.as_primitive::<Int16Type>().value(i)),
        DataType::Int8 => f64::from(a.as_primitive::<Int8Type>().value(i)),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i) as f64,
        DataType::UInt32 => f64::from(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt16 => f64::from(a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt8 => f64::from(a.as_primitive::<UInt8Type>().value(i)),
        DataType::Boolean => f64::from(u8::from(a.as_boolean().value(i))),
        DataType::Utf8 => a.as_string::<i32>().value(i).trim().parse().ok()?,
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).trim().parse().ok()?,
        DataType::Utf8View => a.as_string_view().value(i).trim().parse().ok()?,
        _ => return None,
    })
}

/// Whether a type is numeric (integers and floats).
pub(crate) fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}
