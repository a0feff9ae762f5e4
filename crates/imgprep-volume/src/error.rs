use std::io;

/// Everything that can go wrong while reading partition tables, LVM2 metadata or LUKS headers.
///
/// Most of these end up inside a [`crate::Note`] (the device they concern is skipped, the rest of
/// the disk still works); [`crate::scan`] returns one as `Err` only when a disk cannot be read at
/// all or its partition table is corrupt beyond repair.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying source failed to deliver bytes.
    #[error("cannot read {what} at {offset:#x}")]
    Read {
        what: &'static str,
        offset: u64,
        #[source]
        source: io::Error,
    },

    /// A fixed-layout on-disk structure holds a value it must not hold.
    #[error("{what} at {offset:#x}: {field} is {found}, expected {expected}")]
    Field {
        what: &'static str,
        offset: u64,
        field: &'static str,
        expected: String,
        found: String,
    },

    /// A stored checksum does not match the bytes it covers.
    #[error("{what} at {offset:#x}: checksum is {found:#010x}, expected {expected:#010x}")]
    Checksum {
        what: &'static str,
        offset: u64,
        expected: u32,
        found: u32,
    },

    /// Both GPT headers (primary at LBA 1, backup at the last LBA) are unusable.
    #[error("no valid GPT header: primary: {primary}; backup: {backup}")]
    GptBothBad {
        primary: Box<Error>,
        backup: Box<Error>,
    },

    /// An MBR extended-partition chain visits the same EBR twice.
    #[error("extended partition chain loops: EBR at {offset:#x} was already visited")]
    EbrLoop { offset: u64 },

    /// An MBR extended-partition chain is longer than any real one.
    #[error(
        "extended partition chain at {offset:#x} is longer than {limit} EBRs; the rest is ignored"
    )]
    EbrChainTooLong { offset: u64, limit: usize },

    /// More partitions than Linux creates for one disk.
    #[error(
        "partition table entry {number} at {offset:#x} is beyond the {limit} partitions Linux creates; ignored"
    )]
    TooManyPartitions {
        number: u64,
        offset: u64,
        limit: u32,
    },

    /// A partition starts at or after the end of its disk (Linux ignores it).
    #[error(
        "partition {number} starts at {start:#x}, at or past the end of the disk ({disk_size:#x}); ignored"
    )]
    PartitionBeyondEnd {
        number: u32,
        start: u64,
        disk_size: u64,
    },

    /// A partition starts inside its disk but ends after it (Linux truncates it).
    #[error(
        "partition {number} ends at {end:#x}, past the end of the disk ({disk_size:#x}); truncated"
    )]
    PartitionTruncated {
        number: u32,
        end: u64,
        disk_size: u64,
    },

    /// A GPT entry that Linux skips (its range lies outside the disk or is reversed).
    #[error(
        "GPT entry {index} at {offset:#x}: LBA range {first}..={last} is not inside the disk (last LBA {last_lba}); ignored"
    )]
    GptEntryOutside {
        index: u32,
        offset: u64,
        first: u64,
        last: u64,
        last_lba: u64,
    },

    /// The LVM2 text metadata is not well formed.
    #[error("LVM metadata text, line {line} column {column}: expected {expected}, found {found}")]
    Syntax {
        line: u32,
        column: u32,
        expected: &'static str,
        found: String,
    },

    /// The LVM2 text metadata nests sections deeper than any real metadata.
    #[error("LVM metadata text, line {line}: sections nest deeper than {limit}")]
    TooDeep { line: u32, limit: usize },

    /// The LVM2 text metadata holds more items than any real metadata.
    #[error("LVM metadata text, line {line}: more than {limit} items")]
    TooManyItems { line: u32, limit: usize },

    /// The LVM2 text metadata parses but does not describe a usable volume group.
    #[error("LVM metadata of VG {vg:?}: {path}: expected {expected}, found {found}")]
    Metadata {
        vg: String,
        path: String,
        expected: String,
        found: String,
    },

    /// A PV that a VG's metadata lists was not found on any disk.
    #[error("PV {uuid} ({hint}) of VG {vg:?} is missing")]
    PvMissing {
        vg: String,
        uuid: String,
        hint: String,
    },

    /// A segment of an LV maps extents past the end of the PV that holds them.
    #[error(
        "LV {lv:?}: segment {segment} maps {what} past the end of PV {pv:?} ({end:#x} > {limit:#x})"
    )]
    SegmentPastEnd {
        lv: String,
        segment: String,
        pv: String,
        what: &'static str,
        end: u64,
        limit: u64,
    },

    /// An LV uses a segment type this crate does not read (thin, RAID, mirror, snapshot, ...).
    #[error("LV {lv:?} is present but unreadable: segment type {segtype:?} is not supported")]
    UnsupportedSegment { lv: String, segtype: String },

    /// A LUKS device given a key could not be unlocked (wrong passphrase, a keyslot costlier
    /// than the limits, a damaged or unsupported header).
    #[error("{device}: cannot unlock LUKS device")]
    Unlock {
        device: String,
        #[source]
        source: imgprep_luks::Error,
    },

    /// A LUKS header that could not be read.
    #[error(transparent)]
    LuksHeader(imgprep_luks::Error),

    /// An LV is the copy-on-write store of an old-style snapshot; its bytes are not the snapshot.
    #[error("LV {lv:?} is present but unreadable: it is a snapshot of {origin:?}")]
    Snapshot { lv: String, origin: String },
}

impl Error {
    pub(crate) fn read(what: &'static str, offset: u64, source: io::Error) -> Self {
        Error::Read {
            what,
            offset,
            source,
        }
    }

    pub(crate) fn field(
        what: &'static str,
        offset: u64,
        field: &'static str,
        expected: impl ToString,
        found: impl ToString,
    ) -> Self {
        Error::Field {
            what,
            offset,
            field,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}
