//! `config check --live`: what the running root Linux still uses that the
//! configurations give away: RAM it has mapped, interrupts it has
//! requested, CPUs it has online.

use super::ranges::{intersect, Range};
use syshyper_config::flags::mem;
use syshyper_config::{CellConfig, SystemConfig};

/// The live system's state, read from /proc and /sys.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub system_ram: Vec<Range>,
    /// (GIC INTID, the names /proc/interrupts gives it).
    pub irqs: Vec<(u32, String)>,
    pub online: Vec<u32>,
}

/// One finding; errors make `config check` fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    pub text: String,
}

/// The GIC interrupts /proc/interrupts lists: each line is `N:`, one count
/// per CPU, the chip, the hardware number (the INTID for GIC domains),
/// then the trigger and the names of the handlers.
pub fn parse_interrupts(text: &str) -> Vec<(u32, String)> {
    let mut lines = text.lines();
    let ncpus = lines.next().map_or(0, |h| h.split_whitespace().filter(|w| w.starts_with("CPU")).count());
    lines
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.next()?.strip_suffix(':')?.parse::<u32>().ok()?;
            for _ in 0..ncpus {
                w.next()?;
            }
            let chip = w.next()?;
            if !chip.starts_with("GIC") {
                return None;
            }
            let hwirq = w.next()?.parse::<u32>().ok()?;
            let rest: Vec<&str> = w.collect();
            let names = match rest.first() {
                Some(&("Level" | "Edge")) => rest[1..].join(" "),
                _ => rest.join(" "),
            };
            Some((hwirq, names))
        })
        .collect()
}

pub fn audit(state: &State, sys: Option<&SystemConfig<'_>>, cells: &[(String, CellConfig<'_>)]) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(sys) = sys {
        let hv = sys.hypervisor_memory();
        let r = (hv.phys_start.get(), hv.phys_start.get().saturating_add(hv.size.get()));
        for o in intersect(&[r], &state.system_ram) {
            out.push(Finding { error: true, text: format!("hypervisor memory {:#x}-{:#x} is RAM Linux uses (System RAM in /proc/iomem): boot Linux with mem= below it", o.0, o.1 - 1) });
        }
    }
    for (file, cell) in cells {
        let name = cell.name();
        for m in cell.memory_regions() {
            let flags = m.flags.get();
            // Devices, the comm region and memory the root keeps are not
            // taken from Linux's RAM.
            if flags & (mem::IO | mem::COMM_REGION | mem::ROOTSHARED) != 0 {
                continue;
            }
            let r = (m.phys_start.get(), m.phys_start.get().saturating_add(m.size.get()));
            for o in intersect(&[r], &state.system_ram) {
                out.push(Finding { error: true, text: format!("{file}: cell \"{name}\": memory {:#x}-{:#x} is RAM Linux uses (System RAM in /proc/iomem)", o.0, o.1 - 1) });
            }
        }
        for chip in cell.irqchips() {
            let base = chip.pin_base.get();
            for (word, bits) in chip.pin_bitmap.iter().enumerate() {
                for bit in 0..32u32 {
                    if bits.get() & (1 << bit) == 0 {
                        continue;
                    }
                    let intid = base.saturating_add(word as u32 * 32 + bit);
                    for (_, who) in state.irqs.iter().filter(|(i, _)| *i == intid) {
                        out.push(Finding { error: true, text: format!("{file}: cell \"{name}\": interrupt {intid} is requested by Linux ({who})") });
                    }
                }
            }
        }
        let online: Vec<u32> = cell.cpus().filter(|c| state.online.contains(c)).collect();
        if !online.is_empty() {
            out.push(Finding {
                error: false,
                text: format!("{file}: cell \"{name}\": CPU {} online in Linux (cell create takes it offline)", syshyper_config::source::units::format_list(online)),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_of_gic_chips_only() {
        let text = "           CPU0       CPU1       \n 11:       1234       5678     GICv3  27 Level     arch_timer\n 13:         88          0     GICv3  33 Level     uart-pl011\n 14:          0          0     GICv3  79 Edge      virtio0, virtio1\n 20:          0          0  ITS-MSI 16384 Edge  eth0\nIPI0:       10         10       Rescheduling interrupts\n";
        assert_eq!(
            parse_interrupts(text),
            vec![(27, "arch_timer".into()), (33, "uart-pl011".into()), (79, "virtio0, virtio1".into())]
        );
    }
}
