//! Where the external data lives: the MiniLM weights, STS-B dev, the public SpAtten CSV
//! traces and WikiText-2. None of it ships in the repository (licences and size), so every
//! command and test finds it the same way: under `$SPATTEN_DATA` when that is set, else under
//! `data/` in the working directory (the repository root for `cargo` commands). The layout
//! below that root is the one `data/README.md` documents and `scripts/fetch-model.sh` writes.
//!
//! This file uses only `std`: `build.rs` includes it too, to tell the tests which data exist.

use std::path::{Path, PathBuf};

/// The environment variable naming the data root.
pub const DATA_ENV: &str = "SPATTEN_DATA";
/// The data root when `$SPATTEN_DATA` is unset: relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "data";

/// The data root: `$SPATTEN_DATA` when set and non-empty, else `./data`.
pub fn data_root() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(".").join(DEFAULT_DATA_DIR),
    }
}

/// One external data set: where it sits under the root and how a user gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// sentence-transformers all-MiniLM-L6-v2 (BERT, 6 layers).
    MiniLm,
    /// The STS Benchmark dev split (1,500 sentence pairs).
    StsbDev,
    /// The public SpAtten GPT-2 attention traces (17-column CSV).
    SpattenTraces,
    /// The WikiText-2 validation text.
    Wikitext2,
}

impl Dataset {
    pub const ALL: [Dataset; 4] = [
        Dataset::MiniLm,
        Dataset::StsbDev,
        Dataset::SpattenTraces,
        Dataset::Wikitext2,
    ];

    /// The path below the data root.
    pub fn rel_path(self) -> &'static str {
        match self {
            Dataset::MiniLm => "models/all-MiniLM-L6-v2",
            Dataset::StsbDev => "data/stsb/sts-dev.tsv",
            Dataset::SpattenTraces => "data/spatten-traces",
            Dataset::Wikitext2 => "data/wikitext-2/valid.txt",
        }
    }

    /// The `cfg` name `build.rs` sets when the data set is present.
    pub fn cfg_name(self) -> &'static str {
        match self {
            Dataset::MiniLm => "data_minilm",
            Dataset::StsbDev => "data_stsb",
            Dataset::SpattenTraces => "data_spatten_traces",
            Dataset::Wikitext2 => "data_wikitext2",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Dataset::MiniLm => "the all-MiniLM-L6-v2 model",
            Dataset::StsbDev => "the STS-B dev set",
            Dataset::SpattenTraces => "the public SpAtten GPT-2 CSV traces",
            Dataset::Wikitext2 => "the WikiText-2 validation text",
        }
    }

    /// What a user runs or copies to supply it.
    pub fn how_to_get(self) -> &'static str {
        match self {
            Dataset::MiniLm => "run scripts/fetch-model.sh",
            Dataset::StsbDev => {
                "copy the STS Benchmark's sts-dev file to data/stsb/sts-dev.tsv under the data root"
            }
            Dataset::SpattenTraces => {
                "copy the CSVs of github.com/mit-han-lab/spatten to data/spatten-traces/ under \
                 the data root"
            }
            Dataset::Wikitext2 => {
                "copy WikiText-2's wiki.valid.tokens to data/wikitext-2/valid.txt under the data root"
            }
        }
    }

    /// Where it is (or would be) under the current data root.
    pub fn path(self) -> PathBuf {
        data_root().join(self.rel_path())
    }

    /// Whether it is present under `root`: the files its readers need exist.
    pub fn present_under(self, root: &Path) -> bool {
        let p = root.join(self.rel_path());
        match self {
            Dataset::MiniLm => ["model.safetensors", "config.json", "vocab.txt"]
                .iter()
                .all(|f| p.join(f).is_file()),
            Dataset::SpattenTraces => p.join("small.csv").is_file(),
            Dataset::StsbDev | Dataset::Wikitext2 => p.is_file(),
        }
    }

    pub fn is_present(self) -> bool {
        self.present_under(&data_root())
    }

    /// The message for a command that needs this data set and did not find it.
    pub fn missing_message(self) -> String {
        format!(
            "{} is not at {} (the data root is ${DATA_ENV}, else ./{DEFAULT_DATA_DIR}): {}",
            self.description(),
            self.path().display(),
            self.how_to_get()
        )
    }
}
