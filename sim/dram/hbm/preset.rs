//! DRAM presets (`arch/dram/*.toml`): files that hold only an `[hbm]` table (and its
//! `[hbm.timing]`), in the same schema as an architecture's `[hbm]` table.

use std::path::{Path, PathBuf};

use crate::config::error::{Checker, locate_key};
use crate::config::{ConfigError, HbmConfig};

/// Shipped DRAM presets: (name, TOML text).
pub const DRAM_PRESETS: &[(&str, &str)] = &[
    (
        "hbm2-2gbps",
        include_str!("../../../arch/dram/hbm2-2gbps.toml"),
    ),
    (
        "hbm2-8gb-dramsim3",
        include_str!("../../../arch/dram/hbm2-8gb-dramsim3.toml"),
    ),
    (
        "ddr4-3200-x64",
        include_str!("../../../arch/dram/ddr4-3200-x64.toml"),
    ),
];

/// Loads a DRAM preset by name (see `DRAM_PRESETS`) or by path, and validates it.
pub fn load_dram_preset(name_or_path: &str) -> Result<HbmConfig, ConfigError> {
    let looks_like_path = name_or_path.ends_with(".toml") || name_or_path.contains('/');
    let (label, text) = if looks_like_path || Path::new(name_or_path).is_file() {
        let path = PathBuf::from(name_or_path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new(&path, None, format!("cannot read DRAM preset: {e}")))?;
        (path, text)
    } else {
        match DRAM_PRESETS.iter().find(|(n, _)| *n == name_or_path) {
            Some((n, text)) => (
                PathBuf::from(format!("<dram preset {n}>")),
                text.to_string(),
            ),
            None => {
                let names: Vec<&str> = DRAM_PRESETS.iter().map(|(n, _)| *n).collect();
                return Err(ConfigError::new(
                    Path::new(name_or_path),
                    None,
                    format!(
                        "no such file and no DRAM preset of that name (presets: {})",
                        names.join(", ")
                    ),
                ));
            }
        }
    };
    parse_dram_preset(&text, &label)
}

/// Parses and validates the text of a DRAM preset; `label` names it in errors.
pub fn parse_dram_preset(text: &str, label: &Path) -> Result<HbmConfig, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        ConfigError::new(
            label,
            None,
            format!("invalid TOML: {}", e.message().trim().replace('\n', "; ")),
        )
        .at_line(line)
    })?;
    if let Some(k) = table.keys().find(|k| *k != "hbm") {
        return Err(ConfigError::new(
            label,
            Some(k.clone()),
            "a DRAM preset holds only the [hbm] table",
        )
        .at_line(locate_key(text, k)));
    }
    let hbm = table
        .remove("hbm")
        .ok_or_else(|| ConfigError::new(label, Some("hbm".into()), "missing [hbm] table"))?;
    let config: HbmConfig = serde_path_to_error::deserialize(hbm).map_err(|e| {
        let key = format!("hbm.{}", e.path());
        let reason = crate::config::error::deserialize_reason(&e.into_inner().to_string());
        ConfigError::new(label, Some(key.clone()), reason).at_line(locate_key(text, &key))
    })?;
    let mut c = Checker::default();
    config.check(&mut c);
    if let Some(v) = c.violations.into_iter().next() {
        return Err(ConfigError::new(label, Some(v.key.clone()), v.reason)
            .at_line(locate_key(text, &v.key)));
    }
    Ok(config)
}
