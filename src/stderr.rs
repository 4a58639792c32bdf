//! Human-readable lines on stderr (progress, warnings, "wrote …") that never stop the work.
//!
//! `eprintln!` panics when stderr cannot be written (a log file on a full disk, a closed
//! pipe), and a panic in the middle of training loses the iteration in flight and ends the
//! command without its JSON summary. These lines are commentary: the run directory and the
//! summary on stdout are the record. So a failed write is dropped. Clippy's `print_stderr`
//! lint (denied in `lib.rs` and `main.rs`) keeps `eprintln!` out of the crate.

use std::fmt;
use std::io::Write as _;

/// Writes `args` and a newline to stderr; a failure to write is ignored (see the module doc).
pub fn write_line(args: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

/// Writes `args` to stderr without a newline; a failure to write is ignored.
pub fn write(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// `eprintln!` that cannot panic: `stderr::line!("wrote {}", path.display())`.
#[macro_export]
macro_rules! stderr_line {
    ($($arg:tt)*) => {
        $crate::stderr::write_line(format_args!($($arg)*))
    };
}

/// `eprint!` that cannot panic.
#[macro_export]
macro_rules! stderr_text {
    ($($arg:tt)*) => {
        $crate::stderr::write(format_args!($($arg)*))
    };
}

// Called through this module, `crate::stderr::line!(…)`, so that a call names the module it
// comes from (tests/layers.rs reads `crate::<module>` paths).
pub use super::stderr_line as line;
pub use super::stderr_text as text;
