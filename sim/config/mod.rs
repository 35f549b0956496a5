//! Architecture and workload configurations: schemas, validation, presets and loading.
//!
//! A configuration is named either by a preset name (`spatten`, `gpt2-small`) or by a path.
//! A file may say `base = "NAME-or-PATH"` and override only some keys: tables are merged key by
//! key, the file's values winning. Every error names the file, the line, the key and the reason.

pub mod arch;
pub mod energy;
pub mod error;
pub mod hbm;
pub mod policy;
pub mod presets;
pub mod tiles;
pub mod workload;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use arch::ArchConfig;
pub use error::{Checker, ConfigError, Violation};
pub use hbm::HbmConfig;
pub use workload::WorkloadConfig;

/// Which preset family a configuration belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Arch,
    Workload,
}

impl ConfigKind {
    pub fn label(self) -> &'static str {
        match self {
            ConfigKind::Arch => "architecture",
            ConfigKind::Workload => "workload",
        }
    }

    fn presets(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ConfigKind::Arch => presets::ARCH,
            ConfigKind::Workload => presets::WORKLOAD,
        }
    }
}

/// Configurations that can be validated after deserialization.
pub trait Validate {
    fn violations(&self) -> Vec<Violation>;
    /// Keeps the files the configuration was loaded from, for errors found later.
    fn set_origin(&mut self, _origin: Origin) {}
}

impl Validate for ArchConfig {
    fn violations(&self) -> Vec<Violation> {
        let mut c = Checker::default();
        self.check(&mut c);
        c.violations
    }
    fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }
}

impl Validate for WorkloadConfig {
    fn violations(&self) -> Vec<Violation> {
        let mut c = Checker::default();
        self.check(&mut c);
        c.violations
    }
}

/// One file (or embedded preset) in a `base` chain, kept to locate keys for error lines.
#[derive(Debug, Clone)]
struct Source {
    label: PathBuf,
    text: String,
}

/// The `base` chain a configuration was loaded from, most derived file first, so that a check
/// made after loading (a workload that does not fit the design point) names the file and line
/// that set the key, not the configuration's `name`. Not part of the configuration's value:
/// two configurations compare equal whatever files they came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    chain: Vec<Source>,
}

impl PartialEq for Origin {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Origin {
    /// An error about `key`, at the most derived file that sets it; `fallback` names the
    /// configuration when it was not loaded from files.
    pub fn error(&self, fallback: &str, key: &str, reason: String) -> ConfigError {
        if self.chain.is_empty() {
            ConfigError::new(Path::new(fallback), Some(key.into()), reason)
        } else {
            located(&self.chain, Some(key.into()), reason)
        }
    }
}

const MAX_BASE_DEPTH: usize = 8;

/// Loads an architecture by preset name or path, applying `base` and validating.
pub fn load_arch(spec: &str) -> Result<ArchConfig, ConfigError> {
    load(spec, ConfigKind::Arch)
}

/// Loads a workload by preset name or path, applying `base` and validating.
pub fn load_workload(spec: &str) -> Result<WorkloadConfig, ConfigError> {
    load(spec, ConfigKind::Workload)
}

/// Loads from TOML text (as if it were the file `label`), resolving `base` against presets
/// and the current directory.
pub fn load_from_str<T: DeserializeOwned + Validate>(
    text: &str,
    label: &Path,
    kind: ConfigKind,
) -> Result<T, ConfigError> {
    let mut chain = Vec::new();
    let table = merged_table(
        Source {
            label: label.to_path_buf(),
            text: text.to_string(),
        },
        Path::new("."),
        kind,
        &mut chain,
    )?;
    finish(table, chain)
}

fn load<T: DeserializeOwned + Validate>(spec: &str, kind: ConfigKind) -> Result<T, ConfigError> {
    let mut chain = Vec::new();
    let (source, dir) = resolve(spec, kind, Path::new("."))?;
    let table = merged_table(source, &dir, kind, &mut chain)?;
    finish(table, chain)
}

/// The texts a configuration is made of, labelled by file (or `<preset NAME>`): its own, then
/// its `base` chain. Sweeps hash them, so a resumed sweep notices an edited file.
pub fn sources(spec: &str, kind: ConfigKind) -> Result<Vec<(PathBuf, String)>, ConfigError> {
    let mut chain = Vec::new();
    let (source, dir) = resolve(spec, kind, Path::new("."))?;
    merged_table(source, &dir, kind, &mut chain)?;
    Ok(chain.into_iter().map(|s| (s.label, s.text)).collect())
}

/// Loads `spec` and then sets each dotted key to a new value, as a sweep point does. Every
/// key must already exist in the resolved configuration; the result is validated as a whole.
pub fn load_with_overrides<T: DeserializeOwned + Validate>(
    spec: &str,
    kind: ConfigKind,
    overrides: &[(String, toml::Value)],
) -> Result<T, ConfigError> {
    let mut chain = Vec::new();
    let (source, dir) = resolve(spec, kind, Path::new("."))?;
    let mut table = merged_table(source, &dir, kind, &mut chain)?;
    let label = chain[0].label.clone();
    for (key, value) in overrides {
        set_dotted(&mut table, key, value.clone())
            .map_err(|reason| ConfigError::new(&label, Some(key.clone()), reason))?;
    }
    finish(table, chain).map_err(|mut e| {
        if let Some(k) = &e.key
            && overrides.iter().any(|(o, _)| o == k)
        {
            e.line = None;
            e.reason = format!("{} (set by the sweep)", e.reason);
        }
        e
    })
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts = key.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            // A key the file leaves at its default is set like any other; a name that is no
            // key at all is refused when the table is read (every table denies unknown keys).
            current.insert(part.to_string(), value);
            return Ok(());
        }
        current = match current.get_mut(part) {
            Some(toml::Value::Table(t)) => t,
            _ => return Err(format!("no such table `{part}`")),
        };
    }
    Err("empty key".into())
}

fn finish<T: DeserializeOwned + Validate>(
    table: toml::Table,
    chain: Vec<Source>,
) -> Result<T, ConfigError> {
    let mut config: T =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let reason = error::deserialize_reason(&e.into_inner().to_string());
            located(&chain, (key != ".").then_some(key), reason)
        })?;
    if let Some(v) = config.violations().into_iter().next() {
        return Err(located(&chain, Some(v.key), v.reason));
    }
    config.set_origin(Origin { chain });
    Ok(config)
}

/// Builds an error for `key`, pointing at the most derived file that sets it.
fn located(chain: &[Source], key: Option<String>, reason: String) -> ConfigError {
    let first = &chain[0];
    if let Some(k) = &key {
        for s in chain {
            if let Some(line) = error::locate_key(&s.text, k) {
                return ConfigError::new(&s.label, key.clone(), reason).at_line(Some(line));
            }
        }
    }
    ConfigError::new(&first.label, key, reason)
}

/// Finds a configuration by preset name or by path. A name with a path separator or a
/// `.toml` ending is a path; any other name is a preset if there is one of that name, so a
/// stray file in the current directory (or the `spatten` binary itself) never shadows a
/// preset. Other bare names are read as files.
fn resolve(spec: &str, kind: ConfigKind, dir: &Path) -> Result<(Source, PathBuf), ConfigError> {
    // Relative to the current directory, the path is named as given (no `./` prefix).
    let candidate = if dir.as_os_str().is_empty() || dir == Path::new(".") {
        PathBuf::from(spec)
    } else {
        dir.join(spec)
    };
    let looks_like_path = spec.ends_with(".toml") || spec.contains('/') || spec.contains('\\');
    let preset = kind.presets().iter().find(|(name, _)| *name == spec);
    if let (false, Some((name, text))) = (looks_like_path, preset) {
        return Ok((
            Source {
                label: PathBuf::from(format!("<preset {name}>")),
                text: text.to_string(),
            },
            PathBuf::from("."),
        ));
    }
    if candidate.is_file() || looks_like_path {
        let text = std::fs::read_to_string(&candidate).map_err(|e| {
            ConfigError::new(
                &candidate,
                None,
                format!("cannot read {} file: {e}", kind.label()),
            )
        })?;
        let parent = candidate
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        return Ok((
            Source {
                label: candidate,
                text,
            },
            parent,
        ));
    }
    let names: Vec<&str> = kind.presets().iter().map(|(n, _)| *n).collect();
    Err(ConfigError::new(
        Path::new(spec),
        None,
        format!(
            "no such file and no {} preset of that name (presets: {})",
            kind.label(),
            names.join(", ")
        ),
    ))
}

/// Parses `source`, recursively merges it over its `base`, and records the chain.
fn merged_table(
    source: Source,
    dir: &Path,
    kind: ConfigKind,
    chain: &mut Vec<Source>,
) -> Result<toml::Table, ConfigError> {
    let mut table: toml::Table = toml::from_str(&source.text).map_err(|e| {
        let line = e.span().map(|s| {
            source.text[..s.start.min(source.text.len())]
                .matches('\n')
                .count()
                + 1
        });
        ConfigError::new(
            &source.label,
            None,
            format!("invalid TOML: {}", e.message().trim().replace('\n', "; ")),
        )
        .at_line(line)
    })?;
    let base = match table.get("base") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            let line = error::locate_key(&source.text, "base");
            return Err(
                ConfigError::new(&source.label, Some("base".into()), "must be a string")
                    .at_line(line),
            );
        }
    };
    chain.push(source);
    let Some(base) = base else { return Ok(table) };
    if chain.len() > MAX_BASE_DEPTH {
        let s = &chain[chain.len() - 1];
        return Err(ConfigError::new(
            &s.label,
            Some("base".into()),
            format!("base chain deeper than {MAX_BASE_DEPTH} (a cycle?)"),
        )
        .at_line(error::locate_key(&s.text, "base")));
    }
    let (base_source, base_dir) = resolve(&base, kind, dir).map_err(|mut e| {
        let s = &chain[chain.len() - 1];
        e.reason = format!("base {:?}: {}", base, e.reason);
        e.file = s.label.clone();
        e.key = Some("base".into());
        e.at_line(error::locate_key(&s.text, "base"))
    })?;
    let referrer = chain[chain.len() - 1].label.clone();
    let referrer_line = error::locate_key(&chain[chain.len() - 1].text, "base");
    let mut merged = merged_table(base_source, &base_dir, kind, chain).map_err(|mut e| {
        // Name the file whose `base` led here, not only the file the problem is in.
        e.reason = format!(
            "{} (read as the base of {}{})",
            e.reason,
            referrer.display(),
            referrer_line.map(|l| format!(":{l}")).unwrap_or_default()
        );
        e
    })?;
    // The derived file's own `base` survives in the result as provenance.
    merge_into(&mut merged, std::mem::take(&mut table));
    Ok(merged)
}

fn merge_into(dst: &mut toml::Table, src: toml::Table) {
    for (k, v) in src {
        match (dst.get_mut(&k), v) {
            (Some(toml::Value::Table(d)), toml::Value::Table(s)) => merge_into(d, s),
            (_, v) => {
                dst.insert(k, v);
            }
        }
    }
}

/// Checks that a workload can run on a design point.
pub fn check_pair(arch: &ArchConfig, workload: &WorkloadConfig) -> Result<(), ConfigError> {
    let d = workload.model.head_dim;
    for (key, m) in [
        ("qk.multipliers", arch.qk.multipliers),
        ("pv.multipliers", arch.pv.multipliers),
    ] {
        if m % d != 0 {
            return Err(arch.origin.error(
                &arch.name,
                key,
                format!(
                    "{m} multipliers is not a multiple of workload {}'s head_dim {d}",
                    workload.name
                ),
            ));
        }
    }
    // A beat wider than the FIFO it feeds (the simulator's rule, hw/validate.rs).
    if let Some((key, reason)) = arch.fifo_beat_violations(Some(d)).into_iter().next() {
        return Err(arch.origin.error(
            &arch.name,
            &key,
            format!("{reason} (workload {})", workload.name),
        ));
    }
    use workload::QuantMode;
    let q = &workload.quant;
    let widths = match q.mode {
        QuantMode::Static => vec![q.msb_bits],
        // MSB and LSB planes in generation, both merged in a prompt pass.
        QuantMode::Progressive => vec![q.msb_bits, q.lsb_bits, q.msb_bits + q.lsb_bits],
    };
    let f = &arch.fetcher;
    for bits in widths.into_iter().filter(|&b| b > 0) {
        if let Some(reason) = f.page_misfit(d, bits) {
            return Err(arch.origin.error(
                &arch.name,
                "fetcher.kv_page_tokens",
                format!("{reason} (workload {})", workload.name),
            ));
        }
    }
    if workload.final_tokens() > arch.importance.token_entries {
        return Err(arch.origin.error(
            &arch.name,
            "importance.token_entries",
            format!(
                "workload {} reaches {} tokens but the token importance buffer holds {}{}",
                workload.name,
                workload.final_tokens(),
                arch.importance.token_entries,
                long_context_hint(workload, &arch.name)
            ),
        ));
    }
    Ok(())
}

/// Points a design point that is too small for `workload`'s context at the shipped one that
/// is not, when that one would run it, or would run its generation steps with the prompt's
/// cache taken as filled (a prompt pass of a long context can be too long to simulate).
fn long_context_hint(workload: &WorkloadConfig, arch_name: &str) -> String {
    const PRESET: &str = "spatten-long-context";
    if arch_name == PRESET {
        return String::new();
    }
    let Ok(lc) = load_arch(PRESET) else {
        return String::new();
    };
    let holds = format!(
        "--arch {PRESET} holds {} token scores and {} exponentials",
        lc.importance.token_entries, lc.softmax.score_buffer_entries
    );
    if check_feasible(&lc, workload).is_ok() {
        return format!(" ({holds})");
    }
    let mut cached = workload.clone();
    cached.stage.prefill = Some(workload::Prefill::Cached);
    if workload.stage.kind == workload::StageKind::Generation
        && workload.stage.runs_prompt()
        && check_feasible(&lc, &cached).is_ok()
    {
        return format!(
            " ({holds}: enough for this workload's generation steps with stage.prefill = \
             \"cached\", whose prompt pass it cannot run)"
        );
    }
    String::new()
}

/// [`check_pair`] plus what a run of the reference on this workload will need of the design
/// point: iteration 0, layer 0 runs before any pruning, so each head call scores every
/// prompt token, and a head with more K/V rows than an SRAM bank streams them through it in
/// tiles (sim/hw/tiling.rs), which needs the softmax buffer for its rows' exponentials and,
/// in a prompt pass, tiles of K and V that line up and no LSB recompute. The rules are the
/// simulator's (hw/validate.rs) on the same [`tiles::TilePlan`], taken at their worst for
/// the workload (every key of a row, 16-bit elements), so a pair accepted here is not refused
/// by the simulator after the reference. Checked before the reference so that an infeasible
/// pair is refused in a moment instead of after minutes of reference work. (A ready trace is
/// checked call by call by the simulator instead.)
pub fn check_feasible(arch: &ArchConfig, workload: &WorkloadConfig) -> Result<(), ConfigError> {
    check_pair(arch, workload)?;
    let d = workload.model.head_dim as u64;
    let plan = tiles::TilePlan::new(arch, workload.model.head_dim);
    let (key_rows, value_rows) = (plan.key_tile_rows as u64, plan.value_tile_rows as u64);
    let bank = key_rows.min(value_rows);
    let entries = arch.softmax.score_buffer_entries as u64;
    let refuse = |key: &str, reason: String| Err(arch.origin.error(&arch.name, key, reason));
    let last = workload.final_tokens() as u64;
    let m = &workload.model;
    let group_rows = arch.interleaved_group_rows(m.heads, m.kv_heads()) as u64;
    if workload.stage.kind == workload::StageKind::Generation
        && plan.tiles(last, last)
        && !plan.generation_runs(last, group_rows)
    {
        return refuse(
            "softmax.score_buffer_entries",
            format!(
                "= {entries}: workload {}'s generation rows reach {last} keys, more than an SRAM \
                 bank's {bank} rows, and stream through it in tiles keeping every exponential{}{}; \
                 softmax.overflow = \"spill\" would write those beyond the buffer to DRAM and read \
                 them back",
                workload.name,
                if group_rows > 1 {
                    format!(
                        " of the {group_rows} query heads of an interleaved K/V group \
                         (controller.interleave_group_tiles)"
                    )
                } else {
                    String::new()
                },
                long_context_hint(workload, &arch.name)
            ),
        );
    }
    // Local V pruning (generation, the cascade policy) selects among a row's keys; an engine
    // holding fewer candidates must keep fewer than it holds to select hierarchically.
    if let Some(e) = arch.topk_value.candidate_entries
        && workload.stage.kind == workload::StageKind::Generation
        && workload.stage.generated_tokens > 0
        && workload.policy.kind == policy::PolicyKind::Spatten
        && workload.local_v.keep_ratio < 1.0
        && last > e as u64
    {
        let keep = crate::reference::prune::local_v_keep(last as u32, workload.local_v.keep_ratio);
        if keep >= e {
            return refuse(
                "topk_value.candidate_entries",
                format!(
                    "= {e}: workload {}'s local V pruning keeps up to {keep} of {last} keys \
                     (local_v.keep_ratio = {}), and a hierarchical selection by an engine \
                     holding {e} candidates needs fewer kept rows than that",
                    workload.name, workload.local_v.keep_ratio
                ),
            );
        }
    }
    let prompt = workload.stage.prompt_tokens as u64;
    if !workload.stage.runs_prompt() || prompt <= bank {
        return Ok(());
    }
    // The prompt pass streams K/V in tiles, its query rows in blocks of entries / (2 C).
    if plan.block_rows(prompt as usize) == 0 {
        return refuse(
            "softmax.score_buffer_entries",
            format!(
                "= {entries}: workload {}'s prompt pass scores {prompt} keys per row, more than \
                 an SRAM bank's {bank} rows, so its query rows run in blocks through K/V tiles; \
                 {} {} entries{} (or stage.prefill = \"cached\" leaves the prompt pass \
                 out)",
                workload.name,
                if plan.two_pass {
                    "a two-pass block of one row (two key tile rows of scores, a running max \
                     and sum) needs"
                } else {
                    "two blocks of one row need"
                },
                plan.min_block_entries(prompt as usize),
                long_context_hint(workload, &arch.name)
            ),
        );
    }
    let rows = plan.block_rows(prompt as usize);
    // At most 16 bits per element (a prompt pass fetches both planes merged).
    let txns =
        plan.restream_transactions(prompt, prompt, d, 16, arch.fetcher.transaction_bytes as u64);
    if txns > u32::MAX as u64 {
        return refuse(
            "softmax.score_buffer_entries",
            format!(
                "= {entries}: workload {}'s prompt pass of {prompt} keys in blocks of {rows} query \
                 rows re-streams K {} times, above the simulator's 32-bit transaction count per \
                 fetch job",
                workload.name,
                prompt.div_ceil(rows) * plan.key_passes() as u64
            ),
        );
    }
    if !plan.tiles_line_up() {
        return refuse(
            "pv.value_sram_bytes",
            format!(
                "workload {}'s prompt pass streams K and V through the SRAM in tiles of the same \
                 rows, but a key bank holds {key_rows} rows and a value bank {value_rows} (and \
                 both must be double-buffered or neither)",
                workload.name
            ),
        );
    }
    if workload.quant.mode == workload::QuantMode::Progressive
        && workload.stage.kind == workload::StageKind::Summarization
    {
        return Err(ConfigError::new(
            Path::new(&workload.name),
            Some("quant.mode".into()),
            format!(
                "progressive: the summarization pass of {prompt} tokens streams K/V through the \
                 SRAM in tiles on {}, where an LSB recompute is not modelled (use \"static\")",
                arch.name
            ),
        ));
    }
    Ok(())
}

/// Serializes a resolved configuration back to TOML. A loaded configuration always can; one
/// built from a trace header may hold a seed above 2^63 - 1, which TOML integers cannot, and
/// is then written as JSON (still canonical, so its hash stays stable).
pub fn to_toml<T: Serialize>(config: &T) -> String {
    toml::to_string_pretty(config).unwrap_or_else(|_| {
        serde_json::to_string_pretty(config).unwrap_or_else(|e| format!("unserializable: {e}"))
    })
}

/// A short, stable hash of a resolved configuration (first 16 hex digits of SHA-256 of its
/// canonical TOML), recorded in every report.
pub fn config_hash<T: Serialize>(config: &T) -> String {
    let digest = Sha256::digest(to_toml(config).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
