//! Paged K/V layout (`fetcher.kv_page_tokens`, sim/hw/fetcher.rs): page slots where the
//! documented formula puts them, disjoint; the same transactions as contiguous regions at
//! other addresses; at least one activation per DRAM row the pages touch; fast-forward on/off
//! identical; page sizes that do not fill whole transactions refused with the key.

use std::collections::BTreeSet;

use spatten::config::{self, ArchConfig};
use spatten::dram::backend::{DramKind, make_dram};
use spatten::dram::hbm::AddressMapping;
use spatten::hw::fetcher::{AddressLayout, Tensor};
use spatten::hw::{SimOptions, SimStats, dense_trace, simulate};
use spatten::trace::AttentionTrace;

const PLANES: [Tensor; 4] = [Tensor::KMsb, Tensor::KLsb, Tensor::VMsb, Tensor::VLsb];

fn arch(page_tokens: u32) -> ArchConfig {
    let mut a = config::load_arch("spatten").unwrap();
    a.fetcher.kv_page_tokens = page_tokens;
    a
}

#[test]
fn page_slots_follow_the_documented_formula_and_never_overlap() {
    // 1000 tokens in pages of 16: 63 pages; 8-bit planes at D = 64: 1024 B a page, 32
    // transactions of 32 B.
    let (layers, kv_heads, pages, slot) = (2u64, 2u64, 63u64, 1024u64);
    for offset in [0u64, 7] {
        let l = AddressLayout::new(1000, 64, 4, 32, 16, offset).with_kv_pages(
            16,
            1000,
            layers as u32,
            kv_heads as u32,
            8,
        );
        // A staggered slot is one 16 x 32 B stripe longer and starts k x 7 mod 16
        // transactions in.
        let slot_bytes = slot + if offset > 0 { 512 } else { 0 };
        let mut spans = Vec::new();
        for layer in 0..layers {
            for (plane, &t) in PLANES.iter().enumerate() {
                for h in 0..kv_heads {
                    let at = l.placement(layer as u32, h as u32, t, 64 * 8);
                    for p in 0..pages {
                        let k = ((layer * 4 + plane as u64) * pages + p) * kv_heads + h;
                        let start = k * slot_bytes + (k * offset % 16) * 32;
                        assert_eq!(at.address(p * 32), start, "layer {layer} {t:?} head {h}");
                        assert_eq!(at.address(p * 32 + 31), start + 31 * 32);
                        spans.push((start, start + slot));
                    }
                }
            }
        }
        let pool = layers * 4 * pages * kv_heads * slot_bytes;
        for layer in 0..layers as u32 {
            for head in 0..4 {
                let q = l.base(layer, head, Tensor::Q);
                assert!(q >= pool, "Q region inside the page pool");
                spans.push((q, q + 1000 * 64 * 2));
            }
        }
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlap: {w:?}");
        }
        // The score spill region starts after everything.
        assert!(spans.last().unwrap().1 <= l.end(layers as u32));
    }
}

/// One dense generation iteration of four GPT-2-shaped heads (D = 64, 8-bit K/V) over 2048
/// keys (two banks of the paper's design point, so K and V stream in tiles).
fn generation() -> AttentionTrace {
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.model.layers = 1;
    w.model.heads = 4;
    w.model.hidden = 4 * 64;
    w.stage.prompt_tokens = 2047;
    w.stage.generated_tokens = 1;
    let mut t = dense_trace(&w);
    t.head_calls.retain(|c| c.iteration == 1);
    t.layers.retain(|r| r.iteration == 1);
    t
}

fn run(arch: &ArchConfig, t: &AttentionTrace, fast_forward: bool) -> SimStats {
    let mut dram = make_dram(DramKind::Native, &arch.hbm, arch.fetcher.transaction_bytes).unwrap();
    let o = SimOptions {
        fast_forward,
        ..SimOptions::default()
    };
    simulate(arch, t, dram.as_mut(), &o).unwrap()
}

/// The DRAM rows (channel, rank, bank group, bank, row) holding the K-MSB and V-MSB
/// transactions of `t`'s calls, all of whose rows are fetched.
fn kv_rows(arch: &ArchConfig, t: &AttentionTrace) -> BTreeSet<(u32, u32, u32, u32, u32)> {
    let layout = AddressLayout::for_trace(arch, t);
    let mapping = AddressMapping::new(&arch.hbm);
    let mut rows = BTreeSet::new();
    for c in &t.head_calls {
        for (tensor, n, bits) in [
            (Tensor::KMsb, c.keys.len() as u64, c.key_msb_bits as u64),
            (Tensor::VMsb, c.values.len() as u64, c.value_msb_bits as u64),
        ] {
            let row_bits = t.header.head_dim as u64 * bits;
            let at = layout.placement(c.layer, t.header.kv_head_of(c.head), tensor, row_bits);
            for i in 0..(n * row_bits).div_ceil(8 * 32) {
                let l = mapping.locate(at.address(i));
                rows.insert((l.channel, l.rank, l.bank_group, l.bank, l.row));
            }
        }
    }
    rows
}

#[test]
fn pages_move_the_same_bytes_with_an_activation_per_dram_row_they_touch() {
    let t = generation();
    assert!(t.head_calls.iter().all(|c| c.keys.len() == 2048));
    let contiguous = run(&arch(0), &t, true);
    let mut runs = Vec::new();
    for pages in [0, 16, 256] {
        let a = arch(pages);
        let s = run(&a, &t, true);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&run(&a, &t, false)).unwrap(),
            "fast-forward changed a paged run ({pages} tokens a page)"
        );
        assert_eq!(s.dram.bytes_read, contiguous.dram.bytes_read);
        assert_eq!(s.dram.bytes_by_tensor, contiguous.dram.bytes_by_tensor);
        let rows = kv_rows(&a, &t).len() as u64;
        assert!(
            s.dram.backend.activations >= rows,
            "{pages} tokens a page: {} activations for {rows} DRAM rows",
            s.dram.backend.activations
        );
        runs.push((pages, rows, s.dram.backend.activations, s.cycles));
    }
    // The pages of the four K/V heads interleave page by page, so each DRAM row holds pages of
    // every head and is opened once for each head that reads it: more activations than
    // contiguous regions need for the same rows (which open each row about once), and a
    // slower run.
    let (_, rows0, act0, cycles0) = runs[0];
    assert!(act0 < rows0 + rows0 / 10, "{runs:?}");
    let (_, rows16, act16, cycles16) = runs[1];
    assert_eq!(rows16, rows0, "{runs:?}");
    assert!(2 * act16 > 3 * act0, "{runs:?}");
    assert!(cycles16 > cycles0, "{runs:?}");
}

#[test]
fn a_page_that_does_not_fill_whole_transactions_is_refused_with_the_key() {
    // One token of 6-bit rows at D = 64 is 48 B: not a whole number of 32 B transactions.
    let a = arch(1);
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.quant.msb_bits = 6;
    let e = config::check_pair(&a, &w).unwrap_err().to_string();
    assert!(e.contains("fetcher.kv_page_tokens"), "{e}");
    assert!(e.contains("48 B"), "{e}");
    // Two tokens are 96 B = 3 transactions; every width of a progressive 6 + 4 workload fits.
    w.quant.lsb_bits = 4;
    config::check_pair(&arch(2), &w).unwrap();
    // A ready trace with such planes is refused by the simulator, naming the key.
    let mut t = generation();
    for c in &mut t.head_calls {
        c.key_msb_bits = 6;
    }
    let mut dram = make_dram(DramKind::Native, &a.hbm, 32).unwrap();
    let e = simulate(&a, &t, dram.as_mut(), &SimOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("fetcher.kv_page_tokens"), "{e}");
}
