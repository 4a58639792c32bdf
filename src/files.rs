//! Writing result files so that a crash or a full disk never leaves half a file, nor loses
//! the one already there (checkpoints, metrics, reports, figures).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// `<path>.tmp`, in the same directory as `path`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Environment variable of the fault tests (`tests/run_faults.rs`): milliseconds that
/// [`write_atomic`] sleeps half-way through writing its temporary file and again before the
/// rename, so that a `kill -9` at a random moment often lands inside a write. Unset: no delay.
pub const FAULT_WRITE_DELAY_ENV: &str = "LSNN_FAULT_WRITE_DELAY_MS";

fn fault_write_delay() -> Option<std::time::Duration> {
    static DELAY: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *DELAY.get_or_init(|| {
        let ms: u64 = std::env::var(FAULT_WRITE_DELAY_ENV).ok()?.parse().ok()?;
        Some(std::time::Duration::from_millis(ms))
    })
}

/// Writes `bytes` to `<path>.tmp`, fsyncs it and renames it over `path`. On failure the
/// temporary file is removed and `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = tmp_path(path);
    let delay = fault_write_delay();
    let write_tmp = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        f.write_all(head)?;
        if let Some(d) = delay {
            f.flush()?;
            std::thread::sleep(d);
        }
        f.write_all(tail)?;
        f.sync_all()?;
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        Ok(())
    };
    if let Err(e) = write_tmp() {
        if tmp.is_file() {
            let _ = fs::remove_file(&tmp);
        }
        return Err(e)
            .with_context(|| format!("cannot write the temporary file {}", tmp.display()));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()));
    }
    // Make the rename itself durable (best effort: not every platform can fsync a directory).
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// `value` as pretty JSON, written atomically ([`write_atomic`]).
pub fn write_json_atomic(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .with_context(|| format!("serialising {}", path.display()))?;
    write_atomic(path, text.as_bytes())
}

/// `YYYYMMDD-HHMMSS` in UTC: the names of run directories and the dates in their records.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The lines of a JSON-lines file (`metrics.jsonl`), and apart from them a torn last line:
/// text after the last newline that is not a JSON value, the usual leftover of a process
/// killed while appending (every line is written with its newline). Blank lines are skipped;
/// each line comes with its 1-based number.
pub struct JsonLines<'a> {
    pub lines: Vec<(usize, &'a str)>,
    pub torn: Option<&'a str>,
}

pub fn split_json_lines(text: &str) -> JsonLines<'_> {
    let (complete, rest) = match text.rfind('\n') {
        Some(i) => (&text[..i + 1], &text[i + 1..]),
        None => ("", text),
    };
    let mut lines: Vec<(usize, &str)> = complete
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut torn = None;
    if !rest.trim().is_empty() {
        // A last line that parses lost only its newline: it is kept.
        if serde_json::from_str::<serde_json::Value>(rest).is_ok() {
            lines.push((complete.lines().count() + 1, rest));
        } else {
            torn = Some(rest);
        }
    }
    JsonLines { lines, torn }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        fs::write(&path, "old").unwrap();
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["a"], 1);
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.safetensors");
        fs::write(&path, "kept").unwrap();
        // The temporary file cannot be created where a directory of its name stands.
        fs::create_dir(tmp_path(&path)).unwrap();
        let err = write_atomic(&path, b"new").unwrap_err();
        assert!(
            format!("{err:#}").contains("last.safetensors.tmp"),
            "{err:#}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "kept");
    }

    #[test]
    fn a_torn_last_line_is_set_apart_and_a_complete_one_kept() {
        let j = split_json_lines("{\"a\":1}\n\n{\"a\":2}\n{\"a\":3,\"b");
        assert_eq!(j.lines, vec![(1, "{\"a\":1}"), (3, "{\"a\":2}")]);
        assert_eq!(j.torn, Some("{\"a\":3,\"b"));
        let j = split_json_lines("{\"a\":1}\n{\"a\":2}");
        assert_eq!(j.lines, vec![(1, "{\"a\":1}"), (2, "{\"a\":2}")]);
        assert!(j.torn.is_none());
        // A broken line followed by a newline is not torn: it is for the reader to refuse.
        let j = split_json_lines("{\"a\":\n");
        assert_eq!(j.lines, vec![(1, "{\"a\":")]);
        assert!(j.torn.is_none());
    }
}
