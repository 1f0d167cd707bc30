//! Expands the user's inputs (files, directories, globs) into files to scan.

use std::path::{Path, PathBuf};

/// One file to scan, with the path as it will be displayed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Input {
    pub display: String,
    pub path: PathBuf,
}

/// An input that could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

const SKIP_DIRS: &[&str] = &[".git", ".hg", ".svn", "__pycache__"];
const MAX_WALK_DEPTH: usize = 64;

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn walk_dir(dir: &Path, depth: usize, out: &mut Vec<Input>, errs: &mut Vec<InputError>) {
    if depth > MAX_WALK_DEPTH {
        errs.push(InputError {
            input: dir.display().to_string(),
            message: "directory tree too deep".into(),
        });
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errs.push(InputError {
                input: dir.display().to_string(),
                message: e.to_string(),
            });
            return;
        }
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if SKIP_DIRS.iter().any(|s| e.file_name() == *s) {
                continue;
            }
            walk_dir(&p, depth + 1, out, errs);
        } else if ft.is_file() || (ft.is_symlink() && p.is_file()) {
            // Symlinked files are followed (Hugging Face caches link to blobs);
            // symlinked directories are not, so walks cannot loop.
            out.push(Input {
                display: p.display().to_string(),
                path: p,
            });
        }
    }
}

/// Expands `inputs` into a sorted, de-duplicated list of files.
#[must_use]
pub fn expand(inputs: &[String]) -> (Vec<Input>, Vec<InputError>) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for raw in inputs {
        let p = Path::new(raw);
        if p.is_file() {
            out.push(Input {
                display: raw.clone(),
                path: p.to_path_buf(),
            });
        } else if p.is_dir() {
            walk_dir(p, 0, &mut out, &mut errs);
        } else if has_glob(raw) {
            let glob = match globset::GlobBuilder::new(raw)
                .literal_separator(true)
                .build()
            {
                Ok(g) => g.compile_matcher(),
                Err(e) => {
                    errs.push(InputError {
                        input: raw.clone(),
                        message: format!("invalid glob: {e}"),
                    });
                    continue;
                }
            };
            let base: PathBuf = p
                .components()
                .take_while(|c| !has_glob(&c.as_os_str().to_string_lossy()))
                .collect();
            let base = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base
            };
            let mut found = Vec::new();
            walk_dir(&base, 0, &mut found, &mut errs);
            let before = out.len();
            out.extend(found.into_iter().filter(|i| {
                glob.is_match(&i.path)
                    || glob.is_match(i.path.strip_prefix("./").unwrap_or(&i.path))
            }));
            if out.len() == before {
                errs.push(InputError {
                    input: raw.clone(),
                    message: "glob matched no files".into(),
                });
            }
        } else {
            errs.push(InputError {
                input: raw.clone(),
                message: "no such file or directory".into(),
            });
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.path == b.path);
    (out, errs)
}
