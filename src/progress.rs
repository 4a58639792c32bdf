//! The progress of long work (training, evaluation, feature extraction): one style for every
//! command, with position, rate and ETA on stderr; the message carries the latest numbers.
//! On a terminal it is a bar that redraws itself; when stderr is a file or a pipe (a batch
//! job's log) it is a plain line every [`LOG_EVERY`], and a last one at the end, so that logs
//! show progress too.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a log (stderr not a terminal) gets a progress line.
pub const LOG_EVERY: Duration = Duration::from_secs(30);

/// Progress of `len` steps; a terminal bar, or plain lines in a log.
pub struct Progress {
    bar: ProgressBar,
    /// Some when stderr is not a terminal: the plain-line writer.
    log: Option<LogLines>,
}

struct LogLines {
    what: String,
    unit: String,
    len: u64,
    position: u64,
    /// Position and time this process started counting from (for the rate and ETA).
    start: (u64, Instant),
    last_line: Instant,
    message: String,
}

impl LogLines {
    /// "training 390/36000 it (1.1 %), 0.41 it/s, ETA 24 h 10 min, <message>".
    fn line(&self) -> String {
        let elapsed = self.start.1.elapsed().as_secs_f64();
        let done = self.position.saturating_sub(self.start.0) as f64;
        let rate = if elapsed > 0.0 { done / elapsed } else { 0.0 };
        let left = self.len.saturating_sub(self.position) as f64;
        let eta = if rate > 0.0 {
            format_duration(left / rate)
        } else {
            "unknown".to_string()
        };
        let percent = 100.0 * self.position as f64 / self.len.max(1) as f64;
        let mut s = format!(
            "{} {}/{} {} ({percent:.1} %), {rate:.3} {}/s, ETA {eta}",
            self.what, self.position, self.len, self.unit, self.unit
        );
        if !self.message.is_empty() {
            s.push_str(", ");
            s.push_str(&self.message);
        }
        s
    }

    fn maybe_print(&mut self) {
        if self.last_line.elapsed() >= LOG_EVERY {
            crate::stderr::line!("{}", self.line());
            self.last_line = Instant::now();
        }
    }
}

/// Seconds as "42 s", "12 min 5 s" or "24 h 10 min".
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

impl Progress {
    fn new(len: u64, done: u64, what: &str, unit: &str, terminal: bool) -> Progress {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}  {{msg}}"
            ))
            .expect("progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.set_position(done);
        bar.reset_eta();
        let log = (!terminal).then(|| LogLines {
            what: what.to_string(),
            unit: unit.to_string(),
            len,
            position: done,
            start: (done, Instant::now()),
            last_line: Instant::now(),
            message: String::new(),
        });
        if log.is_some() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Progress { bar, log }
    }

    pub fn inc(&mut self, delta: u64) {
        self.bar.inc(delta);
        if let Some(log) = &mut self.log {
            log.position += delta;
            log.maybe_print();
        }
    }

    pub fn set_position(&mut self, position: u64) {
        self.bar.set_position(position);
        if let Some(log) = &mut self.log {
            log.position = position;
            log.maybe_print();
        }
    }

    pub fn set_message(&mut self, message: String) {
        if let Some(log) = &mut self.log {
            log.message = message.clone();
        }
        self.bar.set_message(message);
    }

    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Ends the work, leaving the bar (or a last log line) behind.
    pub fn finish(&mut self) {
        self.bar.finish();
        if let Some(log) = &self.log {
            crate::stderr::line!("{}", log.line());
        }
    }

    /// Ends the work, clearing the bar (a log still gets its last line).
    pub fn finish_and_clear(&mut self) {
        self.bar.finish_and_clear();
        if let Some(log) = &self.log {
            crate::stderr::line!("{}", log.line());
        }
    }
}

/// Progress of `len` steps counted in `unit` ("it", "updates", "episodes"), titled `what`.
pub fn progress_bar(len: u64, what: &str, unit: &str) -> Progress {
    Progress::new(len, 0, what, unit, std::io::stderr().is_terminal())
}

/// Progress that continues work already `done` of `len` (a resumed run): the rate and ETA
/// count only what this process does.
pub fn resumed_progress_bar(len: u64, done: u64, what: &str, unit: &str) -> Progress {
    Progress::new(len, done, what, unit, std::io::stderr().is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_counts_from_where_a_resumed_run_stopped() {
        let bar = resumed_progress_bar(10, 4, "training", "it");
        assert_eq!(bar.position(), 4);
        assert_eq!(bar.bar.length(), Some(10));
        assert_eq!(bar.bar.prefix(), "training");
    }

    #[test]
    fn a_log_line_gives_position_rate_eta_and_message() {
        let mut p = Progress::new(100, 10, "training", "it", false);
        p.inc(5);
        p.set_message("loss 0.5".into());
        let line = p.log.as_ref().unwrap().line();
        assert!(line.starts_with("training 15/100 it (15.0 %), "), "{line}");
        assert!(line.contains(" it/s, ETA "), "{line}");
        assert!(line.ends_with(", loss 0.5"), "{line}");
        assert!(Progress::new(3, 0, "x", "it", true).log.is_none());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(42.4), "42 s");
        assert_eq!(format_duration(725.0), "12 min 5 s");
        assert_eq!(format_duration(87_000.0), "24 h 10 min");
    }
}
