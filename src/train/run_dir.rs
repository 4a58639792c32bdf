//! Run directories: `runs/<config-name>-<UTC timestamp>/` unless `--out` says otherwise.

use std::path::{Path, PathBuf};

/// Defined with the file helpers, below the engines, so that `device` can date its records too.
pub use crate::files::timestamp;

/// The run directory for `config_path`: `out`, or `runs/<config-name>-<timestamp>`.
pub fn path(config_path: &Path, out: Option<&Path>) -> PathBuf {
    match out {
        Some(o) => o.to_path_buf(),
        None => {
            let stem = config_path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("run");
            PathBuf::from("runs").join(format!("{stem}-{}", timestamp()))
        }
    }
}

/// How a new run takes its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewRun {
    /// A default name (`runs/<config>-<time>`): if it is taken (two runs started in the same
    /// second), the first free `-2`, `-3`, … suffix.
    DefaultName,
    /// `--out DIR`: a directory that already holds a run is refused.
    Given,
    /// `--out DIR --overwrite`: a directory that holds a run is emptied of it first.
    Overwrite,
}

/// Files that make a directory a run directory.
const RUN_FILES: [&str; 3] = ["config.yaml", "metrics.jsonl", "last.safetensors"];

/// Whether `dir` holds a run (any of its files).
pub fn holds_a_run(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).exists())
}

/// The error of a new run given a directory (`--out`, without `--overwrite`) that already
/// holds a run; Ok otherwise.
pub fn refuse_occupied(dir: &Path, how: NewRun) -> anyhow::Result<()> {
    if how == NewRun::Given && holds_a_run(dir) {
        anyhow::bail!(
            "{} already holds a run: `lsnn-gpu resume {}` continues it; choose another --out, or add --overwrite to replace it",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Creates the run directory of a new run at `dir` (and its parents); returns the directory
/// the run will use. Never writes into another run: see [`NewRun`].
pub fn create(dir: &Path, how: NewRun) -> anyhow::Result<PathBuf> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
    }
    match how {
        NewRun::DefaultName => {
            // create_dir fails if the name exists: the first free name is ours alone.
            for n in 1u32.. {
                let candidate = if n == 1 {
                    dir.to_path_buf()
                } else {
                    PathBuf::from(format!("{}-{n}", dir.display()))
                };
                match std::fs::create_dir(&candidate) {
                    Ok(()) => return Ok(candidate),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        anyhow::bail!("cannot create run directory {}: {e}", candidate.display())
                    }
                }
            }
            unreachable!("some suffix is free")
        }
        NewRun::Given | NewRun::Overwrite => {
            refuse_occupied(dir, how)?;
            if holds_a_run(dir) {
                std::fs::remove_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!(
                        "--overwrite: cannot remove the run in {}: {e}",
                        dir.display()
                    )
                })?;
                crate::stderr::line!("--overwrite: removed the earlier run in {}", dir.display());
            }
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("cannot create run directory {}: {e}", dir.display())
            })?;
            Ok(dir.to_path_buf())
        }
    }
}

#[cfg(test)]
mod new_run_tests {
    use super::*;

    #[test]
    fn a_run_directory_is_never_reused_silently() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("r");
        assert_eq!(create(&dir, NewRun::Given).unwrap(), dir);
        std::fs::write(dir.join("metrics.jsonl"), "{}\n").unwrap();
        let e = create(&dir, NewRun::Given).unwrap_err().to_string();
        assert!(
            e.contains("already holds a run") && e.contains("resume"),
            "{e}"
        );
        assert!(
            dir.join("metrics.jsonl").exists(),
            "the refused run was touched"
        );
        assert_eq!(create(&dir, NewRun::Overwrite).unwrap(), dir);
        assert!(!dir.join("metrics.jsonl").exists());
        // Default names: a taken one gets the next free suffix.
        let d = root.path().join("cfg-20261203-101010");
        assert_eq!(create(&d, NewRun::DefaultName).unwrap(), d);
        let second = create(&d, NewRun::DefaultName).unwrap();
        assert_eq!(second, root.path().join("cfg-20261203-101010-2"));
    }
}
