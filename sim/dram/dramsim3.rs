//! DRAMsim3 as a `Dram` back-end (cargo feature `dramsim3`), for cross-checking the native
//! model. Building it needs cmake (the `dramsim3` crate compiles DRAMsim3's C++ sources).
//!
//! Configuration: rather than pointing at one of the crate's bundled `.ini` files (the crate
//! does not expose their path, and a registry lookup would depend on `CARGO_HOME`), the
//! back-end writes an `.ini` generated from the same `HbmConfig` the native model reads into a
//! private temporary directory, which also receives DRAMsim3's output and is deleted on drop.
//! `arch/dram/hbm2-8gb-dramsim3.toml` reproduces the bundled `HBM2_8Gb_x128.ini`; a test
//! compares the two when the crate source is found under `$CARGO_HOME`/`~/.cargo`.
//!
//! Mapping of `HbmConfig` to DRAMsim3:
//! - protocol `HBM` when `dual_command_issue` (DRAMsim3 enables its dual command issue only for
//!   HBM), else `DDR4`; `device_width = bus_bits` (one device per rank); for HBM DRAMsim3
//!   doubles the `columns` it reads (2n prefetch), so it is given half of ours;
//! - `channel_size` = ranks x the rank capacity, so DRAMsim3 derives the same rank count;
//! - DRAMsim3 computes tRC = tRAS + tRP itself: a config with another tRC is refused;
//! - refresh `all-bank` -> `RANK_LEVEL_STAGGERED` (ranks in turn, tREFI / ranks apart, as the
//!   native model), `per-bank` -> `BANK_LEVEL_STAGGERED` with tREFIb / tRFCb;
//! - page policy `closed` -> `CLOSE_PAGE` (DRAMsim3 then always auto-precharges, while the
//!   native model keeps a row open while queued requests still hit it).
//!
//! Statistics: reads, writes, bytes and latencies come from the completion callbacks.
//! DRAMsim3's own command counters (activations, row hits, refreshes) are only written to its
//! epoch statistics file; `finish` ticks idle to the next epoch boundary and reads them.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use dramsim3::MemorySystem;

use super::backend::DramError;
use super::hbm::AddressMapping;
use super::{Dram, DramRequest, DramStats};
use crate::config::HbmConfig;
use crate::config::hbm::{PagePolicy, RefreshPolicy};

/// DRAMsim3 writes its epoch statistics this often; `finish` idles at most this long.
const EPOCH_CYCLES: u64 = 20_000;

pub struct Dramsim3Dram {
    sys: MemorySystem,
    dir: PathBuf,
    mapping: AddressMapping,
    request_bytes: u32,
    cycle: u64,
    /// Requests waiting for DRAMsim3's callback, by (address, is_write), oldest first.
    waiting: HashMap<(u64, bool), VecDeque<(u64, u64)>>,
    pending: usize,
    stats: DramStats,
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// The DRAMsim3 `.ini` text for a configuration.
pub fn dramsim3_ini(hbm: &HbmConfig) -> Result<String, DramError> {
    let t = &hbm.timing;
    if t.trc != t.tras + t.trp {
        return Err(DramError::Dramsim3(format!(
            "DRAMsim3 fixes tRC = tRAS + tRP = {}, but hbm.timing.trc = {}",
            t.tras + t.trp,
            t.trc
        )));
    }
    let page_bytes = hbm.columns as u64 * hbm.bus_bits as u64 / 8;
    let megs_per_rank = page_bytes * (hbm.rows as u64 / 1024) / 1024 * hbm.banks() as u64;
    if megs_per_rank == 0 {
        return Err(DramError::Dramsim3(
            "a rank smaller than 1 MB cannot be described to DRAMsim3".into(),
        ));
    }
    let hbm_protocol = hbm.dual_command_issue;
    let (refresh_policy, trefib, trfcb) = match hbm.refresh {
        RefreshPolicy::AllBank => ("RANK_LEVEL_STAGGERED", t.trefi / hbm.banks().max(1), t.trfc),
        RefreshPolicy::PerBank => (
            "BANK_LEVEL_STAGGERED",
            t.trefib.unwrap_or(t.trefi),
            t.trfcb.unwrap_or(t.trfc),
        ),
    };
    let page = match hbm.page_policy {
        PagePolicy::Open => "OPEN_PAGE",
        PagePolicy::Closed => "CLOSE_PAGE",
    };
    Ok(format!(
        "[dram_structure]\nprotocol = {protocol}\nbankgroups = {bg}\nbanks_per_group = {bpg}\nrows = {rows}\n\
         columns = {cols}\ndevice_width = {bus}\nBL = {bl}\nhbm_dual_cmd = {dual}\n\n\
         [timing]\ntCK = {tck}\nAL = 0\nCL = {cl}\nCWL = {cwl}\ntRCD = {trcd}\ntRCDRD = {trcd}\ntRCDWR = {trcd}\n\
         tRP = {trp}\ntRAS = {tras}\ntRFC = {trfc}\ntRFCb = {trfcb}\ntREFI = {trefi}\ntREFIb = {trefib}\n\
         tRRD_S = {trrd_s}\ntRRD_L = {trrd_l}\ntWTR_S = {twtr_s}\ntWTR_L = {twtr_l}\ntFAW = {tfaw}\n\
         tWR = {twr}\ntCCD_S = {tccd_s}\ntCCD_L = {tccd_l}\ntRTP = {trtp}\ntRTRS = {trtrs}\ntPPD = 0\n\n\
         [system]\nchannel_size = {chsize}\nchannels = {ch}\nbus_width = {bus}\naddress_mapping = {map}\n\
         queue_structure = PER_BANK\nrefresh_policy = {refresh_policy}\nrow_buf_policy = {page}\n\
         cmd_queue_size = {cmdq}\ntrans_queue_size = {tq}\nunified_queue = False\n\n\
         [other]\nepoch_period = {epoch}\noutput_level = 1\n",
        protocol = if hbm_protocol { "HBM" } else { "DDR4" },
        bg = hbm.bank_groups,
        bpg = hbm.banks_per_group,
        rows = hbm.rows,
        cols = if hbm_protocol {
            hbm.columns / 2
        } else {
            hbm.columns
        },
        bus = hbm.bus_bits,
        bl = hbm.burst_length,
        dual = if hbm_protocol { "true" } else { "false" },
        tck = hbm.tck_ns,
        cl = t.cl,
        cwl = t.cwl,
        trcd = t.trcd,
        trp = t.trp,
        tras = t.tras,
        trfc = t.trfc,
        trefi = t.trefi,
        trrd_s = t.trrd_s,
        trrd_l = t.trrd_l,
        twtr_s = t.twtr_s,
        twtr_l = t.twtr_l,
        tfaw = t.tfaw,
        twr = t.twr,
        tccd_s = t.tccd_s,
        tccd_l = t.tccd_l,
        trtp = t.trtp,
        trtrs = t.trtrs,
        chsize = megs_per_rank * hbm.ranks as u64,
        ch = hbm.channels,
        map = hbm.address_mapping,
        cmdq = hbm.bank_queue_depth,
        tq = hbm.queue_depth,
        epoch = EPOCH_CYCLES,
    ))
}

impl Dramsim3Dram {
    pub fn new(hbm: &HbmConfig, request_bytes: u32) -> Result<Self, DramError> {
        if request_bytes == 0
            || !request_bytes.is_power_of_two()
            || request_bytes > hbm.burst_bytes()
        {
            return Err(DramError::Dramsim3(format!(
                "a request of {request_bytes} B must be a power of two no larger than one burst ({} B)",
                hbm.burst_bytes()
            )));
        }
        let ini = dramsim3_ini(hbm)?;
        let dir = std::env::temp_dir().join(format!(
            "spatten-dramsim3-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| DramError::Dramsim3(format!("cannot create {}: {e}", dir.display())))?;
        let ini_path = dir.join("config.ini");
        std::fs::write(&ini_path, ini).map_err(|e| {
            DramError::Dramsim3(format!("cannot write {}: {e}", ini_path.display()))
        })?;
        let sys = MemorySystem::new(&ini_path, &dir)
            .map_err(|e| DramError::Dramsim3(format!("cannot start DRAMsim3: {e:?}")))?;
        Ok(Self {
            sys,
            dir,
            mapping: AddressMapping::new(hbm),
            request_bytes,
            cycle: 0,
            waiting: HashMap::new(),
            pending: 0,
            stats: DramStats::default(),
        })
    }

    /// Idles to the next statistics epoch and adds DRAMsim3's command counters (activations,
    /// precharges, refreshes, row hits; misses are the column commands that did not hit) to
    /// the callback-derived statistics. The model stays usable; its cycle count moves on.
    pub fn finish(&mut self) -> Result<DramStats, DramError> {
        let mut done = Vec::new();
        let end = self.cycle.div_ceil(EPOCH_CYCLES).max(1) * EPOCH_CYCLES + 1;
        let busy_until = self.cycle;
        self.advance_to(end, &mut done);
        let path = self.dir.join("dramsim3epoch.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| DramError::Dramsim3(format!("cannot read {}: {e}", path.display())))?;
        // The file is a JSON array DRAMsim3 leaves open: "[{..},\n{..},\n".
        let body = text.trim().trim_end_matches(',');
        let json = format!("{body}]");
        let epochs: Vec<serde_json::Value> = serde_json::from_str(&json)
            .map_err(|e| DramError::Dramsim3(format!("cannot parse {}: {e}", path.display())))?;
        let sum = |key: &str| -> u64 {
            epochs
                .iter()
                .map(|e| e.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0))
                .sum()
        };
        let mut s = self.stats.clone();
        s.cycles = busy_until;
        s.activations = sum("num_act_cmds");
        s.precharges = sum("num_pre_cmds");
        s.refreshes = sum("num_ref_cmds") + sum("num_refb_cmds");
        s.row_hits = sum("num_read_row_hits") + sum("num_write_row_hits");
        let columns = sum("num_read_cmds") + sum("num_write_cmds");
        s.row_misses = columns.saturating_sub(s.row_hits);
        s.row_conflicts = 0;
        Ok(s)
    }
}

impl Drop for Dramsim3Dram {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Dram for Dramsim3Dram {
    fn channel_of(&self, addr: u64) -> u32 {
        self.mapping.channel_of(addr)
    }

    fn can_accept(&self, addr: u64, is_write: bool) -> bool {
        self.sys.can_add(addr, is_write)
    }

    fn enqueue(&mut self, req: DramRequest) -> Result<(), DramRequest> {
        if !self.sys.can_add(req.addr, req.is_write) || !self.sys.add(req.addr, req.is_write) {
            return Err(req);
        }
        self.waiting
            .entry((req.addr, req.is_write))
            .or_default()
            .push_back((req.id, self.cycle));
        self.pending += 1;
        self.stats.max_queue_occupancy = self.stats.max_queue_occupancy.max(self.pending as u64);
        Ok(())
    }

    fn tick(&mut self, done: &mut Vec<u64>) {
        let now = self.cycle;
        let mut finished: Vec<(u64, bool)> = Vec::new();
        self.sys
            .tick(|addr, is_write| finished.push((addr, is_write)));
        for key in finished {
            let Some((id, arrival)) = self.waiting.get_mut(&key).and_then(VecDeque::pop_front)
            else {
                continue;
            };
            self.pending -= 1;
            let latency = now - arrival;
            let s = &mut self.stats;
            s.completed += 1;
            s.total_latency_cycles += latency;
            s.max_latency_cycles = s.max_latency_cycles.max(latency);
            if key.1 {
                s.writes += 1;
                s.bytes_written += self.request_bytes as u64;
            } else {
                s.reads += 1;
                s.bytes_read += self.request_bytes as u64;
            }
            done.push(id);
        }
        self.cycle += 1;
        self.stats.queue_occupancy_sum += self.pending as u64;
        self.stats.cycles = self.cycle;
    }

    fn cycle(&self) -> u64 {
        self.cycle
    }

    /// DRAMsim3 cannot say when it will next act: every cycle may.
    fn next_event(&self) -> Option<u64> {
        (self.pending > 0).then_some(self.cycle + 1)
    }

    fn pending(&self) -> usize {
        self.pending
    }

    fn stats(&self) -> DramStats {
        self.stats.clone()
    }

    fn final_stats(&mut self) -> Result<DramStats, DramError> {
        self.finish()
    }

    fn request_bytes(&self) -> u32 {
        self.request_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_agree_with_the_native_mapping() {
        let h = crate::dram::hbm::load_dram_preset("hbm2-8gb-dramsim3").unwrap();
        let ini = dramsim3_ini(&h).unwrap();
        // 2 KB pages x 32768 rows x 16 banks = 1024 MB per rank; one rank; DRAMsim3 doubles
        // the HBM column count it reads.
        assert!(ini.contains("channel_size = 1024\n"), "{ini}");
        assert!(ini.contains("columns = 64\n"), "{ini}");
        assert!(ini.contains("address_mapping = rorabgbachco\n"));
        let d = Dramsim3Dram::new(&h, 64).unwrap();
        assert!(d.dir.join("config.ini").is_file());
        let dir = d.dir.clone();
        drop(d);
        assert!(!dir.exists());
    }
}
