//! Boot-first: which CPUs exist and their affinities, from the boot
//! loader's device tree (the root's x0, header `root_boot_arg`), not from
//! arithmetic on a CPU number. Each started CPU later records what its own
//! MPIDR_EL1 says (`PerCpu::mpidr`); this table only names the targets of
//! PSCI CPU_ON, and the index each CPU gets (carried in the context id).

use crate::fdt_cpus::{self, HEADER_SIZE};
use crate::guestmem::copy_from_root;

/// Largest structure or strings block read (QEMU virt's: 7.5 KiB and
/// 0.5 KiB); a larger one is refused rather than filling the page pool.
const MAX_BLOCK: u32 = 64 * 1024;

/// Fills `out` with the CPU index → MPIDR table (index 0: this, the
/// booting CPU) and returns its length: 1 (this CPU alone) when `dtb` is
/// no device tree in root memory or lists no CPU that matches this one.
pub fn table(dtb: u64, out: &mut [u64]) -> usize {
    let me = crate::arch::mpidr();
    let mut tree = [0u64; 64];
    let n = read_tree(dtb, &mut tree).unwrap_or_else(|why| {
        log::warn!("boot-first: no CPU list from a device tree at {dtb:#x} ({why}): starting this CPU only");
        0
    });
    let len = fdt_cpus::boot_order(tree.get(..n).unwrap_or(&[]), me, out);
    if n != 0 && len == 1 {
        log::warn!("boot-first: the device tree does not list this CPU (MPIDR {me:#x}): starting it only");
    }
    len
}

fn read_tree(dtb: u64, tree: &mut [u64]) -> Result<usize, &'static str> {
    if dtb == 0 {
        return Err("none given");
    }
    let hdr = copy_from_root(dtb, HEADER_SIZE).map_err(|_| "not in root memory")?;
    let b = fdt_cpus::blocks(&hdr).ok_or("no device tree header")?;
    let block = |(off, len): (u32, u32)| {
        if len > MAX_BLOCK {
            return Err("block too large");
        }
        copy_from_root(dtb.saturating_add(u64::from(off)), len as usize).map_err(|_| "block not in root memory")
    };
    let structs = block(b.structs)?;
    let strings = block(b.strings)?;
    fdt_cpus::cpu_mpidrs(&structs, &strings, tree).ok_or("malformed structure block")
}
