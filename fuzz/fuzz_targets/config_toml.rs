//! The TOML loaders: architecture, workload, sweep spec and baseline profile, on the same
//! bytes. The first byte picks the loader so one corpus (the shipped TOMLs) serves all four.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spatten::config::{self, ArchConfig, ConfigKind, WorkloadConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let label = Path::new("fuzz.toml");
    match which % 4 {
        0 => {
            let _ = config::load_from_str::<ArchConfig>(text, label, ConfigKind::Arch);
        }
        1 => {
            let _ = config::load_from_str::<WorkloadConfig>(text, label, ConfigKind::Workload);
        }
        2 => {
            if let Ok(spec) = spatten::sweep::SweepSpec::parse(text, label) {
                let _ = spec.point_count();
            }
        }
        _ => {
            let _ = spatten::baseline::profile::profile_from_str(text, label);
        }
    }
});
