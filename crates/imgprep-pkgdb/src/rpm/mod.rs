//! rpm: the header blob format and the three database formats that store such blobs.

pub(crate) mod bdb;
pub(crate) mod header;
pub(crate) mod ndb;
pub(crate) mod sqlite;

pub(crate) use header::MAX_HEADER_SIZE;

use crate::{Listing, Problem};

/// Parses one stored header blob into the listing: a package, or a problem at `offset`.
fn add_header(listing: &mut Listing, blob: &[u8], offset: u64, record: Option<u64>) {
    match header::rpm_header(blob) {
        Ok(p) => listing.push(p, offset),
        Err(error) => listing.problem(Problem {
            offset,
            record,
            error,
        }),
    }
}

/// Sorts a listing of rpm packages.
fn finish(mut listing: Listing) -> Listing {
    listing.sort(crate::version::rpmvercmp);
    listing
}
