//! DRAMsim3-style address mapping: a string of six two-letter fields, most significant first.
//!
//! A byte address is first shifted right by log2(burst bytes) (the bytes one column command
//! moves: `bus_bits / 8 * burst_length`). The remaining bits are cut into fields from the
//! *right-most* field of the string upwards, each as wide as log2 of its count:
//! `ch` log2(channels), `ra` log2(ranks), `bg` log2(bank_groups), `ba` log2(banks_per_group),
//! `ro` log2(rows), `co` log2(columns) - log2(burst_length) (a burst covers `burst_length`
//! bus-width columns). Bits above all fields are ignored (the address wraps).
//!
//! Example, `arch/spatten.toml` (16 channels, 128 bit, BL2 -> 32 B bursts, 64 columns, 4x4
//! banks, 16384 rows, 1 rank) with `rorabacobgch`: offset [4:0], ch [8:5], bg [10:9],
//! co [15:11], ba [17:16], ra none, ro [31:18]. The same string is what DRAMsim3 reads.

use crate::config::HbmConfig;

/// Where one request lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub channel: u32,
    pub rank: u32,
    pub bank_group: u32,
    pub bank: u32,
    pub row: u32,
    /// Column in bursts (column address / burst_length).
    pub column: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    pos: u32,
    mask: u64,
}

impl Field {
    fn get(self, a: u64) -> u32 {
        ((a >> self.pos) & self.mask) as u32
    }
}

/// Decodes byte addresses into channel / rank / bank group / bank / row / column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMapping {
    shift_bits: u32,
    ch: Field,
    ra: Field,
    bg: Field,
    ba: Field,
    ro: Field,
    co: Field,
}

impl AddressMapping {
    /// Builds the mapping of a validated config (field names and power-of-two counts are
    /// checked by config validation).
    pub fn new(hbm: &HbmConfig) -> Self {
        let log2 = |v: u32| v.max(1).trailing_zeros();
        let width = |name: &str| -> u32 {
            match name {
                "ch" => log2(hbm.channels),
                "ra" => log2(hbm.ranks),
                "bg" => log2(hbm.bank_groups),
                "ba" => log2(hbm.banks_per_group),
                "ro" => log2(hbm.rows),
                "co" => log2(hbm.columns).saturating_sub(log2(hbm.burst_length)),
                _ => 0,
            }
        };
        let mut pos = 0u32;
        let mut fields = [Field { pos: 0, mask: 0 }; 6];
        let names = ["ch", "ra", "bg", "ba", "ro", "co"];
        let m = hbm.address_mapping.as_bytes();
        for i in (0..m.len() / 2).rev() {
            let name = std::str::from_utf8(&m[2 * i..2 * i + 2]).unwrap_or("");
            let w = width(name);
            if let Some(k) = names.iter().position(|n| *n == name) {
                fields[k] = Field {
                    pos,
                    mask: (1u64 << w) - 1,
                };
            }
            pos += w;
        }
        Self {
            shift_bits: log2(hbm.burst_bytes()),
            ch: fields[0],
            ra: fields[1],
            bg: fields[2],
            ba: fields[3],
            ro: fields[4],
            co: fields[5],
        }
    }

    pub fn channel_of(&self, addr: u64) -> u32 {
        self.ch.get(addr >> self.shift_bits)
    }

    pub fn locate(&self, addr: u64) -> Location {
        let a = addr >> self.shift_bits;
        Location {
            channel: self.ch.get(a),
            rank: self.ra.get(a),
            bank_group: self.bg.get(a),
            bank: self.ba.get(a),
            row: self.ro.get(a),
            column: self.co.get(a),
        }
    }

    /// Lowest address bit of each field, in the order ch, ra, bg, ba, ro, co (for docs/tests).
    pub fn field_positions(&self) -> [u32; 6] {
        let s = self.shift_bits;
        [self.ch, self.ra, self.bg, self.ba, self.ro, self.co].map(|f| f.pos + s)
    }
}
