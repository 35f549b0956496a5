//! Figures: grouped bars (alone or in side-by-side panels), stacked bars, line plots, a Pareto
//! scatter and a roofline, drawn to the conventions of a paper's figures.
//!
//! Every function writes `<stem>.svg` and `<stem>.png` (each through a temporary file and a
//! rename) and returns both paths. Text is measured and placed by [`super::text`] from the
//! embedded DejaVu Sans, so the SVG and the PNG carry the same words in the same places and a
//! PNG is byte-identical on every run and machine with the same build.
//!
//! Conventions every chart follows: the title and legend sit above the plot and notes below
//! it, so neither ever covers data; a legend is drawn only when it names two or more things;
//! axes say their units; small categorical sweeps put their ticks at the data; log axes tick at
//! 1-2-5 steps unless the data spans many decades; ratio plots draw a reference line at the
//! ratio that means "no change" and grow their bars from it; colours are Okabe-Ito; font sizes
//! grow with the figure so they stay legible when it is scaled to a paper's column.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::font;
use super::text::{TextBackend, TextSink};

mod axis;
mod bars;
mod layout;
mod lines;

pub use axis::{format_number, format_value};
use layout::{Drawn, Root};

/// The Okabe-Ito colour-blind-safe palette (black made dark grey), then two greys.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xF0, 0xE4, 0x42), // yellow
    RGBColor(0x55, 0x55, 0x55), // dark grey
    RGBColor(0x99, 0x99, 0x99), // grey
    RGBColor(0xDD, 0xDD, 0xDD), // light grey
];

/// A single-column figure.
pub const DEFAULT_SIZE: (u32, u32) = (900, 560);
/// A figure spanning both columns (many categories).
pub const WIDE_SIZE: (u32, u32) = (1400, 640);

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

/// Title, axis labels (with units), pixel size and an optional note under the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub size: (u32, u32),
    /// Printed under the plot, wrapped to the figure's width (what a caption would explain).
    pub note: Option<String>,
}

impl Frame {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            size: DEFAULT_SIZE,
            note: None,
        }
    }

    pub fn sized(mut self, size: (u32, u32)) -> Self {
        self.size = size;
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// A named list of values, one per category (bars) or component.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A horizontal reference line (e.g. 1x on a ratio plot), named in the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub value: f64,
    pub label: String,
}

impl Reference {
    /// The "no change" line of a ratio plot.
    pub fn parity(label: &str) -> Self {
        Self {
            value: 1.0,
            label: label.into(),
        }
    }
}

/// Grouped bars: one group per category, one bar per series.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedBars {
    pub frame: Frame,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub log_y: bool,
    /// Print each bar's value at its end, followed by this suffix (e.g. "x" for "162x").
    pub value_labels: Option<String>,
    /// A reference line; on a log axis the bars grow from it (up above it, down below it).
    pub reference: Option<Reference>,
}

impl GroupedBars {
    pub fn new(frame: Frame, categories: Vec<String>, series: Vec<Series>) -> Self {
        Self {
            frame,
            categories,
            series,
            log_y: false,
            value_labels: None,
            reference: None,
        }
    }

    /// A log-axis ratio plot: bars from the 1x line, values printed with an "x".
    pub fn ratio(mut self, reference_label: &str) -> Self {
        self.log_y = true;
        self.value_labels = Some("x".into());
        self.reference = Some(Reference::parity(reference_label));
        self
    }

    pub fn labelled(mut self, suffix: &str) -> Self {
        self.value_labels = Some(suffix.into());
        self
    }
}

/// Grouped-bar panels side by side under one title (e.g. metrics with different units).
#[derive(Debug, Clone, PartialEq)]
pub struct Panels {
    /// Title, size and note of the whole figure; its axis labels are unused.
    pub frame: Frame,
    /// Each panel's frame title is its heading; sizes are ignored.
    pub panels: Vec<GroupedBars>,
}

/// Stacked bars: one bar per category, segments are the components (linear axis).
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBars {
    pub frame: Frame,
    pub categories: Vec<String>,
    pub components: Vec<Series>,
    /// Print each stack's total above it.
    pub totals: bool,
    /// Print each segment's value inside it where it is tall enough.
    pub segment_labels: bool,
    /// Components whose segments are never labelled (e.g. "idle", the rest of 100 %).
    pub unlabelled: Vec<usize>,
    /// Appended to printed values ("%").
    pub value_suffix: String,
    /// A fixed axis top (100 for shares in percent).
    pub y_max: Option<f64>,
    /// One legend column above each bar, listing only that bar's components (for bars whose
    /// components differ).
    pub legend_per_category: bool,
    /// Palette index of each component (so that, say, "idle" is grey); empty: in order.
    pub colors: Vec<usize>,
}

impl StackedBars {
    pub fn new(frame: Frame, categories: Vec<String>, components: Vec<Series>) -> Self {
        Self {
            frame,
            categories,
            components,
            totals: true,
            segment_labels: false,
            unlabelled: Vec::new(),
            value_suffix: String::new(),
            y_max: None,
            legend_per_category: false,
            colors: Vec::new(),
        }
    }

    /// Shares in percent: axis 0-100, no totals, segments labelled.
    pub fn percent(mut self) -> Self {
        self.totals = false;
        self.segment_labels = true;
        self.value_suffix = "%".into();
        self.y_max = Some(100.0);
        self
    }

    pub fn unlabelled(mut self, components: Vec<usize>) -> Self {
        self.unlabelled = components;
        self
    }

    pub fn colored(mut self, palette_indices: Vec<usize>) -> Self {
        self.colors = palette_indices;
        self
    }
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
    /// Start a linear y axis at 0 (quantities); otherwise it is fitted to the data.
    pub y_from_zero: bool,
    /// Horizontal reference lines (e.g. the dense model's accuracy).
    pub references: Vec<Reference>,
}

impl LinePlot {
    pub fn new(frame: Frame, series: Vec<Curve>) -> Self {
        Self {
            frame,
            series,
            log_x: false,
            log_y: false,
            y_from_zero: true,
            references: Vec::new(),
        }
    }
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

/// The unit that puts `max_joules` between 1 and 1000: (multiplier, name).
pub fn energy_unit(max_joules: f64) -> (f64, &'static str) {
    [(1.0, "J"), (1e3, "mJ"), (1e6, "µJ"), (1e9, "nJ")]
        .into_iter()
        .find(|(k, _)| max_joules * k >= 1.0)
        .unwrap_or((1e12, "pJ"))
}

pub fn grouped_bars(stem: &Path, c: &GroupedBars) -> Result<Written, PlotError> {
    check_grouped(c)?;
    write_both(stem, c)
}

pub fn grouped_panels(stem: &Path, c: &Panels) -> Result<Written, PlotError> {
    if c.panels.is_empty() {
        return Err(PlotError::Data {
            title: c.frame.title.clone(),
            reason: "needs at least one panel".into(),
        });
    }
    for p in &c.panels {
        check_grouped(p)?;
    }
    write_both(stem, c)
}

fn check_grouped(c: &GroupedBars) -> Result<(), PlotError> {
    check_bar_table(&c.frame.title, &c.categories, "series", &c.series, c.log_y)?;
    if let Some(r) = &c.reference {
        check_values(&c.frame.title, &r.label, &[r.value], c.log_y)?;
    }
    Ok(())
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
    if let Some(m) = c.y_max {
        check_values(&c.frame.title, "y_max", &[m], true)?;
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
    for r in &c.references {
        check_values(&c.frame.title, &r.label, &[r.value], c.log_y)?;
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

/// Draws the roofline; a point above its roof (work counted that was never executed, such as
/// the dense-equivalent operations of a pruned run) is drawn hollow and explained in a note.
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
    let above: Vec<&str> = c
        .points
        .iter()
        .filter(|p| above_roof(c, p))
        .map(|p| p.name.as_str())
        .collect();
    if above.is_empty() {
        return write_both(stem, c);
    }
    let mut fig = c.clone();
    let why = format!(
        "Hollow marker ({}): above the roof because it also counts the operations pruning \
         skipped, which the hardware never executed; only executed operations are bound by \
         the roof.",
        above.join(", ")
    );
    fig.frame.note = Some(match &c.frame.note {
        Some(n) => format!("{n} {why}"),
        None => why,
    });
    write_both(stem, &fig)
}

fn above_roof(c: &Roofline, p: &RooflinePoint) -> bool {
    let roof = c
        .ceilings
        .iter()
        .map(|k| k.peak_gops.min(k.bandwidth_gbps * p.intensity_ops_per_byte))
        .fold(0.0, f64::max);
    p.gops > roof * 1.0001
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

/// A figure that can draw itself on any plotters backend.
trait Figure {
    fn frame(&self) -> &Frame;
    fn draw<DB: DrawingBackend>(&self, root: &Root<DB>) -> Drawn;
}

/// Each chart type draws itself with its own function.
macro_rules! figure {
    ($($ty:ty => $draw:path),* $(,)?) => {$(
        impl Figure for $ty {
            fn frame(&self) -> &Frame {
                &self.frame
            }
            fn draw<DB: DrawingBackend>(&self, root: &Root<DB>) -> Drawn {
                $draw(root, self)
            }
        }
    )*};
}

figure! {
    GroupedBars => bars::draw_grouped_figure,
    Panels => bars::draw_panels,
    StackedBars => bars::draw_stacked,
    LinePlot => lines::draw_lines,
    ParetoScatter => lines::draw_pareto,
    Roofline => lines::draw_roofline,
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

    let mut body = String::new();
    let mut texts = String::new();
    {
        let backend = SVGBackend::with_string(&mut body, frame.size);
        let root = TextBackend::new(backend, TextSink::Svg(&mut texts)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        fig.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let svg_text = match body.rfind("</svg>") {
        Some(end) => format!("{}{texts}{}", &body[..end], &body[end..]),
        None => return Err(fail("the SVG backend wrote no closing tag".into())),
    };
    write_atomic(&svg, svg_text.as_bytes())?;

    let tmp = tmp_path(&png);
    let result = (|| {
        let backend = BitMapBackend::new(&tmp, frame.size);
        let root = TextBackend::new(backend, TextSink::Raster).into_drawing_area();
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
    fn energy_units_fit_the_value() {
        assert_eq!(energy_unit(0.015), (1e3, "mJ"));
        assert_eq!(energy_unit(2.0e-4), (1e6, "µJ"));
        assert_eq!(energy_unit(3.0), (1.0, "J"));
    }
}
