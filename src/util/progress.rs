//! Progress bars on stderr (indicatif), all with the same look: position,
//! rate and ETA. They hide themselves when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `len` units of work named `unit` (e.g. "tok", "step", "q").
pub fn bar(len: u64, prefix: &str, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let template = format!("{{prefix}} [{{bar:30.cyan/blue}}] {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}}) {{msg}}");
    pb.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
    pb.set_prefix(prefix.to_string());
    pb
}

/// A spinner for work of unknown length.
pub fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
