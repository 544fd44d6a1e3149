//! Bring-up after the switch to virtual addresses: global init on the first
//! CPU, per-CPU init on all, the rendezvous, and the first entry into the
//! root cell (boot-first) or the return to Linux (late launch).

use crate::arch::{self, consts::FRAME_SIZE};
use crate::cell::{self, Cell, CellState, CELLS};
use crate::errno::*;
use crate::hv::{self, Hv, POOL, VIRT_BASE};
use crate::layout::*;
use crate::memmap::{self, OwnedTable};
use crate::mm::frame::FramePool;
use crate::mm::page_align_up;
use crate::percpu::{percpu, this_cpu, CpuState};
use crate::sysconfig::SystemView;
use crate::trap::{self, TrapFrame};
use crate::{irqchip, mm, println};
use crate::rendezvous::Rendezvous;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

extern crate alloc;

// Early synchronisation lives in .data: .bss is zeroed by the first CPU
// while the others already wait here.
#[link_section = ".data.early"]
static ENTERED: AtomicU32 = AtomicU32::new(0);
#[link_section = ".data.early"]
static INIT_STATE: AtomicU32 = AtomicU32::new(0);
/// Late launch: the first failure and the all-CPU decision (rendezvous.rs).
#[link_section = ".data.early"]
static RV: Rendezvous = Rendezvous::new();
/// Boot-first: the CPUs that finished their init.
#[link_section = ".data.early"]
static ARRIVED: AtomicU32 = AtomicU32::new(0);
/// Physical base of the image, known from the entry code before any global
/// state exists: a failed late launch needs it to leave through the
/// identity-mapped trampoline even when global init never published `Hv`.
#[link_section = ".data.early"]
static PHYS_BASE: AtomicU64 = AtomicU64::new(0);

const INIT_PENDING: u32 = 0;
const INIT_DONE: u32 = 1;
const FRAME_PAGE: u64 = crate::mm::PAGE_SIZE;
/// How long the late-launch rendezvous waits for every root CPU. The
/// driver calls all CPUs at once from stop_machine(), so they arrive within
/// microseconds on hardware; the bound is for a caller that cannot hand a
/// CPU over (Jailhouse's driver uses IPIs, which a CPU spinning with
/// interrupts off never takes) and is generous for emulators on a loaded
/// host, yet below Linux's RCU stall timeout (21 s), so Linux comes back
/// without stall warnings.
const RENDEZVOUS_TIMEOUT_S: u64 = 10;


/// Physical address of Linux's hyp stub vectors (late launch).
pub fn stub_vectors() -> u64 {
    header().arm_linux_hyp_vectors
}

fn header() -> &'static HvHeader {
    extern "C" {
        static __image_start: HvHeader;
    }
    // SAFETY: the linker places the header at __image_start; the image is
    // mapped for the hypervisor's lifetime and the fields read here are
    // written only before enable (driver or xtask).
    unsafe { &*core::ptr::addr_of!(__image_start) }
}

/// Zeroes .bss; only the first CPU, before anything uses .bss.
fn zero_bss() {
    extern "C" {
        static mut __bss_start: u8;
        static mut __bss_end: u8;
    }
    // SAFETY: nothing has used .bss yet (the other CPUs wait on .data
    // atomics); the range is the linker's .bss, mapped read-write.
    unsafe {
        let start = core::ptr::addr_of_mut!(__bss_start) as u64;
        let end = core::ptr::addr_of_mut!(__bss_end) as u64;
        arch::zero_normal(start, end - start);
    }
}

/// Frame at the top of this CPU's stack.
fn my_frame(cpu: u64) -> &'static mut TrapFrame {
    let h = hv::get().map(|h| h.layout).unwrap_or(Layout::from_header(header()));
    let va = VIRT_BASE + h.percpu_offset(cpu) + h.percpu_size - FRAME_SIZE as u64;
    // SAFETY: the trap frame slot sits above everything this CPU's stack
    // holds (the entry code set sp just below it), belongs to this CPU
    // only, and is never referenced elsewhere while Rust code runs here.
    unsafe { &mut *(va as *mut TrapFrame) }
}

#[no_mangle]
extern "C" fn rust_entry(cpu: u64, mode: u64, phys_base: u64) -> ! {
    // Before anything deep runs on this stack (global init included).
    crate::stack::paint(&Layout::from_header(header()), VIRT_BASE, cpu);
    let mode = mode as usize;
    // Every CPU computes the same value, so the racing stores agree.
    PHYS_BASE.store(phys_base, Ordering::Release);
    if ENTERED.fetch_add(1, Ordering::AcqRel) == 0 {
        match global_init(phys_base, mode) {
            Ok(()) => INIT_STATE.store(INIT_DONE, Ordering::Release),
            Err(e) => fail_init(e),
        }
    }
    while INIT_STATE.load(Ordering::Acquire) == INIT_PENDING && RV.error() == 0 {
        arch::cpu_relax();
    }
    if RV.error() == 0 {
        if let Err(e) = cpu_init(cpu) {
            fail_init(e);
        }
    }
    match mode {
        MODE_LATE => late_launch_finish(cpu),
        MODE_BOOT_PRIMARY => boot_primary_finish(cpu),
        _ => boot_secondary_finish(cpu),
    }
}

fn fail_init(err: i64) {
    RV.fail(err);
}

/// Logs why enabling is refused (to the console page, and to the UART
/// once it is set up) and returns the error for every CPU.
fn refuse(err: i64, why: core::fmt::Arguments) -> i64 {
    println!("sysHyper: enable refused ({err}): {why}");
    err
}

fn global_init(phys_base: u64, mode: usize) -> Result<(), i64> {
    zero_bss();
    mm::heap::init();
    // Output before the UART is mapped still reaches the console page,
    // which the driver dumps after a failed enable.
    crate::console::init_log(log::LevelFilter::Info);
    let h = header();
    let layout = Layout::from_header(h);
    let cfg_va = VIRT_BASE + layout.config_offset();
    let boot_map_end = VIRT_BASE + (arch::consts::BOOT_PT_BLOCKS as u64) * 0x20_0000;
    let avail = boot_map_end
        .checked_sub(cfg_va)
        .ok_or_else(|| refuse(-EINVAL, format_args!("the system configuration lies outside the boot map")))?;
    // SAFETY: [cfg_va, boot_map_end) is inside the boot map (checked above)
    // and is hypervisor memory the driver filled; nothing writes it now.
    let raw = unsafe { core::slice::from_raw_parts(cfg_va as *const u8, avail as usize) };
    let sys = SystemView::parse(raw)
        .map_err(|e| refuse(-EINVAL, format_args!("invalid system configuration: {e}")))?;
    let cfg_len = sys.total_size();
    let (hv_phys, hv_size) = sys.hypervisor_memory();
    if hv_phys != phys_base {
        return Err(refuse(-EINVAL, format_args!(
            "hypervisor_memory starts at {hv_phys:#x}, but the image was loaded at {phys_base:#x}")));
    }
    if layout.config_offset() + cfg_len as u64 + crate::mm::PAGE_SIZE > hv_size {
        return Err(refuse(-ENOMEM, format_args!(
            "hypervisor memory of {hv_size:#x} bytes leaves no page pool after image, per-CPU areas and configuration")));
    }
    // SAFETY: same memory as above, now bounded by the config's own size.
    let config: &'static [u8] = unsafe { core::slice::from_raw_parts(cfg_va as *const u8, cfg_len) };
    let hv = hv::set(Hv {
        layout,
        phys_base,
        hv_size,
        online_cpus: h.online_cpus,
        boot_first: mode != MODE_LATE,
        config,
        pci: sys.virtual_host(),
        gic: sys.gic(),
        gic_v2: sys.gic_v2(),
    });
    let pool_start = phys_base + page_align_up(layout.config_offset() + cfg_len as u64);
    *POOL.lock() = Some(FramePool::new(pool_start, phys_base + hv_size));

    let (uart_phys, uart_type, uart_flags) = sys.debug_console();
    let (gic_version, maintenance_irq, gicd, gicr) = sys.gic();
    // The implementation is chosen here, from the configuration alone; with
    // none for this version nothing of the GIC is mapped and the refusal
    // below (once the console works) names the reason.
    let chip = irqchip::select(gic_version);
    let gic_regions = chip.map(|c| c.regions(irqchip::Bases { gicd, gicr, v2: sys.gic_v2() }, layout.max_cpus)).unwrap_or_default();
    let (table, io) = memmap::build_el2_map(hv, uart_phys, &gic_regions)
        .map_err(|e| refuse(-ENOMEM, format_args!("cannot build the EL2 address space ({e:?})")))?;
    arch::switch_el2_table(table.root());
    memmap::install_el2_table(table);
    crate::console::init_uart(io.uart, uart_type, uart_flags);
    println!();
    println!("sysHyper {} — static partitioning hypervisor (EL2, {})", env!("CARGO_PKG_VERSION"),
        if hv.boot_first { "boot-first" } else { "late launch" });
    println!("hypervisor memory {:#x}+{:#x}, {} CPUs max, page pool {} pages",
        phys_base, hv_size, layout.max_cpus, crate::hv::pool_usage().0);
    let chip = chip.map_err(|e| refuse(-ENODEV, format_args!("{e}")))?;
    if u32::from(maintenance_irq) != chip.maintenance_irq() {
        return Err(refuse(-EINVAL, format_args!(
            "the system configuration's maintenance_irq is {maintenance_irq}; this GIC implementation uses PPI {}",
            chip.maintenance_irq())));
    }
    // A GICv2 driver must not program a GICv3 (or anything else) because a
    // configuration says so: the distributor identifies itself first.
    // And the other way round: a GICv3 configuration on a GICv2 would
    // have the GICv3 driver touch redistributors that do not exist (an
    // external abort at EL2). GICv2's PIDR2 offset reads 0 on a GICv3.
    let rev = irqchip::gicv2::arch_rev(io.gic[0]);
    if chip == irqchip::Chip::GicV2 && rev != 2 {
        return Err(refuse(-ENODEV, format_args!(
            "the system configuration names GIC version 2, but the distributor at {gicd:#x} reports architecture revision {rev}")));
    }
    if chip == irqchip::Chip::GicV3 && rev == 2 {
        return Err(refuse(-ENODEV, format_args!(
            "the system configuration names GIC version 3, but the distributor at {gicd:#x} is a GICv2 (architecture revision 2)")));
    }
    let cell_map = chip.cell_mapping(irqchip::Bases { gicd, gicr, v2: sys.gic_v2() });
    let setup = irqchip::Setup { regions: gic_regions, va: io.gic, max_cpus: layout.max_cpus, boot_first: hv.boot_first, cell_map };
    irqchip::init_global(chip, &setup);

    // The SMMU before the root's tables: whether the root needs a DMA
    // mirror depends on the unit.
    if let Some((base, size)) = crate::iommu::unit_region(&sys) {
        crate::iommu::init(base, size)?;
    }
    // The ITS is only recorded: the first cell with an MSI device
    // brings it up (irqchip::gicv3::its).
    if let Some((base, size)) = sys.its_units().next() {
        if chip != irqchip::Chip::GicV3 || size != syshyper_config::flags::iommu::GICV3_ITS_SIZE || !base.is_multiple_of(0x1_0000) {
            return Err(refuse(-EINVAL, format_args!("the GICv3 ITS at {base:#x} needs gic_version 3, 64 KiB alignment and 128 KiB")));
        }
        irqchip::gicv3::its::configure(base);
    }
    let root = create_root_cell(&sys, hv)
        .map_err(|e| refuse(e, format_args!("cannot map the root cell's memory regions")))?;
    println!("root cell \"{}\": CPUs {:#x}, stage-2 root {:#x}",
        sys.root().name(), root.cpus, root.stage2.root());
    CELLS.lock().push(root);
    Ok(())
}

fn create_root_cell(sys: &SystemView<'_>, hv: &Hv) -> Result<Cell, i64> {
    use cell::desc::Span;
    use cell::owner::{self, machine::Machine};
    let view = sys.root();
    let desc = cell::desc::CellDesc::for_root(&view, &cell::manage::platform(hv)).map_err(|e| e.errno())?;
    // Whatever the root's regions say, it never maps hypervisor memory
    // (per-CPU areas hold other cells' registers, the pool their configs,
    // comm pages and tables) nor the GIC, which stays trapped.
    let [g0, g1, g2, g3] = irqchip::regions().slots();
    // The virtual PCI host's ECAM stays trapped too, if the root sees it.
    let ecam = desc.ecam(&cell::manage::platform(hv)).map_or((0, 0), |s| (s.start, s.len()));
    // The SMMU is the hypervisor's: the root never maps its registers.
    let smmu = crate::iommu::unit_region(sys).unwrap_or((0, 0));
    let hidden = [(hv.phys_base, hv.hv_size), (g0.base, g0.size), (g1.base, g1.size), (g2.base, g2.size), (g3.base, g3.size), ecam, smmu]
        .map(|(b, s)| if b != 0 && s != 0 { Span::sized(b, s).unwrap_or(Span { start: 0, end: 0 }) } else { Span { start: 0, end: 0 } });
    // Only two pages of hypervisor memory stay readable to the root: the
    // image header (the driver reads it when adopting a boot-first
    // hypervisor) and the console page.
    let console_off = header().console_page;
    let read_only = [hv.phys_base, hv.phys_base + (console_off & !(FRAME_PAGE - 1))];
    let stage2 = owner::build_root(&mut Machine, &desc, &hidden, &read_only).map_err(|e| e.errno())?;
    owner::adopt_root_irqs(&mut Machine, &desc);
    let cpus = view.cpu_mask();
    // With a stage-1-only SMMU the root's devices walk a mirror of its
    // stage 2 (without the read-only header and console pages).
    let dma = if crate::iommu::present() && crate::iommu::needs_mirror() {
        Some(owner::build_root_dma(&mut Machine, &desc, &hidden).map_err(|e| e.errno())?)
    } else {
        None
    };
    let domain = crate::iommu::DmaDomain { cell: 0, vmid: 0, s2_root: stage2.root(), mirror: dma.as_ref().map(|t| t.root()) };
    owner::attach_root_streams(&mut Machine, &desc, domain).map_err(|e| e.errno())?;
    if crate::iommu::present() && !desc.streams.is_empty() {
        println!("SMMU: root streams {:x?} translate through the root's {}", desc.streams,
            if dma.is_some() { "DMA mirror" } else { "stage 2" });
    }
    let stage2 = OwnedTable::from_table(stage2);
    let dma = dma.map(OwnedTable::from_table);
    // The root's sub-page regions are trapped and forwarded like a cell's.
    let mmio = crate::mmio::Table::for_cell(&desc, &cell::manage::platform(hv)).map_err(|e| e.errno())?;
    // The root's ivshmem functions join their links, running.
    crate::ivshmem::join(0, &desc.ivshmem, true).map_err(|e| e.errno())?;
    Ok(Cell { id: 0, vmid: 0, cpus, state: CellState::Running, flags: view.flags(), desc, stage2, dma, comm: None, mmio, lifecycle: Default::default() })
}

fn cpu_init(cpu: u64) -> Result<(), i64> {
    let hv = hv::get().ok_or(-EINVAL)?;
    arch::switch_el2_table(memmap::el2_root());
    let pc = percpu(cpu as usize).ok_or(-EINVAL)?;
    arch::install_vectors(pc as *const _ as u64);
    let root_cpus = CELLS.lock().first().map_or(0, |c| c.cpus);
    if cpu >= 64 || root_cpus & (1 << cpu) == 0 {
        return Err(refuse(-EINVAL, format_args!("CPU {cpu} is not in the root cell's CPU set")));
    }
    pc.init(cpu as u32, arch::mpidr(), 0);
    if !irqchip::init_cpu(pc, hv.boot_first) {
        return Err(refuse(-ENODEV, format_args!(
            "the interrupt controller has no interface for CPU {cpu} (no GICv3 redistributor matches affinity {:#x})",
            arch::mpidr())));
    }
    arch::setup_cpu_for_guests();
    cell::activate_for_this_cpu();
    Ok(())
}

/// Set by the CPU that reports a rendezvous timeout (in .bss: zeroed by
/// global init, which precedes any timeout).
static TIMEOUT_REPORTED: AtomicBool = AtomicBool::new(false);

fn late_launch_finish(cpu: u64) -> ! {
    let hv = hv::get();
    let online = hv.map_or(u32::MAX, |h| h.online_cpus);
    let deadline = arch::counter().saturating_add(arch::counter_freq().saturating_mul(RENDEZVOUS_TIMEOUT_S));
    let decision = RV.arrive_and_wait(online, -ETIMEDOUT, || {
        let expired = arch::counter() >= deadline;
        // Global init succeeded (or the error would be decided already),
        // so the console works; one CPU says why.
        if expired && !TIMEOUT_REPORTED.swap(true, Ordering::AcqRel) {
            println!("sysHyper: enable failed: not every root CPU entered the hypervisor within {RENDEZVOUS_TIMEOUT_S} s (CPU {cpu} gave up)");
        }
        expired
    });
    let frame = my_frame(cpu);
    let err = match decision {
        Ok(()) => 0,
        Err(e) => e,
    };
    if err != 0 || hv.is_none() {
        frame.x[0] = (if err != 0 { err } else { -EINVAL }) as u64;
        // A unit brought up by global init goes back off (every CPU
        // may call this; the first does the work).
        crate::iommu::shutdown();
        let gic_taken = percpu(cpu as usize).is_some_and(|p| p.present.load(Ordering::Acquire) && irqchip::cpu_taken(p));
        if gic_taken && crate::arch::percpu_ptr() != 0 {
            irqchip::hand_back();
        }
        let h = header();
        // Not `hv`: global init may have failed before publishing it.
        let off = VIRT_BASE.wrapping_sub(PHYS_BASE.load(Ordering::Acquire));
        arch::leave_to_stub(frame, h.arm_linux_hyp_vectors, off);
    }
    this_cpu().set_state(CpuState::Running);
    if cpu == 0 {
        log::info!("late launch done: Linux continues as the root cell");
    }
    frame.x[0] = 0;
    arch::vm_return(frame)
}

#[allow(clippy::panic)] // see the comment at the panic
fn boot_primary_finish(cpu: u64) -> ! {
    if RV.error() != 0 {
        // Boot-first with a configuration the hypervisor cannot run: there
        // is no caller to return an error to; the panic handler reports it
        // and ends the (emulated) machine.
        panic!("boot-first init failed: error {}", RV.error());
    }
    let root_cpus = CELLS.lock().first().map_or(0, |c| c.cpus);
    let entry_phys = {
        extern "C" {
            static __entry: u8;
        }
        let va = core::ptr::addr_of!(__entry) as u64;
        va.wrapping_sub(hv::get().map_or(0, |h| h.phys_virt_offset()))
    };
    // The CPUs to start and their affinities come from the boot loader's
    // device tree (boot_cpus.rs); this CPU is index 0.
    let mut mpidrs = [0u64; 64];
    let known = crate::boot_cpus::table(header().root_boot_arg, &mut mpidrs);
    let mut expected = 1;
    for c in (0..64u64).filter(|c| *c != cpu && root_cpus & (1 << c) != 0) {
        let Some(&mpidr) = mpidrs.get(..known).and_then(|m| m.get(c as usize)) else {
            log::warn!("CPU {c} is in the root cell but not in the device tree: not started");
            continue;
        };
        let r = arch::smc_call(0xc400_0003, mpidr, entry_phys, boot_secondary_context(c)) as i64;
        if r == 0 {
            expected += 1;
        } else {
            log::warn!("CPU {c} did not start (PSCI {r}): not present on this machine?");
        }
    }
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    while ARRIVED.load(Ordering::Acquire) < expected {
        arch::cpu_relax();
    }
    if header().boot_bundle != 0 {
        crate::boot_cells::start_all(header().boot_bundle);
    }
    let entry = CELLS.lock().first().and_then(|c| c.view().map(|v| v.cpu_reset_address())).unwrap_or(0);
    log::info!("{} CPUs up; starting the root cell at {:#x}", expected, entry);
    let frame = my_frame(cpu);
    trap::reset_frame(frame, entry, header().root_boot_arg);
    this_cpu().set_state(CpuState::Running);
    arch::vm_return(frame)
}

fn boot_secondary_finish(cpu: u64) -> ! {
    if RV.error() != 0 {
        arch::halt();
    }
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    let frame = my_frame(cpu);
    this_cpu().set_state(CpuState::Off);
    trap::park(frame);
    arch::vm_return(frame)
}
