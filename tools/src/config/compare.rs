//! `config compare A.cell B.cell`: how two system configurations differ in
//! what they mean (not byte for byte): hypervisor memory, console, GIC,
//! root CPUs, the RAM and MMIO the root maps (as covered address ranges,
//! however they are split into regions), its SPIs and virtual PCI. One
//! line per difference; nothing printed means equivalent.

use super::create::ranges::{merge, subtract, Range};
use syshyper_config::flags::mem;
use syshyper_config::SystemConfig;

fn spans(v: &[Range]) -> String {
    v.iter().map(|(s, e)| format!("{s:#x}-{:#x}", e - 1)).collect::<Vec<_>>().join(", ")
}

/// (RAM, MMIO) the root cell maps, as merged ranges.
fn coverage(sys: &SystemConfig<'_>) -> (Vec<Range>, Vec<Range>) {
    let (mut ram, mut io) = (Vec::new(), Vec::new());
    for m in sys.root_cell().memory_regions() {
        let flags = m.flags.get();
        let r = (m.phys_start.get(), m.phys_start.get().saturating_add(m.size.get()));
        if flags & mem::COMM_REGION != 0 || r.1 == r.0 {
            continue;
        }
        if flags & mem::IO != 0 { io.push(r) } else { ram.push(r) }
    }
    (merge(ram), merge(io))
}

fn spis(sys: &SystemConfig<'_>) -> Vec<Range> {
    let mut v = Vec::new();
    for c in sys.root_cell().irqchips() {
        for (w, bits) in c.pin_bitmap.iter().enumerate() {
            for b in 0..32u64 {
                if bits.get() & (1 << b) != 0 {
                    let i = u64::from(c.pin_base.get()) + w as u64 * 32 + b;
                    v.push((i, i + 1));
                }
            }
        }
    }
    merge(v)
}

pub fn differences(a: &SystemConfig<'_>, b: &SystemConfig<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut same = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{what}: {x} | {y}"));
        }
    };
    let hv = |s: &SystemConfig<'_>| {
        let m = s.hypervisor_memory();
        format!("{:#x} size {:#x}", m.phys_start.get(), m.size.get())
    };
    same("hypervisor memory", hv(a), hv(b));
    let con = |s: &SystemConfig<'_>| {
        let c = s.debug_console();
        format!("{:#x} type {} flags {:#x}", c.address.get(), c.console_type.get(), c.flags.get())
    };
    same("debug console", con(a), con(b));
    let gic = |s: &SystemConfig<'_>| {
        format!(
            "v{} maintenance {} gicd {:#x} gicr {:#x} gicc {:#x} gich {:#x} gicv {:#x}",
            s.gic_version(), s.maintenance_irq(), s.gicd_base(), s.gicr_base(), s.gicc_base(), s.gich_base(), s.gicv_base()
        )
    };
    same("GIC", gic(a), gic(b));
    let cpus = |s: &SystemConfig<'_>| syshyper_config::source::units::format_list(s.root_cell().cpus());
    same("root CPUs", cpus(a), cpus(b));
    let pci = |s: &SystemConfig<'_>| {
        format!("mmconfig {:#x}, {} PCI devices", s.pci_mmconfig_base(), s.root_cell().pci_devices().len())
    };
    same("virtual PCI", pci(a), pci(b));
    let ((ra, ia), (rb, ib)) = (coverage(a), coverage(b));
    for (what, x, y) in [("RAM", &ra, &rb), ("MMIO", &ia, &ib)] {
        let only_a = subtract(x, y);
        let only_b = subtract(y, x);
        if !only_a.is_empty() {
            out.push(format!("{what} only in the first: {}", spans(&only_a)));
        }
        if !only_b.is_empty() {
            out.push(format!("{what} only in the second: {}", spans(&only_b)));
        }
    }
    let (sa, sb) = (spis(a), spis(b));
    for (which, d) in [("first", subtract(&sa, &sb)), ("second", subtract(&sb, &sa))] {
        if !d.is_empty() {
            out.push(format!("SPIs only in the {which}: {}", d.iter().map(|(s, e)| format!("{s}-{}", e - 1)).collect::<Vec<_>>().join(", ")));
        }
    }
    out
}
