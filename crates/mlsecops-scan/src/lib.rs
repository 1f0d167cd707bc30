//! `mlsecops scan`: finds code execution and file access hidden in model
//! files, without ever importing, unpickling or executing them.
//!
//! Shape: [`walk`] expands inputs into files; [`source`] maps each file;
//! `dispatch` detects the format from its bytes and hands it to a format
//! walker (`pickle`, `formats::*`), which reports into a per-file context.
//! Archives and compressed streams re-enter `dispatch` for every member, so
//! nesting works for every pair of formats, bounded by [`Limits`].

mod ctx;
mod dispatch;
pub mod formats;
mod limits;
pub mod pickle;
pub mod rules;
mod source;
pub mod walk;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlsecops_core::{Digest, FileError, Finding, Report, Severity, Target, ToolInfo};

pub use dispatch::{Format, detect};
pub use limits::Limits;

/// Options of one scan.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    pub limits: Limits,
    /// Compute each file's SHA-256 (reads every byte: off by default).
    pub digest: bool,
    /// Worker threads (0 = one per core).
    pub jobs: usize,
}

/// What scanning one buffer produced.
#[derive(Debug, Default)]
pub struct BlobResult {
    pub findings: Vec<Finding>,
    pub errors: Vec<FileError>,
    /// Formats seen, outermost first.
    pub formats: Vec<&'static str>,
    pub members: u64,
}

/// The scanner: immutable and shareable across threads.
#[derive(Debug)]
pub struct Scanner {
    opts: ScanOptions,
    secrets: mlsecops_sensitive::Detector,
}

impl Scanner {
    #[must_use]
    pub fn new(opts: ScanOptions) -> Self {
        Self {
            opts,
            secrets: mlsecops_sensitive::Detector::new(),
        }
    }

    /// Scans one in-memory buffer as if it were the file `path`.
    #[must_use]
    pub fn scan_bytes(&self, path: &str, data: &[u8]) -> BlobResult {
        let mut ctx = ctx::Ctx::new(&self.opts.limits, &self.secrets, path.to_owned());
        let name = std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        dispatch::scan_blob(&mut ctx, data, &name);
        BlobResult {
            findings: ctx.findings,
            // Hostile content becomes findings; only unreadable files are errors.
            errors: Vec::new(),
            formats: ctx.formats,
            members: ctx.members_scanned,
        }
    }

    fn scan_file(&self, input: &walk::Input) -> (Target, BlobResult) {
        let mut target = Target {
            path: input.display.clone(),
            format: "unknown".into(),
            size: 0,
            digest: None,
            members: 0,
            scanned: false,
        };
        let err = |message: String| BlobResult {
            errors: vec![FileError {
                path: input.display.clone(),
                members: Vec::new(),
                offset: None,
                message,
            }],
            ..BlobResult::default()
        };
        let len = match std::fs::metadata(&input.path) {
            Ok(m) => m.len(),
            Err(e) => return (target, err(format!("cannot read file: {e}"))),
        };
        target.size = len;
        if len > self.opts.limits.max_file_size {
            let mut r = BlobResult::default();
            r.findings.push(Finding::new(
                "SCAN-INCOMPLETE",
                Severity::Medium,
                mlsecops_core::Location::file(input.display.clone()),
                format!(
                    "file is larger than the {} byte limit and was not scanned",
                    self.opts.limits.max_file_size
                ),
            ));
            return (target, r);
        }
        let src = match source::Source::open(&input.path, len) {
            Ok(s) => s,
            Err(e) => return (target, err(format!("cannot read file: {e}"))),
        };
        if self.opts.digest {
            target.digest = Some(Digest::of(&src));
        }
        let r = self.scan_bytes(&input.display, &src);
        target.members = r.members;
        if let Some(f) = r.formats.first() {
            (*f).clone_into(&mut target.format);
            target.scanned = !matches!(*f, "text");
        }
        // Plain text is only checked for secrets; it still counts as examined
        // when it held one.
        if target.format == "text" {
            target.scanned = !r.findings.is_empty();
        }
        (target, r)
    }

    /// Scans files, directories and globs; never fails on a bad file (that
    /// becomes a per-file error in the report).
    #[must_use]
    pub fn scan_paths(&self, inputs: &[String]) -> Report {
        let (files, input_errors) = walk::expand(inputs);
        let mut report = Report::new(
            "scan",
            ToolInfo {
                name: "mlsecops".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        );
        for e in input_errors {
            report.errors.push(FileError {
                path: e.input,
                members: Vec::new(),
                offset: None,
                message: e.message,
            });
        }
        let jobs = if self.opts.jobs == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            self.opts.jobs
        }
        .min(files.len().max(1));
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, Target, BlobResult)>> =
            Mutex::new(Vec::with_capacity(files.len()));
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = files.get(i) else { break };
                        let (t, r) = self.scan_file(input);
                        if let Ok(mut g) = results.lock() {
                            g.push((i, t, r));
                        }
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_default();
        results.sort_by_key(|(i, _, _)| *i);
        for (_, t, r) in results {
            report.targets.push(t);
            report.findings.extend(r.findings);
            report.errors.extend(r.errors);
        }
        report.finalize();
        report
    }
}
