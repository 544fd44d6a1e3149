//! What a device tree says about the machine, in the terms of a sysHyper
//! configuration: CPUs, RAM, the GIC, the console, devices and their
//! interrupts. GICv2 and GICv3 nodes are both read, so the same code serves
//! every platform.

use super::dt::{self, Tree, Visit};
use super::ranges::{merge, Range};
use anyhow::{bail, Context};

#[derive(Clone, Debug)]
pub struct Cpu {
    /// Linux's logical CPU number (the cpu_set bit).
    pub id: u32,
    pub path: String,
    pub mpidr: u64,
}

#[derive(Clone, Debug)]
pub struct Gic {
    pub path: String,
    pub version: u8,
    pub gicd: Range,
    /// GICv3 redistributors (the first region; see `gicr_regions`).
    pub gicr: Option<Range>,
    pub gicr_regions: Vec<Range>,
    pub gicc: Option<Range>,
    pub gich: Option<Range>,
    pub gicv: Option<Range>,
    pub maintenance_irq: Option<u32>,
    pub phandle: Option<u32>,
    pub interrupt_cells: usize,
    /// Every region of the node and of its children (ITS ...).
    pub all_regions: Vec<Range>,
}

#[derive(Clone, Debug)]
pub struct Console {
    pub path: String,
    pub base: u64,
    pub kind: &'static str,
    pub regdist_4: bool,
}

/// A device node with MMIO registers in the CPU's address space.
#[derive(Clone, Debug)]
pub struct Device {
    pub path: String,
    /// Each range with what it is, when not plain `reg` (PCI windows).
    pub regs: Vec<(Range, &'static str)>,
}

#[derive(Clone, Debug)]
pub struct Board {
    pub model: Option<String>,
    pub cpus: Vec<Cpu>,
    /// (range, memory node path).
    pub ram: Vec<(Range, String)>,
    /// Reserved-memory nodes with `no-map`: firmware's, never Linux's.
    pub nomap: Vec<(Range, String)>,
    pub memreserve: Vec<Range>,
    pub gic: Gic,
    pub console: Option<Console>,
    pub devices: Vec<Device>,
    /// The highest SPI INTID any node names for the GIC.
    pub max_spi: Option<u32>,
    pub bootargs: Option<String>,
}

const GICV3: &[&str] = &["arm,gic-v3"];
const GICV2: &[&str] = &["arm,gic-400", "arm,cortex-a15-gic", "arm,cortex-a9-gic", "arm,cortex-a7-gic", "arm,gic-v2", "arm,arm11mp-gic"];

/// Console types the configuration format knows, by compatible string, and
/// whether its registers are 32-bit words 4 bytes apart (REGDIST_4; for
/// 8250s `reg-shift = <2>` says so too).
const CONSOLES: &[(&str, &str, bool)] = &[
    ("arm,pl011", "pl011", true),
    ("arm,sbsa-uart", "pl011", true),
    ("xlnx,xuartps", "xuartps", true),
    ("cdns,uart-r1p12", "xuartps", true),
    ("cdns,uart-r1p8", "xuartps", true),
    ("brcm,bcm2835-aux-uart", "8250", true),
    ("snps,dw-apb-uart", "8250", false),
    ("ns16550a", "8250", false),
    ("ns16550", "8250", false),
    ("ns8250", "8250", false),
    ("fsl,imx21-uart", "imx", true),
    ("fsl,imx6q-uart", "imx", true),
    ("fsl,imx7ulp-lpuart", "imx_lpuart", true),
    ("fsl,imx8qm-lpuart", "imx_lpuart", true),
    ("marvell,armada-3700-uart", "mvebu", true),
];

impl Board {
    /// `cpu_ids`: Linux's logical number of each CPU node path, when the
    /// live system tells it (/sys/devices/system/cpu/cpuN/of_node).
    pub fn read(tree: &Tree, cpu_ids: Option<&[(u32, String)]>) -> anyhow::Result<Board> {
        let walk = tree.walk();
        let enabled = |v: &Visit<'_>| v.node.enabled() && v.parents.iter().all(|p| p.enabled());
        let cpus = read_cpus(tree, &walk, cpu_ids)?;

        let mut ram = Vec::new();
        let mut nomap = Vec::new();
        for v in &walk {
            let parent_is_root = v.parents.len() == 1;
            if parent_is_root && v.node.prop_str("device_type") == Some("memory") && enabled(v) {
                for r in dt::reg_cpu(v).unwrap_or_default() {
                    ram.push(((r.0, r.0 + r.1), v.path.clone()));
                }
            }
            if v.path.starts_with("/reserved-memory/") && v.parents.len() == 2 && v.node.prop("no-map").is_some() && enabled(v) {
                for r in dt::reg_cpu(v).unwrap_or_default() {
                    nomap.push(((r.0, r.0 + r.1), v.path.clone()));
                }
            }
        }
        ram.sort();
        if ram.is_empty() {
            bail!("the device tree has no memory node");
        }
        let gic = read_gic(tree, &walk)?;
        let console = read_console(tree, &walk);
        let mut devices = Vec::new();
        let mut max_spi: Option<u32> = None;
        for v in &walk {
            if !enabled(v) {
                continue;
            }
            for intid in interrupts_of(tree, v, &gic) {
                if intid >= 32 {
                    max_spi = Some(max_spi.map_or(intid, |m| m.max(intid)));
                }
            }
            if skip_device(v, &gic) {
                continue;
            }
            let mut regs: Vec<(Range, &'static str)> = dt::reg_cpu(v).unwrap_or_default().into_iter().map(|(s, l)| ((s, s.saturating_add(l)), "")).collect();
            if v.node.prop_str("device_type") == Some("pci") {
                regs.extend(pci_windows(v).into_iter().map(|r| (r, "PCI window from ranges")));
            }
            if !regs.is_empty() {
                devices.push(Device { path: v.path.clone(), regs });
            }
        }
        Ok(Board {
            model: tree.root.prop_str("model").map(str::to_string),
            cpus,
            ram,
            nomap,
            memreserve: tree.memreserve.iter().map(|&(s, l)| (s, s + l)).collect(),
            gic,
            console,
            devices,
            max_spi,
            bootargs: tree.root.child("chosen").and_then(|c| c.prop_str("bootargs")).map(str::to_string),
        })
    }

    pub fn ram_ranges(&self) -> Vec<Range> {
        merge(self.ram.iter().map(|(r, _)| *r).collect())
    }
}

/// Nodes that are not devices for the root's MMIO map: the tree's own
/// bookkeeping, CPUs, RAM, the GIC (the hypervisor traps it) and devices
/// behind a PCI host (their BARs sit in the host's windows).
fn skip_device(v: &Visit<'_>, gic: &Gic) -> bool {
    let top = v.path.split('/').nth(1).unwrap_or("");
    let top_name = top.split('@').next().unwrap_or("");
    v.parents.is_empty()
        || matches!(top_name, "cpus" | "chosen" | "aliases" | "reserved-memory" | "memory" | "__symbols__" | "__overrides__" | "psci" | "firmware")
        || v.node.prop_str("device_type") == Some("memory")
        || v.path == gic.path
        || v.path.starts_with(&format!("{}/", gic.path))
        || v.parents.iter().any(|p| p.prop_str("device_type") == Some("pci"))
}

fn read_cpus(tree: &Tree, walk: &[Visit<'_>], cpu_ids: Option<&[(u32, String)]>) -> anyhow::Result<Vec<Cpu>> {
    let Some(cpus_node) = tree.root.child("cpus") else { bail!("the device tree has no /cpus node") };
    let (ac, _) = cpus_node.child_cells();
    let mut out = Vec::new();
    let mut next = 0u32;
    for v in walk.iter().filter(|v| v.parents.len() == 2 && v.path.starts_with("/cpus/")) {
        if v.node.prop_str("device_type") != Some("cpu") || !matches!(v.node.prop_str("status"), None | Some("okay") | Some("ok")) {
            continue;
        }
        let mut cells = &v.node.prop_u32s("reg").unwrap_or_default()[..];
        let Some(mpidr) = dt::read_cells(&mut cells, ac) else { bail!("{}: no reg (MPIDR)", v.path) };
        let id = match cpu_ids {
            Some(ids) => match ids.iter().find(|(_, p)| *p == v.path) {
                Some((id, _)) => *id,
                None => continue, // a CPU node Linux did not bring up
            },
            None => {
                next += 1;
                next - 1
            }
        };
        out.push(Cpu { id, path: v.path.clone(), mpidr });
    }
    out.sort_by_key(|c| c.id);
    if out.is_empty() {
        bail!("the device tree names no CPU");
    }
    Ok(out)
}

fn read_gic(tree: &Tree, walk: &[Visit<'_>]) -> anyhow::Result<Gic> {
    // The root's interrupt parent when it is a GIC, else the first GIC.
    let parent_ph = tree.root.prop_u32("interrupt-parent");
    let gics: Vec<&Visit<'_>> = walk
        .iter()
        .filter(|v| v.node.prop("interrupt-controller").is_some() && (v.node.is_compatible(GICV3) || v.node.is_compatible(GICV2)))
        .filter(|v| v.node.enabled())
        .collect();
    let v = gics
        .iter()
        .find(|v| parent_ph.is_some() && v.node.prop_u32("phandle") == parent_ph)
        .or(gics.first())
        .context("the device tree has no GICv2 or GICv3 node")?;
    let version = if v.node.is_compatible(GICV3) { 3 } else { 2 };
    let regs: Vec<Range> = dt::reg_cpu(v).with_context(|| format!("{}: reg", v.path))?.into_iter().map(|(s, l)| (s, s + l)).collect();
    let get = |i: usize| regs.get(i).copied();
    let (gicr_regions, rest_at) = if version == 3 {
        let n = v.node.prop_u32("#redistributor-regions").unwrap_or(1) as usize;
        (regs.iter().skip(1).take(n).copied().collect::<Vec<_>>(), 1 + n)
    } else {
        (Vec::new(), 1)
    };
    // GICv3: GICD, GICR..., then GICC, GICH, GICV; GICv2: GICD, GICC, GICH, GICV.
    let gicd = get(0).with_context(|| format!("{}: no distributor in reg", v.path))?;
    let icells = v.node.prop_u32("#interrupt-cells").unwrap_or(3) as usize;
    let maintenance_irq = v.node.prop_u32s("interrupts").and_then(|cells| gic_intid(&cells, icells));
    let mut all_regions = Vec::new();
    for w in walk.iter().filter(|w| w.path == v.path || w.path.starts_with(&format!("{}/", v.path))) {
        all_regions.extend(dt::reg_cpu(w).unwrap_or_default().into_iter().map(|(s, l)| (s, s + l)));
    }
    Ok(Gic {
        path: v.path.clone(),
        version,
        gicd,
        gicr: gicr_regions.first().copied(),
        gicr_regions,
        gicc: get(rest_at),
        gich: get(rest_at + 1),
        gicv: get(rest_at + 2),
        maintenance_irq,
        phandle: v.node.prop_u32("phandle").or_else(|| v.node.prop_u32("linux,phandle")),
        interrupt_cells: icells,
        all_regions: merge(all_regions),
    })
}

/// A GIC interrupt specifier (type, number, flags[, partition]) as an INTID.
fn gic_intid(cells: &[u32], icells: usize) -> Option<u32> {
    if icells < 2 || cells.len() < icells {
        return None;
    }
    match cells[0] {
        0 => cells[1].checked_add(32),    // SPI
        1 => cells[1].checked_add(16),    // PPI
        2 => cells[1].checked_add(4096),  // GICv3.1 extended SPI
        _ => None,
    }
}

/// The GIC INTIDs a node's `interrupts` or `interrupts-extended` name.
pub fn interrupts_of(tree: &Tree, v: &Visit<'_>, gic: &Gic) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(ext) = v.node.prop_u32s("interrupts-extended") {
        let mut rest = &ext[..];
        while let Some((&ph, tail)) = rest.split_first() {
            let Some(ctl) = tree.by_phandle(ph) else { break };
            let n = ctl.prop_u32("#interrupt-cells").unwrap_or(1) as usize;
            if tail.len() < n {
                break;
            }
            if Some(ph) == gic.phandle {
                out.extend(gic_intid(&tail[..n], n));
            }
            rest = &tail[n..];
        }
        return out;
    }
    let Some(cells) = v.node.prop_u32s("interrupts") else { return out };
    // The nearest interrupt-parent up the tree.
    let parent = std::iter::once(v.node).chain(v.parents.iter().rev().copied()).find_map(|n| n.prop_u32("interrupt-parent"));
    if parent.is_none() || parent != gic.phandle {
        return out;
    }
    for spec in cells.chunks_exact(gic.interrupt_cells.max(1)) {
        out.extend(gic_intid(spec, gic.interrupt_cells));
    }
    out
}

/// A PCI host's windows: its `ranges` (3-cell PCI address, parent address,
/// 2-cell size) in CPU addresses.
fn pci_windows(v: &Visit<'_>) -> Vec<Range> {
    let Some(ranges) = v.node.prop_u32s("ranges") else { return Vec::new() };
    let (cac, csc) = v.node.child_cells();
    let Some(parent) = v.parents.last() else { return Vec::new() };
    let (pac, _) = parent.child_cells();
    let mut r = &ranges[..];
    let mut out = Vec::new();
    while !r.is_empty() {
        let (Some(_), Some(par), Some(len)) = (dt::read_cells(&mut r, cac), dt::read_cells(&mut r, pac), dt::read_cells(&mut r, csc)) else { break };
        if let Some(cpu) = dt::translate(par, &v.parents) {
            out.push((cpu, cpu.saturating_add(len)));
        }
    }
    out
}

fn read_console(tree: &Tree, walk: &[Visit<'_>]) -> Option<Console> {
    let chosen = tree.root.child("chosen")?;
    let spec = chosen.prop_str("stdout-path").or_else(|| chosen.prop_str("linux,stdout-path"))?;
    let target = spec.split(':').next()?;
    let (path, _) = tree.find(target)?;
    console_of(walk.iter().find(|v| v.path == path)?)
}

/// A UART node as a console, if the format knows its type.
pub fn console_of(v: &Visit<'_>) -> Option<Console> {
    let node = v.node;
    let (kind, regdist_4) = CONSOLES.iter().find(|(c, _, _)| node.is_compatible(&[c])).map(|(_, k, r)| (*k, *r))?;
    let base = dt::reg_cpu(v)?.first()?.0;
    // 8250s: registers 4 bytes apart when reg-shift is 2.
    let regdist_4 = regdist_4 || node.prop_u32("reg-shift") == Some(2);
    Some(Console { path: v.path.clone(), base, kind, regdist_4 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gic_specifiers() {
        assert_eq!(gic_intid(&[1, 9, 4], 3), Some(25));
        assert_eq!(gic_intid(&[0, 1, 4], 3), Some(33));
        assert_eq!(gic_intid(&[1, 9, 4, 0], 4), Some(25));
        assert_eq!(gic_intid(&[0, 1], 3), None);
    }
}
