//! Progress on stderr for commands that can take more than a moment. indicatif draws nothing
//! when stderr is not a terminal, so piped and tested output stays clean.

use std::time::Duration;

use indicatif::{HumanDuration, ProgressBar, ProgressState, ProgressStyle};

/// A spinner with the elapsed time, for work without a natural count.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template"),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar over `len` units named `unit`, with the estimated time left once it means something.
pub fn bar(message: impl Into<String>, len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{elapsed}}, {{settled_eta}})"
        ))
        .expect("static template")
        .with_key("settled_eta", settled_eta)
        .progress_chars("=> "),
    );
    bar.set_message(message.into());
    bar
}

/// The time left, withheld until a fifth of the work and five seconds have passed: units
/// differ in cost (the largest run first), so an early rate extrapolates to nonsense.
fn settled_eta(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = if state.fraction() < 0.2 || state.elapsed() < Duration::from_secs(5) {
        write!(w, "estimating time left")
    } else {
        write!(w, "about {} left", HumanDuration(state.eta()))
    };
}
