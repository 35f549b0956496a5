//! The DRAM commands a controller issued, in issue order, for replay by the legality checker.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CommandKind {
    Activate,
    Read,
    Write,
    /// Read with auto-precharge (closed-page policy).
    ReadAp,
    /// Write with auto-precharge (closed-page policy).
    WriteAp,
    Precharge,
    /// All-bank refresh of one rank.
    Refresh,
    /// Refresh of one bank.
    RefreshBank,
}

impl CommandKind {
    /// Column commands use the column command bus and the data bus.
    pub fn is_column(self) -> bool {
        matches!(
            self,
            Self::Read | Self::Write | Self::ReadAp | Self::WriteAp
        )
    }

    pub fn is_read(self) -> bool {
        matches!(self, Self::Read | Self::ReadAp)
    }

    pub fn is_write(self) -> bool {
        matches!(self, Self::Write | Self::WriteAp)
    }
}

/// One issued command. `bank_group`/`bank` are meaningless for `Refresh` (rank-wide), `row`
/// only for `Activate` and column commands, `column` only for column commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub cycle: u64,
    pub channel: u32,
    pub kind: CommandKind,
    pub rank: u32,
    pub bank_group: u32,
    pub bank: u32,
    pub row: u32,
    pub column: u32,
}
