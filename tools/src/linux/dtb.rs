//! The device tree of a Linux cell, generated from its `Machine`: what
//! Linux needs to find its CPUs (PSCI over SMC, which the hypervisor
//! traps for every cell), memory, the GIC (the cell's view: the real
//! addresses, trapped and filtered; on a GICv2 the CPU interface address
//! is where the hypervisor maps the virtual one), architected timer,
//! console and virtual PCI host. Unit addresses and properties follow the
//! bindings Linux's drivers use (arm,gic-v3 or arm,cortex-a15-gic,
//! arm,armv8-timer, arm,pl011, pci-host-ecam-generic).

use super::machine::{Machine, PciHost, GICC_V2_SIZE, GICD_SIZE, GICD_V2_SIZE, UART_SIZE, UART_SPI};
use anyhow::{anyhow, Result};
use vm_fdt::{FdtReserveEntry, FdtWriter};

const GIC_PHANDLE: u32 = 1;
const CLK_PHANDLE: u32 = 2;
/// Interrupt specifier types (arm,gic-v3 and arm,gic bindings alike).
const SPI: u32 = 0;
const PPI: u32 = 1;
const LEVEL_HIGH: u32 = 4;
const EDGE_RISING: u32 = 1;
/// PCI address space codes of 32-bit and 64-bit memory (phys.hi of a range).
const PCI_MEM32: u32 = 0x0200_0000;
const PCI_MEM64: u32 = 0x0300_0000;
/// phys.hi bits of the device number (interrupt-map keys).
const PCI_DEVICE_BITS: u32 = 0xf800;

/// Without passed-through devices the INTx of a function depends on its
/// pin only (docs/ivshmem.md); with them, on the device number too.
fn intx_mask(p: &PciHost) -> [u32; 4] {
    if p.passthru.is_empty() {
        [0, 0, 0, 7]
    } else {
        [PCI_DEVICE_BITS, 0, 0, 7]
    }
}

/// interrupt-map entries: child (phys.hi, mid, lo, pin) -> GIC SPI.
/// ivshmem: pin n -> SPI vpci_irq_base + n - 1, edge (per device when
/// keyed by device); a passed-through device: its real, level-triggered
/// SPIs.
fn intx_map(p: &PciHost) -> Vec<u32> {
    let entry = |hi: u32, pin: u32, spi: u32, kind: u32| [hi, 0, 0, pin, GIC_PHANDLE, 0, 0, SPI, spi, kind];
    let pins = |hi: u32, spis: [u32; 4], kind: u32| (1u32..=4).zip(spis).flat_map(move |(pin, spi)| entry(hi, pin, spi, kind));
    if p.passthru.is_empty() {
        return pins(0, p.intx_spi, EDGE_RISING).collect();
    }
    let mut devices: Vec<u32> = p.bdfs.iter().map(|&b| (u32::from(b) << 8) & PCI_DEVICE_BITS).collect();
    devices.dedup();
    let mut map: Vec<u32> = devices.into_iter().flat_map(|hi| pins(hi, p.intx_spi, EDGE_RISING)).collect();
    for d in &p.passthru {
        map.extend(pins((u32::from(d.bdf) << 8) & PCI_DEVICE_BITS, d.intx_spi, LEVEL_HIGH));
    }
    map
}

/// Boot parameters that go into /chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chosen {
    pub bootargs: String,
    /// (start, end) of the initramfs, guest-physical.
    pub initrd: Option<(u64, u64)>,
}

fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}
fn lo(v: u64) -> u32 {
    v as u32
}

/// GICv2 PPI CPU mask of `n` CPUs (8 interfaces at most).
fn ppi_cpu_mask(n: usize) -> u32 {
    ((1u32 << n.min(8)) - 1) & 0xff
}

/// The flattened device tree; `reserved` are /memreserve/ entries (the
/// boot stub's page).
pub fn generate(m: &Machine, chosen: &Chosen, reserved: &[(u64, u64)]) -> Result<Vec<u8>> {
    build(m, chosen, reserved).map_err(|e| anyhow!("cannot write the device tree: {e}"))
}

fn build(m: &Machine, chosen: &Chosen, reserved: &[(u64, u64)]) -> Result<Vec<u8>, vm_fdt::Error> {
    let res: Vec<FdtReserveEntry> = reserved.iter().map(|&(a, s)| FdtReserveEntry::new(a, s)).collect::<Result<_, vm_fdt::Error>>()?;
    let mut f = FdtWriter::new_with_mem_reserv(&res)?;
    let root = f.begin_node("")?;
    f.property_string("compatible", "linux,dummy-virt")?;
    f.property_string("model", &format!("sysHyper Linux cell {}", m.name))?;
    f.property_u32("#address-cells", 2)?;
    f.property_u32("#size-cells", 2)?;
    f.property_u32("interrupt-parent", GIC_PHANDLE)?;

    let psci = f.begin_node("psci")?;
    f.property_string_list("compatible", vec!["arm,psci-1.0".into(), "arm,psci-0.2".into()])?;
    f.property_string("method", "smc")?;
    f.end_node(psci)?;

    let cpus = f.begin_node("cpus")?;
    f.property_u32("#address-cells", 2)?;
    f.property_u32("#size-cells", 0)?;
    for c in &m.cpus {
        let n = f.begin_node(&format!("cpu@{:x}", c.mpidr))?;
        f.property_string("device_type", "cpu")?;
        f.property_string("compatible", "arm,armv8")?;
        f.property_array_u32("reg", &[hi(c.mpidr), lo(c.mpidr)])?;
        f.property_string("enable-method", "psci")?;
        f.end_node(n)?;
    }
    f.end_node(cpus)?;

    for &(base, size) in &m.ram {
        let n = f.begin_node(&format!("memory@{base:x}"))?;
        f.property_string("device_type", "memory")?;
        f.property_array_u64("reg", &[base, size])?;
        f.end_node(n)?;
    }

    let v2 = m.gic_version == 2;
    let gic = f.begin_node(&format!("interrupt-controller@{:x}", m.gicd))?;
    f.property_string("compatible", if v2 { "arm,cortex-a15-gic" } else { "arm,gic-v3" })?;
    f.property_null("interrupt-controller")?;
    f.property_u32("#interrupt-cells", 3)?;
    if !v2 {
        f.property_u32("#redistributor-regions", 1)?;
    }
    // Parent unit addresses of the PCI host's interrupt-map: 2 cells.
    f.property_u32("#address-cells", 2)?;
    f.property_u32("#size-cells", 2)?;
    f.property_null("ranges")?;
    if v2 {
        f.property_array_u64("reg", &[m.gicd, GICD_V2_SIZE, m.gicc, GICC_V2_SIZE])?;
    } else {
        f.property_array_u64("reg", &[m.gicd, GICD_SIZE, m.gicr, m.gicr_size])?;
    }
    if let Some(mbi) = &m.mbi {
        // Message-based SPIs (arm,gic-v3 binding): Linux's MBI driver
        // takes SPIs from mbi-ranges (INTID, count pairs) and has the
        // device write the INTID to mbi-alias + 0x40 — the ITS's
        // GITS_TRANSLATER, which the hypervisor maps into the cell and
        // has translate each of the cell's INTIDs back to that SPI. The
        // GIC's own GICD_SETSPI_NSR would not do: a device's DMA cannot
        // reach a trapped register (docs/linux-cell.md "MSI").
        f.property_null("msi-controller")?;
        let ranges: Vec<u32> = mbi.ranges.iter().flat_map(|&(first, n)| [first, n]).collect();
        f.property_array_u32("mbi-ranges", &ranges)?;
        // In the root node's address cells (2), which of_translate_address
        // reads it with.
        f.property_array_u32("mbi-alias", &[hi(mbi.alias), lo(mbi.alias)])?;
    }
    f.property_phandle(GIC_PHANDLE)?;
    f.end_node(gic)?;

    // Secure, non-secure physical, virtual, hypervisor timer PPIs. The
    // GICv2 binding names a PPI's CPU interfaces in bits 15:8 of the flags
    // cell (the cell's CPUs: interfaces 0..n as Linux numbers them).
    let timer = f.begin_node("timer")?;
    f.property_string("compatible", "arm,armv8-timer")?;
    let ppi_flags = LEVEL_HIGH | if v2 { ppi_cpu_mask(m.cpus.len()) << 8 } else { 0 };
    let ppis: Vec<u32> = [13u32, 14, 11, 10].iter().flat_map(|&p| [PPI, p, ppi_flags]).collect();
    f.property_array_u32("interrupts", &ppis)?;
    f.property_null("always-on")?;
    f.end_node(timer)?;

    if let Some(uart) = m.uart {
        let clk = f.begin_node("apb-pclk")?;
        f.property_string("compatible", "fixed-clock")?;
        f.property_u32("#clock-cells", 0)?;
        f.property_u32("clock-frequency", 24_000_000)?;
        f.property_string("clock-output-names", "clk24mhz")?;
        f.property_phandle(CLK_PHANDLE)?;
        f.end_node(clk)?;
        let n = f.begin_node(&format!("pl011@{uart:x}"))?;
        f.property_string_list("compatible", vec!["arm,pl011".into(), "arm,primecell".into()])?;
        f.property_array_u64("reg", &[uart, UART_SIZE])?;
        // No interrupt ever comes (the console is output only); Linux's
        // driver still wants one to name: SPI 1, which the cell does not own.
        f.property_array_u32("interrupts", &[SPI, UART_SPI, LEVEL_HIGH])?;
        f.property_array_u32("clocks", &[CLK_PHANDLE, CLK_PHANDLE])?;
        f.property_string_list("clock-names", vec!["uartclk".into(), "apb_pclk".into()])?;
        f.end_node(n)?;
    }

    if let Some(p) = &m.pci {
        let n = f.begin_node(&format!("pcie@{:x}", p.ecam))?;
        f.property_string("compatible", "pci-host-ecam-generic")?;
        f.property_string("device_type", "pci")?;
        f.property_u32("#address-cells", 3)?;
        f.property_u32("#size-cells", 2)?;
        f.property_u32("#interrupt-cells", 1)?;
        f.property_u32("linux,pci-domain", u32::from(p.domain))?;
        f.property_array_u32("bus-range", &[0, u32::from(p.end_bus)])?;
        f.property_array_u64("reg", &[p.ecam, (u64::from(p.end_bus) + 1) << 20])?;
        let mut ranges = vec![PCI_MEM32, hi(p.mem_base), lo(p.mem_base), hi(p.mem_base), lo(p.mem_base), hi(p.mem_size), lo(p.mem_size)];
        // Passed-through BARs: windows at their physical address (guest =
        // PCI = CPU address), above 4 GiB as 64-bit memory.
        for &(base, size) in &p.bar_windows {
            let space = if base + size > 1 << 32 { PCI_MEM64 } else { PCI_MEM32 };
            ranges.extend([space, hi(base), lo(base), hi(base), lo(base), hi(size), lo(size)]);
        }
        f.property_array_u32("ranges", &ranges)?;
        f.property_array_u32("interrupt-map-mask", &intx_mask(p))?;
        f.property_array_u32("interrupt-map", &intx_map(p))?;
        if m.mbi.is_some() {
            // Its functions' MSIs go to the GIC's MBI domain. Only
            // passed-through functions have an MSI or MSI-X capability:
            // ivshmem's expose none (docs/ivshmem.md), so they keep INTx,
            // and Machine::of keeps them off a host with real functions.
            f.property_u32("msi-parent", GIC_PHANDLE)?;
        }
        f.end_node(n)?;
    }

    let ch = f.begin_node("chosen")?;
    f.property_string("bootargs", &chosen.bootargs)?;
    if let Some(uart) = m.uart {
        f.property_string("stdout-path", &format!("/pl011@{uart:x}"))?;
    }
    // Passed-through BARs are fixed (the hypervisor ignores writes to
    // them): Linux must take every BAR as it finds it instead of
    // assigning its own. Machine::of refuses ivshmem next to them, whose
    // BARs the guest places.
    if m.pci.as_ref().is_some_and(|p| !p.passthru.is_empty()) {
        f.property_u32("linux,pci-probe-only", 1)?;
    }
    if let Some((start, end)) = chosen.initrd {
        f.property_u64("linux,initrd-start", start)?;
        f.property_u64("linux,initrd-end", end)?;
    }
    f.end_node(ch)?;
    f.end_node(root)?;
    f.finish()
}
