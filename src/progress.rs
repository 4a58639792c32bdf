//! The progress bar of long work (training, evaluation, feature extraction): one style for
//! every command, with position, rate and ETA on stderr; `{msg}` carries the latest numbers.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps counted in `unit` ("it", "updates", "episodes"), titled `what`.
pub fn progress_bar(len: u64, what: &str, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}  {{msg}}"
        ))
        .expect("progress template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// A bar that continues work already `done` of `len` (a resumed run): the rate and ETA count
/// only what this process does.
pub fn resumed_progress_bar(len: u64, done: u64, what: &str, unit: &str) -> ProgressBar {
    let bar = progress_bar(len, what, unit);
    bar.set_position(done);
    bar.reset_eta();
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_counts_from_where_a_resumed_run_stopped() {
        let bar = resumed_progress_bar(10, 4, "training", "it");
        assert_eq!(bar.position(), 4);
        assert_eq!(bar.length(), Some(10));
        assert_eq!(bar.prefix(), "training");
    }
}
