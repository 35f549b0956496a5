//! The report of one run: `summary.md`, `stats.json`, CSVs, figures (SVG + PNG) and, when the
//! run kept one, a Perfetto timeline. The directory is staged and swapped into place by
//! [`OutputDir`], so a failed run leaves no partial report and no user file is touched.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::plot::{
    self, Ceiling, Frame, GroupedBars, Roofline, RooflinePoint, Series, StackedBars,
};
use super::timeline;
use crate::energy::{AreaBreakdown, EnergyReport};
use crate::experiment::{ExperimentResult, Provenance};
use crate::hw::SimStats;
use crate::output_dir::OutputDir;
use crate::trace::savings::TrafficSteps;

/// Everything `stats.json` holds: provenance, the simulator's statistics, energy and area.
#[derive(Debug, Serialize)]
pub struct StatsJson<'a> {
    pub name: &'a str,
    #[serde(flatten)]
    pub provenance: &'a Provenance,
    #[serde(flatten)]
    pub stats: &'a SimStats,
    pub energy: &'a EnergyReport,
    pub area: &'a AreaBreakdown,
    pub area_mm2: f64,
    pub traffic: TrafficSteps,
}

/// What `stats.json` holds for a result (the Python package returns it as `Result.stats`).
pub fn stats_json(r: &ExperimentResult) -> StatsJson<'_> {
    let word_bits = r.arch.bitwidth_converter.output_bits;
    StatsJson {
        name: &r.name,
        provenance: &r.provenance,
        stats: &r.stats,
        energy: &r.energy,
        area: &r.area,
        area_mm2: r.area.total_mm2(),
        traffic: TrafficSteps::of(&r.trace, word_bits),
    }
}

/// One baseline's comparison with the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub device: String,
    pub kind: String,
    pub provenance: String,
    pub latency_s: f64,
    pub energy_j: f64,
    pub speedup: f64,
    pub energy_saving: f64,
}

pub fn comparisons(r: &ExperimentResult) -> Vec<Comparison> {
    r.baselines
        .iter()
        .map(|b| Comparison {
            device: b.device.clone(),
            kind: format!("{:?}", b.device_kind).to_lowercase(),
            provenance: b.provenance.label().to_string(),
            latency_s: b.total_latency_s(),
            energy_j: b.total_energy_j(),
            speedup: b.total_latency_s() / r.stats.seconds,
            energy_saving: b.total_energy_j() / r.energy.total_j,
        })
        .collect()
}

/// Writes the report into `out` (replacing an older report there, never a user's files:
/// see [`OutputDir`]) and returns its files.
pub fn write(r: &ExperimentResult, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    write_to(r, &OutputDir::new(out, "run"))
}

/// [`write`] under an explicit overwrite policy (`--force`).
pub fn write_to(r: &ExperimentResult, out: &OutputDir) -> anyhow::Result<Vec<PathBuf>> {
    let files = out.write(|dir| -> anyhow::Result<Vec<PathBuf>> {
        let figures = dir.join("figures");
        std::fs::create_dir_all(&figures).map_err(|e| {
            anyhow::anyhow!("{}: creating the figure folder: {e}", figures.display())
        })?;
        Ok(write_into(r, dir)?
            .into_iter()
            .map(|p| p.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(p))
            .collect())
    })?;
    Ok(files.into_iter().map(|p| out.path().join(p)).collect())
}

fn write_into(r: &ExperimentResult, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut put = |name: &str, text: String| -> anyhow::Result<()> {
        let p = dir.join(name);
        std::fs::write(&p, text)
            .map_err(|e| anyhow::anyhow!("{}: writing the report: {e}", p.display()))?;
        files.push(p);
        Ok(())
    };
    let stats_json = stats_json(r);
    let traffic = stats_json.traffic;
    put(
        "stats.json",
        serde_json::to_string_pretty(&stats_json)? + "\n",
    )?;
    let cmp = comparisons(r);
    put("baselines.csv", csv_text(&cmp)?)?;
    put("energy.csv", csv_text(&r.energy.modules)?)?;
    put("modules.csv", modules_csv(&r.stats))?;
    put("traffic.csv", traffic_csv(&r.stats, &traffic))?;
    if let Some(intervals) = &r.stats.timeline {
        put(
            "timeline.json",
            timeline::chrome_trace_json(intervals, r.stats.frequency_mhz),
        )?;
    }
    put("summary.md", summary(r, &cmp, &traffic))?;
    for w in figures(r, &cmp, &traffic, &dir.join("figures"))? {
        files.push(w.svg);
        files.push(w.png);
    }
    Ok(files)
}

fn csv_text<T: Serialize>(rows: &[T]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn modules_csv(s: &SimStats) -> String {
    let mut out = String::from(
        "module,busy_cycles,stalled_input_cycles,stalled_output_cycles,idle_cycles,utilisation\n",
    );
    for (name, m) in &s.modules {
        let util = m.busy_cycles as f64 / s.cycles.max(1) as f64;
        writeln!(
            out,
            "{name},{},{},{},{},{util}",
            m.busy_cycles, m.stalled_input_cycles, m.stalled_output_cycles, m.idle_cycles
        )
        .expect("String");
    }
    out
}

fn traffic_csv(s: &SimStats, t: &TrafficSteps) -> String {
    let b = &s.dram.bytes_by_tensor;
    let mut out = String::from("kind,name,bytes\n");
    for (name, v) in [
        ("q", b.q),
        ("k_msb", b.k_msb),
        ("k_lsb", b.k_lsb),
        ("v_msb", b.v_msb),
        ("v_lsb", b.v_lsb),
    ] {
        writeln!(out, "fetched,{name},{v}").expect("String");
    }
    let spill = &s.dram.score_spill;
    if !spill.is_zero() {
        writeln!(out, "score_spill,written,{}", spill.bytes_written).expect("String");
        writeln!(out, "score_spill,read,{}", spill.bytes_read).expect("String");
    }
    for (name, bits) in t.savings() {
        writeln!(out, "saved,{name},{}", bits / 8.0).expect("String");
    }
    out
}

fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

fn human_joules(j: f64) -> String {
    if j >= 1.0 {
        format!("{j:.3} J")
    } else if j >= 1e-3 {
        format!("{:.3} mJ", j * 1e3)
    } else {
        format!("{:.3} uJ", j * 1e6)
    }
}

fn human_seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.3} us", s * 1e6)
    }
}

/// The settings that decide the run's work: stage, pruning and quantization.
/// K/V sharing within groups of query heads (grouped-query attention only).
/// What each sequence of a batch kept and fetched (from the trace: data volumes before
/// rounding to transactions), with the seed that runs it alone.
fn batch_section(w: &mut String, r: &ExperimentResult) {
    let word_bits = r.arch.bitwidth_converter.output_bits;
    let _ = writeln!(
        w,
        "\n## Sequences of the batch\n\n{} independent sequences share the datapath; each runs \
         alone as the workload with `seed` set to its seed and `stage.batch = 1`. A sequence is \
         done when its last head closes and its last layer's top-k finishes.\n",
        r.trace.header.batch()
    );
    let _ = writeln!(
        w,
        "| sequence | seed | head calls | K rows scored | V rows fetched | LSB refetches | K/V data | vs dense | prompt done at | cycles per generated token | done at cycle |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let ends = r.stats.sequence_end_cycles.as_deref().unwrap_or(&[]);
    let steps = r.stats.sequence_step_end_cycles.as_deref().unwrap_or(&[]);
    let generated = r.trace.header.generated_tokens;
    let ran_prompt = r.trace.head_calls.iter().any(|c| c.iteration == 0);
    for s in 0..r.trace.header.batch() {
        let calls: Vec<_> = r
            .trace
            .head_calls
            .iter()
            .filter(|c| c.sequence == s)
            .collect();
        let t = TrafficSteps::of_sequences(&r.trace, word_bits, Some(s));
        let _ = writeln!(
            w,
            "| {s} | {} | {} | {} | {} | {} | {} | {:.2}x less | {} | {} | {} |",
            crate::trace::batch::sequence_seed(r.trace.header.seed, s),
            calls.len(),
            calls.iter().map(|c| c.keys.len() as u64).sum::<u64>(),
            calls.iter().map(|c| c.values.len() as u64).sum::<u64>(),
            calls.iter().filter(|c| c.lsb_refetch).count(),
            human_bytes(t.after_quantization_bits / 8.0),
            t.reduction(),
            match steps.get(s as usize) {
                Some(st) if ran_prompt => st[0].to_string(),
                _ => "-".into(),
            },
            match steps.get(s as usize) {
                // From the prompt's end (or the start, when the prompt was cached) to the last
                // generated token's, over the tokens generated.
                Some(st) if generated > 0 => {
                    let from = if ran_prompt { st[0] } else { 0 };
                    format!(
                        "{:.0}",
                        (st[generated as usize] - from) as f64 / generated as f64
                    )
                }
                _ => "-".into(),
            },
            ends.get(s as usize)
                .map_or("-".to_string(), |e| e.to_string())
        );
    }
}

fn gqa_section(w: &mut String, g: &crate::hw::gqa::GqaStats) {
    let per = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    let _ = writeln!(
        w,
        "\n### Grouped K/V heads\n\n{} K/V heads, each shared by {} query heads; {} groups run. \
         K rows per K/V head (union of the group's kept rows): {}; K rows per query head: {} \
         scored against the union, {} of its own, so the union costs {:.3}x the own rows. \
         K MSB bytes: {} fetched; {} with one fetch per K/V head; {} with one fetch per query \
         head of its own rows. {} of the groups streamed through the SRAM in tiles and \
         fetched once per query head.",
        g.kv_heads,
        g.group_size,
        g.groups,
        g.key_rows_per_kv_head,
        g.key_rows_per_query_head_union,
        g.key_rows_per_query_head_own,
        per(
            g.key_rows_per_query_head_union,
            g.key_rows_per_query_head_own
        ),
        human_bytes(g.key_msb_bytes_fetched as f64),
        human_bytes(g.key_msb_bytes_per_kv_head as f64),
        human_bytes(g.key_msb_bytes_unshared as f64),
        g.tiled_groups,
    );
}

/// Heads that streamed K/V through the SRAM in tiles: their re-streams are DRAM traffic the
/// data volume (one fetch per head call) does not count.
fn tiling_note(w: &mut String, t: &crate::hw::tiling::TilingStats) {
    let _ = write!(
        w,
        "K/V tiling (heads longer than an SRAM bank, sim/hw/tiling.rs): "
    );
    if t.generation_calls > 0 {
        let _ = write!(
            w,
            "{} generation head calls streamed their K/V through the SRAM once each. ",
            t.generation_calls
        );
    }
    if t.summarization_calls > 0 {
        let _ = write!(
            w,
            "{} prompt head calls ran in {} query blocks of up to {} rows, each block streaming \
             its head's K{} and V again ({:.1} streams per call on average; the data volume \
             below counts one).",
            t.summarization_calls,
            t.query_blocks,
            t.max_block_rows,
            if t.two_pass {
                " twice (two-pass: an online sum, then the probabilities)"
            } else {
                ""
            },
            t.query_blocks as f64 / t.summarization_calls as f64
        );
    }
    let _ = writeln!(w, "\n");
}

fn workload_settings(w: &mut String, wl: &crate::config::WorkloadConfig) {
    let m = &wl.model;
    let st = &wl.stage;
    let (tp, hp, q) = (&wl.token_pruning, &wl.head_pruning, &wl.quant);
    let _ = writeln!(w, "## Workload settings\n");
    let _ = writeln!(w, "| setting | value |\n|---|---|");
    let _ = writeln!(
        w,
        "| model | {} layers x {} heads{}, head dim {}{}{} |",
        m.layers,
        m.heads,
        match m.kv_heads {
            Some(kv) if kv != m.heads => format!(" ({kv} K/V heads)"),
            _ => String::new(),
        },
        m.head_dim,
        if m.causal { ", causal" } else { "" },
        match m.positional {
            Some(p) => format!(", positions {p:?}").to_lowercase(),
            None => String::new(),
        }
    );
    let _ = writeln!(
        w,
        "| stage | {}, {} prompt tokens, {} generated{} |",
        st.kind.label(),
        st.prompt_tokens,
        st.generated_tokens,
        if st.batch > 1 {
            format!(", a batch of {} sequences", st.batch)
        } else {
            String::new()
        }
    );
    for (name, p) in [("token pruning", tp), ("head pruning", hp)] {
        let _ = writeln!(
            w,
            "| {name} | average ratio {:.3}, first {:.0} % of layers unpruned, ramp {:.3} |",
            p.average_ratio,
            100.0 * p.unpruned_leading_fraction,
            p.ramp
        );
    }
    let _ = writeln!(w, "| local V keep ratio | {:.3} |", wl.local_v.keep_ratio);
    let _ = writeln!(
        w,
        "| quantization | {:?}, {} MSB + {} LSB bits, requant threshold {} |\n",
        q.mode, q.msb_bits, q.lsb_bits, q.requant_threshold
    );
}

/// Every per-action energy of the design point with the source it was derived from.
fn energy_constants(w: &mut String, arch: &crate::config::ArchConfig) {
    let _ = writeln!(
        w,
        "\nEnergy constants (`[energy]` of architecture {}; `spatten config show {}` prints them):\n",
        arch.name, arch.name
    );
    let _ = writeln!(w, "| constant | value | source |\n|---|---|---|");
    let Ok(table) = toml::Table::try_from(&arch.energy) else {
        return;
    };
    for (key, v) in &table {
        let value = v.get("value").and_then(toml::Value::as_float);
        let source = v.get("source").and_then(toml::Value::as_str);
        if let (Some(value), Some(source)) = (value, source) {
            let _ = writeln!(w, "| {key} | {value} | {source} |");
        }
    }
}

fn summary(
    r: &ExperimentResult,
    cmp: &[crate::report::run_report::Comparison],
    t: &TrafficSteps,
) -> String {
    let s = &r.stats;
    let p = &r.provenance;
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "# {}\n", r.name);
    let _ = writeln!(
        w,
        "Architecture **{}** (`{}`), workload **{}** (`{}`), seed {}, input: {}, DRAM model: {}; spatten-sim {}.\n",
        p.arch,
        p.arch_hash,
        p.workload,
        p.workload_hash,
        p.seed,
        p.input,
        p.dram_model,
        p.tool_version
    );
    workload_settings(w, &r.workload);
    let _ = writeln!(w, "## Performance\n");
    let _ = writeln!(w, "| metric | value |\n|---|---|");
    let _ = writeln!(w, "| cycles | {} |", s.cycles);
    let _ = writeln!(
        w,
        "| time | {} at {} MHz |",
        human_seconds(s.seconds),
        s.frequency_mhz
    );
    let _ = writeln!(w, "| head calls | {} |", s.head_calls);
    let _ = writeln!(
        w,
        "| operations executed | {} ({:.1} GOP/s) |",
        s.ops, s.gops
    );
    let _ = writeln!(
        w,
        "| effective operations (dense attention, as the paper counts) | {} ({:.1} GOP/s) |",
        s.effective_ops, s.effective_gops
    );
    let _ = writeln!(
        w,
        "| LSB refetches | {} of {} head calls |",
        s.lsb_refetches, s.head_calls
    );
    let _ = writeln!(w, "| top-k engine cycles | {} |\n", s.topk.cycles);
    hierarchical_note(w, r);

    let b = &s.dram.bytes_by_tensor;
    let _ = writeln!(w, "## DRAM traffic\n");
    let _ = writeln!(
        w,
        "{} read in {} transactions ({:.1} GB/s average). By tensor: Q {}, K MSB {}, K LSB {}, V MSB {}, V LSB {}. Row hits {}, misses {}, conflicts {}.\n",
        human_bytes(s.dram.bytes_read as f64),
        s.dram.transactions,
        s.dram.bytes_read as f64 / s.seconds.max(f64::MIN_POSITIVE) / 1e9,
        human_bytes(b.q as f64),
        human_bytes(b.k_msb as f64),
        human_bytes(b.k_lsb as f64),
        human_bytes(b.v_msb as f64),
        human_bytes(b.v_lsb as f64),
        s.dram.backend.row_hits,
        s.dram.backend.row_misses,
        s.dram.backend.row_conflicts,
    );
    channel_table(w, r);
    if let Some(t) = &s.tiling {
        tiling_note(w, t);
    }
    let spill = &s.dram.score_spill;
    if !spill.is_zero() {
        let _ = writeln!(
            w,
            "Score spill (softmax.overflow = \"spill\", sim/hw/spill.rs): {} generation rows had \
             more exponentials than their share of the softmax buffer and wrote the rest to DRAM \
             ({} written, {} read back, in {} transactions, besides the reads above).\n",
            spill.rows,
            human_bytes(spill.bytes_written as f64),
            human_bytes(spill.bytes_read as f64),
            spill.transactions
        );
        if spill.local_v_rows_in_place > 0 {
            let _ = writeln!(
                w,
                "The local V pruning of {} spilling head calls ran on an engine that ranks in \
                 place: re-reading their spilled probabilities for its rounds is not charged; \
                 `[topk_value] candidate_entries` models an engine that holds tiles of them \
                 (hierarchical selection).\n",
                spill.local_v_rows_in_place
            );
        }
    }
    let _ = writeln!(
        w,
        "K/V data volume against dense {}-bit attention: {:.2}x less ({} -> {}).\n",
        r.arch.bitwidth_converter.output_bits,
        t.reduction(),
        human_bytes(t.dense_bits / 8.0),
        human_bytes(t.after_quantization_bits / 8.0)
    );
    let _ = writeln!(
        w,
        "| technique | K/V data saved | share of dense |\n|---|---|---|"
    );
    for (name, bits) in t.savings() {
        let _ = writeln!(
            w,
            "| {name} | {} | {:.1} % |",
            human_bytes(bits / 8.0),
            100.0 * bits / t.dense_bits.max(f64::MIN_POSITIVE)
        );
    }
    if r.trace.header.batch() > 1 {
        batch_section(w, r);
    }
    if let Some(g) = &s.gqa {
        gqa_section(w, g);
    }
    let e = &r.energy;
    let _ = writeln!(w, "\n## Energy\n");
    let _ = writeln!(
        w,
        "{} in all: on chip {}, DRAM {}; average power {:.3} W; {:.1} effective GOP/J.\n",
        human_joules(e.total_j),
        human_joules(e.on_chip_j),
        human_joules(e.dram_j),
        e.average_power_w,
        e.ops_per_joule(s.effective_ops) / 1e9
    );
    let _ = writeln!(w, "| module | dynamic | static | area |\n|---|---|---|---|");
    for (m, (_, mm2)) in e.modules.iter().zip(r.area.modules()) {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.2} mm2 |",
            m.module,
            human_joules(m.dynamic_j),
            human_joules(m.static_j),
            mm2
        );
    }
    let _ = writeln!(w, "| total | | | {:.2} mm2 |", r.area.total_mm2());
    energy_constants(w, &r.arch);
    let _ = writeln!(w, "\n## Against baselines\n");
    let _ = writeln!(
        w,
        "Speedup = baseline latency / this run's; energy saving = baseline energy / this run's. \
         Modelled baselines cost every operator eager PyTorch dispatches for the attention, with \
         per-operator constants fitted to the paper's measurements (arch/baselines/, `spatten \
         baseline fit`); measured ones come from files given with --baseline.\n"
    );
    let _ = writeln!(
        w,
        "| baseline | numbers | latency | speedup | energy | energy saving |\n|---|---|---|---|---|---|"
    );
    for c in cmp {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1}x | {} | {:.1}x |",
            c.device,
            c.provenance,
            human_seconds(c.latency_s),
            c.speedup,
            human_joules(c.energy_j),
            c.energy_saving
        );
    }
    let _ = writeln!(w, "\n## Utilisation\n");
    let _ = writeln!(
        w,
        "| module | busy | stalled (input) | stalled (output) |\n|---|---|---|---|"
    );
    for (name, m) in &s.modules {
        let pct = |c: u64| 100.0 * c as f64 / s.cycles.max(1) as f64;
        let _ = writeln!(
            w,
            "| {name} | {:.1} % | {:.1} % | {:.1} % |",
            pct(m.busy_cycles),
            pct(m.stalled_input_cycles),
            pct(m.stalled_output_cycles)
        );
    }
    let _ = writeln!(
        w,
        "\n## Files\n\n`stats.json` (every counter), `baselines.csv`, `energy.csv`, `modules.csv`, \
         `traffic.csv`, `figures/*.svg|png`{}.",
        if s.timeline.is_some() {
            ", `timeline.json` (open in ui.perfetto.dev)"
        } else {
            ""
        }
    );
    o
}

/// What a module is called on a figure (the simulator's names are identifiers).
pub fn module_label(name: &str) -> String {
    match name {
        "fetcher" => "fetcher",
        "address_crossbar" => "address crossbar",
        "data_crossbar" => "data crossbar",
        "bitwidth_converter" => "bitwidth converter",
        "qk" => "QxK",
        "softmax" => "softmax",
        "requant" => "requant",
        "topk_value" => "top-k (local V)",
        "topk_token" => "top-k (token)",
        "topk" => "top-k",
        "pv" => "PxV",
        "importance" => "importance",
        "other" => "other",
        other => return other.replace('_', " "),
    }
    .to_string()
}

/// The local-V selections a limited engine ran in stages (SPEC.md 6.4), when it did.
fn hierarchical_note(w: &mut String, r: &ExperimentResult) {
    let Some(entries) = r.trace.header.value_topk_entries else {
        return;
    };
    let value_calls = || {
        r.trace
            .topk_calls
            .iter()
            .filter(|c| c.purpose == crate::trace::TopkPurpose::LocalValue)
    };
    let tiled: Vec<_> = value_calls().filter(|c| !c.stages.is_empty()).collect();
    let _ = writeln!(
        w,
        "Local-V top-k engine of {entries} candidates (topk_value.candidate_entries): {} of {} \
         selections had more probabilities than it holds and ran hierarchically (top-k per tile, \
         then over the winners; the same V rows kept, SPEC.md 6.4), in {} quick-selects; the \
         engine was busy {} cycles over {} comparisons.\n",
        tiled.len(),
        value_calls().count(),
        tiled.iter().map(|c| c.stages.len()).sum::<usize>(),
        r.stats.topk.value_engine_cycles,
        r.stats.topk.value_engine_comparisons,
    );
}

/// Position of a module in the pipeline (data flows fetcher, QxK, softmax, top-k, PxV), so
/// figures list modules in that order; names the pipeline does not know go last.
fn pipeline_rank(name: &str) -> usize {
    let order: &[&str] = &[
        "fetcher",
        "address_crossbar",
        "data_crossbar",
        "bitwidth_converter",
        "qk",
        "softmax",
        "requant",
        "topk",
        "topk_value",
        "topk_token",
        "pv",
        "importance",
        "other",
    ];
    order.iter().position(|m| *m == name).unwrap_or(order.len())
}

/// The names in pipeline order (stable for names of equal rank).
pub fn pipeline_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = names.into_iter().collect();
    v.sort_by_key(|n| pipeline_rank(n));
    v
}

/// "device (provenance)" only where provenances differ; otherwise the shared provenance goes
/// into the axis title once, so long category names do not crowd the axis.
pub fn baseline_axis(devices: &[(String, String)]) -> (Vec<String>, String) {
    let first = devices.first().map(|d| d.1.as_str()).unwrap_or("");
    if devices.iter().all(|d| d.1 == first) {
        let axis = if first.is_empty() {
            "baseline".to_string()
        } else {
            format!("baseline (all {first})")
        };
        (devices.iter().map(|d| d.0.clone()).collect(), axis)
    } else {
        (
            devices
                .iter()
                .map(|d| format!("{} ({})", d.0, d.1))
                .collect(),
            "baseline".to_string(),
        )
    }
}

fn figures(
    r: &ExperimentResult,
    cmp: &[Comparison],
    t: &TrafficSteps,
    dir: &Path,
) -> anyhow::Result<Vec<plot::Written>> {
    let mut out = Vec::new();
    let title = |what: &str| format!("{what}: {} on {}", r.workload.name, r.arch.name);
    let (devices, baseline_label) = baseline_axis(
        &cmp.iter()
            .map(|c| (c.device.clone(), c.provenance.clone()))
            .collect::<Vec<_>>(),
    );
    for (stem, what, axis, field) in [
        (
            "speedup",
            "Speedup",
            "speedup over baseline (x, log scale)",
            (|c: &Comparison| c.speedup) as fn(&Comparison) -> f64,
        ),
        (
            "energy_saving",
            "Energy saving",
            "energy saving over baseline (x, log scale)",
            |c: &Comparison| c.energy_saving,
        ),
    ] {
        out.push(plot::grouped_bars(
            &dir.join(stem),
            &GroupedBars::new(
                Frame::new(&title(what), &baseline_label, axis).sized((900, 620)),
                devices.clone(),
                vec![Series {
                    name: r.arch.name.clone(),
                    values: cmp.iter().map(field).collect(),
                }],
            )
            .ratio("1x: as fast as the baseline"),
        )?);
    }
    let c = &r.energy.by_cause;
    let e = &r.energy;
    let modules: Vec<&crate::energy::account::ModuleEnergy> =
        pipeline_order(e.modules.iter().map(|m| m.module.as_str()))
            .into_iter()
            .filter_map(|n| e.modules.iter().find(|m| m.module == n))
            .collect();
    let largest = modules
        .iter()
        .map(|m| m.dynamic_j + m.static_j)
        .chain([e.dram_j])
        .fold(0.0, f64::max);
    let (k, unit) = plot::energy_unit(largest);
    let mut module_names: Vec<String> = modules.iter().map(|m| module_label(&m.module)).collect();
    module_names.push("DRAM".into());
    out.push(plot::stacked_bars(
        &dir.join("energy_by_module"),
        &StackedBars::new(
            Frame::new(
                &title("Energy by module"),
                "module",
                &format!("energy ({unit})"),
            ),
            module_names,
            vec![
                Series {
                    name: "dynamic".into(),
                    values: modules
                        .iter()
                        .map(|m| m.dynamic_j * k)
                        .chain([e.dram_j * k])
                        .collect(),
                },
                Series {
                    name: "static (leakage)".into(),
                    values: modules
                        .iter()
                        .map(|m| m.static_j * k)
                        .chain([0.0])
                        .collect(),
                },
            ],
        ),
    )?);
    let causes = [
        ("MAC compute", c.compute_j),
        ("softmax, top-k, control", c.softmax_topk_control_j),
        ("on-chip data movement", c.on_chip_data_movement_j),
        ("DRAM activation", c.dram_activation_j),
        ("DRAM transfer", c.dram_transfer_j),
        ("leakage", c.leakage_j),
    ];
    let (k, unit) = plot::energy_unit(causes.iter().map(|c| c.1).fold(0.0, f64::max));
    out.push(plot::grouped_bars(
        &dir.join("energy_by_cause"),
        &GroupedBars::new(
            Frame::new(
                &title("Energy by cause"),
                "cause",
                &format!("energy ({unit})"),
            ),
            causes.iter().map(|(n, _)| n.to_string()).collect(),
            vec![Series {
                name: r.arch.name.clone(),
                values: causes.iter().map(|(_, j)| j * k).collect(),
            }],
        )
        .labelled(""),
    )?);
    let b = &r.stats.dram.bytes_by_tensor;
    let mb = 1e-6;
    let dense_mb = t.dense_bits / 8.0 * mb;
    let savings = t.savings();
    // (component, palette colour): K warm and V cool in the first bar, and the second bar's
    // colours all different again.
    let saving_colors = [2, 5, 6, 9, 1, 4];
    let parts: Vec<(Series, usize)> = [
        ("Q", b.q, 8),
        ("K MSB", b.k_msb, 3),
        ("K LSB", b.k_lsb, 1),
        ("V MSB", b.v_msb, 0),
        ("V LSB", b.v_lsb, 4),
    ]
    .into_iter()
    .map(|(name, bytes, col)| {
        (
            Series {
                name: name.into(),
                values: vec![bytes as f64 * mb, 0.0],
            },
            col,
        )
    })
    .chain([(
        Series {
            name: "K/V fetched".into(),
            values: vec![0.0, t.after_quantization_bits / 8.0 * mb],
        },
        7,
    )])
    .chain(savings.iter().enumerate().map(|(i, (name, bits))| {
        (
            Series {
                name: format!("saved by {name}"),
                values: vec![0.0, bits / 8.0 * mb],
            },
            saving_colors[i % saving_colors.len()],
        )
    }))
    .filter(|(s, _)| dense_mb > 0.0 || s.values.iter().any(|v| *v > 0.0))
    .collect();
    let (mut components, mut colors): (Vec<Series>, Vec<usize>) = parts.into_iter().unzip();
    let mut categories = vec![
        "fetched, by tensor".to_string(),
        "dense K/V, where it went".to_string(),
    ];
    // A third bar, only when the softmax spilled exponentials to DRAM (sim/hw/spill.rs).
    let spill = &r.stats.dram.score_spill;
    if !spill.is_zero() {
        categories.push("score spill".into());
        components.iter_mut().for_each(|s| s.values.push(0.0));
        for (name, bytes, col) in [
            ("spill written", spill.bytes_written, 2),
            ("spill read back", spill.bytes_read, 5),
        ] {
            components.push(Series {
                name: name.into(),
                values: vec![0.0, 0.0, bytes as f64 * mb],
            });
            colors.push(col);
        }
    }
    // Each bar has its legend column: a third one needs the width.
    let width = if categories.len() > 2 { 1200 } else { 900 };
    let mut traffic = StackedBars::new(
        Frame::new(&title("DRAM traffic"), "", "data (MB)").sized((width, 680)),
        categories,
        components,
    );
    traffic.legend_per_category = true;
    traffic.segment_labels = true;
    traffic.colors = colors;
    out.push(plot::stacked_bars(
        &dir.join("traffic_breakdown"),
        &traffic,
    )?);
    let order = pipeline_order(r.stats.modules.keys().map(String::as_str));
    let names: Vec<String> = order.iter().map(|m| module_label(m)).collect();
    let pct = |f: &dyn Fn(&crate::hw::stats::ModuleStats) -> u64| -> Vec<f64> {
        order
            .iter()
            .map(|m| 100.0 * f(&r.stats.modules[*m]) as f64 / r.stats.cycles.max(1) as f64)
            .collect()
    };
    out.push(plot::stacked_bars(
        &dir.join("utilisation"),
        &StackedBars::new(
            Frame::new(
                &title("Module utilisation"),
                "module (pipeline order)",
                "share of cycles (%)",
            )
            .sized((1200, 800)),
            names,
            vec![
                Series {
                    name: "busy".into(),
                    values: pct(&|m| m.busy_cycles),
                },
                Series {
                    name: "stalled on input".into(),
                    values: pct(&|m| m.stalled_input_cycles),
                },
                Series {
                    name: "stalled on output".into(),
                    values: pct(&|m| m.stalled_output_cycles),
                },
                Series {
                    name: "idle".into(),
                    values: pct(&|m| m.idle_cycles),
                },
            ],
        )
        .percent()
        .colored(vec![0, 1, 3, 9])
        .unlabelled(vec![3]),
    )?);
    let f_ghz = r.arch.clock.frequency_mhz / 1000.0;
    let peak = 2.0 * (r.arch.qk.multipliers + r.arch.pv.multipliers) as f64 * f_ghz;
    let bytes = r.stats.dram.bytes_moved().max(1) as f64;
    out.push(plot::roofline(
        &dir.join("roofline"),
        &Roofline {
            frame: Frame::new(
                &title("Roofline"),
                "operational intensity (op/B of DRAM traffic, log scale)",
                "throughput (GOP/s, log scale)",
            ),
            ceilings: vec![Ceiling {
                name: r.arch.name.clone(),
                peak_gops: peak,
                bandwidth_gbps: r.arch.hbm.total_bandwidth_gbps(),
            }],
            points: vec![
                RooflinePoint {
                    name: "executed operations".into(),
                    intensity_ops_per_byte: r.stats.ops as f64 / bytes,
                    gops: r.stats.gops,
                },
                RooflinePoint {
                    name: "effective (dense-equivalent) operations".into(),
                    intensity_ops_per_byte: r.stats.effective_ops as f64 / bytes,
                    gops: r.stats.effective_gops,
                },
            ],
        },
    )?);
    Ok(out)
}

/// Per channel of the command-level model: bandwidth achieved over the run and row reuse.
fn channel_table(w: &mut String, r: &ExperimentResult) {
    let chans = &r.stats.dram.backend.per_channel;
    if chans.is_empty() {
        return;
    }
    let seconds = r.stats.seconds.max(f64::MIN_POSITIVE);
    let peak = r.arch.hbm.total_bandwidth_gbps() / chans.len() as f64;
    let _ = writeln!(
        w,
        "| channel | read | achieved GB/s | of the channel's {peak:.0} GB/s | row-hit rate | activations |\n|---|---|---|---|---|---|"
    );
    for c in chans {
        let gbps = (c.bytes_read + c.bytes_written) as f64 / seconds / 1e9;
        let _ = writeln!(
            w,
            "| {} | {} | {gbps:.1} | {:.1} % | {:.1} % | {} |",
            c.channel,
            human_bytes(c.bytes_read as f64),
            100.0 * gbps / peak,
            100.0 * c.row_hit_rate(),
            c.activations
        );
    }
    let _ = writeln!(w);
}
