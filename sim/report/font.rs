//! The embedded plot font: DejaVu Sans (assets/fonts/, licence beside it), registered with
//! plotters once so figures render identically on any machine, with no system fonts.

use std::sync::OnceLock;

/// DejaVu Sans regular (Bitstream Vera licence with DejaVu changes in the public domain).
pub const DEJAVU_SANS_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name figures ask plotters for.
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font (idempotent, thread-safe). Returns an error only if the
/// embedded bytes are not a valid font, which a test rules out.
pub fn ensure_registered() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS_TTF)
            .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())
    })
    .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_font_registers() {
        assert!(super::DEJAVU_SANS_TTF.len() > 100_000);
        super::ensure_registered().unwrap();
    }
}
