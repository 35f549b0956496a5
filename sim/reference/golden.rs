//! Golden vectors for RTL: per datapath module, input and expected-output vectors as
//! `$readmemh` hex files, a `manifest.json` of widths, shapes, fixed-point formats and sha256
//! sums and a README, written atomically; and a checker that re-reads a directory, holds every
//! file to the exact line format (Verilator's `$readmemh` has dropped a last word without a
//! newline), recomputes every expected output and compares every sha256.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ReferenceError;
use super::fixed::ScaleReg;
use super::importance::{add_head, add_token, head_increment_reg};
use super::quant::{QuantFormat, merge_planes, quantize};
use super::requant::{needs_refetch, row_max};
use super::softmax::{exp_tables, multiplier, softmax_row};
use super::topk::{Lfsr, quick_select_lfsr, splitmix64};
use super::zero_eliminator::eliminate;
use super::{pv, qk};
use crate::output_dir::OutputDir;

/// 2: every file carries its fixed-point format, word count and sha256; a manifest layout line.
pub const GOLDEN_FORMAT_VERSION: u32 = 2;

/// How every hex file is laid out (the manifest's `layout`).
pub const LAYOUT: &str = "one value a line in row-major order of `shape`, exactly ceil(bits / 4) \
     lowercase hex digits, two's complement in `bits` bits when `signed`, every line (the last \
     included) ending in a single \\n";

/// The modules with golden vectors, in output order.
pub const MODULES: [&str; 8] = [
    "quantizer",
    "qk",
    "softmax",
    "requant",
    "topk",
    "zero_eliminator",
    "pv",
    "importance",
];

/// Vector sizes: one QxK / PV vector is a query against `KEYS` keys of `HEAD_DIM` words; one
/// top-k / zero-eliminator vector is one FIFO-full of `TOPK_N` elements.
const HEAD_DIM: usize = 64;
const KEYS: usize = 16;
const SOFTMAX_KEYS: usize = 64;
const TOPK_N: usize = 64;
const PROGRESSIVE_MSB: [u32; 3] = [4, 6, 8];

/// One hex file: row-major values of `shape`, each as `bits`-wide two's complement (signed)
/// or plain binary, ceil(bits / 4) hex digits a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSpec {
    pub file: String,
    /// "input", "output" or "rom".
    pub role: String,
    pub bits: u32,
    pub signed: bool,
    pub shape: Vec<usize>,
    /// Words in the file: the product of `shape`.
    pub words: usize,
    /// What one word means as a number (integer, Q format, scale).
    pub format: String,
    pub description: String,
    /// Lowercase hex sha256 of the file's bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleSpec {
    pub name: String,
    pub description: String,
    pub vectors: usize,
    pub files: Vec<FileSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub generator: String,
    pub seed: u64,
    pub spec: String,
    pub layout: String,
    pub modules: Vec<ModuleSpec>,
}

/// A module's vectors in memory: specs plus the data of each file.
struct Module {
    spec: ModuleSpec,
    data: Vec<Vec<i64>>,
}

impl Module {
    fn new(name: &str, description: &str, vectors: usize) -> Self {
        Module {
            spec: ModuleSpec {
                name: name.into(),
                description: description.into(),
                vectors,
                files: Vec::new(),
            },
            data: Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn file(
        &mut self,
        file: &str,
        role: &str,
        bits: u32,
        signed: bool,
        shape: Vec<usize>,
        description: &str,
        data: Vec<i64>,
    ) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len(), "{file}");
        let format = fixed_point_format(&self.spec.name, file);
        self.spec.files.push(FileSpec {
            file: format!("{}/{file}", self.spec.name),
            role: role.into(),
            bits,
            signed,
            words: data.len(),
            shape,
            format: format.into(),
            description: description.into(),
            sha256: String::new(),
        });
        self.data.push(data);
    }
}

/// The number format of every file (SPEC.md's definitions), by module and file name; the
/// manifest carries it so an RTL engineer need not reverse-engineer a width.
fn fixed_point_format(module: &str, file: &str) -> &'static str {
    const PROB: &str = "unsigned integer probability, 4095 = 1.0 (SPEC.md 4.6)";
    const WORD: &str = "signed 12-bit on-chip word, level << (12 - B), real = word x word scale";
    const MANTISSA: &str = "unsigned 24-bit scale-register mantissa, 2^23 <= m < 2^24; \
                            value = mantissa x 2^-shift";
    const SHIFT: &str = "signed integer scale-register shift";
    const COUNT: &str = "unsigned integer count";
    const FLAG: &str = "flag, 1 = true";
    let short = file.trim_end_matches(".hex");
    let short = short
        .strip_prefix("m4_")
        .or_else(|| short.strip_prefix("m6_"))
        .or_else(|| short.strip_prefix("m8_"))
        .unwrap_or(short);
    match (module, short) {
        ("quantizer", "msb") => "signed integer, level >> 4 (the level's MSB plane)",
        ("quantizer", "lsb") => "unsigned integer, level & 15 (the level's LSB plane)",
        ("quantizer", "msb_word") | ("quantizer", "merged_word") => WORD,
        ("qk", "q") | ("qk", "k") | ("pv", "v") | ("pv", "out") => WORD,
        ("qk", "scores") | ("softmax", "scores") => {
            "signed integer score, real = score x q word scale x k word scale / sqrt(D)"
        }
        ("softmax", "mult_mantissa") | ("importance", "head_scale_mantissa") => MANTISSA,
        ("softmax", "mult_shift") | ("importance", "head_scale_shift") => SHIFT,
        ("softmax", "exp_hi_rom") | ("softmax", "exp_lo_rom") | ("softmax", "exp") => {
            "unsigned Q1.24, 2^24 = 1.0"
        }
        ("softmax", "sum") => "unsigned Q.24, 2^24 = 1.0",
        ("softmax", "recip") => "unsigned integer, floor(4095 x 2^40 / sum)",
        ("softmax", "prob") | ("requant", "prob") | ("requant", "threshold") => PROB,
        ("requant", "max") | ("pv", "prob") | ("importance", "token_prob") => PROB,
        ("requant", "refetch") | ("topk", "keep_mask") | ("zero_eliminator", "keep") => FLAG,
        ("topk", "values") | ("topk", "kth") => "unsigned integer score",
        ("zero_eliminator", "values") | ("zero_eliminator", "out") => "unsigned integer",
        ("topk", "lfsr_state") => "32-bit Galois LFSR state after seeding (SPEC.md 6.2)",
        ("topk", "positions") => "unsigned integer input position",
        ("topk", "k") | ("topk", "keep_eq") | ("topk", "rounds") | ("topk", "round_count") => COUNT,
        ("zero_eliminator", "count") => COUNT,
        ("pv", "acc") => "signed integer, sum of probability x word (4095 x word = 1.0 x word)",
        ("importance", "token_in") | ("importance", "token_out") => {
            "unsigned integer, sum of probabilities (4095 = 1.0), saturating at 2^32 - 1"
        }
        ("importance", "head_in") | ("importance", "head_out") => {
            "unsigned Q32.16 sum of |attention out|, saturating at 2^48 - 1"
        }
        ("importance", "head_abs_sum") => "unsigned integer, sum of |o| in 12-bit output words",
        _ => unreachable!("golden file {module}/{file} has no format entry"),
    }
}

fn rng_for(seed: u64, module: &str) -> ChaCha8Rng {
    let tag = module
        .bytes()
        .fold(seed, |acc, b| splitmix64(acc ^ b as u64));
    ChaCha8Rng::seed_from_u64(tag)
}

fn words(rng: &mut ChaCha8Rng, n: usize) -> Vec<i16> {
    (0..n).map(|_| rng.gen_range(-2047i16..=2047)).collect()
}

fn generate(name: &str, count: usize, seed: u64) -> Module {
    let mut rng = rng_for(seed, name);
    let n = count;
    match name {
        "quantizer" => {
            let mut m = Module::new(
                name,
                "Bitwidth converter: MSB plane (signed, msb bits) and LSB plane (4 bits) -> \
                 12-bit MSB-only word and merged word, for 4+4, 6+4 and 8+4 (SPEC.md section 2).",
                n,
            );
            for msb in PROGRESSIVE_MSB {
                let f = QuantFormat {
                    msb_bits: msb,
                    lsb_bits: 4,
                };
                let (mut mp, mut lp, mut mw, mut gw) = (vec![], vec![], vec![], vec![]);
                for _ in 0..n {
                    let amp = rng.gen_range(0.01f32..10.0);
                    let x: Vec<f32> = (0..HEAD_DIM).map(|_| rng.gen_range(-amp..amp)).collect();
                    let q = quantize(&x, f, "golden").expect("finite");
                    mp.extend(q.msb_plane().iter().map(|&v| v as i64));
                    lp.extend(q.lsb_plane().iter().map(|&v| v as i64));
                    mw.extend(q.msb_words().iter().map(|&v| v as i64));
                    gw.extend(q.merged_words().iter().map(|&v| v as i64));
                }
                let sh = vec![n, HEAD_DIM];
                let p = format!("m{msb}_");
                m.file(
                    &format!("{p}msb.hex"),
                    "input",
                    msb,
                    true,
                    sh.clone(),
                    "MSB plane",
                    mp,
                );
                m.file(
                    &format!("{p}lsb.hex"),
                    "input",
                    4,
                    false,
                    sh.clone(),
                    "LSB plane",
                    lp,
                );
                m.file(
                    &format!("{p}msb_word.hex"),
                    "output",
                    12,
                    true,
                    sh.clone(),
                    "MSB-only 12-bit word",
                    mw,
                );
                m.file(
                    &format!("{p}merged_word.hex"),
                    "output",
                    12,
                    true,
                    sh,
                    "merged 12-bit word",
                    gw,
                );
            }
            m
        }
        "qk" => {
            let mut m = Module::new(
                name,
                "Q x K: one 12-bit query row against KEYS key rows of D words -> 31-bit scores \
                 (SPEC.md section 3).",
                n,
            );
            let q = words(&mut rng, n * HEAD_DIM);
            let k = words(&mut rng, n * KEYS * HEAD_DIM);
            let mut s = Vec::new();
            let mut scores = Vec::new();
            for i in 0..n {
                qk::scores(
                    &q[i * HEAD_DIM..(i + 1) * HEAD_DIM],
                    &k[i * KEYS * HEAD_DIM..(i + 1) * KEYS * HEAD_DIM],
                    HEAD_DIM,
                    &mut s,
                );
                scores.extend(s.iter().map(|&v| v as i64));
            }
            m.file(
                "q.hex",
                "input",
                12,
                true,
                vec![n, HEAD_DIM],
                "query words",
                to64(&q),
            );
            m.file(
                "k.hex",
                "input",
                12,
                true,
                vec![n, KEYS, HEAD_DIM],
                "key words",
                to64(&k),
            );
            m.file(
                "scores.hex",
                "output",
                32,
                true,
                vec![n, KEYS],
                "scores (31 bits used)",
                scores,
            );
            m
        }
        "softmax" => {
            let mut m = Module::new(
                name,
                "Softmax of a row of scores with the multiplier register (mantissa x 2^-shift) \
                 -> Q.24 exps, their sum, the reciprocal and 12-bit probabilities; plus the two \
                 exp ROMs (SPEC.md section 4).",
                n,
            );
            let (mut sc, mut mm, mut ms, mut ex, mut su, mut re, mut pr) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            let (mut e, mut p) = (Vec::new(), Vec::new());
            for i in 0..n {
                let spread = rng.gen_range(10i32..2_000_000);
                let mut row: Vec<i32> = (0..SOFTMAX_KEYS)
                    .map(|_| rng.gen_range(-spread..spread))
                    .collect();
                let mut unit = rng.gen_range(1e-7f64..1e-4);
                // Two edge rows in every four, both exact divisions in the reciprocal: all
                // scores equal (S = 64 x 2^24, uniform probabilities), and one score so far
                // above the rest (4e6 x unit x log2 e > 25) that every other exp is 0
                // (S = 2^24, p = 4095 and zeros).
                match i % 4 {
                    1 => {
                        let first = row[0];
                        row.fill(first);
                    }
                    2 => {
                        let top = rng.gen_range(0..SOFTMAX_KEYS);
                        row.fill(-2_000_000);
                        row[top] = 2_000_000;
                        unit = rng.gen_range(1e-5f64..1e-4);
                    }
                    _ => {}
                }
                let mult = multiplier(unit);
                let st = softmax_row(&row, mult, &mut e, &mut p);
                sc.extend(row.iter().map(|&v| v as i64));
                mm.push(mult.mantissa as i64);
                ms.push(mult.shift as i64);
                ex.extend(e.iter().map(|&v| v as i64));
                su.push(st.sum as i64);
                re.push(st.recip as i64);
                pr.extend(p.iter().map(|&v| v as i64));
            }
            let (hi, lo) = exp_tables();
            m.file(
                "scores.hex",
                "input",
                32,
                true,
                vec![n, SOFTMAX_KEYS],
                "scores",
                sc,
            );
            m.file(
                "mult_mantissa.hex",
                "input",
                24,
                false,
                vec![n],
                "multiplier mantissa",
                mm,
            );
            m.file(
                "mult_shift.hex",
                "input",
                16,
                true,
                vec![n],
                "multiplier shift",
                ms,
            );
            m.file(
                "exp_hi_rom.hex",
                "rom",
                25,
                false,
                vec![256],
                "round(2^24 * 2^(-a/256))",
                hi.iter().map(|&v| v as i64).collect(),
            );
            m.file(
                "exp_lo_rom.hex",
                "rom",
                25,
                false,
                vec![256],
                "round(2^24 * 2^(-b/65536))",
                lo.iter().map(|&v| v as i64).collect(),
            );
            m.file(
                "exp.hex",
                "output",
                25,
                false,
                vec![n, SOFTMAX_KEYS],
                "Q.24 exps",
                ex,
            );
            m.file("sum.hex", "output", 48, false, vec![n], "sum of exps", su);
            m.file(
                "recip.hex",
                "output",
                28,
                false,
                vec![n],
                "floor(4095 * 2^40 / sum)",
                re,
            );
            m.file(
                "prob.hex",
                "output",
                12,
                false,
                vec![n, SOFTMAX_KEYS],
                "probabilities (4095 = 1.0)",
                pr,
            );
            m
        }
        "requant" => {
            let mut m = Module::new(
                name,
                "Requant decision: row max of 12-bit probabilities and refetch flag \
                 (max < threshold) (SPEC.md section 5).",
                n,
            );
            let (mut pr, mut th, mut mx, mut fl) = (vec![], vec![], vec![], vec![]);
            for i in 0..n {
                let top = rng.gen_range(1u16..=4095);
                let row: Vec<u16> = (0..SOFTMAX_KEYS).map(|_| rng.gen_range(0..=top)).collect();
                let drawn = rng.gen_range(0u16..=4095);
                // Every fourth vector sits on the boundary (max = T: not flat) and the next
                // just above it (max = T - 1: flat), so `<` cannot pass as `<=`.
                let t = match i % 4 {
                    1 => row_max(&row),
                    2 => (row_max(&row) + 1).min(4095),
                    _ => drawn,
                };
                pr.extend(row.iter().map(|&v| v as i64));
                th.push(t as i64);
                mx.push(row_max(&row) as i64);
                fl.push(needs_refetch(&row, t) as i64);
            }
            m.file(
                "prob.hex",
                "input",
                12,
                false,
                vec![n, SOFTMAX_KEYS],
                "probabilities",
                pr,
            );
            m.file(
                "threshold.hex",
                "input",
                12,
                false,
                vec![n],
                "threshold register",
                th,
            );
            m.file("max.hex", "output", 12, false, vec![n], "row max", mx);
            m.file(
                "refetch.hex",
                "output",
                1,
                false,
                vec![n],
                "1 = refetch LSBs",
                fl,
            );
            m
        }
        "topk" => {
            let mut m = Module::new(
                name,
                "Quick-select top-k over TOPK_N 32-bit values with the given initial LFSR state \
                 -> keep mask, packed positions, k-th value, keep_eq and every round's input size \
                 (0-padded) (SPEC.md section 6).",
                n,
            );
            let (mut va, mut ks, mut ls, mut mask, mut pos, mut thr, mut keq, mut rn, mut rc) = (
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
            );
            for i in 0..n {
                // Half the vectors draw from 8 values (many ties), half from the full range.
                let range = if i % 2 == 0 { 8u64 } else { 1 << 32 };
                let vals: Vec<u64> = (0..TOPK_N).map(|_| rng.gen_range(0..range)).collect();
                let k = rng.gen_range(1..TOPK_N);
                let state = Lfsr::new(rng.r#gen::<u64>()).state();
                let r = quick_select_lfsr(&vals, k, Lfsr::from_state(state));
                va.extend(vals.iter().map(|&v| v as i64));
                ks.push(k as i64);
                ls.push(state as i64);
                let mut mk = vec![0i64; TOPK_N];
                for &ix in &r.indices {
                    mk[ix as usize] = 1;
                }
                mask.extend(mk);
                let mut p: Vec<i64> = r.indices.iter().map(|&v| v as i64).collect();
                p.resize(TOPK_N, 0);
                pos.extend(p);
                thr.push(r.threshold.unwrap_or(0) as i64);
                keq.push(r.keep_eq as i64);
                let mut rounds: Vec<i64> = r.rounds.iter().map(|&v| v as i64).collect();
                rc.push(rounds.len() as i64);
                rounds.resize(TOPK_N, 0);
                rn.extend(rounds);
            }
            m.file(
                "values.hex",
                "input",
                32,
                false,
                vec![n, TOPK_N],
                "values in stream order",
                va,
            );
            m.file("k.hex", "input", 8, false, vec![n], "k", ks);
            m.file(
                "lfsr_state.hex",
                "input",
                32,
                false,
                vec![n],
                "initial LFSR state",
                ls,
            );
            m.file(
                "keep_mask.hex",
                "output",
                1,
                false,
                vec![n, TOPK_N],
                "1 = kept",
                mask,
            );
            m.file(
                "positions.hex",
                "output",
                8,
                false,
                vec![n, TOPK_N],
                "kept positions ascending, 0-padded",
                pos,
            );
            m.file(
                "kth.hex",
                "output",
                32,
                false,
                vec![n],
                "k-th largest value",
                thr,
            );
            m.file(
                "keep_eq.hex",
                "output",
                8,
                false,
                vec![n],
                "equal elements kept",
                keq,
            );
            m.file(
                "rounds.hex",
                "output",
                8,
                false,
                vec![n, TOPK_N],
                "round input sizes, 0-padded",
                rn,
            );
            m.file(
                "round_count.hex",
                "output",
                8,
                false,
                vec![n],
                "rounds run",
                rc,
            );
            m
        }
        "zero_eliminator" => {
            let mut m = Module::new(
                name,
                "Zero eliminator: values and keep flags -> kept values packed in order, \
                 0-filled, and their count (SPEC.md section 6.3).",
                n,
            );
            let (mut va, mut kp, mut out, mut cnt) = (vec![], vec![], vec![], vec![]);
            for _ in 0..n {
                let density = rng.gen_range(0.0f64..1.0);
                let vals: Vec<u16> = (0..TOPK_N)
                    .map(|_| rng.gen_range(1u16..=u16::MAX))
                    .collect();
                let keep: Vec<bool> = (0..TOPK_N).map(|_| rng.gen_bool(density)).collect();
                let c = eliminate(&vals, &keep);
                va.extend(vals.iter().map(|&v| v as i64));
                kp.extend(keep.iter().map(|&v| v as i64));
                out.extend(c.values.iter().map(|&v| v as i64));
                cnt.push(c.count as i64);
            }
            m.file(
                "values.hex",
                "input",
                16,
                false,
                vec![n, TOPK_N],
                "values",
                va,
            );
            m.file(
                "keep.hex",
                "input",
                1,
                false,
                vec![n, TOPK_N],
                "1 = keep",
                kp,
            );
            m.file(
                "out.hex",
                "output",
                16,
                false,
                vec![n, TOPK_N],
                "packed values",
                out,
            );
            m.file("count.hex", "output", 8, false, vec![n], "kept count", cnt);
            m
        }
        "pv" => {
            let mut m = Module::new(
                name,
                "Prob x V: KEYS 12-bit probabilities against KEYS rows of D value words -> \
                 32-bit accumulators and 12-bit outputs (SPEC.md section 7).",
                n,
            );
            let (mut pr, mut vv, mut ac, mut ou) = (vec![], vec![], vec![], vec![]);
            let (mut acc, mut out) = (Vec::new(), vec![0i16; HEAD_DIM]);
            for _ in 0..n {
                let raw: Vec<u32> = (0..KEYS).map(|_| rng.gen_range(0u32..1000)).collect();
                let total = raw.iter().sum::<u32>().max(1);
                let probs: Vec<u16> = raw.iter().map(|&r| (r * 4095 / total) as u16).collect();
                let v = words(&mut rng, KEYS * HEAD_DIM);
                pv::pv_row(&probs, &v, HEAD_DIM, &mut acc, &mut out);
                pr.extend(probs.iter().map(|&x| x as i64));
                vv.extend(to64(&v));
                ac.extend(acc.iter().map(|&x| x as i64));
                ou.extend(to64(&out));
            }
            m.file(
                "prob.hex",
                "input",
                12,
                false,
                vec![n, KEYS],
                "probabilities",
                pr,
            );
            m.file(
                "v.hex",
                "input",
                12,
                true,
                vec![n, KEYS, HEAD_DIM],
                "value words",
                vv,
            );
            m.file(
                "acc.hex",
                "output",
                32,
                true,
                vec![n, HEAD_DIM],
                "accumulators",
                ac,
            );
            m.file(
                "out.hex",
                "output",
                12,
                true,
                vec![n, HEAD_DIM],
                "output words",
                ou,
            );
            m
        }
        "importance" => {
            let mut m = Module::new(
                name,
                "Importance accumulators: 32-bit token scores += 12-bit probabilities \
                 (saturating); 48-bit head score += sum|o| x scale register in Q.16 \
                 (saturating) (SPEC.md section 8).",
                n,
            );
            let (mut ti, mut tp, mut to, mut hi, mut ha, mut hm, mut hs, mut ho) = (
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
            );
            for i in 0..n {
                // Every fourth vector starts near the top to exercise saturation.
                let near_top = i % 4 == 3;
                for _ in 0..KEYS {
                    let a: u64 = if near_top {
                        (1 << 32) - rng.gen_range(1u64..5000)
                    } else {
                        rng.gen_range(0..1 << 30)
                    };
                    let p = rng.gen_range(0u64..=4095);
                    let mut o = a;
                    add_token(&mut o, p);
                    ti.push(a as i64);
                    tp.push(p as i64);
                    to.push(o as i64);
                }
                let a: u64 = if near_top {
                    (1 << 48) - rng.gen_range(1u64..1 << 20)
                } else {
                    rng.gen_range(0..1 << 40)
                };
                let abs_sum = rng.gen_range(0u64..1 << 24);
                let reg = ScaleReg::from_f64(rng.gen_range(1e-5f64..1.0)).expect("positive");
                let mut o = a;
                add_head(&mut o, head_increment_reg(abs_sum, reg));
                hi.push(a as i64);
                ha.push(abs_sum as i64);
                hm.push(reg.mantissa as i64);
                hs.push(reg.shift as i64);
                ho.push(o as i64);
            }
            m.file(
                "token_in.hex",
                "input",
                32,
                false,
                vec![n, KEYS],
                "token scores before",
                ti,
            );
            m.file(
                "token_prob.hex",
                "input",
                12,
                false,
                vec![n, KEYS],
                "probabilities added",
                tp,
            );
            m.file(
                "token_out.hex",
                "output",
                32,
                false,
                vec![n, KEYS],
                "token scores after",
                to,
            );
            m.file(
                "head_in.hex",
                "input",
                48,
                false,
                vec![n],
                "head score before",
                hi,
            );
            m.file(
                "head_abs_sum.hex",
                "input",
                32,
                false,
                vec![n],
                "sum of |o| words",
                ha,
            );
            m.file(
                "head_scale_mantissa.hex",
                "input",
                24,
                false,
                vec![n],
                "V word scale mantissa",
                hm,
            );
            m.file(
                "head_scale_shift.hex",
                "input",
                16,
                true,
                vec![n],
                "V word scale shift",
                hs,
            );
            m.file(
                "head_out.hex",
                "output",
                48,
                false,
                vec![n],
                "head score after",
                ho,
            );
            m
        }
        _ => unreachable!("module names are checked by the caller"),
    }
}

fn to64(x: &[i16]) -> Vec<i64> {
    x.iter().map(|&v| v as i64).collect()
}

fn hex_line(v: i64, bits: u32) -> String {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    format!(
        "{:0width$x}",
        (v as u64) & mask,
        width = bits.div_ceil(4) as usize
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads one hex file held to [`LAYOUT`]: the manifest's word count, exactly ceil(bits / 4)
/// lowercase hex digits a line, a newline after every line (the last included), and the
/// Returns the values, sign-extended when `signed`, and the sha256 of the bytes.
fn parse_hex(path: &Path, spec: &FileSpec) -> Result<(Vec<i64>, String), ReferenceError> {
    let bad = |line: usize, why: String| {
        ReferenceError::Golden(format!("{}:{line}: {why}", path.display()))
    };
    let bytes = fs::read(path)
        .map_err(|e| ReferenceError::Golden(format!("{}: cannot read: {e}", path.display())))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ReferenceError::Golden(format!("{}: not UTF-8: {e}", path.display())))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(bad(
            text.lines().count(),
            "the last line has no newline (Verilator's $readmemh may drop that word)".into(),
        ));
    }
    if !(1..=64).contains(&spec.bits) {
        return Err(ReferenceError::Golden(format!(
            "{}: the manifest's bits {} is outside 1..=64",
            path.display(),
            spec.bits
        )));
    }
    let digits = spec.bits.div_ceil(4) as usize;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let ok = l.len() == digits && l.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(bad(
                i + 1,
                format!(
                    "{l:?} is not {digits} lowercase hex digits ({} bits)",
                    spec.bits
                ),
            ));
        }
        let raw =
            u64::from_str_radix(l, 16).map_err(|e| bad(i + 1, format!("bad hex {l:?}: {e}")))?;
        if spec.bits < 64 && raw >> spec.bits != 0 {
            return Err(bad(i + 1, format!("{l} does not fit {} bits", spec.bits)));
        }
        let v = if spec.signed && spec.bits < 64 && raw >> (spec.bits - 1) & 1 == 1 {
            raw as i64 - (1i64 << spec.bits)
        } else {
            raw as i64
        };
        out.push(v);
    }
    let want: usize = spec.shape.iter().product();
    if want != spec.words {
        return Err(ReferenceError::Golden(format!(
            "{}: the manifest's words {} differ from its shape {:?} ({want})",
            path.display(),
            spec.words,
            spec.shape
        )));
    }
    if out.len() != want {
        return Err(ReferenceError::Golden(format!(
            "{}: {} values, the manifest's shape {:?} needs {want}",
            path.display(),
            out.len(),
            spec.shape
        )));
    }
    Ok((out, sha256_hex(&bytes)))
}

/// Most vectors per module `write` makes: enough for any testbench, and a bound on memory
/// (the largest module holds about 10 KB of hex text per vector).
pub const MAX_COUNT: usize = 10_000;

/// Writes the vectors of `modules` (all when empty) to `out`, replacing it atomically (and
/// never a folder of the user's: see [`OutputDir`]).
pub fn write(
    out: &Path,
    modules: &[String],
    count: usize,
    seed: u64,
) -> Result<Manifest, ReferenceError> {
    write_to(&OutputDir::new(out, "golden"), modules, count, seed)
}

/// [`write`] under an explicit overwrite policy (`--force`).
pub fn write_to(
    out: &OutputDir,
    modules: &[String],
    count: usize,
    seed: u64,
) -> Result<Manifest, ReferenceError> {
    let err = |what: &str, p: &Path, e: std::io::Error| {
        ReferenceError::Golden(format!("{what} {}: {e}", p.display()))
    };
    let names: Vec<&str> = if modules.is_empty() {
        MODULES.to_vec()
    } else {
        let mut v = Vec::new();
        for m in modules {
            let Some(&name) = MODULES.iter().find(|&&x| x == m) else {
                return Err(ReferenceError::Golden(format!(
                    "unknown module {m:?} (modules: {})",
                    MODULES.join(", ")
                )));
            };
            v.push(name);
        }
        v
    };
    if count == 0 || count > MAX_COUNT {
        return Err(ReferenceError::Golden(format!(
            "--count {count}: must be in [1, {MAX_COUNT}] vectors per module"
        )));
    }
    out.write(|tmp| {
        let mut manifest = Manifest {
            format_version: GOLDEN_FORMAT_VERSION,
            generator: format!("spatten golden {}", env!("CARGO_PKG_VERSION")),
            seed,
            spec: "sim/reference/SPEC.md".into(),
            layout: LAYOUT.into(),
            modules: Vec::new(),
        };
        for name in &names {
            let mut m = generate(name, count, seed);
            let dir = tmp.join(name);
            fs::create_dir_all(&dir).map_err(|e| err("cannot create", &dir, e))?;
            for (f, data) in m.spec.files.iter_mut().zip(&m.data) {
                let mut text = String::with_capacity(data.len() * 9);
                for &v in data {
                    text.push_str(&hex_line(v, f.bits));
                    text.push('\n');
                }
                f.sha256 = sha256_hex(text.as_bytes());
                let p = tmp.join(&f.file);
                fs::write(&p, text).map_err(|e| err("cannot write", &p, e))?;
            }
            manifest.modules.push(m.spec);
        }
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
        let p = tmp.join("manifest.json");
        fs::write(&p, json + "\n").map_err(|e| err("cannot write", &p, e))?;
        let p = tmp.join("README.md");
        fs::write(&p, README).map_err(|e| err("cannot write", &p, e))?;
        Ok(manifest)
    })
}

/// Reads `dir/manifest.json`, checking its format version before its fields (an older
/// manifest lacks fields, and its version says why better than a missing-field error).
fn read_manifest(dir: &Path) -> Result<(Manifest, PathBuf), ReferenceError> {
    let mp = dir.join("manifest.json");
    let text = fs::read_to_string(&mp)
        .map_err(|e| ReferenceError::Golden(format!("{}: cannot read: {e}", mp.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ReferenceError::Golden(format!("{}: {e}", mp.display())))?;
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if version != Some(GOLDEN_FORMAT_VERSION as u64) {
        return Err(ReferenceError::Golden(format!(
            "{}: format_version {} (this build reads {GOLDEN_FORMAT_VERSION}; rewrite the \
             directory with `spatten golden --out`)",
            mp.display(),
            version.map_or("missing".to_string(), |v| v.to_string())
        )));
    }
    let manifest: Manifest = serde_json::from_value(value)
        .map_err(|e| ReferenceError::Golden(format!("{}: {e}", mp.display())))?;
    Ok((manifest, mp))
}

/// One top-k vector as the cycle simulator sees a call: n elements in, k kept, the rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopkVector {
    pub n: u32,
    pub k: u32,
    pub rounds: Vec<u32>,
}

/// The top-k vectors of a golden directory (verify it first), in vector order.
pub fn topk_vectors(dir: &Path) -> Result<Vec<TopkVector>, ReferenceError> {
    let (manifest, mp) = read_manifest(dir)?;
    let m = manifest
        .modules
        .iter()
        .find(|m| m.name == "topk")
        .ok_or_else(|| ReferenceError::Golden(format!("{}: no topk module", mp.display())))?;
    let file = |name: &str| -> Result<(Vec<i64>, &FileSpec), ReferenceError> {
        let f = m
            .files
            .iter()
            .find(|f| f.file == format!("topk/{name}"))
            .ok_or_else(|| ReferenceError::Golden(format!("module topk: no file {name}")))?;
        Ok((parse_hex(&dir.join(&f.file), f)?.0, f))
    };
    let (_, values) = file("values.hex")?;
    let n = *values.shape.last().unwrap_or(&0);
    let (ks, _) = file("k.hex")?;
    let (rounds, _) = file("rounds.hex")?;
    let (counts, _) = file("round_count.hex")?;
    let v = m.vectors;
    if ks.len() < v || counts.len() < v || rounds.len() < v * n {
        return Err(ReferenceError::Golden(format!(
            "module topk: the files hold fewer than the manifest's {v} vectors"
        )));
    }
    Ok((0..v)
        .map(|i| TopkVector {
            n: n as u32,
            k: ks[i] as u32,
            rounds: rounds[i * n..i * n + (counts[i] as usize).min(n)]
                .iter()
                .map(|&r| r as u32)
                .collect(),
        })
        .collect())
}

/// Re-reads a golden directory and recomputes every output from its inputs with the
/// reference. Returns (module, vectors checked) per module.
pub fn verify(dir: &Path) -> Result<Vec<(String, usize)>, ReferenceError> {
    let (manifest, mp) = read_manifest(dir)?;
    let mut report = Vec::new();
    for m in &manifest.modules {
        let mut files = BTreeMap::new();
        let mut sums = Vec::new();
        for f in &m.files {
            let short = f.file.rsplit('/').next().unwrap_or(&f.file).to_string();
            let (values, sha) = parse_hex(&dir.join(&f.file), f)?;
            files.insert(short, values);
            sums.push((f, sha));
        }
        let get = |name: &str| -> Result<&Vec<i64>, ReferenceError> {
            files
                .get(name)
                .ok_or_else(|| ReferenceError::Golden(format!("module {}: no file {name}", m.name)))
        };
        let n = m.vectors;
        let mismatch = |what: &str, i: usize| {
            ReferenceError::Golden(format!(
                "module {}: {what} differs from the reference at vector {i}",
                m.name
            ))
        };
        let check = |what: &str, got: &[i64], want: &[i64], i: usize| {
            if got == want {
                Ok(())
            } else {
                Err(mismatch(what, i))
            }
        };
        match m.name.as_str() {
            "quantizer" => {
                for msb in PROGRESSIVE_MSB {
                    let f = QuantFormat {
                        msb_bits: msb,
                        lsb_bits: 4,
                    };
                    let p = format!("m{msb}_");
                    let (mp, lp) = (get(&format!("{p}msb.hex"))?, get(&format!("{p}lsb.hex"))?);
                    let (mw, gw) = (
                        get(&format!("{p}msb_word.hex"))?,
                        get(&format!("{p}merged_word.hex"))?,
                    );
                    for i in 0..mp.len() {
                        let s = f.word_shift();
                        let merged = (merge_planes(mp[i] as i16, lp[i] as u8, f) << s) as i64;
                        let msb_only = ((mp[i] as i16) << (4 + s)) as i64;
                        check("merged word", &[gw[i]], &[merged], i / HEAD_DIM)?;
                        check("MSB word", &[mw[i]], &[msb_only], i / HEAD_DIM)?;
                    }
                }
            }
            "qk" => {
                let (q, k, s) = (get("q.hex")?, get("k.hex")?, get("scores.hex")?);
                let mut out = Vec::new();
                for i in 0..n {
                    let qi: Vec<i16> = q[i * HEAD_DIM..(i + 1) * HEAD_DIM]
                        .iter()
                        .map(|&v| v as i16)
                        .collect();
                    let ki: Vec<i16> = k[i * KEYS * HEAD_DIM..(i + 1) * KEYS * HEAD_DIM]
                        .iter()
                        .map(|&v| v as i16)
                        .collect();
                    qk::scores(&qi, &ki, HEAD_DIM, &mut out);
                    let want: Vec<i64> = out.iter().map(|&v| v as i64).collect();
                    check("scores", &s[i * KEYS..(i + 1) * KEYS], &want, i)?;
                }
            }
            "softmax" => {
                let (sc, mm, ms) = (
                    get("scores.hex")?,
                    get("mult_mantissa.hex")?,
                    get("mult_shift.hex")?,
                );
                let (ex, su, re, pr) = (
                    get("exp.hex")?,
                    get("sum.hex")?,
                    get("recip.hex")?,
                    get("prob.hex")?,
                );
                let (hi, lo) = exp_tables();
                check(
                    "exp_hi_rom",
                    get("exp_hi_rom.hex")?,
                    &hi.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                    0,
                )?;
                check(
                    "exp_lo_rom",
                    get("exp_lo_rom.hex")?,
                    &lo.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                    0,
                )?;
                let (mut e, mut p) = (Vec::new(), Vec::new());
                let w = SOFTMAX_KEYS;
                for i in 0..n {
                    let row: Vec<i32> = sc[i * w..(i + 1) * w].iter().map(|&v| v as i32).collect();
                    let reg = ScaleReg {
                        mantissa: mm[i] as u32,
                        shift: ms[i] as i32,
                    };
                    let st = softmax_row(&row, reg, &mut e, &mut p);
                    check(
                        "exp",
                        &ex[i * w..(i + 1) * w],
                        &e.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                        i,
                    )?;
                    check("sum", &[su[i]], &[st.sum as i64], i)?;
                    check("recip", &[re[i]], &[st.recip as i64], i)?;
                    check(
                        "prob",
                        &pr[i * w..(i + 1) * w],
                        &p.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                        i,
                    )?;
                }
            }
            "requant" => {
                let (pr, th, mx, fl) = (
                    get("prob.hex")?,
                    get("threshold.hex")?,
                    get("max.hex")?,
                    get("refetch.hex")?,
                );
                let w = SOFTMAX_KEYS;
                for i in 0..n {
                    let row: Vec<u16> = pr[i * w..(i + 1) * w].iter().map(|&v| v as u16).collect();
                    check("max", &[mx[i]], &[row_max(&row) as i64], i)?;
                    check(
                        "refetch",
                        &[fl[i]],
                        &[needs_refetch(&row, th[i] as u16) as i64],
                        i,
                    )?;
                }
            }
            "topk" => {
                let (va, ks, ls) = (get("values.hex")?, get("k.hex")?, get("lfsr_state.hex")?);
                let (mask, pos, kth, keq) = (
                    get("keep_mask.hex")?,
                    get("positions.hex")?,
                    get("kth.hex")?,
                    get("keep_eq.hex")?,
                );
                let (rn, rc) = (get("rounds.hex")?, get("round_count.hex")?);
                let w = TOPK_N;
                for i in 0..n {
                    let vals: Vec<u64> = va[i * w..(i + 1) * w].iter().map(|&v| v as u64).collect();
                    let r =
                        quick_select_lfsr(&vals, ks[i] as usize, Lfsr::from_state(ls[i] as u32));
                    let mut mk = vec![0i64; w];
                    for &ix in &r.indices {
                        mk[ix as usize] = 1;
                    }
                    check("keep_mask", &mask[i * w..(i + 1) * w], &mk, i)?;
                    let mut p: Vec<i64> = r.indices.iter().map(|&v| v as i64).collect();
                    p.resize(w, 0);
                    check("positions", &pos[i * w..(i + 1) * w], &p, i)?;
                    check("kth", &[kth[i]], &[r.threshold.unwrap_or(0) as i64], i)?;
                    check("keep_eq", &[keq[i]], &[r.keep_eq as i64], i)?;
                    let mut rr: Vec<i64> = r.rounds.iter().map(|&v| v as i64).collect();
                    check("round_count", &[rc[i]], &[rr.len() as i64], i)?;
                    rr.resize(w, 0);
                    check("rounds", &rn[i * w..(i + 1) * w], &rr, i)?;
                }
            }
            "zero_eliminator" => {
                let (va, kp, out, cnt) = (
                    get("values.hex")?,
                    get("keep.hex")?,
                    get("out.hex")?,
                    get("count.hex")?,
                );
                let w = TOPK_N;
                for i in 0..n {
                    let vals: Vec<u16> = va[i * w..(i + 1) * w].iter().map(|&v| v as u16).collect();
                    let keep: Vec<bool> = kp[i * w..(i + 1) * w].iter().map(|&v| v == 1).collect();
                    let c = eliminate(&vals, &keep);
                    check(
                        "out",
                        &out[i * w..(i + 1) * w],
                        &c.values.iter().map(|&v| v as i64).collect::<Vec<_>>(),
                        i,
                    )?;
                    check("count", &[cnt[i]], &[c.count as i64], i)?;
                }
            }
            "pv" => {
                let (pr, vv, ac, ou) = (
                    get("prob.hex")?,
                    get("v.hex")?,
                    get("acc.hex")?,
                    get("out.hex")?,
                );
                let (mut acc, mut out) = (Vec::new(), vec![0i16; HEAD_DIM]);
                for i in 0..n {
                    let probs: Vec<u16> = pr[i * KEYS..(i + 1) * KEYS]
                        .iter()
                        .map(|&v| v as u16)
                        .collect();
                    let v: Vec<i16> = vv[i * KEYS * HEAD_DIM..(i + 1) * KEYS * HEAD_DIM]
                        .iter()
                        .map(|&x| x as i16)
                        .collect();
                    pv::pv_row(&probs, &v, HEAD_DIM, &mut acc, &mut out);
                    let d = HEAD_DIM;
                    check(
                        "acc",
                        &ac[i * d..(i + 1) * d],
                        &acc.iter().map(|&x| x as i64).collect::<Vec<_>>(),
                        i,
                    )?;
                    check("out", &ou[i * d..(i + 1) * d], &to64(&out), i)?;
                }
            }
            "importance" => {
                let (ti, tp, to) = (
                    get("token_in.hex")?,
                    get("token_prob.hex")?,
                    get("token_out.hex")?,
                );
                let (hi, ha, hm, hs, ho) = (
                    get("head_in.hex")?,
                    get("head_abs_sum.hex")?,
                    get("head_scale_mantissa.hex")?,
                    get("head_scale_shift.hex")?,
                    get("head_out.hex")?,
                );
                for j in 0..ti.len() {
                    let mut o = ti[j] as u64;
                    add_token(&mut o, tp[j] as u64);
                    check("token_out", &[to[j]], &[o as i64], j / KEYS)?;
                }
                for i in 0..n {
                    let reg = ScaleReg {
                        mantissa: hm[i] as u32,
                        shift: hs[i] as i32,
                    };
                    let mut o = hi[i] as u64;
                    add_head(&mut o, head_increment_reg(ha[i] as u64, reg));
                    check("head_out", &[ho[i]], &[o as i64], i)?;
                }
            }
            other => {
                return Err(ReferenceError::Golden(format!(
                    "{}: unknown module {other:?}",
                    mp.display()
                )));
            }
        }
        // Last, so a changed value is reported with its vector above; this catches what a
        // recomputation cannot (a consistent edit of inputs and outputs, a stale manifest).
        for (f, sha) in sums {
            if sha != f.sha256 {
                return Err(ReferenceError::Golden(format!(
                    "{}: sha256 {sha} differs from the manifest's {}",
                    dir.join(&f.file).display(),
                    f.sha256
                )));
            }
        }
        report.push((m.name.clone(), n));
    }
    Ok(report)
}

const README: &str = r#"# SpAtten reference golden vectors

Generated by `spatten golden` from the bit-exact reference model; the numerics are defined in
`sim/reference/SPEC.md` of the spatten-sim repository (section numbers below refer to it).

## Files
- `manifest.json`: the `layout` of every file, and for every module its description, the
  number of vectors and every file with its role (`input`, `output` or `rom`), bit width,
  signedness, shape (row-major), word count (`words`, the product of the shape), number
  `format` (integer, Q format, what 1.0 is) and the `sha256` of its bytes.
- `<module>/<name>.hex`: one value per line, exactly `ceil(bits / 4)` lowercase hex digits,
  no `0x` prefix, in row-major order of the manifest's shape, every line ending in `\n` (the
  last one too: Verilator's `$readmemh` has dropped a last word without one). Signed values
  are two's complement in `bits` bits (e.g. 12-bit -1 is `fff`). Load with
  `$readmemh("qk/q.hex", mem)` into a `reg [bits-1:0] mem [0:words-1]`.

## Driving a module
For vector `i` (0 .. vectors-1), present the slice `i` of every `input` file (a shape
`[vectors, a, b]` file gives vector `i` the entries `i*a*b .. (i+1)*a*b - 1`), run the module,
and compare every `output` file's slice `i` bit for bit. `rom` files are the contents of
on-chip ROMs (load once). The vectors are independent; order does not matter.

| module | inputs | outputs | SPEC.md |
|---|---|---|---|
| quantizer | MSB plane (signed, m bits), LSB plane (4 bits), for m = 4, 6, 8 | 12-bit MSB-only word, 12-bit merged word | 2 |
| qk | query words [D], key words [16, D] (12-bit signed), D = 64 | 32-bit signed scores [16] | 3 |
| softmax | scores [64], multiplier mantissa (24 b) and shift (16 b signed) | Q.24 exps, 48-bit sum, reciprocal, 12-bit probabilities; ROMs exp_hi/exp_lo | 4 |
| requant | probabilities [64], threshold | row max, refetch flag | 5 |
| topk | 64 values (32 b), k, initial LFSR state | keep mask, packed positions, k-th value, keep_eq, round sizes and count | 6.1, 6.2 |
| zero_eliminator | 64 values (16 b), keep flags | packed values (0-filled), count | 6.3 |
| pv | probabilities [16] (12 b), value words [16, D] | 32-bit accumulators, 12-bit outputs | 7 |
| importance | token scores + probabilities; head score, sum of abs outputs, scale register | saturated scores | 8 |

The top-k vectors carry the LFSR state after seeding, so the RTL needs only the LFSR
(x^32 + x^22 + x^2 + x + 1, Galois, mask 0x80200003, 32 steps per pivot draw; pivot =
FIFO[state mod length]). Rounds list the elements streamed in each quick-select round, the
final filter pass excluded; a round-by-round RTL trace should match them.

## Checking
`spatten golden --check DIR` holds every file to the layout and the manifest's word count,
recomputes every output with the reference, and compares every file's sha256 with the
manifest; it exits non-zero naming the first file (and line or vector) that differs.
`spatten golden --topk-cycles DIR [--arch A]` prints, one hex line per top-k vector, the
cycles the cycle simulator charges that call (the local-V engine of arch A).

## Testbenches
The spatten-sim repository's `rtl/` holds SystemVerilog modules for the zero eliminator,
requant decision, QxK lane, importance accumulators, softmax and top-k engine, with a
Verilator testbench each that runs every vector of this directory and fails on the first
mismatch with the vector index, the expected and the actual word. To run them on your own
modules (same module names, parameters and ports), from that repository:
`rtl/run-tests.sh target/release/spatten --src YOUR_DIR [--vectors THIS_DIR]`; `rtl/README.md`
there describes the ports and the cycle cross-check.
"#;
