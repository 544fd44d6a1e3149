//! The validated description of a cell: its configuration parsed once, at
//! create, into typed regions, interrupts and CPUs. Nothing after create
//! looks at configuration bytes again, and the bytes are not kept.
//!
//! Pure logic, host-tested: validation needs only the [`Platform`] facts.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

extern crate alloc;

use crate::error::{refuse, Error, Result};
use crate::mm::paging::{Attrs, MemType};
use crate::mm::PAGE_SIZE;
use crate::sysconfig::{mem_flags, CellView};
use alloc::vec::Vec;
use crate::pci::passthru::{Cap, PtDev};
use syshyper_config::ivshmem::{self, Ivshmem, VirtualHost};

/// Cell flags the hypervisor understands (Jailhouse's cell-config.h, and
/// sysHyper's `direct_irqs` extension).
pub const CELL_FLAGS_KNOWN: u32 =
    0x1 | 0x2 | 0x4 | syshyper_config::flags::cell::DIRECT_IRQS | 0x4000_0000 | 0x8000_0000;
/// Memory flags the hypervisor understands: READ..NO_HUGEPAGES, IO_UNALIGNED,
/// the four access widths.
pub const MEM_FLAGS_KNOWN: u64 = 0x1ff | 0x8000 | (0xf << 16);
/// Largest guest-physical address + 1 (39-bit IPA space of stage 2).
pub const IPA_LIMIT: u64 = 1 << 39;
/// First and last+1 shared peripheral interrupt.
pub const SPI_RANGE: core::ops::Range<u32> = 32..1020;

/// A physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// `[start, start + size)`, or `None` on wrap-around.
    pub fn sized(start: u64, size: u64) -> Option<Self> {
        Some(Self { start, end: start.checked_add(size)? })
    }

    /// Whether the two ranges share a byte.
    pub fn overlaps(&self, o: &Span) -> bool {
        self.start < o.end && o.start < self.end
    }

    /// Whether `o` lies wholly inside.
    pub fn contains(&self, o: &Span) -> bool {
        self.start <= o.start && o.end <= self.end
    }

    /// Bytes covered.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether it covers nothing.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The common part, if any.
    pub fn intersect(&self, o: &Span) -> Option<Span> {
        let s = Span { start: self.start.max(o.start), end: self.end.min(o.end) };
        (!s.is_empty()).then_some(s)
    }
}

/// Facts about the machine a description is validated against.
#[derive(Clone, Debug)]
pub struct Platform {
    /// Hypervisor memory.
    pub hv: Span,
    /// Device ranges the hypervisor keeps for itself and traps (GICD, GICR).
    pub reserved_io: Vec<Span>,
    /// The distributor's base, which irqchip entries must name.
    pub gicd_base: u64,
    /// CPUs the hypervisor was started for.
    pub max_cpus: u64,
    /// The virtual PCI host (ECAM), if the system configuration has one.
    pub pci: Option<VirtualHost>,
    /// The real PCI host bridge's ECAM, whose devices can be passed
    /// through (`pci::passthru::PHYS_ECAM`).
    pub phys_ecam: Option<Span>,
    /// The GICv3 ITS the hypervisor owns (both frames), if the system
    /// configuration names one: no region may map it, and a passed-through
    /// device's listed MSI/MSI-X capabilities are shown only with it
    /// (docs/passthrough.md "MSI").
    pub its: Option<Span>,
}

/// What a region is to the hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Page-granular memory that moves from the root to the cell.
    Owned,
    /// Page-granular memory the cell shares with the root (ROOTSHARED).
    Shared,
    /// The communication page, backed by a hypervisor page.
    Comm,
    /// Not page-granular: trapped and forwarded access by access.
    SubPage,
}

/// One memory region of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub phys: u64,
    pub virt: u64,
    pub size: u64,
    pub flags: u64,
    pub kind: Kind,
}

impl Region {
    /// The physical range.
    pub fn phys_span(&self) -> Span {
        // Checked for wrap-around when the region was described.
        Span { start: self.phys, end: self.phys.saturating_add(self.size) }
    }

    /// The guest-physical range.
    pub fn virt_span(&self) -> Span {
        Span { start: self.virt, end: self.virt.saturating_add(self.size) }
    }

    /// Stage-2 attributes from the region's flags.
    pub fn attrs(&self) -> Attrs {
        attrs_of(self.flags)
    }

    /// LOADABLE: the root may map it again between set_loadable and start.
    pub fn loadable(&self) -> bool {
        self.flags & mem_flags::LOADABLE != 0
    }
}

/// Stage-2 attributes for configuration flags.
pub fn attrs_of(flags: u64) -> Attrs {
    Attrs {
        read: flags & mem_flags::READ != 0,
        write: flags & mem_flags::WRITE != 0,
        exec: flags & mem_flags::EXECUTE != 0,
        mem: if flags & mem_flags::IO != 0 { MemType::Device } else { MemType::Normal },
    }
}

/// A set of interrupt ids (0..1024).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IrqSet([u32; 32]);

impl IrqSet {
    /// Adds `irq` (ignored beyond 1023).
    pub fn insert(&mut self, irq: u32) {
        if let Some(w) = self.0.get_mut((irq / 32) as usize) {
            *w |= 1 << (irq % 32);
        }
    }

    /// Whether `irq` is in the set.
    pub fn contains(&self, irq: u32) -> bool {
        self.0.get((irq / 32) as usize).is_some_and(|w| w & (1 << (irq % 32)) != 0)
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        // Word by word, set bits only: a cell's few SPIs cost a few steps,
        // not 1024 tests.
        (0u32..).step_by(32).zip(self.0).flat_map(|(base, word)| {
            let mut bits = word;
            core::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros();
                    bits &= bits.wrapping_sub(1);
                    base | b
                })
            })
        })
    }
}

/// A cell as the hypervisor knows it after create.
#[derive(Clone, Debug)]
pub struct CellDesc {
    name: [u8; 32],
    name_len: usize,
    pub flags: u32,
    /// Bit n: CPU n.
    pub cpus: u64,
    pub reset_address: u64,
    pub regions: Vec<Region>,
    /// SPIs granted through irqchip entries.
    pub spis: IrqSet,
    /// The console descriptor, copied into the comm region.
    pub console: [u8; 32],
    pub vpci_irq_base: u32,
    /// The ivshmem functions, checked one by one (docs/ivshmem.md); the
    /// checks across cells of a link run when the cell joins its links.
    pub ivshmem: Vec<Ivshmem>,
    /// Real PCI devices passed through (type "device"), shown on the
    /// virtual PCI host at their own BDF (docs/passthrough.md).
    pub passthru: Vec<PtDev>,
    /// The stream ids (SMMUv3: PCI requester ids) of the cell's DMA
    /// devices, sorted, each once.
    pub streams: Vec<u32>,
}

fn bad(why: core::fmt::Arguments) -> Error {
    refuse(Error::Invalid, why)
}

fn page_aligned(r: &crate::sysconfig::MemRegion) -> bool {
    (r.phys_start | r.virt_start | r.size).is_multiple_of(PAGE_SIZE)
}

impl CellDesc {
    /// The name.
    pub fn name(&self) -> &str {
        core::str::from_utf8(self.name.get(..self.name_len).unwrap_or(&[])).unwrap_or("")
    }

    fn header(view: &CellView<'_>) -> Result<Self> {
        let n = view.name().as_bytes();
        let mut name = [0u8; 32];
        let name_len = n.len().min(31);
        name.get_mut(..name_len).ok_or(Error::Invalid)?.copy_from_slice(n.get(..name_len).ok_or(Error::Invalid)?);
        Ok(Self {
            name,
            name_len,
            flags: view.flags(),
            cpus: view.cpu_mask(),
            reset_address: view.cpu_reset_address(),
            regions: Vec::new(),
            spis: IrqSet::default(),
            console: view.console_bytes(),
            vpci_irq_base: view.vpci_irq_base(),
            ivshmem: Vec::new(),
            passthru: Vec::new(),
            streams: {
                let mut v: Vec<u32> = view.stream_ids().collect();
                v.sort_unstable();
                v.dedup();
                v
            },
        })
    }

    /// Describes and checks the configuration's ivshmem functions.
    /// `root`: the root's description for a non-root cell (its sections
    /// must lie in root memory), `None` for the root itself.
    fn describe_ivshmem(&mut self, view: &CellView<'_>, p: &Platform, root: Option<&CellDesc>) -> Result<()> {
        let Some(cfg) = view.config() else { return Ok(()) };
        let count = cfg.pci_devices().iter().filter(|d| d.pci_type == syshyper_config::flags::pci::TYPE_IVSHMEM).count();
        self.ivshmem.try_reserve_exact(count)?;
        let list = &mut self.ivshmem;
        // Within the capacity reserved above: `push` does not allocate.
        ivshmem::describe(cfg, p.pci, p.gicd_base, |d| {
            if list.len() < count {
                list.push(d);
            }
        })
        .map_err(|e| bad(format_args!("{e}")))?;
        // The hypervisor writes the state table and the peers map every
        // section: whatever the region checks above did (the root's
        // regions over hypervisor memory or the GIC are only cut out of
        // its map), no section may lie there, and a cell's must be memory
        // the root may share.
        for d in &self.ivshmem {
            let sections = [d.state, d.rw].into_iter().chain(d.output_sections().iter().copied());
            for s in sections.filter(|s| s.size != 0) {
                let span = Span::sized(s.phys, s.size)
                    .ok_or_else(|| bad(format_args!("ivshmem {:#x}: section {:#x}+{:#x} wraps around", d.bdf, s.phys, s.size)))?;
                check_not_reserved(&span, p)?;
                if root.is_some_and(|r| !r.covers(&span)) {
                    return Err(bad(format_args!(
                        "ivshmem {:#x}: section {:#x}-{:#x} is not root cell memory",
                        d.bdf, span.start, span.end
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether the cell has functions on the virtual PCI host.
    pub fn has_pci(&self) -> bool {
        !self.ivshmem.is_empty() || !self.passthru.is_empty()
    }

    /// Describes and checks the configuration's passed-through devices:
    /// on the virtual host's buses, not where an ivshmem function of the
    /// cell is, each at most once, their capabilities well formed, their
    /// page of the real ECAM root memory (the root gives it up).
    fn describe_passthru(&mut self, view: &CellView<'_>, p: &Platform, root: &CellDesc) -> Result<()> {
        use syshyper_config::flags::pci::TYPE_DEVICE;
        let Some(cfg) = view.config() else { return Ok(()) };
        let devs = cfg.pci_devices().iter().filter(|d| d.pci_type == TYPE_DEVICE);
        let count = devs.clone().count();
        if count == 0 {
            return Ok(());
        }
        let (Some(host), Some(ecam)) = (p.pci, p.phys_ecam) else {
            return Err(bad(format_args!("PCI devices need a virtual PCI host (pci_mmconfig_base) and a physical host bridge")));
        };
        self.passthru.try_reserve_exact(count)?;
        for d in devs {
            let bdf = d.bdf.get();
            if bdf >> 8 > u16::from(host.end_bus) {
                return Err(bad(format_args!("PCI device {bdf:#06x}: bus beyond the virtual host's last bus {}", host.end_bus)));
            }
            if self.ivshmem.iter().any(|i| i.bdf == bdf) || self.passthru.iter().any(|x| x.bdf == bdf) {
                return Err(bad(format_args!("PCI device {bdf:#06x}: a second function at that BDF")));
            }
            let page = u64::from(bdf) << 12;
            let cfg_page = ecam.start.checked_add(page).filter(|a| a.saturating_add(PAGE_SIZE) <= ecam.end);
            let Some(cfg_page) = cfg_page.filter(|&a| root.covers(&Span { start: a, end: a.saturating_add(PAGE_SIZE) })) else {
                return Err(bad(format_args!("PCI device {bdf:#06x}: its config space is not in the root cell's memory")));
            };
            let first = usize::from(d.caps_start.get());
            let caps = cfg
                .pci_caps()
                .get(first..first.saturating_add(usize::from(d.num_caps.get())))
                .ok_or_else(|| bad(format_args!("PCI device {bdf:#06x}: capabilities beyond the list")))?
                .iter()
                .map(|c| Cap { id: c.id.get(), start: c.start.get(), len: c.len.get(), flags: c.flags.get() });
            // MSI and MSI-X need the ITS: without it the capabilities are
            // hidden and the device uses INTx. (A direct-delivery cell has
            // no PCI devices at all: refused in `for_cell`; the LPIs
            // would reach its CPUs at EL1, untranslated.)
            let msi = p.its.is_some();
            let mask = d.bar_mask.map(|m| m.get());
            // Every listed capability is checked, shown or not.
            let mut dev = PtDev::new(bdf, mask, cfg_page, caps.clone()).map_err(|e| bad(format_args!("PCI device {bdf:#06x}: {e}")))?;
            if !msi && dev.has_msi() {
                dev = PtDev::new(bdf, mask, cfg_page, caps.filter(|c| !crate::pci::passthru::is_msi_cap(c.id)))
                    .map_err(|e| bad(format_args!("PCI device {bdf:#06x}: {e}")))?;
            }
            self.passthru.push(dev);
        }
        Ok(())
    }

    /// Whether a passed-through device of the cell raises MSIs (its
    /// MSI/MSI-X capability is shown: the system has an ITS).
    pub fn has_msi(&self) -> bool {
        self.passthru.iter().any(|d| d.has_msi())
    }

    /// The pages of the real ECAM that leave the root with the cell's
    /// passed-through devices.
    pub fn cfg_pages(&self) -> impl Iterator<Item = Span> + '_ {
        self.passthru.iter().map(|d| Span { start: d.cfg_page, end: d.cfg_page.saturating_add(PAGE_SIZE) })
    }

    /// Describes and validates a non-root cell. `root` is the root cell's
    /// description (ROOTSHARED regions must lie in its memory).
    pub fn for_cell(view: &CellView<'_>, p: &Platform, root: &CellDesc) -> Result<Self> {
        let mut d = Self::header(view)?;
        if d.flags & !CELL_FLAGS_KNOWN != 0 {
            return Err(bad(format_args!("unknown cell flags {:#x}", d.flags & !CELL_FLAGS_KNOWN)));
        }
        // Direct delivery takes the cell's interrupts past the virtual
        // interface, where ivshmem's virtual INTx are raised
        // (docs/direct-delivery.md): refused rather than silently lost.
        if d.flags & syshyper_config::flags::cell::DIRECT_IRQS != 0 && view.config().is_some_and(|c| !c.pci_devices().is_empty()) {
            return Err(bad(format_args!("direct_irqs with virtual PCI devices (ivshmem INTx would never arrive)")));
        }
        if d.name_len == 0 {
            return Err(bad(format_args!("the cell has no name")));
        }
        let cpu_limit = 64u64.saturating_sub(u64::from(d.cpus.leading_zeros()));
        if d.cpus == 0 || cpu_limit > p.max_cpus {
            return Err(bad(format_args!("CPU set {:#x} is empty or names CPUs beyond {}", d.cpus, p.max_cpus)));
        }
        let count = view.memory_regions().count();
        d.regions.try_reserve_exact(count)?;
        for r in view.memory_regions() {
            let region = Self::cell_region(&r, p, root, d.regions.iter().any(|x| x.kind == Kind::Comm))?;
            d.regions.push(region);
        }
        // As Jailhouse: entries for another interrupt controller grant
        // nothing and are skipped; a distributor entry must cover whole
        // groups of 32 interrupts inside the 1024 INTIDs. SGIs and PPIs
        // are per CPU and always the cell's own (the hypervisor keeps its
        // management SGI and maintenance PPI whatever the bits say), and
        // INTIDs 1020-1023 are special: neither is an interrupt that
        // moves between cells.
        for chip in view.irqchips() {
            if chip.address != p.gicd_base {
                log::warn!("irqchip entry at {:#x} is not the GIC distributor {:#x}: skipped", chip.address, p.gicd_base);
                continue;
            }
            if chip.pin_base % 32 != 0 || chip.pin_base > 1024 - 128 {
                return Err(bad(format_args!("irqchip pin_base {} is not a multiple of 32 below 897", chip.pin_base)));
            }
            chip.irqs().filter(|i| SPI_RANGE.contains(i)).for_each(|irq| d.spis.insert(irq));
        }
        d.describe_ivshmem(view, p, Some(root))?;
        d.describe_passthru(view, p, root)?;
        for dev in &d.ivshmem {
            ivshmem::check_rootshared(dev).map_err(|e| bad(format_args!("{e}")))?;
        }
        if let Some(ecam) = d.ecam(p) {
            // A region there would be mapped (or forwarded) instead of the
            // trapped ECAM.
            if let Some(r) = d.regions.iter().find(|r| r.virt_span().overlaps(&ecam)) {
                return Err(bad(format_args!(
                    "region at guest address {:#x}+{:#x} overlaps the virtual PCI host's ECAM at {:#x}",
                    r.virt, r.size, ecam.start
                )));
            }
        }
        Ok(d)
    }

    /// The virtual PCI host's ECAM, if the cell sees it (it has ivshmem
    /// functions or passed-through devices).
    pub fn ecam(&self, p: &Platform) -> Option<Span> {
        p.pci.filter(|_| self.has_pci()).and_then(|h| Span::sized(h.mmconfig_base, h.ecam_size()))
    }

    fn cell_region(r: &crate::sysconfig::MemRegion, p: &Platform, root: &CellDesc, have_comm: bool) -> Result<Region> {
        let at = r.phys_start;
        if r.size == 0 {
            return Err(bad(format_args!("memory region at {at:#x} has size 0")));
        }
        if r.flags & !MEM_FLAGS_KNOWN != 0 {
            return Err(bad(format_args!("memory region at {at:#x} has unknown flags {:#x}", r.flags & !MEM_FLAGS_KNOWN)));
        }
        let virt = Span::sized(r.virt_start, r.size)
            .filter(|v| v.end <= IPA_LIMIT)
            .ok_or_else(|| bad(format_args!("region at guest address {:#x}+{:#x} leaves the guest address space", r.virt_start, r.size)))?;
        if r.flags & mem_flags::COMM_REGION != 0 {
            if have_comm {
                return Err(bad(format_args!("a second COMM_REGION at guest address {:#x}", r.virt_start)));
            }
            if !virt.start.is_multiple_of(PAGE_SIZE) {
                return Err(bad(format_args!("COMM_REGION at {:#x} is not page aligned", r.virt_start)));
            }
            return Ok(Region { phys: 0, virt: r.virt_start, size: PAGE_SIZE, flags: r.flags, kind: Kind::Comm });
        }
        let phys = Span::sized(r.phys_start, r.size)
            .ok_or_else(|| bad(format_args!("region at {at:#x}+{:#x} wraps around", r.size)))?;
        check_not_reserved(&phys, p)?;
        let shared = r.flags & mem_flags::ROOTSHARED != 0;
        if shared && !root.covers(&phys) {
            return Err(bad(format_args!("ROOTSHARED region {:#x}-{:#x} is not root cell memory", phys.start, phys.end)));
        }
        let kind = if !page_aligned(r) {
            Kind::SubPage
        } else if shared {
            Kind::Shared
        } else {
            Kind::Owned
        };
        Ok(Region { phys: r.phys_start, virt: r.virt_start, size: r.size, flags: r.flags, kind })
    }

    /// Describes the root cell from the system configuration. Regions
    /// overlapping hypervisor memory or the trapped GIC are cut out of the
    /// root's direct map (with a warning), so the root never maps them.
    pub fn for_root(view: &CellView<'_>, p: &Platform) -> Result<Self> {
        let mut d = Self::header(view)?;
        let count = view.memory_regions().count();
        d.regions.try_reserve_exact(count)?;
        for r in view.memory_regions() {
            let phys = Span::sized(r.phys_start, r.size)
                .filter(|_| r.size != 0 && r.virt_start == r.phys_start)
                .ok_or_else(|| bad(format_args!("root region {:#x}+{:#x} is empty, wraps or is not identity mapped", r.phys_start, r.size)))?;
            if r.flags & mem_flags::COMM_REGION != 0 {
                continue;
            }
            if check_not_reserved(&phys, p).is_err() {
                log::warn!("root region {:#x}-{:#x} overlaps hypervisor memory or the GIC: those parts stay unmapped", phys.start, phys.end);
            }
            let kind = if page_aligned(&r) { Kind::Owned } else { Kind::SubPage };
            d.regions.push(Region { phys: r.phys_start, virt: r.virt_start, size: r.size, flags: r.flags, kind });
        }
        for chip in view.irqchips().filter(|c| c.address == p.gicd_base) {
            chip.irqs().filter(|i| SPI_RANGE.contains(i)).for_each(|i| d.spis.insert(i));
        }
        d.describe_ivshmem(view, p, None)?;
        Ok(d)
    }

    /// Whether `span` lies inside the union of this cell's page-granular
    /// memory (the root: what it may share).
    pub fn covers(&self, span: &Span) -> bool {
        let mut at = span.start;
        // Regions may overlap and come in any order: advance greedily.
        while at < span.end {
            let next = self
                .regions
                .iter()
                .filter(|r| matches!(r.kind, Kind::Owned | Kind::Shared))
                .map(Region::phys_span)
                .filter(|s| s.start <= at && at < s.end)
                .map(|s| s.end)
                .max();
            match next {
                Some(end) => at = end,
                None => return false,
            }
        }
        true
    }

    /// Page-granular regions that leave the root while the cell exists.
    pub fn owned(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter().filter(|r| r.kind == Kind::Owned)
    }

    /// Regions mapped directly into the cell's stage 2.
    pub fn mapped(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter().filter(|r| matches!(r.kind, Kind::Owned | Kind::Shared))
    }

    /// Trapped sub-page regions.
    /// Where the cell gets a virtual PL011 (`mmio::vuart`): its console
    /// is a PL011 with a size (Jailhouse's cells give 0 there), at an
    /// address no region of the cell maps and that is not the GIC or
    /// hypervisor memory. `None` for every other console.
    pub fn virtual_console(&self, p: &Platform) -> Option<Span> {
        let c = &self.console;
        let addr = u64::from_le_bytes(c.get(0..8)?.try_into().ok()?);
        let size = u32::from_le_bytes(c.get(8..12)?.try_into().ok()?);
        let kind = u16::from_le_bytes(c.get(12..14)?.try_into().ok()?);
        if kind != syshyper_config::flags::console::TYPE_PL011 || size == 0 {
            return None;
        }
        let span = Span::sized(addr, crate::mmio::vuart::SIZE)?;
        let mapped = self.regions.iter().any(|r| Span::sized(r.virt, r.size).is_some_and(|v| v.overlaps(&span)));
        let reserved = span.overlaps(&p.hv) || p.reserved_io.iter().any(|io| io.overlaps(&span));
        (!mapped && !reserved).then_some(span)
    }

    pub fn sub_pages(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter().filter(|r| r.kind == Kind::SubPage)
    }

    /// Physical ranges held against other cells, each with whether it is
    /// held exclusively: owned memory and sub-page regions without
    /// ROOTSHARED are this cell's alone (a sub-page region reaches its
    /// bytes through the hypervisor); ROOTSHARED regions only share.
    pub fn claims(&self) -> impl Iterator<Item = (Span, bool)> + '_ {
        self.regions.iter().filter(|r| r.kind != Kind::Comm).map(|r| {
            let exclusive = match r.kind {
                Kind::Owned => true,
                Kind::SubPage => r.flags & mem_flags::ROOTSHARED == 0,
                Kind::Shared | Kind::Comm => false,
            };
            (r.phys_span(), exclusive)
        })
    }

    /// The first range where this cell and `other` (both non-root) would
    /// overlap with at least one of them holding it exclusively: a cell
    /// may share with the root and other sharers, never reach memory or
    /// registers another cell holds alone.
    pub fn conflict_with(&self, other: &CellDesc) -> Option<Span> {
        self.claims().find_map(|(mine, mine_excl)| {
            other.claims().find_map(|(theirs, theirs_excl)| {
                if mine_excl || theirs_excl { mine.intersect(&theirs) } else { None }
            })
        })
    }

    /// The comm region, if any.
    pub fn comm(&self) -> Option<&Region> {
        self.regions.iter().find(|r| r.kind == Kind::Comm)
    }
}

/// Refuses ranges over hypervisor memory or the GIC the hypervisor traps.
fn check_not_reserved(phys: &Span, p: &Platform) -> Result<()> {
    if phys.overlaps(&p.hv) {
        return Err(bad(format_args!("region {:#x}-{:#x} overlaps hypervisor memory", phys.start, phys.end)));
    }
    if let Some(io) = p.reserved_io.iter().find(|io| io.overlaps(phys)) {
        return Err(bad(format_args!(
            "region {:#x}-{:#x} overlaps the interrupt controller at {:#x}-{:#x}",
            phys.start, phys.end, io.start, io.end
        )));
    }
    if let Some(its) = p.its.filter(|its| its.overlaps(phys)) {
        return Err(bad(format_args!(
            "region {:#x}-{:#x} overlaps the GICv3 ITS at {:#x}-{:#x} (the hypervisor's)",
            phys.start, phys.end, its.start, its.end
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "desc/tests.rs"]
pub(crate) mod tests;
