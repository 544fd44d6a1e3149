//! The root (system) configuration of a board: where the hypervisor and
//! the cells' RAM go, and everything the root Linux keeps.

use super::board::Board;
use super::emit::{self, comment, hex, size, span};
use super::ranges::{self, intersect, merge, page_round, subtract, Range, PAGE};
use anyhow::{bail, ensure};
use std::fmt::Write;

/// What the running Linux tells beyond the device tree.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// "System RAM" of /proc/iomem: the RAM Linux has mapped.
    pub system_ram: Option<Vec<Range>>,
    /// What else /proc/iomem lists (firmware's reservations, devices).
    pub claimed: Vec<Range>,
    /// /proc/cmdline (else /chosen/bootargs is used for `mem=`).
    pub cmdline: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SystemOpts {
    pub name: Option<String>,
    pub cpus: Option<Vec<u32>>,
    /// Size of the area to keep from Linux at the top of RAM when Linux
    /// does not leave one out already.
    pub mem_reserve: Option<u64>,
    /// Hypervisor memory, at the top of the reserved area.
    pub mem_hv: u64,
}

/// Where RAM goes.
#[derive(Clone, Debug)]
pub struct Layout {
    /// RAM Linux uses.
    pub linux: Vec<Range>,
    /// RAM Linux leaves alone: the hypervisor and the cells.
    pub reserved: Range,
    pub hv: Range,
    /// How the reserved area came about, for the comments.
    pub why: String,
    /// What the user must still do (a kernel parameter), if anything.
    pub advice: Option<String>,
}

fn mib(v: u64) -> String {
    if v.is_multiple_of(1 << 20) {
        format!("{}M", v >> 20)
    } else {
        format!("{}K", v >> 10)
    }
}

pub fn layout(board: &Board, live: &Live, opts: &SystemOpts) -> anyhow::Result<Layout> {
    let ram = board.ram_ranges();
    let nomap: Vec<Range> = board.nomap.iter().map(|(r, _)| *r).collect();
    let firmware = merge(nomap.iter().chain(&board.memreserve).copied().collect());
    let cmdline = live.cmdline.clone().or_else(|| board.bootargs.clone());
    let limit = cmdline.as_deref().and_then(ranges::mem_limit);
    let (mut linux, source) = match (&live.system_ram, limit) {
        (Some(sys), _) => (intersect(sys, &ram), "System RAM in /proc/iomem".to_string()),
        (None, Some(l)) => (ranges::apply_mem_limit(&ram, l), format!("mem={}", mib(l))),
        (None, None) => (ram.clone(), "no mem= limit".to_string()),
    };
    ensure!(opts.mem_hv >= PAGE && opts.mem_hv.is_multiple_of(PAGE), "--mem-hv must be a multiple of 4 KiB");
    let taken = merge(firmware.iter().chain(&live.claimed).copied().collect());
    let free: Vec<Range> = subtract(&subtract(&ram, &linux), &taken)
        .into_iter()
        .map(|(s, e)| ((s + PAGE - 1) & !(PAGE - 1), e & !(PAGE - 1)))
        .filter(|(s, e)| e > s)
        .collect();
    // The highest free range that holds the hypervisor (small holes
    // firmware leaves do not count).
    let (reserved, why, advice) = match free.iter().filter(|r| r.1 - r.0 >= opts.mem_hv).max_by_key(|r| r.0) {
        Some(&top) => {
            if let Some(want) = opts.mem_reserve {
                ensure!(
                    top.1 - top.0 >= want,
                    "Linux leaves {} out ({source}), less than --mem-reserve {}",
                    span(top),
                    syshyper_config::source::units::format_size(want)
                );
            }
            (top, format!("RAM Linux does not use ({source})"), None)
        }
        _ => {
            let Some(want) = opts.mem_reserve else {
                bail!(
                    "Linux uses all RAM ({source}): boot it with mem= to leave the top of RAM to sysHyper (e.g. mem={} for 256 MiB), or give --mem-reserve SIZE",
                    mib(ram.iter().map(|r| r.1 - r.0).sum::<u64>().saturating_sub(256 << 20))
                );
            };
            ensure!(want >= opts.mem_hv && want.is_multiple_of(PAGE), "--mem-reserve must hold the hypervisor memory and be a multiple of 4 KiB");
            let usable = subtract(&ram, &taken);
            let Some(&top) = usable.last() else { bail!("no RAM outside firmware's reservations") };
            ensure!(top.1 - top.0 >= want, "the highest RAM bank {} is smaller than --mem-reserve", span(top));
            let area = (top.1 - want, top.1);
            linux = subtract(&linux, &[area]);
            let total: u64 = ram.iter().map(|r| r.1 - r.0).sum();
            (
                area,
                format!("the top {} of RAM, kept from Linux by mem={}", syshyper_config::source::units::format_size(want), mib(total - want)),
                Some(format!("boot Linux with mem={} on its command line (the top {} of RAM, {}, for sysHyper)", mib(total - want), syshyper_config::source::units::format_size(want), span(area))),
            )
        }
    };
    let hv = (reserved.1 - opts.mem_hv, reserved.1);
    Ok(Layout { linux, reserved, hv, why, advice })
}

/// The end of what a cell's stage 2 can map: sysHyper's stage 2 takes
/// 40-bit input addresses (hypervisor/src/mm/paging.rs, STAGE2_IPA_BITS:
/// 1 TiB, so QEMU virt's 64-bit PCI window at 512 GiB fits), and enable
/// refuses a root region above.
pub const IPA_LIMIT: u64 = 1 << 40;

/// A GIC-400 wired with 64 KiB steps shows its 4 KiB CPU-interface pages
/// each aliased over 64 KiB, and the device tree gives 128 KiB: the 8 KiB
/// interface is contiguous only from offset 0xf000 (where Linux's GIC
/// driver moves its base for such a region too).
fn gicv2_cpu_interface(name: &str, r: Range, out: &mut String) -> u64 {
    if name != "gich_base" && r.1 - r.0 == 0x2_0000 && r.0.is_multiple_of(0x1_0000) {
        comment(out, &format!("{name}: {}, a GIC-400 with its 4 KiB pages aliased over 64 KiB: the interface starts at +0xf000.", span(r)));
        r.0 + 0xf000
    } else {
        r.0
    }
}

/// The configuration text, and the advice to print.
pub fn generate(board: &Board, live: &Live, opts: &SystemOpts) -> anyhow::Result<(String, Option<String>)> {
    let lay = layout(board, live, opts)?;
    let gic = &board.gic;
    let mut out = String::new();
    comment(
        &mut out,
        &format!(
            "sysHyper system configuration written by `syshyper config create` from the device tree{}. Reserved area {}: {}; the hypervisor takes {} at its top, cells take their RAM from the rest.",
            board.model.as_deref().map(|m| format!(" of \"{m}\"")).unwrap_or_default(),
            span(lay.reserved),
            lay.why,
            syshyper_config::source::units::format_size(lay.hv.1 - lay.hv.0),
        ),
    );
    out.push_str("\n[system]\nflags = [\"virtual_debug_console\"]\n");
    comment(&mut out, "Top of the reserved area.");
    let _ = writeln!(out, "hypervisor_memory = {{ phys = {}, virt = \"0x0\", size = {} }}", hex(lay.hv.0), size(lay.hv.1 - lay.hv.0));
    match &board.console {
        Some(c) => {
            comment(&mut out, &format!("/chosen/stdout-path: {}", c.path));
            let flags = if c.regdist_4 { "\"mmio\", \"regdist_4\"" } else { "\"mmio\"" };
            let _ = writeln!(out, "debug_console = {{ address = {}, size = \"4 KiB\", type = \"{}\", flags = [{flags}] }}", hex(c.base), c.kind);
        }
        None => comment(&mut out, "No debug console: /chosen/stdout-path names no UART of a type the format knows (pl011, 8250, xuartps, imx, imx_lpuart, mvebu)."),
    }
    comment(
        &mut out,
        &format!("{}: GICv{}{}", gic.path, gic.version, if gic.maintenance_irq.is_some() { "; maintenance interrupt from its interrupts property" } else { "; no interrupts property: the maintenance interrupt is PPI 9, the binding's usual one" }),
    );
    let _ = writeln!(out, "gic_version = {}", gic.version);
    let maint = gic.maintenance_irq.unwrap_or(25);
    ensure!(maint < 256, "{}: maintenance interrupt {maint} does not fit the format", gic.path);
    let _ = writeln!(out, "maintenance_irq = {maint}");
    let _ = writeln!(out, "gicd_base = {}", hex(gic.gicd.0));
    if gic.version == 3 {
        let r = gic.gicr.ok_or_else(|| anyhow::anyhow!("{}: no redistributor region", gic.path))?;
        if gic.gicr_regions.len() > 1 {
            comment(&mut out, &format!("The first of {} redistributor regions (the format has one base).", gic.gicr_regions.len()));
        }
        let _ = writeln!(out, "gicr_base = {}", hex(r.0));
    } else {
        for (name, r) in [("gicc_base", gic.gicc), ("gich_base", gic.gich), ("gicv_base", gic.gicv)] {
            let r = r.ok_or_else(|| anyhow::anyhow!("{}: reg has no {name} (GICv2 needs GICD, GICC, GICH, GICV)", gic.path))?;
            let base = gicv2_cpu_interface(name, r, &mut out);
            let _ = writeln!(out, "{name} = {}", hex(base));
        }
    }

    let cpus: Vec<_> = match &opts.cpus {
        Some(list) => {
            for id in list {
                ensure!(board.cpus.iter().any(|c| c.id == *id), "--cpus: CPU {id} is not in the device tree");
            }
            board.cpus.iter().filter(|c| list.contains(&c.id)).collect()
        }
        None => board.cpus.iter().collect(),
    };
    let name = opts.name.clone().or_else(|| board.model.clone()).unwrap_or_else(|| "root".into());
    let name: String = name.chars().take(31).collect();
    let _ = write!(out, "\n[cell]\nname = {}\n", emit::string(&name));
    out.push_str("flags = [\"vconsole_permitted\"]\n");
    for c in &cpus {
        comment(&mut out, &format!("CPU {}: {}, MPIDR {:#x}", c.id, c.path, c.mpidr));
    }
    let _ = writeln!(out, "cpus = \"{}\"", syshyper_config::source::units::format_list(cpus.iter().map(|c| c.id)));

    // RAM: what Linux uses, then the reserved area without the hypervisor.
    // The root keeps the reserved area so that cells can be carved out of
    // it and loaded (as in the shipped QEMU configuration).
    let nomap: Vec<Range> = board.nomap.iter().map(|(r, _)| *r).collect();
    for ((s, e), path) in &board.ram {
        let bank = subtract(&[(*s, *e)], &nomap);
        for r in intersect(&bank, &lay.linux) {
            emit::memory(&mut out, &format!("RAM Linux uses: {path}, {}", span(r)), r, None, &["read", "write", "execute"]);
        }
        for r in subtract(&subtract(&bank, &lay.linux), &[lay.hv]) {
            let what = if intersect(&[r], &[lay.reserved]).is_empty() { "RAM Linux does not use" } else { "Reserved area for cells" };
            emit::memory(&mut out, &format!("{what}: {path}, {}", span(r)), r, None, &["read", "write", "execute"]);
        }
    }
    for (r, path) in &board.nomap {
        let _ = r;
        out.push('\n');
        comment(&mut out, &format!("Left out: {path}, {}: no-map reserved memory (firmware's).", span(*r)));
    }

    // MMIO: every enabled device's registers, page-rounded; devices that
    // share a page are one region. The GIC stays out (trapped, emulated).
    let ram = board.ram_ranges();
    let mut regions: Vec<(Range, Vec<String>)> = Vec::new();
    for d in &board.devices {
        for (r, what) in &d.regs {
            let r = page_round(*r);
            let label = if what.is_empty() { d.path.clone() } else { format!("{} ({what})", d.path) };
            for piece in subtract(&subtract(&[r], &gic.all_regions), &ram) {
                regions.push((piece, vec![label.clone()]));
            }
        }
    }
    regions.sort_by_key(|(r, _)| *r);
    let mut joined: Vec<(Range, Vec<String>)> = Vec::new();
    for (r, paths) in regions {
        match joined.last_mut() {
            Some((last, lp)) if r.0 < last.1 => {
                last.1 = last.1.max(r.1);
                for p in paths {
                    if !lp.contains(&p) {
                        lp.push(p);
                    }
                }
            }
            _ => joined.push((r, paths)),
        }
    }
    for (r, paths) in &joined {
        ensure!(intersect(&[*r], &[lay.hv]).is_empty(), "{} overlaps the hypervisor memory", paths.join(", "));
        let who = if paths.len() > 3 {
            format!("{}, {} ... {} ({} nodes)", paths[0], paths[1], paths[paths.len() - 1], paths.len())
        } else {
            paths.join(", ")
        };
        if r.1 > IPA_LIMIT {
            out.push('\n');
            comment(&mut out, &format!("Left out: {who}, {}: above the 1 TiB sysHyper's stage 2 covers.", span(*r)));
            continue;
        }
        emit::memory(&mut out, &format!("MMIO: {who}"), *r, None, &["read", "write", "io"]);
    }

    // Interrupts: every SPI up to the highest one the tree names, whole
    // blocks of 128 (the root keeps what no cell takes).
    let top = board.max_spi.unwrap_or(32).max(32);
    let last = 32 + ((top - 32) / 128 + 1) * 128 - 1;
    let all: Vec<u32> = (32..=last).collect();
    emit::irqchips(&mut out, &format!("SPIs 32-{last}: the device tree names SPIs up to INTID {top}."), gic.gicd.0, &all);

    syshyper_config::source::compile(&out).map_err(|e| anyhow::anyhow!("the generated configuration does not compile: {e}\n{out}"))?;
    Ok((out, lay.advice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::create::board::{Board, Gic};

    fn board(ram: &[Range], nomap: &[Range]) -> Board {
        Board {
            model: None,
            cpus: Vec::new(),
            ram: ram.iter().map(|r| (*r, "/memory".to_string())).collect(),
            nomap: nomap.iter().map(|r| (*r, "/reserved-memory/x".to_string())).collect(),
            memreserve: Vec::new(),
            gic: Gic {
                path: "/gic".into(),
                version: 3,
                gicd: (0x800_0000, 0x801_0000),
                gicr: None,
                gicr_regions: Vec::new(),
                gicc: None,
                gich: None,
                gicv: None,
                maintenance_irq: None,
                phandle: None,
                interrupt_cells: 3,
                all_regions: Vec::new(),
            },
            console: None,
            devices: Vec::new(),
            max_spi: None,
            bootargs: None,
        }
    }

    fn opts(reserve: Option<u64>) -> SystemOpts {
        SystemOpts { name: None, cpus: None, mem_reserve: reserve, mem_hv: 4 << 20 }
    }

    #[test]
    fn reserved_area_is_the_highest_free_range_that_holds_the_hypervisor() {
        let b = board(&[(0x4000_0000, 0x8000_0000)], &[]);
        // mem=768M, and firmware's small reservation at the very top.
        let live = Live {
            system_ram: Some(vec![(0x4000_0000, 0x7000_0000)]),
            claimed: vec![(0x7fff_0000, 0x8000_0000)],
            cmdline: None,
        };
        let lay = layout(&b, &live, &opts(None)).unwrap();
        assert_eq!(lay.reserved, (0x7000_0000, 0x7fff_0000));
        assert_eq!(lay.hv, (0x7fbf_0000, 0x7fff_0000));
        assert!(lay.advice.is_none());
        // Asking for more than Linux leaves out is an error.
        assert!(layout(&b, &live, &opts(Some(512 << 20))).is_err());
    }

    #[test]
    fn without_a_reserved_area_mem_reserve_says_which_mem_to_boot_with() {
        let b = board(&[(0x4000_0000, 0x8000_0000)], &[(0x5000_0000, 0x5100_0000)]);
        let live = Live::default();
        assert!(layout(&b, &live, &opts(None)).is_err(), "Linux uses all RAM");
        let lay = layout(&b, &live, &opts(Some(256 << 20))).unwrap();
        assert_eq!(lay.reserved, (0x7000_0000, 0x8000_0000));
        assert_eq!(lay.linux, vec![(0x4000_0000, 0x7000_0000)]);
        assert!(lay.advice.unwrap().contains("mem=768M"));
        // The kernel command line's mem= is honoured like Linux does it.
        let live = Live { cmdline: Some("mem=512M".into()), ..Live::default() };
        assert_eq!(layout(&b, &live, &opts(None)).unwrap().reserved, (0x6000_0000, 0x8000_0000));
    }
}
