//! A structure-aware mutation campaign over the shipped inputs: every architecture, DRAM,
//! workload, sweep and baseline TOML, a value file, two attention traces (one with
//! hierarchical selections) and a SpAtten CSV.
//! Mutations are the ones byte noise rarely makes: numbers set to 0, -1, 2^k, 2^k +- 1, NaN,
//! +-inf, 1e38, 3e38; keys and tables deleted; values of the wrong type; arrays of repeated
//! values; `base` cycles; header fields and columns of the containers set to extremes;
//! truncation and bit flips. Each case runs the loader and, when the input is accepted, the
//! whole pipeline on it, in process, under tight memory and work limits (`budget`).
//!
//! A case may succeed or be refused with an error (exit 0 or 2 on the command line); it must
//! not panic, abort or run longer than `HANG`. The campaign is seeded and deterministic;
//! `SPATTEN_FUZZ_CASES=N` sets its size (default 3000 for CI) and `SPATTEN_FUZZ_SEED` its
//! seed.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::budget::{self, Limits};
use spatten::config::{self, ArchConfig, ConfigKind, WorkloadConfig};
use spatten::experiment::{DramKind, Experiment, Input};
use spatten::sweep::SweepSpec;
use spatten::trace::container::{self, Container};
use spatten::trace::{SynthKnobs, spatten_csv, trace_file, values_file};

/// A case running this long is a hang (the slowest accepted case takes well under a second).
const HANG: Duration = Duration::from_secs(30);

const TINY_WORKLOAD: &str = r#"
name = "tiny"
base = "gpt2-small"
seed = 5
[model]
layers = 3
heads = 4
head_dim = 16
hidden = 64
[stage]
prompt_tokens = 24
generated_tokens = 4
"#;

/// Written for this test in the public SpAtten CSV layout (17 columns, config line last).
const CSV_SEED: &str = "iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,\
key_fetch_num,quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,\
value_fetch_num,quant_value_bit,if_accumulate_importance,if_rescale_previous_importance,if_topk,topk
0,0,0,64.0,40,40,-1,-1,-1,False,-1,40,-1,True,False,False,-1
0,0,1,64.0,40,40,-1,-1,-1,False,-1,30,-1,True,False,True,30
0,1,0,64.0,40,32,-1,-1,-1,False,-1,32,-1,True,False,False,-1
1,0,0,64.0,41,41,-1,-1,-1,False,-1,20,-1,True,False,True,20
configs/test/seed.yml,,,,,,,,,,,,,,,,
";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped TOML files of one kind, as (path relative to the root, text).
fn shipped(dirs: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in dirs {
        let mut files: Vec<_> = std::fs::read_dir(root().join(d))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            let rel = f.strip_prefix(root()).unwrap().display().to_string();
            out.push((rel, std::fs::read_to_string(&f).unwrap()));
        }
    }
    out
}

/// An extreme number as TOML text.
fn extreme_number(rng: &mut ChaCha8Rng) -> String {
    const FIXED: [&str; 22] = [
        "0",
        "-1",
        "1",
        "nan",
        "inf",
        "-inf",
        "1e38",
        "-1e38",
        "3e38",
        "-3e38",
        "1e308",
        "0.0",
        "-0.0",
        "1e-45",
        "0.5",
        "1_000_000_000",
        "9223372036854775807",
        "-9223372036854775808",
        "4294967295",
        "4294967296",
        "65536",
        "0x10",
    ];
    if rng.gen_bool(0.5) {
        return FIXED.choose(rng).unwrap().to_string();
    }
    let k = rng.gen_range(0..63u32);
    let v = 1i64 << k;
    match rng.gen_range(0..4) {
        0 => v.to_string(),
        1 => (v - 1).to_string(),
        2 => (v + 1).to_string(),
        _ => format!("{}.0", v),
    }
}

/// A value of a different kind than a number.
fn wrong_type(rng: &mut ChaCha8Rng) -> &'static str {
    [
        "\"x\"",
        "true",
        "[]",
        "[1, 2]",
        "{}",
        "\"\"",
        "1979-05-27",
        "{ value = 1 }",
    ]
    .choose(rng)
    .unwrap()
}

/// One mutation of a TOML text: a number, a deleted line or table, a wrong type, a long
/// array of equal values, or a `base` pointing at itself or at `cycle_to`.
fn mutate_toml(text: &str, rng: &mut ChaCha8Rng, self_name: &str, cycle_to: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let assigns: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.starts_with('#') && !t.starts_with('[') && t.contains('=')
        })
        .map(|(i, _)| i)
        .collect();
    if assigns.is_empty() {
        return text.to_string();
    }
    let numeric: Vec<usize> = assigns
        .iter()
        .copied()
        .filter(|&i| {
            let v = lines[i].split_once('=').unwrap().1.trim();
            v.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        })
        .collect();
    let pick = |rng: &mut ChaCha8Rng, from: &[usize]| *from.choose(rng).unwrap();
    match rng.gen_range(0..100) {
        // Numbers to extremes: the mutation byte noise never makes.
        0..=34 if !numeric.is_empty() => {
            let i = pick(rng, &numeric);
            let key = lines[i].split_once('=').unwrap().0.to_string();
            lines[i] = format!("{key}= {}", extreme_number(rng));
        }
        // Numbers nudged (x2, /2, +-1): mostly still valid, so the run goes deep.
        35..=54 if !numeric.is_empty() => {
            let i = pick(rng, &numeric);
            let (key, value) = lines[i].split_once('=').unwrap();
            let value = value.split('#').next().unwrap().trim().replace('_', "");
            let nudged = match (value.parse::<i64>(), value.parse::<f64>()) {
                (Ok(v), _) => {
                    [v.saturating_mul(2), v / 2, v + 1, v - 1][rng.gen_range(0..4)].to_string()
                }
                (_, Ok(f)) => format!(
                    "{:?}",
                    [f * 2.0, f / 2.0, f + 1.0, f - 1.0][rng.gen_range(0..4)]
                ),
                _ => value,
            };
            lines[i] = format!("{key}= {nudged}");
        }
        55..=69 => {
            let i = pick(rng, &assigns);
            lines.remove(i);
        }
        70..=77 => {
            let i = pick(rng, &assigns);
            let key = lines[i].split_once('=').unwrap().0.to_string();
            lines[i] = format!("{key}= {}", wrong_type(rng));
        }
        78..=83 => {
            // A table header deleted: its keys land in the table before it.
            let headers: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].trim_start().starts_with('['))
                .collect();
            if let Some(&i) = headers.choose(rng) {
                lines.remove(i);
            }
        }
        84..=89 => {
            // An array of many equal (or extreme) values.
            let i = pick(rng, &assigns);
            let key = lines[i].split_once('=').unwrap().0.to_string();
            let v = if rng.gen_bool(0.5) {
                "16".to_string()
            } else {
                extreme_number(rng)
            };
            let n = [2, 50, 5000].choose(rng).copied().unwrap();
            lines[i] = format!("{key}= [{}]", vec![v; n].join(", "));
        }
        90..=95 => {
            // `base` cycles: the file names itself, or a file that names it back.
            let target = if rng.gen_bool(0.5) {
                self_name
            } else {
                cycle_to
            };
            lines.retain(|l| !l.trim_start().starts_with("base"));
            lines.insert(0, format!("base = \"{target}\""));
        }
        _ => {
            let i = pick(rng, &assigns);
            lines.insert(i, lines[i].clone()); // a duplicated key
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// What one case did; `Err` is a refusal (exit 2 on the command line), never a failure.
type Verdict = Result<(), String>;

struct Campaign {
    rng: ChaCha8Rng,
    dir: tempfile::TempDir,
    tiny: WorkloadConfig,
    spatten: ArchConfig,
    cases: usize,
    accepted: usize,
    slowest: (Duration, String),
    by_kind: std::collections::BTreeMap<&'static str, (usize, usize)>,
}

impl Campaign {
    /// Runs `f` on its own thread; a panic or a run past `HANG` fails the test with `what`.
    fn case(
        &mut self,
        kind: &'static str,
        what: String,
        f: impl FnOnce() -> Verdict + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        let verdict = match rx.recv_timeout(HANG) {
            Ok(v) => v,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("hang: {kind} case ran past {HANG:?}: {what}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panic in {kind} case: {what}"),
        };
        let took = start.elapsed();
        if took > self.slowest.0 {
            self.slowest = (
                took,
                format!("{kind}: {}", what.lines().next().unwrap_or("")),
            );
        }
        self.cases += 1;
        let e = self.by_kind.entry(kind).or_default();
        e.0 += 1;
        if verdict.is_ok() {
            self.accepted += 1;
            e.1 += 1;
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn experiment(
    arch: ArchConfig,
    workload: Option<WorkloadConfig>,
    input: Input,
    dram: DramKind,
) -> Verdict {
    let e = Experiment {
        name: "fuzz".into(),
        arch,
        workload,
        input,
        dram,
        timeline: false,
    };
    e.run().map(|_| ()).map_err(|e| format!("{e:#}"))
}

fn arch_and_workload_cases(c: &mut Campaign, n: usize) {
    let mut archs = shipped(&["arch"]);
    // DRAM presets are the [hbm] table of an architecture: wrapped as one, as users layer them.
    for (name, text) in shipped(&["arch/dram"]) {
        let stem = Path::new(&name)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        archs.push((
            name,
            format!("name = \"dram-{stem}\"\nbase = \"spatten\"\n{text}"),
        ));
    }
    let workloads = shipped(&["workloads", "workloads/benchmarks"]);
    let mut tiny_text = vec![("tiny.toml".to_string(), TINY_WORKLOAD.to_string())];
    tiny_text.extend(workloads);
    for i in 0..n {
        let is_arch = i % 2 == 0;
        let seeds = if is_arch { &archs } else { &tiny_text };
        let (name, text) = seeds[c.rng.gen_range(0..seeds.len())].clone();
        let mut mutant = text.clone();
        for _ in 0..[1, 1, 1, 2, 3][c.rng.gen_range(0..5)] {
            mutant = mutate_toml(
                &mutant,
                &mut c.rng,
                &format!("m{i}.toml"),
                &format!("n{i}.toml"),
            );
        }
        // The file a cycle points back through.
        let back = format!(
            "base = \"m{i}.toml\"\n{}",
            text.lines()
                .filter(|l| !l.starts_with("base"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        c.file(&format!("n{i}.toml"), back.as_bytes());
        let path = c.file(&format!("m{i}.toml"), mutant.as_bytes());
        let what = format!("{name} mutated:\n{mutant}");
        let (tiny, spatten) = (c.tiny.clone(), c.spatten.clone());
        let dram = if c.rng.gen_bool(0.8) {
            DramKind::Native
        } else {
            DramKind::Simple
        };
        if is_arch {
            c.case("arch", what, move || {
                let arch = config::load_arch(path.to_str().unwrap()).map_err(|e| e.to_string())?;
                experiment(arch, Some(tiny), Input::Synthetic, dram)
            });
        } else {
            c.case("workload", what, move || {
                let w = config::load_workload(path.to_str().unwrap()).map_err(|e| e.to_string())?;
                experiment(spatten, Some(w), Input::Synthetic, dram)
            });
        }
    }
}

fn sweep_and_baseline_cases(c: &mut Campaign, n: usize) {
    let sweeps = shipped(&["arch/sweeps"]);
    let baselines = shipped(&["arch/baselines"]);
    for i in 0..n {
        if i % 2 == 0 {
            let (name, text) = sweeps[c.rng.gen_range(0..sweeps.len())].clone();
            let mutant = mutate_toml(&text, &mut c.rng, "s.toml", "s.toml");
            let label = c.dir.path().join(format!("s{i}.toml"));
            c.case("sweep", format!("{name} mutated:\n{mutant}"), move || {
                let spec = SweepSpec::parse(&mutant, &label).map_err(|e| e.to_string())?;
                // Resolving builds and validates the configurations of a point.
                if let Some(p) = spec.points().next() {
                    let _ = spec.resolve(&p);
                }
                Ok(())
            });
        } else {
            let (name, text) = baselines[c.rng.gen_range(0..baselines.len())].clone();
            let mutant = mutate_toml(&text, &mut c.rng, "b.toml", "b.toml");
            c.case(
                "baseline",
                format!("{name} mutated:\n{mutant}"),
                move || {
                    spatten::baseline::profile::profile_from_str(&mutant, Path::new("b.toml"))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
            );
        }
    }
}

/// Sets an element of a raw column (u8/u16/u32/u64/f32 little-endian) to an extreme.
fn poke(data: &mut [u8], width: usize, index: usize, rng: &mut ChaCha8Rng, float: bool) {
    let at = index * width;
    if at + width > data.len() {
        return;
    }
    let bytes: Vec<u8> = if float {
        let f = *[
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            3e38,
            -3e38,
            1e38,
            f32::MAX,
            f32::MIN_POSITIVE / 4.0,
            0.0,
            -1.0,
        ]
        .choose(rng)
        .unwrap();
        f.to_le_bytes().to_vec()
    } else {
        let k = rng.gen_range(0..64u32);
        let v: u64 = match rng.gen_range(0..6) {
            0 => 0,
            1 => u64::MAX,
            2 => 1u64 << k,
            3 => (1u64 << k).wrapping_sub(1),
            4 => (1u64 << k) + 1,
            _ => rng.gen_range(0..64),
        };
        v.to_le_bytes()[..width].to_vec()
    };
    data[at..at + width].copy_from_slice(&bytes);
}

/// One structure-aware mutation of a container: a metadata value, a header JSON field, a
/// tensor element or all of a tensor, a tensor's shape or dtype, a deleted tensor; or a byte
/// level one (truncation, bit flip, header length).
fn mutate_container(c: &Container, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut c = c.clone();
    match rng.gen_range(0..100) {
        0..=14 => {
            let keys: Vec<String> = c.metadata.keys().cloned().collect();
            let k = keys.choose(rng).unwrap().clone();
            let v = c.metadata.get_mut(&k).unwrap();
            if v.starts_with('{') {
                // A JSON header: one numeric field to an extreme, or one field removed.
                let mut j: serde_json::Value = serde_json::from_str(v).unwrap();
                let obj = j.as_object_mut().unwrap();
                let fields: Vec<String> = obj.keys().cloned().collect();
                let f = fields.choose(rng).unwrap().clone();
                if rng.gen_bool(0.15) {
                    obj.remove(&f);
                } else {
                    let n = extreme_number(rng).replace('_', "");
                    obj.insert(
                        f,
                        serde_json::from_str(&n).unwrap_or(serde_json::Value::String(n)),
                    );
                }
                *v = j.to_string();
            } else {
                *v = extreme_number(rng);
            }
        }
        15..=64 => {
            let names: Vec<String> = c.tensors.keys().cloned().collect();
            let name = names.choose(rng).unwrap().clone();
            let t = c.tensors.get_mut(&name).unwrap();
            let width = t.dtype.size();
            let float = t.dtype == safetensors::Dtype::F32;
            let n = t.data.len() / width.max(1);
            if n > 0 {
                if rng.gen_bool(0.2) {
                    for i in 0..n {
                        poke(&mut t.data, width, i, rng, float);
                    }
                } else {
                    for _ in 0..rng.gen_range(1..=3) {
                        let i = rng.gen_range(0..n);
                        poke(&mut t.data, width, i, rng, float);
                    }
                }
            }
        }
        65..=74 => {
            // Shape changed (the data stays): counts that disagree with the bytes.
            let names: Vec<String> = c.tensors.keys().cloned().collect();
            let t = c.tensors.get_mut(names.choose(rng).unwrap()).unwrap();
            if let Some(d) = t.shape.iter_mut().next() {
                *d = *[0usize, 1, 2, usize::MAX, 1 << 31, 1 << 40]
                    .choose(rng)
                    .unwrap();
            }
        }
        75..=79 => {
            let names: Vec<String> = c.tensors.keys().cloned().collect();
            c.tensors.remove(names.choose(rng).unwrap());
        }
        80..=84 => {
            // A column shortened or lengthened consistently (shape follows the data).
            let names: Vec<String> = c.tensors.keys().cloned().collect();
            let t = c.tensors.get_mut(names.choose(rng).unwrap()).unwrap();
            let width = t.dtype.size();
            if t.shape.len() == 1 {
                if rng.gen_bool(0.5) && !t.data.is_empty() {
                    t.data.truncate(t.data.len() - width);
                } else {
                    t.data.extend(std::iter::repeat_n(0xff, width));
                }
                t.shape[0] = t.data.len() / width;
            }
        }
        _ => {
            let mut bytes = container::encode(&c);
            match rng.gen_range(0..3) {
                0 => {
                    let n = rng.gen_range(0..bytes.len());
                    bytes.truncate(n);
                }
                1 => {
                    for _ in 0..rng.gen_range(1..4) {
                        let i = rng.gen_range(0..bytes.len());
                        bytes[i] ^= 1 << rng.gen_range(0..8);
                    }
                }
                _ => {
                    let len = *[0u64, 1, u64::MAX, 1 << 40, bytes.len() as u64]
                        .choose(rng)
                        .unwrap();
                    bytes[..8].copy_from_slice(&len.to_le_bytes());
                }
            }
            return bytes;
        }
    }
    container::encode(&c)
}

fn value_and_trace_cases(c: &mut Campaign, n: usize) {
    let values = spatten::trace::generate(&c.tiny, &SynthKnobs::default(), c.tiny.seed);
    let vc = values_file::encode_values(Path::new("v"), &values).unwrap();
    let trace = spatten::reference::run_workload(&values, &c.tiny).unwrap();
    let tc = trace_file::encode_trace(Path::new("t"), &trace).unwrap();
    // A second trace seed with hierarchical local-V selections (version 6), replayed on the
    // engine it was made for.
    // (The tiny workload's generation rows have 12-14 keys and keep 4-5.)
    let mut staged_arch = c.spatten.clone();
    staged_arch.topk_value.comparators = 4;
    staged_arch.topk_value.candidate_entries = Some(8);
    let design = config::tiles::reference_design(&staged_arch, c.tiny.model.head_dim);
    let staged =
        spatten::reference::run_workload_with_progress(&values, &c.tiny, design, &|_, _| {})
            .unwrap();
    assert!(staged.topk_calls.iter().any(|t| !t.stages.is_empty()));
    let staged_tc = trace_file::encode_trace(Path::new("t6"), &staged).unwrap();
    for i in 0..n {
        let is_values = i % 2 == 0;
        let is_staged = i % 4 == 3;
        let seed = match (is_values, is_staged) {
            (true, _) => &vc,
            (false, false) => &tc,
            (false, true) => &staged_tc,
        };
        let bytes = mutate_container(seed, &mut c.rng);
        let path = c.file(&format!("c{i}.st"), &bytes);
        let tiny = c.tiny.clone();
        let spatten = if is_staged {
            staged_arch.clone()
        } else {
            c.spatten.clone()
        };
        let what = format!("container case {i} ({})", path.display());
        if is_values {
            c.case("values", what, move || {
                let v = values_file::read_values(&path).map_err(|e| e.to_string())?;
                let _ = spatten::trace::attention_stats(&v);
                experiment(spatten, Some(tiny), Input::Values(path), DramKind::Native)
            });
        } else {
            c.case("trace", what, move || {
                let t = trace_file::read_trace(&path).map_err(|e| e.to_string())?;
                let _ = spatten::trace::totals::totals(&t);
                experiment(spatten, None, Input::Trace(path), DramKind::Native)
            });
        }
    }
}

fn csv_cases(c: &mut Campaign, n: usize) {
    let mut seeds = vec![CSV_SEED.to_string()];
    // The public small.csv as a second seed, when the data root has it.
    let public = spatten::data_dir::Dataset::SpattenTraces
        .path()
        .join("small.csv");
    if let Ok(t) = std::fs::read_to_string(public) {
        seeds.push(t);
    }
    spatten_csv::convert(
        Path::new("seed.csv"),
        &spatten_csv::parse(Path::new("seed.csv"), CSV_SEED).unwrap(),
    )
    .expect("the CSV seed converts");
    for i in 0..n {
        let text = seeds.choose(&mut c.rng).unwrap().clone();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let row = c.rng.gen_range(0..lines.len());
        match c.rng.gen_range(0..4) {
            0 | 1 => {
                let mut cells: Vec<String> = lines[row].split(',').map(str::to_string).collect();
                let k = c.rng.gen_range(0..cells.len());
                cells[k] = extreme_number(&mut c.rng);
                lines[row] = cells.join(",");
            }
            2 => {
                lines.remove(row);
            }
            _ => {
                let l = lines[row].clone();
                lines.insert(row, l);
            }
        }
        let mutant = lines.join("\n") + "\n";
        let spatten = c.spatten.clone();
        let path = c.file(&format!("csv{i}.csv"), mutant.as_bytes());
        c.case("csv", format!("csv mutated:\n{mutant}"), move || {
            let t = spatten_csv::import(&path).map_err(|e| e.to_string())?;
            let out = path.with_extension("st");
            trace_file::write_trace(&out, &t).map_err(|e| e.to_string())?;
            experiment(spatten, None, Input::Trace(out), DramKind::Simple)
        });
    }
}

#[test]
fn mutated_inputs_never_panic_abort_or_hang() {
    let total: usize = std::env::var("SPATTEN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("SPATTEN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(22);
    // Tight limits: an accepted case runs in well under a second, so a hang stands out.
    budget::set_limits(Limits {
        max_memory_bytes: 1 << 30,
        max_work_macs: 200_000_000,
    });
    let tiny: WorkloadConfig =
        config::load_from_str(TINY_WORKLOAD, Path::new("tiny.toml"), ConfigKind::Workload).unwrap();
    let mut c = Campaign {
        rng: ChaCha8Rng::seed_from_u64(seed),
        dir: tempfile::tempdir().unwrap(),
        tiny,
        spatten: config::load_arch("spatten").unwrap(),
        cases: 0,
        accepted: 0,
        slowest: (Duration::ZERO, String::new()),
        by_kind: Default::default(),
    };
    let start = Instant::now();
    arch_and_workload_cases(&mut c, total * 4 / 10);
    sweep_and_baseline_cases(&mut c, total * 15 / 100);
    value_and_trace_cases(&mut c, total * 4 / 10);
    csv_cases(
        &mut c,
        total - total * 4 / 10 - total * 15 / 100 - total * 4 / 10,
    );
    eprintln!(
        "{} cases (seed {seed}) in {:.1?}: {} accepted and run, the rest refused; slowest {:.3?} ({}); by kind (cases, accepted): {:?}",
        c.cases,
        start.elapsed(),
        c.accepted,
        c.slowest.0,
        c.slowest.1,
        c.by_kind
    );
    assert_eq!(c.cases, total);
    // The campaign must exercise the pipeline, not only the loaders' refusals.
    for (kind, (n, ok)) in &c.by_kind {
        assert!(*ok > 0 && *ok < *n, "{kind}: {ok} of {n} accepted");
    }
}
