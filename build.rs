//! Tells the tests which external data sets are present, so those that need a missing one are
//! reported as ignored (with the command that supplies it) instead of failing or passing.

#[path = "sim/data_dir.rs"]
#[allow(dead_code)]
mod data_dir;

use data_dir::{DATA_ENV, Dataset, data_root};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=sim/data_dir.rs");
    println!("cargo::rerun-if-env-changed={DATA_ENV}");
    let names: Vec<&str> = Dataset::ALL.iter().map(|d| d.cfg_name()).collect();
    println!("cargo::rustc-check-cfg=cfg({})", names.join(", "));
    let root = data_root();
    // Watching a path that does not exist would rerun this script (and rebuild the crate) on
    // every build; `data/` is tracked (its README), and a `$SPATTEN_DATA` that does not exist
    // is picked up when the variable changes.
    if root.is_dir() {
        println!("cargo::rerun-if-changed={}", root.display());
    }
    for d in Dataset::ALL {
        if d.present_under(&root) {
            println!("cargo::rustc-cfg={}", d.cfg_name());
        }
    }
}
