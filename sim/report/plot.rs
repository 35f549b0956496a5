//! Figures: grouped bars, stacked bars, line plots, a Pareto scatter and a roofline.
//!
//! Every function writes `<stem>.svg` and `<stem>.png` (each through a temporary file and a
//! rename) and returns both paths. Text uses the embedded DejaVu Sans ([`super::font`]), so a
//! PNG is byte-identical on every run and machine with the same build; SVG is deterministic
//! text. Log axes are drawn as linear axes over log10 of the data with decade ticks, which
//! keeps one code path for every chart and puts ticks exactly on 1, 10, 100, ...

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use super::font;

/// Colour-blind-friendly categorical palette (Tableau 10).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xBA, 0xB0, 0xAC),
];

pub const DEFAULT_SIZE: (u32, u32) = (1000, 600);

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    // The cause is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("{}: writing the figure: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The data cannot be drawn (names the figure and the reason).
    #[error("figure {title:?}: {reason}")]
    Data { title: String, reason: String },
    #[error("figure {title:?}: drawing failed: {reason}")]
    Draw { title: String, reason: String },
}

/// Title, axis labels (with units) and pixel size shared by every figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub size: (u32, u32),
}

impl Frame {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            size: DEFAULT_SIZE,
        }
    }
}

/// A named list of values, one per category (bars) or component.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Grouped bars: one group per category, one bar per series.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedBars {
    pub frame: Frame,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub log_y: bool,
    /// Print each bar's value above it (e.g. "162x" with suffix "x").
    pub value_labels: Option<String>,
}

/// Stacked bars: one bar per category, segments are the components (linear axis).
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBars {
    pub frame: Frame,
    pub categories: Vec<String>,
    pub components: Vec<Series>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Several series of a metric against an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    pub frame: Frame,
    pub series: Vec<Curve>,
    pub log_x: bool,
    pub log_y: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Minimize,
    Maximize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub label: String,
    pub x: f64,
    pub y: f64,
}

/// Design points with their Pareto front highlighted.
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoScatter {
    pub frame: Frame,
    pub points: Vec<ScatterPoint>,
    pub x_goal: Goal,
    pub y_goal: Goal,
    pub log_x: bool,
    pub log_y: bool,
}

/// One device's roofline: `min(peak, bandwidth x intensity)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    pub name: String,
    pub peak_gops: f64,
    pub bandwidth_gbps: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RooflinePoint {
    pub name: String,
    pub intensity_ops_per_byte: f64,
    pub gops: f64,
}

/// Rooflines of one or more devices with workloads placed on them (log-log).
#[derive(Debug, Clone, PartialEq)]
pub struct Roofline {
    pub frame: Frame,
    pub ceilings: Vec<Ceiling>,
    pub points: Vec<RooflinePoint>,
}

/// The files a figure was written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub svg: PathBuf,
    pub png: PathBuf,
}

/// Indices of the Pareto-optimal points: no other point is at least as good on both axes and
/// strictly better on one. Sorted by x, ties by y; duplicates of an optimal point all count.
pub fn pareto_front(points: &[(f64, f64)], x_goal: Goal, y_goal: Goal) -> Vec<usize> {
    let better_eq = |a: f64, b: f64, g: Goal| match g {
        Goal::Minimize => a <= b,
        Goal::Maximize => a >= b,
    };
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let (xi, yi) = points[i];
            !points.iter().any(|&(xj, yj)| {
                better_eq(xj, xi, x_goal) && better_eq(yj, yi, y_goal) && (xj != xi || yj != yi)
            })
        })
        .collect();
    front.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
    });
    front
}

pub fn grouped_bars(stem: &Path, c: &GroupedBars) -> Result<Written, PlotError> {
    check_bar_table(&c.frame.title, &c.categories, "series", &c.series, c.log_y)?;
    write_both(stem, c)
}

pub fn stacked_bars(stem: &Path, c: &StackedBars) -> Result<Written, PlotError> {
    check_bar_table(
        &c.frame.title,
        &c.categories,
        "component",
        &c.components,
        false,
    )?;
    if let Some(s) = c
        .components
        .iter()
        .find(|s| s.values.iter().any(|v| *v < 0.0))
    {
        return Err(PlotError::Data {
            title: c.frame.title.clone(),
            reason: format!(
                "component {:?} has a negative value; stacks need values >= 0",
                s.name
            ),
        });
    }
    write_both(stem, c)
}

/// Bars need a category and a `kind` (series, component), one value per category in each,
/// and values the axis can show.
fn check_bar_table(
    title: &str,
    categories: &[String],
    kind: &str,
    rows: &[Series],
    log_y: bool,
) -> Result<(), PlotError> {
    let err = |reason: String| PlotError::Data {
        title: title.to_string(),
        reason,
    };
    if categories.is_empty() || rows.is_empty() {
        return Err(err(format!("needs at least one category and one {kind}")));
    }
    for s in rows {
        if s.values.len() != categories.len() {
            return Err(err(format!(
                "{kind} {:?} has {} values for {} categories",
                s.name,
                s.values.len(),
                categories.len()
            )));
        }
        check_values(title, &s.name, &s.values, log_y)?;
    }
    Ok(())
}

pub fn line_plot(stem: &Path, c: &LinePlot) -> Result<Written, PlotError> {
    if c.series.iter().all(|s| s.points.is_empty()) {
        return Err(PlotError::Data {
            title: c.frame.title.clone(),
            reason: "no points".into(),
        });
    }
    for s in &c.series {
        let xs: Vec<f64> = s.points.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = s.points.iter().map(|p| p.1).collect();
        check_values(&c.frame.title, &s.name, &xs, c.log_x)?;
        check_values(&c.frame.title, &s.name, &ys, c.log_y)?;
    }
    write_both(stem, c)
}

pub fn pareto_scatter(stem: &Path, c: &ParetoScatter) -> Result<Written, PlotError> {
    if c.points.is_empty() {
        return Err(PlotError::Data {
            title: c.frame.title.clone(),
            reason: "no points".into(),
        });
    }
    let xs: Vec<f64> = c.points.iter().map(|p| p.x).collect();
    let ys: Vec<f64> = c.points.iter().map(|p| p.y).collect();
    check_values(&c.frame.title, "x", &xs, c.log_x)?;
    check_values(&c.frame.title, "y", &ys, c.log_y)?;
    write_both(stem, c)
}

pub fn roofline(stem: &Path, c: &Roofline) -> Result<Written, PlotError> {
    if c.ceilings.is_empty() {
        return Err(PlotError::Data {
            title: c.frame.title.clone(),
            reason: "needs at least one ceiling".into(),
        });
    }
    for k in &c.ceilings {
        check_values(
            &c.frame.title,
            &k.name,
            &[k.peak_gops, k.bandwidth_gbps],
            true,
        )?;
    }
    for p in &c.points {
        check_values(
            &c.frame.title,
            &p.name,
            &[p.intensity_ops_per_byte, p.gops],
            true,
        )?;
    }
    write_both(stem, c)
}

fn check_values(title: &str, name: &str, values: &[f64], log: bool) -> Result<(), PlotError> {
    for v in values {
        if !v.is_finite() || (log && *v <= 0.0) {
            let want = if log {
                "finite and > 0 on a log axis"
            } else {
                "finite"
            };
            return Err(PlotError::Data {
                title: title.into(),
                reason: format!("{name:?} has value {v}; values must be {want}"),
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rendering to both formats.

type Root<DB> = DrawingArea<DB, Shift>;
type DrawResult = Result<(), String>;

/// A figure that can draw itself on any plotters backend.
trait Figure {
    fn frame(&self) -> &Frame;
    fn draw<DB: DrawingBackend>(&self, root: &Root<DB>) -> DrawResult;
}

/// Each chart type draws itself with its own function.
macro_rules! figure {
    ($($ty:ty => $draw:ident),* $(,)?) => {$(
        impl Figure for $ty {
            fn frame(&self) -> &Frame {
                &self.frame
            }
            fn draw<DB: DrawingBackend>(&self, root: &Root<DB>) -> DrawResult {
                $draw(root, self)
            }
        }
    )*};
}

figure! {
    GroupedBars => draw_grouped,
    StackedBars => draw_stacked,
    LinePlot => draw_lines,
    ParetoScatter => draw_pareto,
    Roofline => draw_roofline,
}

/// Draws the figure once into an SVG string and once into a PNG file; both go through a
/// temporary file in the target folder and a rename.
fn write_both<F: Figure>(stem: &Path, fig: &F) -> Result<Written, PlotError> {
    let frame = fig.frame();
    font::ensure_registered().map_err(|reason| PlotError::Draw {
        title: frame.title.clone(),
        reason,
    })?;
    let svg = with_ext(stem, "svg");
    let png = with_ext(stem, "png");
    let fail = |reason: String| PlotError::Draw {
        title: frame.title.clone(),
        reason,
    };

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, frame.size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        fig.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    write_atomic(&svg, text.as_bytes())?;

    let tmp = tmp_path(&png);
    let result = (|| {
        let root = BitMapBackend::new(&tmp, frame.size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        fig.draw(&root)?;
        root.present().map_err(|e| e.to_string())
    })();
    if let Err(reason) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(reason));
    }
    std::fs::rename(&tmp, &png).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        PlotError::Io {
            path: png.clone(),
            error: e,
        }
    })?;
    Ok(Written { svg, png })
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// `dir/.name.tmpPID.ext`: same folder (so the rename is atomic), same extension (the PNG
/// encoder picks the format from it).
fn tmp_path(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.tmp{}.{ext}", std::process::id()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    let tmp = tmp_path(path);
    let r = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(|e| PlotError::Io {
        path: path.to_path_buf(),
        error: e,
    })
}

// ---------------------------------------------------------------------------------------------
// Axes.

/// One axis: the drawn range (in log10 units for a log axis) and its ticks.
struct Axis {
    log: bool,
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Axis {
    /// An axis covering `lo..=hi` (data units), padded; `from_zero` starts a linear axis at 0.
    fn fit(lo: f64, hi: f64, log: bool, from_zero: bool) -> Self {
        if log {
            let (a, b) = (lo.log10(), hi.log10());
            let (a, b) = if b - a < 1e-9 {
                (a - 0.5, b + 0.5)
            } else {
                (a, b)
            };
            let pad = (b - a) * 0.05;
            let range = (a - pad)..(b + pad);
            let mut ticks: Vec<f64> = ((range.start.ceil() as i32)..=(range.end.floor() as i32))
                .map(f64::from)
                .collect();
            if ticks.len() < 3 {
                // Less than two decades: add 2x and 5x ticks.
                ticks = ((range.start.floor() as i32)..=(range.end.ceil() as i32))
                    .flat_map(|k| [1.0, 2.0, 5.0].map(|m| (m * 10f64.powi(k)).log10()))
                    .filter(|t| range.contains(t))
                    .collect();
            }
            Axis { log, range, ticks }
        } else {
            let lo = if from_zero { lo.min(0.0) } else { lo };
            let (lo, hi) = if hi - lo < 1e-12 {
                (lo - 1.0, hi + 1.0)
            } else {
                (lo, hi)
            };
            let step = nice_step((hi - lo) / 6.0);
            let pad_hi = if from_zero {
                (hi - lo) * 0.08
            } else {
                (hi - lo) * 0.05
            };
            let start = if from_zero && lo >= 0.0 {
                0.0
            } else {
                lo - (hi - lo) * 0.05
            };
            let range = start..hi + pad_hi;
            let first = (range.start / step).ceil() as i64;
            let last = (range.end / step).floor() as i64;
            let ticks = (first..=last).map(|k| k as f64 * step).collect();
            Axis { log, range, ticks }
        }
    }

    fn map(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    fn coord(&self) -> Ticked {
        Ticked {
            range: self.range.clone(),
            ticks: self.ticks.clone(),
        }
    }

    fn label(&self, v: f64) -> String {
        if self.log {
            format_number(10f64.powf(v))
        } else {
            format_number(v)
        }
    }
}

/// A linear f64 coordinate whose ticks (and grid lines) are exactly the given values.
#[derive(Debug, Clone)]
struct Ticked {
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
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// Short, exact-looking tick labels: 0.001, 0.5, 12, 1500, 2e+06.
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e6).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        return if (m.round() - m).abs() < 1e-9 {
            format!("{}e{e}", m.round())
        } else {
            format!("{m:.1}e{e}")
        };
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn style(size: u32) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&BLACK)
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

fn chart<'a, DB: DrawingBackend + 'a>(
    root: &'a Root<DB>,
    frame: &Frame,
    x: &Axis,
    y: &Axis,
    x_area: u32,
) -> Result<Chart<'a, DB>, String> {
    let mut c = ChartBuilder::on(root)
        .caption(&frame.title, style(24))
        .margin(16)
        .x_label_area_size(x_area)
        .y_label_area_size(80)
        .build_cartesian_2d(x.coord(), y.coord())
        .map_err(|e| e.to_string())?;
    let xl = |v: &f64| x.label(*v);
    let yl = |v: &f64| y.label(*v);
    c.configure_mesh()
        .x_desc(&frame.x_label)
        .y_desc(&frame.y_label)
        .axis_desc_style(style(17))
        .label_style(style(14))
        .x_label_formatter(&xl)
        .y_label_formatter(&yl)
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(c)
}

fn legend<'a, DB: DrawingBackend + 'a>(
    c: &mut Chart<'a, DB>,
    pos: SeriesLabelPosition,
) -> DrawResult {
    c.configure_series_labels()
        .position(pos)
        .label_font(style(14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(0x99, 0x99, 0x99))
        .margin(10)
        .draw()
        .map_err(|e| e.to_string())
}

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

// ---------------------------------------------------------------------------------------------
// The charts.

fn category_axis(n: usize) -> Axis {
    Axis {
        log: false,
        range: -0.5..n as f64 - 0.5,
        ticks: (0..n).map(|i| i as f64).collect(),
    }
}

fn category_chart<'a, DB: DrawingBackend + 'a>(
    root: &'a Root<DB>,
    frame: &Frame,
    categories: &[String],
    y: &Axis,
) -> Result<Chart<'a, DB>, String> {
    let x = category_axis(categories.len());
    // Category names that do not fit side by side are turned to read bottom-up.
    let label_px = categories
        .iter()
        .map(|t| {
            root.estimate_text_size(t, &style(14))
                .map(|(w, _)| w)
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let slot_px = frame.size.0.saturating_sub(140) / categories.len().max(1) as u32;
    let rotate = label_px + 8 > slot_px;
    let x_area = if rotate {
        (label_px + 50).min(frame.size.1 / 3)
    } else {
        60
    };
    let mut c = ChartBuilder::on(root)
        .caption(&frame.title, style(24))
        .margin(16)
        .x_label_area_size(x_area)
        .y_label_area_size(80)
        .build_cartesian_2d(x.coord(), y.coord())
        .map_err(e2s)?;
    let xl = |v: &f64| {
        if rotate {
            return String::new();
        }
        categories
            .get(v.round().max(0.0) as usize)
            .cloned()
            .unwrap_or_default()
    };
    let yl = |v: &f64| y.label(*v);
    c.configure_mesh()
        .disable_x_mesh()
        .x_desc(&frame.x_label)
        .y_desc(&frame.y_label)
        .axis_desc_style(style(17))
        .label_style(style(14))
        .x_label_formatter(&xl)
        .y_label_formatter(&yl)
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .draw()
        .map_err(e2s)?;
    if rotate {
        // plotters misplaces rotated tick labels, so they are drawn here: each ends just below
        // the axis under its tick and reads bottom-up.
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let rotated = style(14)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, name) in categories.iter().enumerate() {
            let (px, py) = c.backend_coord(&(i as f64, y.range.start));
            root.draw(&Text::new(name.as_str(), (px, py + 8), rotated.clone()))
                .map_err(e2s)?;
        }
    }
    Ok(c)
}

fn draw_grouped<DB: DrawingBackend>(root: &Root<DB>, c: &GroupedBars) -> DrawResult {
    let all: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Room above the tallest bar for the legend and value labels.
    let headroom = if c.log_y {
        hi * 10f64.powf(((hi / lo).log10() * 0.25).max(0.3))
    } else {
        hi * 1.25
    };
    let y = Axis::fit(
        lo.min(if c.log_y { lo } else { 0.0 }),
        headroom,
        c.log_y,
        !c.log_y,
    );
    let mut ch = category_chart(root, &c.frame, &c.categories, &y)?;
    let base = y
        .range
        .start
        .max(if c.log_y { f64::NEG_INFINITY } else { 0.0 });
    let n = c.series.len() as f64;
    let width = 0.8 / n;
    for (si, s) in c.series.iter().enumerate() {
        let col = color(si);
        let bars = s.values.iter().enumerate().map(|(i, v)| {
            let x0 = i as f64 - 0.4 + si as f64 * width;
            Rectangle::new(
                [(x0 + 0.01, base), (x0 + width - 0.01, y.map(*v))],
                col.filled(),
            )
        });
        ch.draw_series(bars)
            .map_err(e2s)?
            .label(&s.name)
            .legend(move |(px, py)| {
                Rectangle::new([(px, py - 6), (px + 14, py + 6)], col.filled())
            });
        if let Some(suffix) = &c.value_labels {
            let size = if c.categories.len() * c.series.len() > 24 {
                10
            } else {
                12
            };
            let labels = s.values.iter().enumerate().map(|(i, v)| {
                let xc = i as f64 - 0.4 + (si as f64 + 0.5) * width;
                Text::new(
                    format!("{}{suffix}", format_number(round_sig(*v, 3))),
                    (xc, y.map(*v)),
                    style(size).pos(text_anchor_bottom_center()),
                )
            });
            ch.draw_series(labels).map_err(e2s)?;
        }
    }
    legend(&mut ch, SeriesLabelPosition::UpperRight)
}

fn text_anchor_bottom_center() -> plotters::style::text_anchor::Pos {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    Pos::new(HPos::Center, VPos::Bottom)
}

fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let p = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * p).round() / p
}

fn draw_stacked<DB: DrawingBackend>(root: &Root<DB>, c: &StackedBars) -> DrawResult {
    let totals: Vec<f64> = (0..c.categories.len())
        .map(|i| c.components.iter().map(|s| s.values[i]).sum())
        .collect();
    let hi = totals.iter().copied().fold(0.0, f64::max);
    let y = Axis::fit(0.0, if hi > 0.0 { hi * 1.3 } else { 1.0 }, false, true);
    let mut ch = category_chart(root, &c.frame, &c.categories, &y)?;
    let mut bottoms = vec![0.0; c.categories.len()];
    for (si, s) in c.components.iter().enumerate() {
        let col = color(si);
        let bars: Vec<_> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let r = Rectangle::new(
                    [
                        (i as f64 - 0.3, bottoms[i]),
                        (i as f64 + 0.3, bottoms[i] + v),
                    ],
                    col.filled(),
                );
                bottoms[i] += v;
                r
            })
            .collect();
        ch.draw_series(bars)
            .map_err(e2s)?
            .label(&s.name)
            .legend(move |(px, py)| {
                Rectangle::new([(px, py - 6), (px + 14, py + 6)], col.filled())
            });
    }
    let totals_text = totals.iter().enumerate().map(|(i, t)| {
        Text::new(
            format_number(round_sig(*t, 3)),
            (i as f64, *t),
            style(13).pos(text_anchor_bottom_center()),
        )
    });
    ch.draw_series(totals_text).map_err(e2s)?;
    legend(&mut ch, SeriesLabelPosition::UpperRight)
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

fn draw_lines<DB: DrawingBackend>(root: &Root<DB>, c: &LinePlot) -> DrawResult {
    let (xlo, xhi) = bounds(c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let (ylo, yhi) = bounds(c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let x = Axis::fit(xlo, xhi, c.log_x, false);
    let yhi_room = if c.log_y {
        yhi * (yhi / ylo).max(10.0).powf(0.15)
    } else {
        yhi + (yhi - ylo.min(0.0)) * 0.15
    };
    let y = Axis::fit(ylo, yhi_room, c.log_y, !c.log_y && ylo >= 0.0);
    let mut ch = chart(root, &c.frame, &x, &y, 55)?;
    for (si, s) in c.series.iter().enumerate() {
        let col = color(si);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(a, b)| (x.map(a), y.map(b)))
            .collect();
        ch.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
            .map_err(e2s)?
            .label(&s.name)
            .legend(move |(px, py)| {
                PathElement::new(vec![(px, py), (px + 18, py)], col.stroke_width(2))
            });
        ch.draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))
            .map_err(e2s)?;
    }
    legend(&mut ch, SeriesLabelPosition::UpperLeft)
}

fn draw_pareto<DB: DrawingBackend>(root: &Root<DB>, c: &ParetoScatter) -> DrawResult {
    let (xlo, xhi) = bounds(c.points.iter().map(|p| p.x));
    let (ylo, yhi) = bounds(c.points.iter().map(|p| p.y));
    let x = Axis::fit(xlo, xhi, c.log_x, false);
    let y = Axis::fit(ylo, yhi, c.log_y, false);
    let mut ch = chart(root, &c.frame, &x, &y, 55)?;
    let raw: Vec<(f64, f64)> = c.points.iter().map(|p| (p.x, p.y)).collect();
    let front = pareto_front(&raw, c.x_goal, c.y_goal);
    let grey = RGBColor(0x9A, 0x9A, 0x9A);
    let dominated = c
        .points
        .iter()
        .enumerate()
        .filter(|(i, _)| !front.contains(i))
        .map(|(_, p)| Circle::new((x.map(p.x), y.map(p.y)), 4, grey.filled()));
    ch.draw_series(dominated)
        .map_err(e2s)?
        .label("dominated")
        .legend(move |(px, py)| Circle::new((px + 7, py), 4, grey.filled()));
    let col = color(2);
    let line: Vec<(f64, f64)> = front
        .iter()
        .map(|&i| (x.map(raw[i].0), y.map(raw[i].1)))
        .collect();
    ch.draw_series(LineSeries::new(line.clone(), col.stroke_width(2)))
        .map_err(e2s)?
        .label("Pareto front")
        .legend(move |(px, py)| {
            PathElement::new(vec![(px, py), (px + 18, py)], col.stroke_width(2))
        });
    ch.draw_series(line.iter().map(|p| Circle::new(*p, 6, col.filled())))
        .map_err(e2s)?;
    for &i in &front {
        let p = &c.points[i];
        if p.label.is_empty() {
            continue;
        }
        ch.draw_series(std::iter::once(
            EmptyElement::at((x.map(p.x), y.map(p.y)))
                + Text::new(p.label.clone(), (8, -18), style(13)),
        ))
        .map_err(e2s)?;
    }
    legend(&mut ch, SeriesLabelPosition::LowerRight)
}

fn draw_roofline<DB: DrawingBackend>(root: &Root<DB>, c: &Roofline) -> DrawResult {
    let ridges: Vec<f64> = c
        .ceilings
        .iter()
        .map(|k| k.peak_gops / k.bandwidth_gbps)
        .collect();
    let (plo, phi) = bounds(c.points.iter().map(|p| p.intensity_ops_per_byte));
    let xlo = ridges.iter().copied().fold(plo, f64::min).min(1.0) / 4.0;
    let xhi = ridges.iter().copied().fold(phi, f64::max).max(1.0) * 8.0;
    let (_, peak_hi) = bounds(c.ceilings.iter().map(|k| k.peak_gops));
    let (point_lo, point_hi) = bounds(c.points.iter().map(|p| p.gops));
    let (bw_lo, _) = bounds(c.ceilings.iter().map(|k| k.bandwidth_gbps));
    let ylo = (bw_lo * xlo).min(point_lo);
    let yhi = peak_hi.max(point_hi) * 4.0;
    let x = Axis::fit(xlo, xhi, true, false);
    let y = Axis::fit(ylo, yhi, true, false);
    let mut ch = chart(root, &c.frame, &x, &y, 55)?;
    let (x0, x1) = (10f64.powf(x.range.start), 10f64.powf(x.range.end));
    for (ki, k) in c.ceilings.iter().enumerate() {
        let col = color(ki);
        let ridge = k.peak_gops / k.bandwidth_gbps;
        let start = x0.max(10f64.powf(y.range.start) / k.bandwidth_gbps);
        let path = vec![
            (x.map(start), y.map(k.bandwidth_gbps * start)),
            (x.map(ridge), y.map(k.peak_gops)),
            (x.map(x1), y.map(k.peak_gops)),
        ];
        ch.draw_series(LineSeries::new(path, col.stroke_width(3)))
            .map_err(e2s)?
            .label(format!(
                "{} ({} GOP/s, {} GB/s)",
                k.name,
                format_number(k.peak_gops),
                format_number(k.bandwidth_gbps)
            ))
            .legend(move |(px, py)| {
                PathElement::new(vec![(px, py), (px + 18, py)], col.stroke_width(3))
            });
    }
    let black = RGBColor(0x22, 0x22, 0x22);
    for p in &c.points {
        let at = (x.map(p.intensity_ops_per_byte), y.map(p.gops));
        ch.draw_series(std::iter::once(
            EmptyElement::at(at)
                + Circle::new((0, 0), 6, black.filled())
                + Text::new(p.name.clone(), (8, -18), style(13)),
        ))
        .map_err(e2s)?;
    }
    legend(&mut ch, SeriesLabelPosition::LowerRight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_front_matches_brute_force_definition() {
        let pts = [
            (1.0, 1.0),
            (2.0, 3.0),
            (3.0, 3.0),
            (2.5, 4.0),
            (0.5, 0.2),
            (4.0, 5.0),
            (4.0, 4.0),
        ];
        // Minimize x, maximize y: (0.5,0.2), (1,1), (2,3), (2.5,4), (4,5).
        assert_eq!(
            pareto_front(&pts, Goal::Minimize, Goal::Maximize),
            vec![4, 0, 1, 3, 5]
        );
        // Maximize both: only (4,5).
        assert_eq!(pareto_front(&pts, Goal::Maximize, Goal::Maximize), vec![5]);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_number(1000.0), "1000");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(2e6), "2e6");
        assert_eq!(format_number(1.25e-4), "1.2e-4");
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(13.0), 20.0);
    }

    #[test]
    fn log_axis_ticks_are_decades() {
        let a = Axis::fit(1.0, 1000.0, true, false);
        assert_eq!(a.ticks, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(a.label(2.0), "100");
    }
}
