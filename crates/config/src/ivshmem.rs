//! The ivshmem v2 rules of docs/ivshmem.md, shared by `config check` and
//! the hypervisor (which refuses a cell, or the root at enable, that
//! breaks them): one function describes a cell's ivshmem devices and
//! checks each on its own, another checks two peers of one link against
//! each other. Plain data, no allocation.

use crate::flags::{ivshmem::COMMON_REGIONS, mem, pci::TYPE_IVSHMEM};
use crate::layout::MemoryRegion;
use crate::CellConfig;

#[path = "ivshmem_error.rs"]
mod error;
pub use error::{IvshmemError, LinkField};

/// Most peers a link may have here (the ID space of the doorbell's
/// 16-bit target field is larger; 16 keeps a state table in 64 bytes).
pub const MAX_PEERS: u8 = 16;
/// Fewest peers of a link.
pub const MIN_PEERS: u8 = 2;
/// Smallest register BAR (the registers take 4 KiB).
pub const MIN_BAR_SIZE: u32 = 0x1000;

/// One section of a link's shared memory as a cell maps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub phys: u64,
    pub virt: u64,
    pub size: u64,
    pub flags: u64,
}

impl Section {
    fn of(m: &MemoryRegion) -> Self {
        Self { phys: m.phys_start.get(), virt: m.virt_start.get(), size: m.size.get(), flags: m.flags.get() }
    }

    fn writable(&self) -> bool {
        self.flags & mem::WRITE != 0
    }
}

/// The virtual PCI host of the system configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtualHost {
    /// Guest-physical base of the ECAM.
    pub mmconfig_base: u64,
    /// Last bus number (the ECAM spans `end_bus + 1` MiB).
    pub end_bus: u8,
}

impl VirtualHost {
    /// Bytes of the ECAM.
    pub fn ecam_size(&self) -> u64 {
        (u64::from(self.end_bus).saturating_add(1)) << 20
    }
}

/// One ivshmem function of a cell, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ivshmem {
    /// Index in the cell's `pci_devices`.
    pub index: u32,
    pub domain: u16,
    pub bdf: u16,
    /// `bar_mask[0]`: the register BAR's size mask.
    pub bar_mask: u32,
    /// This peer's ID on the link.
    pub id: u8,
    pub peers: u8,
    pub protocol: u16,
    /// INTID of the function's INTx (32 + vpci_irq_base + pin - 1).
    pub intid: u32,
    pub state: Section,
    /// Size 0 when the configuration has the placeholder there.
    pub rw: Section,
    /// Output sections of peers 0..peers (the rest default).
    pub outputs: [Section; MAX_PEERS as usize],
}

impl Ivshmem {
    /// The interrupt pin of the function: (slot & 3) + 1 (INTA..INTD).
    pub fn pin(&self) -> u8 {
        pin_of(self.bdf)
    }

    /// Size of every output section.
    pub fn output_size(&self) -> u64 {
        self.outputs.first().map_or(0, |s| s.size)
    }

    /// The output sections of the link's peers.
    pub fn output_sections(&self) -> &[Section] {
        self.outputs.get(..usize::from(self.peers)).unwrap_or(&[])
    }
}

fn pin_of(bdf: u16) -> u8 {
    (((bdf >> 3) & 3) as u8).saturating_add(1)
}

/// Checks every ivshmem device of `cell` on its own (and bdfs within the
/// cell), handing each to `each` in `pci_devices` order. `host` is the
/// system's virtual PCI host (`None`: not virtual or no ECAM), `gicd_base`
/// the distributor whose irqchip entries grant interrupts.
pub fn describe(
    cell: &CellConfig<'_>,
    host: Option<VirtualHost>,
    gicd_base: u64,
    mut each: impl FnMut(Ivshmem),
) -> Result<(), IvshmemError> {
    let devices = cell.pci_devices();
    let regions = cell.memory_regions();
    for (index, d) in (0u32..).zip(devices) {
        // Functions of any type share the one config space (the virtual
        // host has one ECAM, whatever the domain field says): no two the
        // same bdf.
        let clash = (0u32..).zip(devices).take_while(|(j, _)| *j < index).find(|(_, o)| o.bdf.get() == d.bdf.get());
        if let Some((other, _)) = clash {
            return Err(IvshmemError::BdfClash { index, other, bdf: d.bdf.get() });
        }
        if d.pci_type != TYPE_IVSHMEM {
            continue;
        }
        let host = host.ok_or(IvshmemError::NoVirtualHost { index })?;
        let bdf = d.bdf.get();
        if (bdf >> 8) > u16::from(host.end_bus) {
            return Err(IvshmemError::BusBeyondEcam { index, bdf, end_bus: host.end_bus });
        }
        let peers = d.shmem_peers;
        if !(MIN_PEERS..=MAX_PEERS).contains(&peers) {
            return Err(IvshmemError::Peers { index, peers });
        }
        let id = d.shmem_dev_id;
        if id >= peers {
            return Err(IvshmemError::DevId { index, dev_id: id, peers });
        }
        let mask = d.bar_mask.first().map_or(0, |m| m.get());
        let size = (!mask).wrapping_add(1);
        if mask & 0xf != 0 || !size.is_power_of_two() || size < MIN_BAR_SIZE {
            return Err(IvshmemError::BarMask { index, mask });
        }
        let start = d.shmem_regions_start.get();
        let needed = COMMON_REGIONS.saturating_add(u32::from(peers));
        let available = u32::try_from(regions.len()).unwrap_or(u32::MAX);
        if u64::from(start).saturating_add(u64::from(needed)) > u64::from(available) {
            return Err(IvshmemError::RegionsStart { index, start, needed, available });
        }
        // In range: checked just above.
        // Sections are plain memory: a comm region skips the checks of
        // physical addresses (the hypervisor supplies its page), an IO
        // region is a device, a LOADABLE one goes back to the root at load.
        let region = |k: u32| -> Result<(u32, Section), IvshmemError> {
            let r = start.saturating_add(k);
            let m = regions.get(r as usize).ok_or(IvshmemError::RegionsStart { index, start, needed, available })?;
            let s = Section::of(m);
            if s.size != 0 && s.flags & (mem::COMM_REGION | mem::IO | mem::LOADABLE) != 0 {
                return Err(IvshmemError::SectionKind { index, region: r });
            }
            Ok((r, s))
        };
        let (sr, state) = region(0)?;
        if state.size < 4u64.saturating_mul(u64::from(peers)) || state.writable() || state.flags & mem::READ == 0 {
            return Err(IvshmemError::StateTable { index, region: sr });
        }
        let (rr, rw) = region(1)?;
        let mut next = state.virt.saturating_add(state.size);
        if rw.size != 0 {
            if rw.virt != next {
                return Err(IvshmemError::NotContiguous { index, region: rr });
            }
            next = next.saturating_add(rw.size);
        }
        let mut outputs = [Section::default(); MAX_PEERS as usize];
        let mut out_size = 0;
        for (peer, slot) in (0u8..peers).zip(outputs.iter_mut()) {
            let (or, out) = region(2u32.saturating_add(u32::from(peer)))?;
            if peer == 0 {
                out_size = out.size;
            }
            if out.size == 0 || out.size != out_size {
                return Err(IvshmemError::OutputSize { index, region: or });
            }
            if out.writable() != (peer == id) || out.flags & mem::READ == 0 {
                return Err(IvshmemError::OutputAccess { index, region: or, peer, own: id });
            }
            if out.virt != next {
                return Err(IvshmemError::NotContiguous { index, region: or });
            }
            next = next.saturating_add(out.size);
            *slot = out;
        }
        let pin = pin_of(bdf);
        let intid = 32u32.saturating_add(cell.vpci_irq_base()).saturating_add(u32::from(pin)).saturating_sub(1);
        let granted = intid < crate::flags::irq::END_SPI
            && cell
                .irqchips()
                .iter()
                .filter(|c| c.address.get() == gicd_base)
                .any(|c| c.granted().any(|i| i == intid));
        if !granted {
            return Err(IvshmemError::IntxNotGranted { index, intid });
        }
        each(Ivshmem {
            index,
            domain: d.domain.get(),
            bdf,
            bar_mask: mask,
            id,
            peers,
            protocol: d.shmem_protocol.get(),
            intid,
            state,
            rw,
            outputs,
        });
    }
    Ok(())
}

/// Checks `new` against `peer`, another cell's function on the same link
/// (same domain and bdf): the same number of peers, other IDs, and the
/// same physical address and size of every section.
pub fn check_link(new: &Ivshmem, peer: &Ivshmem) -> Result<(), IvshmemError> {
    let err = |what| IvshmemError::LinkMismatch { index: new.index, bdf: new.bdf, what };
    let same = |a: &Section, b: &Section| a.phys == b.phys && a.size == b.size;
    if new.peers != peer.peers {
        return Err(err(LinkField::Peers));
    }
    if new.id == peer.id {
        return Err(err(LinkField::Id));
    }
    if !same(&new.state, &peer.state) {
        return Err(err(LinkField::StateTable));
    }
    if !same(&new.rw, &peer.rw) {
        return Err(err(LinkField::RwSection));
    }
    let outs = new.output_sections().iter().zip(peer.output_sections());
    if let Some((p, _)) = (0u8..).zip(outs).find(|(_, (a, b))| !same(a, b)) {
        return Err(err(LinkField::Output(p)));
    }
    Ok(())
}

/// Checks that a non-root cell shares every section of `d` with the root
/// (ROOTSHARED), as Jailhouse's configurations do: the sections stay
/// mapped in the root and in every other peer.
pub fn check_rootshared(d: &Ivshmem) -> Result<(), IvshmemError> {
    let err = |section| IvshmemError::NotRootShared { index: d.index, section };
    let shared = |s: &Section| s.flags & mem::ROOTSHARED != 0;
    if !shared(&d.state) {
        return Err(err(LinkField::StateTable));
    }
    if d.rw.size != 0 && !shared(&d.rw) {
        return Err(err(LinkField::RwSection));
    }
    if let Some((p, _)) = (0u8..).zip(d.output_sections()).find(|(_, s)| !shared(s)) {
        return Err(err(LinkField::Output(p)));
    }
    Ok(())
}

/// The virtual PCI host a system configuration declares, if any.
pub fn virtual_host(system: &crate::SystemConfig<'_>) -> Option<VirtualHost> {
    let d = system.desc();
    (system.pci_mmconfig_base() != 0 && d.pci_is_virtual != 0)
        .then(|| VirtualHost { mmconfig_base: system.pci_mmconfig_base(), end_bus: d.pci_mmconfig_end_bus })
}

#[cfg(test)]
#[path = "ivshmem_tests.rs"]
mod tests;
