//! Axes: ranges, ticks (1-2-5 on log axes, at the data for small sweeps) and number labels.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// One axis: the drawn range (in log10 units for a log axis) and its ticks.
pub(super) struct Axis {
    pub(super) log: bool,
    pub(super) range: Range<f64>,
    pub(super) ticks: Vec<f64>,
}

impl Axis {
    /// An axis over `range` (drawn units), with no more ticks than fit `length_px` at a
    /// readable spacing.
    pub(super) fn over_px(range: Range<f64>, log: bool, length_px: f64) -> Self {
        let max_ticks = ((length_px / 38.0).floor() as usize).clamp(3, 9);
        let ticks = if log {
            log_ticks(&range, max_ticks)
        } else {
            linear_ticks(&range, max_ticks)
        };
        Axis { log, range, ticks }
    }

    /// An axis covering `lo..=hi` (data units), padded; `from_zero` starts a linear axis at 0.
    pub(super) fn fit(lo: f64, hi: f64, log: bool, from_zero: bool) -> Self {
        Self::fit_px(lo, hi, log, from_zero, 400.0)
    }

    /// As [`Axis::fit`] for an axis `length_px` long.
    pub(super) fn fit_px(lo: f64, hi: f64, log: bool, from_zero: bool, length_px: f64) -> Self {
        if log {
            let (a, b) = (lo.log10(), hi.log10());
            let (a, b) = if b - a < 1e-9 {
                (a - 0.5, b + 0.5)
            } else {
                (a, b)
            };
            let pad = (b - a) * 0.06;
            Self::over_px((a - pad)..(b + pad), true, length_px)
        } else {
            let lo = if from_zero { lo.min(0.0) } else { lo };
            let (lo, hi) = if hi - lo < 1e-12 {
                let d = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
                (if from_zero { lo } else { lo - d }, hi + d)
            } else {
                (lo, hi)
            };
            let span = hi - lo;
            let start = if from_zero && lo >= 0.0 {
                0.0
            } else {
                lo - span * 0.06
            };
            Self::over_px(start..hi + span * 0.06, false, length_px)
        }
    }

    /// Ticks exactly at the given data values (small categorical sweeps).
    pub(super) fn at_data(mut self, values: &[f64]) -> Self {
        self.ticks = values.iter().map(|v| self.map(*v)).collect();
        self
    }

    pub(super) fn map(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    pub(super) fn coord(&self) -> Ticked {
        Ticked {
            range: self.range.clone(),
            ticks: self.ticks.clone(),
        }
    }

    pub(super) fn label(&self, v: f64) -> String {
        if self.log {
            // 10^log10(x) carries float noise; 12 digits keep data ticks such as 8192 exact.
            format_number(round_sig(10f64.powf(v), 12))
        } else {
            format_number(v)
        }
    }
}

pub(super) fn linear_ticks(range: &Range<f64>, max_ticks: usize) -> Vec<f64> {
    let step = nice_step((range.end - range.start) / (max_ticks.min(7) as f64 - 1.0));
    let first = (range.start / step - 1e-9).ceil() as i64;
    let last = (range.end / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let t = k as f64 * step;
            // Multiples of a step like 0.1 carry binary noise; the label rounds it anyway.
            round_sig(t, 12)
        })
        .collect()
}

/// Ticks of a log axis (range in log10 units): the finest of 1-2-5 steps, 1-3 steps or
/// decades (every other decade over many) that stays within `max_ticks`; under one decade,
/// finer steps or plain linear ticks.
pub(super) fn log_ticks(range: &Range<f64>, max_ticks: usize) -> Vec<f64> {
    let in_range = |mantissas: &[f64]| -> Vec<f64> {
        ((range.start.floor() as i32)..=(range.end.ceil() as i32))
            .flat_map(|k| mantissas.iter().map(move |m| (m * 10f64.powi(k)).log10()))
            .filter(|t| *t >= range.start - 1e-12 && *t <= range.end + 1e-12)
            .collect()
    };
    let fine = in_range(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0]);
    let coarse = in_range(&[1.0, 2.0, 5.0]);
    if coarse.len() < 3 {
        if fine.len() >= 3 {
            return fine;
        }
        let (lo, hi) = (10f64.powf(range.start), 10f64.powf(range.end));
        return linear_ticks(&(lo..hi), max_ticks)
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(f64::log10)
            .collect();
    }
    for m in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0], &[1.0]] {
        let t = in_range(m);
        if t.len() <= max_ticks {
            return t;
        }
    }
    let decades = in_range(&[1.0]);
    let every = decades.len().div_ceil(max_ticks).max(2);
    decades.into_iter().step_by(every).collect()
}

/// A linear f64 coordinate whose ticks (and grid lines) are exactly the given values.
#[derive(Debug, Clone)]
pub(super) struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * p)
}

/// Short, exact-looking tick labels: 0.001, 0.5, 12, 1500, 2e6; an integer tick one decimal
/// would misstate keeps its digits.
pub fn format_number(v: f64) -> String {
    format_short(v, true)
}

fn format_short(v: f64, exact_integers: bool) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e6).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        return if (m.round() - m).abs() < 1e-9 {
            format!("{}e{e}", m.round())
        } else if !exact_integers
            || ((10.0 * m).round() - 10.0 * m).abs() < 1e-9
            || v.fract() != 0.0
            || a >= 1e12
        {
            format!("{m:.1}e{e}")
        } else {
            // An integer one decimal would misstate (a sweep's 1048576 is not 1.0e6).
            format!("{v:.0}")
        };
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A bar's value as printed: three significant digits, no exponent below a million.
pub fn format_value(v: f64) -> String {
    format_short(round_sig(v, 3), false)
}

pub(super) fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * p).round() / p
}

/// The distinct x values of the data, when few enough to tick each one.
pub(super) fn data_ticks(xs: impl Iterator<Item = f64>) -> Option<Vec<f64>> {
    let mut v: Vec<f64> = xs.collect();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| (*a - *b).abs() <= 1e-12 * b.abs().max(1.0));
    (v.len() <= 10).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_number(1000.0), "1000");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(2e6), "2e6");
        assert_eq!(format_number(1.5e6), "1.5e6");
        assert_eq!(format_number(1048576.0), "1048576");
        assert_eq!(format_number(1.25e-4), "1.2e-4");
        assert_eq!(format_value(5.1349), "5.13");
        assert_eq!(format_value(0.7811), "0.781");
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(13.0), 20.0);
    }

    fn labels(a: &Axis) -> Vec<String> {
        a.ticks.iter().map(|t| a.label(*t)).collect()
    }

    #[test]
    fn log_axis_ticks_are_readable() {
        // Many decades: decade ticks.
        let a = Axis::fit(1.0, 1e5, true, false);
        assert_eq!(labels(&a), ["1", "10", "100", "1000", "10000", "100000"]);
        // A few decades (speedups of 1.3x to 600x): 1-2-5 steps.
        let a = Axis::fit(1.3, 600.0, true, false);
        assert_eq!(
            labels(&a),
            ["1", "2", "5", "10", "20", "50", "100", "200", "500"]
        );
        // Under one decade: finer steps, never fewer than three ticks.
        let a = Axis::fit(0.78, 5.1, true, false);
        assert_eq!(labels(&a), ["1", "2", "5"]);
        assert!(Axis::fit(1.2, 1.9, true, false).ticks.len() >= 3);
    }

    #[test]
    fn small_sweeps_tick_at_their_data() {
        let xs = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
        let t = data_ticks(xs.iter().copied()).unwrap();
        let a = Axis::fit(1.0, 32.0, true, false).at_data(&t);
        assert_eq!(labels(&a), ["1", "2", "4", "8", "16", "32"]);
        assert!(data_ticks((0..40).map(f64::from)).is_none());
        // Four and more digits are labelled as they are, not to three significant ones.
        let xs = [1536.0, 8192.0, 131072.0];
        let a = Axis::fit(1536.0, 131072.0, true, false).at_data(&xs);
        assert_eq!(labels(&a), ["1536", "8192", "131072"]);
    }
}
