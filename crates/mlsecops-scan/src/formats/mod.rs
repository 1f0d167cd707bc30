//! Per-format scanners. Each reads bytes through bounds-checked cursors and
//! reports findings into the scan context; none executes or imports content.

pub(crate) mod bytes;
pub(crate) mod compress;
pub mod gguf;
pub mod hdf5;
pub(crate) mod hdf5_scan;
pub mod jinja;
pub(crate) mod jsondoc;
pub(crate) mod npy;
pub mod protobuf;
pub(crate) mod protobuf_scan;
pub mod safetensors;
pub(crate) mod secrets;
pub(crate) mod tar;
pub mod zip;
