//! Where the program runs: in a non-root cell, or natively on QEMU.
//!
//! A non-root inmate is linked at guest-physical 0 exactly when it is built
//! for a cell (`INMATE_BASE` unset); a native build is linked in RAM. Only a
//! cell has its comm region at 0x8000_0000 — natively, with 1 GiB of RAM,
//! that address is unmapped and reading it aborts — so the link address
//! decides whether the region may be read at all.
use crate::comm::{CommRegion, COMM_REGION_BASE};

/// True when this program was linked at 0, i.e. built to run in a cell.
pub fn linked_for_cell() -> bool {
    crate::boot::image_base() == 0
}

/// The cell's comm region, if this is a cell and the page carries `JHCOMM`.
pub fn comm_region() -> Option<CommRegion> {
    if !linked_for_cell() {
        return None;
    }
    // SAFETY: a cell's config maps its comm region page at COMM_REGION_BASE
    // (contracts.md), readable and writable, for the cell's lifetime.
    let comm = unsafe { CommRegion::at(COMM_REGION_BASE) };
    comm.is_valid().then_some(comm)
}

/// The root-shared page of a test cell (configs/test-*.toml map one at
/// [`crate::shared::CELL_SHARED_PAGE`]); `None` when not built for a cell.
pub fn shared_page() -> Option<crate::shared::SharedPage> {
    if !linked_for_cell() {
        return None;
    }
    // SAFETY: the test cells' configs map a read-write ROOTSHARED page at
    // CELL_SHARED_PAGE for the cell's lifetime; only test inmates call this.
    Some(unsafe { crate::shared::SharedPage::at(crate::shared::CELL_SHARED_PAGE) })
}
