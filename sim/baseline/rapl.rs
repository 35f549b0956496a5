//! Package energy from Linux RAPL (`/sys/class/powercap/intel-rapl:0`), when exposed.

use std::path::{Path, PathBuf};

/// The default RAPL package domain.
pub const DEFAULT_DOMAIN: &str = "/sys/class/powercap/intel-rapl:0";

/// A readable RAPL energy counter (microjoules, wrapping at `max_energy_range_uj`).
#[derive(Debug, Clone)]
pub struct Rapl {
    pub domain: PathBuf,
    pub max_range_uj: u64,
}

impl Rapl {
    /// Opens a RAPL domain folder; `None` when its counter cannot be read (absent, or not
    /// permitted, which is common for unprivileged users on recent kernels).
    pub fn open(domain: &Path) -> Option<Self> {
        let max_range_uj = read_u64(&domain.join("max_energy_range_uj"))?;
        let r = Self {
            domain: domain.to_path_buf(),
            max_range_uj,
        };
        r.read_uj().map(|_| r)
    }

    pub fn detect() -> Option<Self> {
        Self::open(Path::new(DEFAULT_DOMAIN))
    }

    pub fn read_uj(&self) -> Option<u64> {
        read_u64(&self.domain.join("energy_uj"))
    }

    /// Energy between two readings, allowing for one wrap of the counter.
    pub fn delta_uj(&self, before: u64, after: u64) -> u64 {
        if after >= before {
            after - before
        } else {
            self.max_range_uj - before + after + 1
        }
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_domain_and_handles_wrap() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("max_energy_range_uj"), "1000\n").unwrap();
        std::fs::write(dir.path().join("energy_uj"), "990\n").unwrap();
        let r = Rapl::open(dir.path()).unwrap();
        assert_eq!(r.read_uj(), Some(990));
        assert_eq!(r.delta_uj(990, 10), 21);
        assert_eq!(r.delta_uj(10, 990), 980);
        assert!(Rapl::open(&dir.path().join("missing")).is_none());
    }
}
