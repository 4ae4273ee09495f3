//! Progress indication on stderr (indicatif). Drawn only when stderr is a terminal and
//! `--no-progress` was not given, so logs, pipes and cron output stay clean.
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar or spinner that may be hidden; operations call it without caring which.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn visible(enabled: bool) -> bool {
        enabled && std::io::stderr().is_terminal()
    }

    /// A spinner with a running count, for work whose total is unknown.
    pub fn spinner(enabled: bool, message: &str) -> Progress {
        let bar = if Self::visible(enabled) { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {human_pos} rows [{elapsed}]").expect("valid template"),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    /// A bar towards a known total, with rate and ETA.
    pub fn bar(enabled: bool, message: &str, total: u64) -> Progress {
        let bar = if Self::visible(enabled) { ProgressBar::new(total) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        Progress { bar }
    }

    pub fn set(&self, n: u64) {
        self.bar.set_position(n);
    }

    /// Sets the position of a bar towards an estimated total, raising the total when the
    /// estimate proves low (a table's row count from the server's statistics).
    pub fn set_estimated(&self, n: u64) {
        if self.bar.length().is_some_and(|total| n > total) {
            self.bar.set_length(n);
        }
        self.bar.set_position(n);
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn set_message(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    /// Prints a line above the bar (or plainly when hidden) without tearing the bar.
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
