//! Energy and area: per-action energy accounting over a run's activity, and per-module area.

pub mod account;
pub mod area;

pub use account::EnergyReport;
pub use area::AreaBreakdown;
