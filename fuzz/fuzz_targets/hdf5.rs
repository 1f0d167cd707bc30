//! Fuzz the minimal HDF5 attribute reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_scan::formats::hdf5::{Hdf5Limits, attributes, global_heap_strings};

fuzz_target!(|data: &[u8]| {
    let mut h = b"\x89HDF\r\n\x1a\n".to_vec();
    h.extend_from_slice(data);
    let limits = Hdf5Limits::default();
    let _ = attributes(&h, &limits);
    let _ = global_heap_strings(&h, &limits);
});
