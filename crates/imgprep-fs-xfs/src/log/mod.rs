//! The internal log. A filesystem that was not unmounted cleanly has committed transactions in
//! its log that may not have reached their home blocks; Linux replays them when it mounts it.
//! This module finds the log's head and tail as the kernel does (cycle numbers, record headers,
//! the unmount record, CRC checks that trim torn writes) and replays the committed transactions
//! (buffer, inode and inode-creation items, honouring buffer cancellations and the LSNs already
//! on disk) into an in-memory [`Overlay`] that every read of the filesystem then consults first.
//! Nothing is written.
//!
//! What the kernel does after replaying (re-running unfinished intents such as extent frees,
//! freeing unlinked inodes) is not done; unfinished intents are reported. A log that cannot be
//! replayed leaves the metadata as last written in place, and [`LogState`] says why.

mod find;
mod record;
mod replay;
#[cfg(test)]
mod tests;

use imgprep_io::ReadAt;

use crate::error::{Error, Result};
use crate::overlay::{BB, Overlay};
use crate::sb::Superblock;

/// Log incompatible features whose records this reader replays (logged extended attribute
/// intents, exchange-mapping intents: both are intents, reported when unfinished).
const LOG_INCOMPAT_KNOWN: u32 = 0x3;

/// State of the filesystem's log, as found when opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogState {
    /// The last record is an unmount record, or the log is zeroed: the metadata is complete.
    Clean,
    /// The filesystem was not unmounted cleanly and its log was replayed in memory, as Linux
    /// replays it when mounting.
    Replayed {
        /// Committed transactions (checkpoints) replayed.
        transactions: u64,
        /// Intents whose work was logged as pending and never logged as done, which Linux
        /// re-runs after replaying and this reader does not: (kind, count), e.g.
        /// `("extent-free", 2)`. Extent frees only change free space; block-mapping,
        /// attribute and exchange intents change files.
        unfinished: Vec<(&'static str, u64)>,
    },
    /// The filesystem was not unmounted cleanly and the log was not replayed; the reader shows
    /// the metadata as last written in place, without the changes only the log holds.
    NotReplayed {
        /// Why.
        reason: String,
    },
    /// The log is on another device, which this reader does not read; its state is unknown.
    External,
}

impl LogState {
    /// The filesystem-independent form.
    pub fn to_log_replay(&self) -> imgprep_fs::LogReplay {
        let log = "XFS log".to_owned();
        match self {
            LogState::Clean => imgprep_fs::LogReplay::Clean,
            LogState::Replayed {
                transactions,
                unfinished,
            } => imgprep_fs::LogReplay::Replayed {
                log,
                applied: format!("{transactions} transaction{}", plural(*transactions)),
                unfinished: (!unfinished.is_empty()).then(|| {
                    unfinished
                        .iter()
                        .map(|(kind, n)| format!("{n} {kind} intent{}", plural(*n)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            },
            LogState::NotReplayed { reason } => imgprep_fs::LogReplay::NotReplayed {
                log,
                reason: reason.clone(),
            },
            LogState::External => imgprep_fs::LogReplay::NotReplayed {
                log,
                reason: "it is on an external log device, which is not read; the filesystem may \
                         or may not have been unmounted cleanly"
                    .into(),
            },
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Why the log could not be replayed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The log cannot be replayed (damaged, or holding something this reader does not replay):
    /// the filesystem is shown unreplayed, with this reason.
    Log(String),
    /// Replaying would take more memory than allowed: opening fails with this error.
    Fatal(Error),
}

pub(crate) type R<T> = std::result::Result<T, Fail>;

pub(crate) fn bad(detail: impl Into<String>) -> Fail {
    Fail::Log(detail.into())
}

/// The log as a circular run of basic blocks on the data device.
pub(crate) struct LogDev<'a> {
    dev: &'a dyn ReadAt,
    /// Byte offset of the log's first block.
    start: u64,
    /// Basic blocks in the log.
    pub(crate) bbs: u64,
    pub(crate) sb: &'a Superblock,
    /// Check record CRCs (off only to look at damaged logs: no torn-write detection then).
    pub(crate) verify: bool,
}

impl LogDev<'_> {
    /// `n` basic blocks from log block `blk`, which must lie inside the log.
    pub(crate) fn read(&self, blk: u64, n: u64) -> R<Vec<u8>> {
        if n == 0 || blk >= self.bbs || n > self.bbs - blk {
            return Err(bad(format!(
                "log blocks {blk}..{} lie outside the log's {} blocks",
                blk.saturating_add(n),
                self.bbs
            )));
        }
        let offset = self.start + blk * BB;
        imgprep_io::read_vec(self.dev, offset, n * BB, 4 << 20, "XFS log blocks")
            .map_err(|e| bad(format!("reading log block {blk} at {offset:#x}: {e}")))
    }

    /// `n` basic blocks from log block `blk` (taken modulo the log size), wrapping around the
    /// physical end of the log.
    pub(crate) fn read_wrapped(&self, blk: u64, n: u64) -> R<Vec<u8>> {
        if n > self.bbs {
            return Err(bad(format!(
                "{n} log blocks asked for, more than the log's {}",
                self.bbs
            )));
        }
        let blk = blk % self.bbs;
        let first = n.min(self.bbs - blk);
        let mut out = self.read(blk, first)?;
        if first < n {
            out.extend(self.read(0, n - first)?);
        }
        Ok(out)
    }
}

/// The result of looking at (and maybe replaying) the log.
pub(crate) struct Recovered {
    pub(crate) state: LogState,
    pub(crate) overlay: Overlay,
}

/// Looks at the internal log and, when it holds committed transactions and `replay` is on,
/// replays them in memory. With `verify` off, record CRCs are not checked.
pub(crate) fn recover(
    dev: &dyn ReadAt,
    sb: &Superblock,
    replay: bool,
    verify: bool,
) -> Result<Recovered> {
    let unreplayed = |reason: String| Recovered {
        state: LogState::NotReplayed { reason },
        overlay: Overlay::default(),
    };
    if sb.logstart == 0 {
        return Ok(Recovered {
            state: LogState::External,
            overlay: Overlay::default(),
        });
    }
    let Some(start) = sb.fsb_to_byte(sb.logstart) else {
        return Ok(unreplayed(format!(
            "the log starts at block {:#x}, outside the filesystem",
            sb.logstart
        )));
    };
    let bbs = (u64::from(sb.logblocks) << sb.blocklog) / BB;
    if bbs < 64 {
        return Ok(unreplayed(format!(
            "the log is {bbs} basic blocks long, too short to hold a record"
        )));
    }
    let log = LogDev {
        dev,
        start,
        bbs,
        sb,
        verify,
    };
    let range = match find::head_and_tail(&log) {
        Ok(None) => {
            return Ok(Recovered {
                state: LogState::Clean,
                overlay: Overlay::default(),
            });
        }
        Ok(Some(r)) => r,
        Err(Fail::Log(reason)) => return Ok(unreplayed(reason)),
        Err(Fail::Fatal(e)) => return Err(e),
    };
    if !replay {
        return Ok(unreplayed("replay was turned off".into()));
    }
    if sb.log_incompat & !LOG_INCOMPAT_KNOWN != 0 {
        return Ok(unreplayed(format!(
            "the log uses incompatible log features {:#x}",
            sb.log_incompat & !LOG_INCOMPAT_KNOWN
        )));
    }
    match replay::run(&log, dev, range) {
        Ok(r) => Ok(Recovered {
            state: LogState::Replayed {
                transactions: r.transactions,
                unfinished: r.unfinished,
            },
            overlay: r.overlay,
        }),
        Err(Fail::Log(reason)) => Ok(unreplayed(reason)),
        Err(Fail::Fatal(e)) => Err(e),
    }
}
