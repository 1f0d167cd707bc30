//! Helpers: run the binary, normalise its output, find optional services.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Output of one run: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mlsecops ARGS` in `cwd` with colors off.
pub fn mlsecops(cwd: &Path, args: &[&str]) -> Run {
    mlsecops_with_home(cwd, args, &cwd.join(".mlsecops"))
}

/// Runs `mlsecops ARGS` in `cwd` with `MLSECOPS_HOME=home`.
pub fn mlsecops_with_home(cwd: &Path, args: &[&str], home: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mlsecops"))
        .args(args)
        .current_dir(cwd)
        .env("MLSECOPS_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("MLSECOPS_FAIL_ON")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The snapshot form of a run.
pub fn snapshot(r: &Run) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}

/// An external tool/service given by `var`, or a SKIP line. Under
/// `MLSECOPS_REQUIRE_SERVICES=1` (CI) a missing one is a failure.
pub fn service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("MLSECOPS_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{var} is not set but MLSECOPS_REQUIRE_SERVICES=1 ({what}); run scripts/services.sh up"
            );
            eprintln!("SKIP: {what}: set {var} (scripts/services.sh up prints it)");
            None
        }
    }
}
