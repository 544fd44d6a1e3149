//! Checks of a single configuration's arrays (what the hypervisor needs on
//! CELL_CREATE). Each function returns the first problem found.

use crate::error::{Array, ConfigError, Space};
use crate::flags::{self, irq, PAGE_SIZE};
use crate::layout::{CacheRegion, Irqchip, MemoryRegion, PciCap, PciDevice};

/// Size, overflow, alignment and flag rules for one region.
pub(crate) fn region(m: &MemoryRegion, array: Array, index: u32) -> Result<(), ConfigError> {
    let (phys, virt, size) = (m.phys_start.get(), m.virt_start.get(), m.size.get());
    let unknown = m.flags.get() & !flags::mem::KNOWN;
    if unknown != 0 {
        return Err(ConfigError::UnknownFlags {
            array,
            index,
            bits: unknown,
        });
    }
    if size == 0 {
        return Err(ConfigError::ZeroSizedRegion {
            array,
            index,
            phys,
            virt,
        });
    }
    for (space, start) in [(Space::Phys, phys), (Space::Virt, virt)] {
        if start.checked_add(size).is_none() {
            return Err(ConfigError::RegionOverflow {
                array,
                index,
                space,
                start,
                size,
            });
        }
    }
    if !m.is_subpage() && !phys.is_multiple_of(PAGE_SIZE) {
        return Err(ConfigError::UnalignedRegion {
            array,
            index,
            phys,
            virt,
            size,
        });
    }
    Ok(())
}

pub(crate) fn memory_regions(regions: &[MemoryRegion]) -> Result<(), ConfigError> {
    for (i, m) in (0u32..).zip(regions) {
        if !m.is_placeholder() {
            region(m, Array::MemoryRegions, i)?;
        }
    }
    Ok(())
}

pub(crate) fn cache_regions(regions: &[CacheRegion]) -> Result<(), ConfigError> {
    for (index, c) in (0u32..).zip(regions) {
        let unknown = c.flags.get() & !flags::cache::KNOWN;
        if unknown != 0 {
            let bits = unknown.into();
            return Err(ConfigError::UnknownFlags {
                array: Array::CacheRegions,
                index,
                bits,
            });
        }
    }
    Ok(())
}

pub(crate) fn irqchips(chips: &[Irqchip]) -> Result<(), ConfigError> {
    // What Jailhouse's hypervisor refuses: a bitmap that does not start at
    // a group of 32 interrupts or reaches past INTID 1023. Bits of SGIs and
    // PPIs (pin base 0) and of the special INTIDs 1020-1023 are accepted
    // and grant nothing.
    for (index, chip) in (0u32..).zip(chips) {
        let pin_base = chip.pin_base.get();
        if !pin_base.is_multiple_of(32) || pin_base > irq::END_INTID - 128 {
            return Err(ConfigError::IrqchipPinBase { index, pin_base });
        }
    }
    Ok(())
}

pub(crate) fn irqchip_addresses(chips: &[Irqchip], gicd_base: u64) -> Result<(), ConfigError> {
    for (index, chip) in (0u32..).zip(chips) {
        let address = chip.address.get();
        let grants = chip.pin_bitmap.iter().any(|w| w.get() != 0);
        if grants && address != gicd_base {
            return Err(ConfigError::IrqchipUnknownChip {
                index,
                address,
                gicd_base,
            });
        }
    }
    Ok(())
}

pub(crate) fn pci_devices(
    devices: &[PciDevice],
    num_caps: usize,
    num_regions: usize,
) -> Result<(), ConfigError> {
    for (index, d) in (0u32..).zip(devices) {
        if !flags::pci::TYPES
            .iter()
            .any(|&(_, t)| t == u64::from(d.pci_type))
        {
            return Err(ConfigError::PciType {
                index,
                found: d.pci_type,
            });
        }
        let unknown = d.msi_flags & !flags::pci::MSI_KNOWN;
        if unknown != 0 {
            let bits = unknown.into();
            return Err(ConfigError::UnknownFlags {
                array: Array::PciDevices,
                index,
                bits,
            });
        }
        let (start, count) = (d.caps_start.get(), d.num_caps.get());
        if usize::from(start).saturating_add(usize::from(count)) > num_caps {
            let available = num_caps as u32;
            return Err(ConfigError::PciCapsRange {
                index,
                start,
                count,
                available,
            });
        }
        if d.pci_type == flags::pci::TYPE_IVSHMEM {
            // State table, read/write section, then one output section per peer.
            let needed = 2u32.saturating_add(u32::from(d.shmem_peers));
            let start = d.shmem_regions_start.get();
            if u64::from(start).saturating_add(u64::from(needed)) > num_regions as u64 {
                let available = num_regions as u32;
                return Err(ConfigError::ShmemRange {
                    index,
                    start,
                    needed,
                    available,
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn pci_caps(caps: &[PciCap]) -> Result<(), ConfigError> {
    for (index, c) in (0u32..).zip(caps) {
        let unknown = c.flags.get() & !flags::pci_cap::KNOWN;
        if unknown != 0 {
            let bits = unknown.into();
            return Err(ConfigError::UnknownFlags {
                array: Array::PciCaps,
                index,
                bits,
            });
        }
    }
    Ok(())
}
