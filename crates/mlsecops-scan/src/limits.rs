//! Bounds on everything a scan may read, allocate or recurse into.

/// Limits applied to every file. Defaults suit multi-GiB checkpoints on a
/// laptop; hostile input that exceeds them yields a finding, never a crash.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Files larger than this are not scanned (reported as incomplete).
    pub max_file_size: u64,
    /// Nesting depth of archives and compressed streams.
    pub max_depth: usize,
    /// Members per archive.
    pub max_members: usize,
    /// Bytes one decompressed stream or member may expand to.
    pub max_decompressed: u64,
    /// Bytes all decompressed streams of one file may expand to.
    pub max_total_decompressed: u64,
    /// Expansion ratio above which a stream is a decompression bomb ...
    pub max_ratio: u64,
    /// ... once it has produced at least this many bytes.
    pub ratio_floor: u64,
    /// Largest JSON/text document parsed (configs, headers).
    pub max_json: usize,
    /// Pickle VM memory bounds.
    pub vm: crate::pickle::VmLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_size: 1 << 40,
            max_depth: 8,
            max_members: 200_000,
            max_decompressed: 4 << 30,
            max_total_decompressed: 16 << 30,
            max_ratio: 200,
            ratio_floor: 16 << 20,
            max_json: 128 << 20,
            vm: crate::pickle::VmLimits::default(),
        }
    }
}
