//! Conversion between the TOML model and the owned binary configuration.

use super::model::*;
use super::units::{
    flag_bits, flag_names, format_bdf, format_list, from_hex, narrow, parse_bdf, parse_list,
    to_hex, Hex, NameOrNum, Num, Size,
};
use super::SourceError;
use crate::flags::{self, ARCH_ARM64, CELL_SIGNATURE, REVISION, SYSTEM_SIGNATURE};
use crate::layout::{
    CacheRegion, CellDesc, Console, IommuUnit, Irqchip, MemoryRegion, PciCap, PciDevice, PioRegion,
    SystemDesc, MAX_IOMMU_UNITS,
};
use crate::owned::{CellBuf, SystemBuf};
use zerocopy::little_endian::{U16, U32};

/// Flag names for bits the parser accepted; unknown bits cannot occur in a
/// validated configuration, but are kept as a hex entry just in case.
fn names(bits: u64, table: &[(&str, u64)]) -> Vec<String> {
    flag_names(bits, table).unwrap_or_else(|| {
        let known: u64 = table.iter().fold(0, |a, (_, b)| a | b);
        let mut v = flag_names(bits & known, table).unwrap_or_default();
        v.push(format!("{:#x}", bits & !known));
        v
    })
}

// ---- binary -> TOML ----

fn memory_to_toml(m: &MemoryRegion) -> MemoryToml {
    let (phys, virt) = (m.phys_start.get(), m.virt_start.get());
    MemoryToml {
        phys: Hex(phys),
        virt: (virt != phys).then_some(Hex(virt)),
        size: Size(m.size.get()),
        flags: names(m.flags.get(), flags::mem::NAMES),
    }
}

fn console_to_toml(c: &Console) -> ConsoleToml {
    if *c == Console::default() {
        return ConsoleToml::default();
    }
    ConsoleToml {
        address: Hex(c.address.get()),
        size: Size(c.size.get().into()),
        console_type: Some(NameOrNum::from_value(
            c.console_type.get().into(),
            flags::console::TYPES,
        )),
        flags: names(c.flags.get().into(), flags::console::NAMES),
        divider: c.divider.get(),
        gate_nr: c.gate_nr.get(),
        clock_reg: Hex(c.clock_reg.get()),
    }
}

fn irqchip_to_toml(c: &Irqchip) -> IrqchipToml {
    IrqchipToml {
        address: Hex(c.address.get()),
        id: c.id.get(),
        pin_base: c.pin_base.get(),
        irqs: format_list(c.granted()),
    }
}

fn pci_device_to_toml(d: &PciDevice) -> PciDeviceToml {
    PciDeviceToml {
        pci_type: NameOrNum::from_value(d.pci_type.into(), flags::pci::TYPES),
        iommu: d.iommu,
        domain: d.domain.get(),
        bdf: format_bdf(d.bdf.get()),
        bar_mask: d.bar_mask.iter().map(|m| Hex(m.get().into())).collect(),
        caps_start: d.caps_start.get(),
        num_caps: d.num_caps.get(),
        num_msi_vectors: d.num_msi_vectors,
        msi_64bits: d.msi_flags & flags::pci::MSI_64BITS != 0,
        msi_maskable: d.msi_flags & flags::pci::MSI_MASKABLE != 0,
        num_msix_vectors: d.num_msix_vectors.get(),
        msix_region_size: Num(d.msix_region_size.get().into()),
        msix_address: Hex(d.msix_address.get()),
        shmem_regions_start: d.shmem_regions_start.get(),
        shmem_dev_id: d.shmem_dev_id,
        shmem_peers: d.shmem_peers,
        shmem_protocol: Hex(d.shmem_protocol.get().into()),
    }
}

/// The smallest cpu_set size (multiple of 8 bytes) holding `cpus`.
fn default_cpu_set_size(max_cpu: Option<u32>) -> u32 {
    max_cpu.map_or(8, |m| (m / 64 + 1) * 8)
}

/// A stream id as printed: the MMU-500 id/mask pair when `split_mmu500`
/// and the mask half is set, else the plain number.
fn stream_id_to_toml(raw: u32, split_mmu500: bool) -> StreamIdToml {
    use flags::stream_id::{mmu500_id, mmu500_mask_out};
    if split_mmu500 && mmu500_mask_out(raw) != 0 {
        StreamIdToml::Mmu500 {
            id: Hex(mmu500_id(raw).into()),
            mask_out: Hex(mmu500_mask_out(raw).into()),
        }
    } else {
        StreamIdToml::Plain(Num(raw.into()))
    }
}

/// Converts a cell; `split_mmu500` says whether stream ids may be MMU-500
/// id/mask pairs (false when the system has IOMMUs and none is an MMU-500).
pub fn cell_to_toml(c: &CellBuf, split_mmu500: bool) -> CellToml {
    let d = &c.desc;
    let nul = d.name.iter().position(|&b| b == 0).unwrap_or(d.name.len());
    let name = String::from_utf8_lossy(&d.name[..nul]).into_owned();
    let padding = d.name.get(nul + 1..).unwrap_or(&[]);
    let last = padding.iter().rposition(|&b| b != 0);
    let cpus: Vec<u32> = crate::cpuset::Cpus::new(&c.cpu_set).collect();
    let set_size = c.cpu_set.len() as u32;
    CellToml {
        name,
        name_padding: last.map_or_else(String::new, |l| to_hex(&padding[..=l])),
        id: d.id.get(),
        flags: names(d.flags.get().into(), flags::cell::NAMES),
        cpu_set_size: (set_size != default_cpu_set_size(cpus.last().copied())).then_some(set_size),
        cpus: format_list(cpus),
        cpu_reset_address: Hex(d.cpu_reset_address.get()),
        vpci_irq_base: d.vpci_irq_base.get(),
        msg_reply_timeout: Num(d.msg_reply_timeout.get()),
        stream_ids: c
            .stream_ids
            .iter()
            .map(|s| stream_id_to_toml(s.get(), split_mmu500))
            .collect(),
        console: console_to_toml(&d.console),
        memory: c.memory_regions.iter().map(memory_to_toml).collect(),
        irqchip: c.irqchips.iter().map(irqchip_to_toml).collect(),
        cache: c
            .cache_regions
            .iter()
            .map(|r| CacheToml {
                start: r.start.get(),
                size: r.size.get(),
                cache_type: NameOrNum::from_value(r.cache_type.into(), flags::cache::TYPES),
                padding: r.padding,
                flags: names(r.flags.get().into(), flags::cache::NAMES),
            })
            .collect(),
        pio: c
            .pio_regions
            .iter()
            .map(|p| PioToml {
                base: Hex(p.base.get().into()),
                length: Num(p.length.get().into()),
            })
            .collect(),
        pci_device: c.pci_devices.iter().map(pci_device_to_toml).collect(),
        pci_cap: c
            .pci_caps
            .iter()
            .map(|p| PciCapToml {
                id: Hex(p.id.get().into()),
                start: Hex(p.start.get().into()),
                len: Num(p.len.get().into()),
                flags: names(p.flags.get().into(), flags::pci_cap::NAMES),
            })
            .collect(),
    }
}

/// An IOMMU slot, its type-specific bytes by Jailhouse's field names where
/// the type defines them (AMD, PVU), else as raw hex.
fn iommu_to_toml(u: &IommuUnit) -> IommuToml {
    use flags::iommu::{AMD, AMD_DATA_USED, GICV2M, GICV2M_DATA_USED, PVU};
    let t = u.iommu_type.get();
    let b = &u.data;
    let mut out = IommuToml {
        iommu_type: NameOrNum::from_value(t.into(), flags::iommu::TYPES),
        base: Hex(u.base.get()),
        size: Size(u.size.get().into()),
        ..IommuToml::default()
    };
    if t == AMD && b[AMD_DATA_USED..].iter().all(|&x| x == 0) {
        out.amd_bdf = Some(format_bdf(u16::from_le_bytes([b[0], b[1]])));
        out.amd_base_cap = Some(Hex(b[2].into()));
        out.amd_msi_cap = Some(Hex(b[3].into()));
        out.amd_features = Some(Hex(u32::from_le_bytes([b[4], b[5], b[6], b[7]]).into()));
    } else if t == PVU {
        let mut base = [0u8; 8];
        base.copy_from_slice(&b[..8]);
        out.tipvu_tlb_base = Some(Hex(u64::from_le_bytes(base)));
        out.tipvu_tlb_size = Some(Size(u32::from_le_bytes([b[8], b[9], b[10], b[11]]).into()));
    } else if t == GICV2M && b[GICV2M_DATA_USED..].iter().all(|&x| x == 0) {
        if let Some((base, count)) = flags::iommu::gicv2m_spis(b) {
            out.gicv2m_spi_base = Some(Num(base.into()));
            out.gicv2m_spi_count = Some(Num(count.into()));
        }
    } else if *b != [0; 12] {
        out.data = to_hex(b);
    }
    out
}

/// The 12 type-specific bytes of an IOMMU slot from its TOML form.
fn iommu_data_from_toml(u: &IommuToml, t: u32, what: &str) -> Result<[u8; 12], SourceError> {
    let amd = [
        u.amd_bdf.is_some(),
        u.amd_base_cap.is_some(),
        u.amd_msi_cap.is_some(),
        u.amd_features.is_some(),
    ];
    let pvu = [u.tipvu_tlb_base.is_some(), u.tipvu_tlb_size.is_some()];
    let v2m = [u.gicv2m_spi_base.is_some(), u.gicv2m_spi_count.is_some()];
    let named = amd.iter().chain(&pvu).chain(&v2m).any(|&x| x);
    let mut data = [0u8; 12];
    if named && !u.data.is_empty() {
        return Err(SourceError::new(format!(
            "{what}: give either data or the named fields, not both"
        )));
    }
    if amd.iter().any(|&x| x) {
        if t != flags::iommu::AMD || pvu.iter().chain(&v2m).any(|&x| x) {
            return Err(SourceError::new(format!(
                "{what}: amd_* fields need type \"amd\""
            )));
        }
        let bdf = u
            .amd_bdf
            .as_deref()
            .map(parse_bdf)
            .transpose()?
            .unwrap_or(0);
        data[..2].copy_from_slice(&bdf.to_le_bytes());
        data[2] = narrow(u.amd_base_cap.unwrap_or_default().0, what)?;
        data[3] = narrow(u.amd_msi_cap.unwrap_or_default().0, what)?;
        let features: u32 = narrow(u.amd_features.unwrap_or_default().0, what)?;
        data[4..8].copy_from_slice(&features.to_le_bytes());
    } else if pvu.iter().any(|&x| x) {
        if t != flags::iommu::PVU || v2m.iter().any(|&x| x) {
            return Err(SourceError::new(format!(
                "{what}: tipvu_* fields need type \"pvu\""
            )));
        }
        data[..8].copy_from_slice(&u.tipvu_tlb_base.unwrap_or_default().0.to_le_bytes());
        let size: u32 = narrow(u.tipvu_tlb_size.unwrap_or_default().0, what)?;
        data[8..].copy_from_slice(&size.to_le_bytes());
    } else if v2m.iter().any(|&x| x) {
        if t != flags::iommu::GICV2M || v2m.iter().any(|&x| !x) {
            return Err(SourceError::new(format!(
                "{what}: gicv2m_spi_base and gicv2m_spi_count go together, with type \"gicv2m\""
            )));
        }
        let base: u32 = narrow(u.gicv2m_spi_base.unwrap_or_default().0, what)?;
        let count: u32 = narrow(u.gicv2m_spi_count.unwrap_or_default().0, what)?;
        data[..4].copy_from_slice(&base.to_le_bytes());
        data[4..8].copy_from_slice(&count.to_le_bytes());
    } else {
        let bytes = from_hex(&u.data, what)?;
        if bytes.len() > 12 {
            return Err(SourceError::new(format!(
                "{what}: data is longer than 12 bytes"
            )));
        }
        data[..bytes.len()].copy_from_slice(&bytes);
    }
    Ok(data)
}

pub fn system_to_toml(s: &SystemBuf) -> Document {
    let d = &s.desc;
    let used = d
        .iommu_units
        .iter()
        .rposition(|u| *u != IommuUnit::default())
        .map_or(0, |i| i + 1);
    let system = SystemToml {
        flags: names(d.flags.get().into(), flags::system::NAMES),
        hypervisor_memory: memory_to_toml(&d.hypervisor_memory),
        debug_console: console_to_toml(&d.debug_console),
        pci_mmconfig_base: Hex(d.pci_mmconfig_base.get()),
        pci_mmconfig_end_bus: d.pci_mmconfig_end_bus,
        pci_is_virtual: d.pci_is_virtual,
        pci_domain: d.pci_domain.get(),
        gic_version: d.gic_version,
        maintenance_irq: d.maintenance_irq,
        gicd_base: Hex(d.gicd_base.get()),
        gicc_base: Hex(d.gicc_base.get()),
        gich_base: Hex(d.gich_base.get()),
        gicv_base: Hex(d.gicv_base.get()),
        gicr_base: Hex(d.gicr_base.get()),
        arm_padding: u16::from_le_bytes(d.arm_padding),
        root_cell_signed: s.root.desc.signature == CELL_SIGNATURE,
        iommu: d.iommu_units[..used].iter().map(iommu_to_toml).collect(),
    };
    // Stream ids are MMU-500 id/mask pairs only if an MMU-500 may use them.
    let types = d.iommu_units.iter().map(|u| u.iommu_type.get());
    let split_mmu500 = types.clone().all(|t| t == flags::iommu::UNUSED)
        || types.into_iter().any(|t| t == flags::iommu::ARM_MMU500);
    Document {
        system: Some(system),
        cell: cell_to_toml(&s.root, split_mmu500),
    }
}

// ---- TOML -> binary ----

fn memory_from_toml(m: &MemoryToml, what: &str) -> Result<MemoryRegion, SourceError> {
    let virt = m.virt.unwrap_or(m.phys).0;
    let flags = flag_bits(&m.flags, flags::mem::NAMES, what)?;
    Ok(MemoryRegion::new(m.phys.0, virt, m.size.0, flags))
}

fn console_from_toml(c: &ConsoleToml, what: &str) -> Result<Console, SourceError> {
    let console_type = match &c.console_type {
        Some(t) => t.value(flags::console::TYPES, what)?,
        None => 0,
    };
    Ok(Console {
        address: c.address.0.into(),
        size: U32::new(narrow(c.size.0, what)?),
        console_type: U16::new(narrow(console_type, what)?),
        flags: U16::new(narrow(
            flag_bits(&c.flags, flags::console::NAMES, what)?,
            what,
        )?),
        divider: c.divider.into(),
        gate_nr: c.gate_nr.into(),
        clock_reg: c.clock_reg.0.into(),
    })
}

fn irqchip_from_toml(c: &IrqchipToml, what: &str) -> Result<Irqchip, SourceError> {
    let mut bitmap = [0u32; 4];
    for intid in parse_list(&c.irqs, what)? {
        let bit = intid
            .checked_sub(c.pin_base)
            .filter(|b| *b < 128)
            .ok_or_else(|| {
                SourceError::new(format!(
                    "{what}: INTID {intid} is outside pin_base {}..{}",
                    c.pin_base,
                    u64::from(c.pin_base) + 127
                ))
            })?;
        bitmap[(bit / 32) as usize] |= 1 << (bit % 32);
    }
    Ok(Irqchip {
        address: c.address.0.into(),
        id: c.id.into(),
        pin_base: c.pin_base.into(),
        pin_bitmap: bitmap.map(U32::new),
    })
}

fn pci_device_from_toml(d: &PciDeviceToml, what: &str) -> Result<PciDevice, SourceError> {
    if d.bar_mask.len() > 6 {
        return Err(SourceError::new(format!(
            "{what}: bar_mask has more than 6 entries"
        )));
    }
    let mut bar_mask = [U32::ZERO; 6];
    for (slot, m) in bar_mask.iter_mut().zip(&d.bar_mask) {
        *slot = U32::new(narrow(m.0, what)?);
    }
    let mut msi_flags = 0;
    if d.msi_64bits {
        msi_flags |= flags::pci::MSI_64BITS;
    }
    if d.msi_maskable {
        msi_flags |= flags::pci::MSI_MASKABLE;
    }
    Ok(PciDevice {
        pci_type: narrow(d.pci_type.value(flags::pci::TYPES, what)?, what)?,
        iommu: d.iommu,
        domain: d.domain.into(),
        bdf: parse_bdf(&d.bdf)?.into(),
        bar_mask,
        caps_start: d.caps_start.into(),
        num_caps: d.num_caps.into(),
        num_msi_vectors: d.num_msi_vectors,
        msi_flags,
        num_msix_vectors: d.num_msix_vectors.into(),
        msix_region_size: U16::new(narrow(d.msix_region_size.0, what)?),
        msix_address: d.msix_address.0.into(),
        shmem_regions_start: d.shmem_regions_start.into(),
        shmem_dev_id: d.shmem_dev_id,
        shmem_peers: d.shmem_peers,
        shmem_protocol: U16::new(narrow(d.shmem_protocol.0, what)?),
    })
}

fn indexed<T, U>(
    items: &[T],
    array: &str,
    f: impl Fn(&T, &str) -> Result<U, SourceError>,
) -> Result<Vec<U>, SourceError> {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| f(t, &format!("{array}[{i}]")))
        .collect()
}

pub fn cell_from_toml(c: &CellToml, signed: bool) -> Result<CellBuf, SourceError> {
    let mut d = CellDesc::default();
    if signed {
        d.signature = CELL_SIGNATURE;
        d.architecture = ARCH_ARM64;
        d.revision = REVISION.into();
    }
    let padding = from_hex(&c.name_padding, "name_padding")?;
    if c.name.contains('\0') || c.name.len() + 1 + padding.len() > d.name.len() {
        return Err(SourceError::new(format!(
            "name: \"{}\" must be at most 31 bytes without NUL (with its name_padding)",
            c.name.escape_default()
        )));
    }
    d.name[..c.name.len()].copy_from_slice(c.name.as_bytes());
    d.name[c.name.len() + 1..][..padding.len()].copy_from_slice(&padding);
    d.id = c.id.into();
    d.flags = U32::new(narrow(
        flag_bits(&c.flags, flags::cell::NAMES, "flags")?,
        "flags",
    )?);
    d.vpci_irq_base = c.vpci_irq_base.into();
    d.cpu_reset_address = c.cpu_reset_address.0.into();
    d.msg_reply_timeout = c.msg_reply_timeout.0.into();
    d.console = console_from_toml(&c.console, "console")?;

    let cpus = parse_list(&c.cpus, "cpus")?;
    let size = c
        .cpu_set_size
        .unwrap_or_else(|| default_cpu_set_size(cpus.last().copied()));
    if !size.is_multiple_of(8) || size > 1 << 16 {
        return Err(SourceError::new(format!(
            "cpu_set_size: {size} is not a multiple of 8 up to 65536"
        )));
    }
    let mut cpu_set = vec![0u8; size as usize];
    for cpu in cpus {
        let byte = cpu_set.get_mut((cpu / 8) as usize).ok_or_else(|| {
            SourceError::new(format!(
                "cpus: CPU {cpu} does not fit in cpu_set_size {size}"
            ))
        })?;
        *byte |= 1 << (cpu % 8);
    }

    Ok(CellBuf {
        desc: d,
        cpu_set,
        memory_regions: indexed(&c.memory, "memory", memory_from_toml)?,
        cache_regions: indexed(&c.cache, "cache", |r, what| {
            Ok(CacheRegion {
                start: r.start.into(),
                size: r.size.into(),
                cache_type: narrow(r.cache_type.value(flags::cache::TYPES, what)?, what)?,
                padding: r.padding,
                flags: U16::new(narrow(
                    flag_bits(&r.flags, flags::cache::NAMES, what)?,
                    what,
                )?),
            })
        })?,
        irqchips: indexed(&c.irqchip, "irqchip", irqchip_from_toml)?,
        pio_regions: indexed(&c.pio, "pio", |p, what| {
            Ok(PioRegion {
                base: U16::new(narrow(p.base.0, what)?),
                length: U16::new(narrow(p.length.0, what)?),
            })
        })?,
        pci_devices: indexed(&c.pci_device, "pci_device", pci_device_from_toml)?,
        pci_caps: indexed(&c.pci_cap, "pci_cap", |p, what| {
            Ok(PciCap {
                id: U16::new(narrow(p.id.0, what)?),
                start: U16::new(narrow(p.start.0, what)?),
                len: U16::new(narrow(p.len.0, what)?),
                flags: U16::new(narrow(
                    flag_bits(&p.flags, flags::pci_cap::NAMES, what)?,
                    what,
                )?),
            })
        })?,
        stream_ids: indexed(&c.stream_ids, "stream_ids", |s, what| {
            Ok(U32::new(match s {
                StreamIdToml::Plain(n) => narrow(n.0, what)?,
                StreamIdToml::Mmu500 { id, mask_out } => {
                    flags::stream_id::mmu500(narrow(id.0, what)?, narrow(mask_out.0, what)?)
                }
            }))
        })?,
    })
}

pub fn system_from_toml(s: &SystemToml, cell: &CellToml) -> Result<SystemBuf, SourceError> {
    if s.iommu.len() > MAX_IOMMU_UNITS {
        return Err(SourceError::new(format!(
            "iommu: at most {MAX_IOMMU_UNITS} units"
        )));
    }
    let mut d = SystemDesc {
        signature: SYSTEM_SIGNATURE,
        architecture: ARCH_ARM64,
        revision: REVISION.into(),
        flags: U32::new(narrow(
            flag_bits(&s.flags, flags::system::NAMES, "system.flags")?,
            "system.flags",
        )?),
        hypervisor_memory: memory_from_toml(&s.hypervisor_memory, "hypervisor_memory")?,
        debug_console: console_from_toml(&s.debug_console, "debug_console")?,
        pci_mmconfig_base: s.pci_mmconfig_base.0.into(),
        pci_mmconfig_end_bus: s.pci_mmconfig_end_bus,
        pci_is_virtual: s.pci_is_virtual,
        pci_domain: s.pci_domain.into(),
        maintenance_irq: s.maintenance_irq,
        gic_version: s.gic_version,
        arm_padding: s.arm_padding.to_le_bytes(),
        gicd_base: s.gicd_base.0.into(),
        gicc_base: s.gicc_base.0.into(),
        gich_base: s.gich_base.0.into(),
        gicv_base: s.gicv_base.0.into(),
        gicr_base: s.gicr_base.0.into(),
        ..SystemDesc::default()
    };
    for (i, (slot, u)) in d.iommu_units.iter_mut().zip(&s.iommu).enumerate() {
        let what = format!("iommu[{i}]");
        let t = match u.iommu_type.value(flags::iommu::ALIASES, &what) {
            Ok(t) => t,
            Err(_) => u.iommu_type.value(flags::iommu::TYPES, &what)?,
        };
        let t: u32 = narrow(t, &what)?;
        slot.iommu_type = U32::new(t);
        slot.base = u.base.0.into();
        slot.size = U32::new(narrow(u.size.0, &what)?);
        slot.data = iommu_data_from_toml(u, t, &what)?;
    }
    Ok(SystemBuf {
        desc: d,
        root: cell_from_toml(cell, s.root_cell_signed)?,
    })
}
