//! Reports: CSV, JSON, Markdown, figures and timelines. Reports only format numbers the
//! stats hold.

pub mod font;
pub mod overlay;
pub mod plot;
pub mod run_report;
pub mod text;
pub mod timeline;
