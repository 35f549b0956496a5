//! Energy and area: per-action energy accounting over a run's activity, and per-module area.

pub mod area;

pub use area::AreaBreakdown;
