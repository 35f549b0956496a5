//! Typed configuration errors that name the file, the line, the key and the reason.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in (a preset's name when it is an embedded preset).
    pub file: PathBuf,
    /// 1-based line of the offending key, when it can be located.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `qk.multipliers`.
    pub key: Option<String>,
    pub reason: String,
}

impl ConfigError {
    pub fn new(file: &Path, key: Option<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            key,
            reason: reason.into(),
        }
    }

    pub fn at_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// A range or consistency violation found by `validate`, before the file and line are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub key: String,
    pub reason: String,
}

/// Collects violations with their dotted key paths.
#[derive(Debug, Default)]
pub struct Checker {
    pub violations: Vec<Violation>,
}

impl Checker {
    pub fn fail(&mut self, key: &str, reason: impl Into<String>) {
        self.violations.push(Violation {
            key: key.to_string(),
            reason: reason.into(),
        });
    }

    pub fn nonzero(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.fail(key, "must be greater than zero");
        }
    }

    pub fn power_of_two(&mut self, key: &str, value: u64) {
        if !value.is_power_of_two() {
            self.fail(key, format!("must be a power of two (got {value})"));
        }
    }

    pub fn range_f64(&mut self, key: &str, value: f64, lo: f64, hi: f64, hi_inclusive: bool) {
        let ok = value.is_finite()
            && value >= lo
            && if hi_inclusive {
                value <= hi
            } else {
                value < hi
            };
        if !ok {
            let close = if hi_inclusive { ']' } else { ')' };
            self.fail(key, format!("must be in [{lo}, {hi}{close} (got {value})"));
        }
    }

    /// An upper bound from what hardware or a workstation's memory allows; `why` says which.
    /// The reason reads "= 65536: at most 64 (why)" after the key.
    pub fn at_most(&mut self, key: &str, value: u64, max: u64, why: &str) {
        if value > max {
            self.fail(key, format!("= {value}: at most {max} ({why})"));
        }
    }

    /// [`Checker::at_most`] for floats (non-finite values fail too).
    pub fn at_most_f64(&mut self, key: &str, value: f64, max: f64, why: &str) {
        if !(value.is_finite() && value <= max) {
            self.fail(key, format!("= {value}: at most {max} ({why})"));
        }
    }

    pub fn range_u64(&mut self, key: &str, value: u64, lo: u64, hi: u64) {
        if value < lo || value > hi {
            self.fail(key, format!("must be in [{lo}, {hi}] (got {value})"));
        }
    }
}

/// The reason in a deserialization error, without the "in `path`" suffix toml's value
/// deserializer appends (errors report the key separately).
pub fn deserialize_reason(full: &str) -> String {
    full.split("\nin `")
        .next()
        .unwrap_or(full)
        .trim()
        .to_string()
}

/// Finds the 1-based line where a dotted key is set in a TOML document, by tracking table
/// headers. Used to point errors found after deserialization (or after `base` merging) at the
/// line a human should edit. A key inside an inline table is located by its parent.
pub fn locate_key(text: &str, dotted: &str) -> Option<usize> {
    locate_exact(text, dotted).or_else(|| {
        let (parent, _) = dotted.rsplit_once('.')?;
        locate_key(text, parent)
    })
}

fn locate_exact(text: &str, dotted: &str) -> Option<usize> {
    let parts: Vec<&str> = dotted.split('.').collect();
    let (table, leaf) = match parts.split_last() {
        Some((leaf, table)) => (table.join("."), *leaf),
        None => return None,
    };
    let mut current = String::new();
    let mut table_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let name = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            current = name.to_string();
            if current == dotted {
                table_line = Some(i + 1);
            }
            continue;
        }
        if let Some((k, _)) = line.split_once('=') {
            let k = k.trim().trim_matches('"');
            let full = if current.is_empty() {
                k.to_string()
            } else {
                format!("{current}.{k}")
            };
            if (current == table && k == leaf) || full == dotted {
                return Some(i + 1);
            }
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_in_tables() {
        let text = "name = \"x\"\n[qk]\n# c\nmultipliers = 3\n[softmax]\nlanes = 8\n";
        assert_eq!(locate_key(text, "name"), Some(1));
        assert_eq!(locate_key(text, "qk.multipliers"), Some(4));
        assert_eq!(locate_key(text, "softmax.lanes"), Some(6));
        assert_eq!(locate_key(text, "softmax"), Some(5));
        assert_eq!(locate_key(text, "qk.nothing"), Some(2));
        assert_eq!(locate_key(text, "nothing.at.all"), None);
        let inline = "[energy]\nqk_mac_pj = { value = 1.0, source = \"x\" }\n";
        assert_eq!(locate_key(inline, "energy.qk_mac_pj.value"), Some(2));
    }

    #[test]
    fn display_names_file_line_key_reason() {
        let e = ConfigError::new(Path::new("a.toml"), Some("qk.multipliers".into()), "bad")
            .at_line(Some(4));
        assert_eq!(e.to_string(), "a.toml:4: key `qk.multipliers`: bad");
    }
}
