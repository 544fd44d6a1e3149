//! Global hypervisor state set up once by the first CPU: where hypervisor
//! memory is, the header layout, the system configuration, the page pool.

use crate::layout::Layout;
use crate::mm::frame::FramePool;
use crate::sync::{Mutex, Once};
use core::sync::atomic::{AtomicU64, Ordering};

/// EL2 virtual address of the image start (linear map of hypervisor memory).
pub const VIRT_BASE: u64 = 0x0000_ffff_c000_0000;
/// EL2 virtual addresses for device mappings (UART, GIC).
pub const IO_BASE: u64 = 0x0000_ffff_e000_0000;

/// Facts fixed at enable time.
#[derive(Debug)]
pub struct Hv {
    pub layout: Layout,
    pub phys_base: u64,
    pub hv_size: u64,
    pub online_cpus: u32,
    pub boot_first: bool,
    /// The system configuration, as placed in hypervisor memory.
    pub config: &'static [u8],
    /// Its virtual PCI host, read once at enable (create and start need it
    /// and should not parse the system configuration again).
    pub pci: Option<syshyper_config::ivshmem::VirtualHost>,
    /// Its GIC: (gic_version, maintenance_irq, gicd_base, gicr_base), read
    /// once at enable for the same reason.
    pub gic: (u8, u8, u64, u64),
    /// GICv2's (gicc_base, gich_base, gicv_base); unused with GICv3.
    pub gic_v2: (u64, u64, u64),
}

static HV: Once<Hv> = Once::new();

/// Publishes the global state (first CPU, once).
pub fn set(hv: Hv) -> &'static Hv {
    let hv = HV.call_once(|| hv);
    PHYS_VIRT_OFFSET.store(hv.phys_virt_offset(), Ordering::Release);
    hv
}

/// [`Hv::phys_virt_offset`] of the global state, as a plain atomic for
/// the hot paths (page-table walks); 0 before [`set`]. Every CPU reads it
/// only after global init, whose completion it observed with acquire.
static PHYS_VIRT_OFFSET: AtomicU64 = AtomicU64::new(0);

/// See [`PHYS_VIRT_OFFSET`].
#[inline(always)]
pub fn phys_virt_offset() -> u64 {
    PHYS_VIRT_OFFSET.load(Ordering::Relaxed)
}

/// The global state, once set.
pub fn get() -> Option<&'static Hv> {
    HV.get()
}

/// The page pool.
pub static POOL: Mutex<Option<FramePool>> = Mutex::new(None);

impl Hv {
    /// EL2 virtual address of a physical address inside hypervisor memory.
    pub fn phys_to_virt(&self, pa: u64) -> u64 {
        pa - self.phys_base + VIRT_BASE
    }

    /// PHYS_VIRT_OFFSET: virtual minus physical.
    pub fn phys_virt_offset(&self) -> u64 {
        VIRT_BASE.wrapping_sub(self.phys_base)
    }
}

/// (pool pages, used pages).
pub fn pool_usage() -> (usize, usize) {
    POOL.lock().as_ref().map_or((0, 0), |p| (p.total(), p.used()))
}
