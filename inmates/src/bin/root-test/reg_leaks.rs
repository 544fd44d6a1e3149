//! Suite "regs" (issue 12 finding 5): nothing of a CPU's previous owner
//! reaches its next one, in every direction of a hand-over. All on CPU 3:
//! 1. root → cell: the root plants every register class on its CPU 3
//!    (CPU_ON at `regs::plant`, which ends in CPU_OFF), then CPU 3 goes to
//!    a `reg-probe` cell;
//! 2. cell → cell: a `reg-plant` cell plants and turns its CPU off, is
//!    destroyed, and a `reg-probe` cell gets the CPU;
//! 3. cell → root: a `reg-plant` cell again, destroyed, then the root
//!    starts CPU 3 at its own capturing stub and probes it;
//! 4. root → root (PSCI CPU_ON inside a cell): the root plants on CPU 3,
//!    then starts it again and probes it;
//! 5. the same inside a non-root cell: `reg-smp` (CPUs 2-3) plants on its
//!    CPU 3 and probes it after CPU_OFF and CPU_ON.
//!
//! Each probe must count 0 leaks; each plant must have planted registers
//! that read back as planted (else the probe would prove nothing).
use crate::lifecycle::{file, launch, ms, shared_page, wait_ns};
use crate::secondary::{slot, wait_for};
use core::sync::atomic::{AtomicU32, Ordering};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::psci::{self, SecondaryMain};
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, AFF_OFF, SUCCESS};
use syshyper_inmates::regs::{self, root_entry::ProbeBlock};
use syshyper_inmates::{check, check_eq, cpu, println};

const PLANT_CELL: &str = "regs/test-reg-plant.cell";
const PLANT_BIN: &str = "regs/reg-plant.bin";
const PROBE_CELL: &str = "regs/test-reg-probe.cell";
const PROBE_BIN: &str = "regs/reg-probe.bin";
const SMP_CELL: &str = "regs/test-reg-smp.cell";
const SMP_BIN: &str = "regs/reg-smp.bin";
const CPU: u64 = 3;
const MAX_POLLS: u64 = 50_000_000;

/// Whether the bundle holds this suite's files.
pub fn wanted(bundle: &Bundle) -> bool {
    bundle.find(PLANT_CELL).is_some()
}

static ROOT_PLANTED: AtomicU32 = AtomicU32::new(0);
static ROOT_STUCK: AtomicU32 = AtomicU32::new(0);
/// u32::MAX until the root probe has run.
static ROOT_LEAKS: AtomicU32 = AtomicU32::new(u32::MAX);
static ROOT_CHECKED: AtomicU32 = AtomicU32::new(0);
static PROBE: ProbeBlock = ProbeBlock::new();

extern "C" fn plant_main(_: u64) -> ! {
    regs::plant(|planted, stuck| {
        ROOT_STUCK.store(stuck, Ordering::Relaxed);
        ROOT_PLANTED.store(planted, Ordering::Release);
    })
}

extern "C" fn probe_main(_: u64) -> ! {
    let cap = PROBE.capture();
    let (leaks, checked) = regs::probe("regs: root CPU 3", cap, cap.x[0] == PROBE.addr());
    ROOT_CHECKED.store(checked, Ordering::Relaxed);
    ROOT_LEAKS.store(leaks, Ordering::Release);
    psci::cpu_off();
    cpu::park()
}

fn target() -> u64 {
    qemu_virt_mpidr(CPU)
}

/// Waits until root CPU 3 is off again (after CPU_OFF).
fn wait_off() -> bool {
    wait_for(MAX_POLLS, || psci::affinity_info(target()) == AFF_OFF)
}

/// The root plants on its CPU 3, which then turns itself off.
fn root_plant(step: &str) {
    ROOT_PLANTED.store(0, Ordering::Relaxed);
    let ret = psci::start_cpu(slot(CPU as usize), target(), plant_main as SecondaryMain, 0);
    check_eq!("regs: CPU_ON of root CPU 3 to plant", ret, SUCCESS);
    let off = wait_off();
    let (planted, stuck) = (ROOT_PLANTED.load(Ordering::Acquire), ROOT_STUCK.load(Ordering::Relaxed));
    println!("regs: {step}: root planted {planted} system registers, {stuck} read back as planted");
    check!("regs: root plant ran and CPU 3 is off again", off && planted > 0, "off {off}, planted {planted}");
    check!("regs: root plant's registers read back as planted", stuck * 4 >= planted * 3, "{stuck} of {planted}");
}

/// A reg-plant cell on CPU 3: started, planted, CPU off, destroyed.
fn cell_plant(bundle: &Bundle) {
    let (Some(config), Some(image)) = (file(bundle, "regs: files", PLANT_CELL), file(bundle, "regs: files", PLANT_BIN))
    else {
        return;
    };
    let Some(page) = shared_page(config) else {
        check!("regs: plant config has a shared page", false);
        return;
    };
    page.clear(4);
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("regs: plant cell starts", false, "{e}");
            return;
        }
    };
    let announced = wait_ns(ms(3000), || page.read(0) == 1);
    // The PSCI counter of CPU 3 (cleared at create) counts its CPU_OFF.
    let off = wait_ns(ms(3000), || hvc::cpu_info(CPU, syshyper_inmates::hypercall::CPU_STAT_BASE + 7) >= 1);
    let destroyed = hvc::cell_destroy(id);
    let (planted, stuck) = (page.read(1), page.read(2));
    check!("regs: plant cell planted and turned its CPU off", announced && off, "announced {announced}, off {off}");
    check!("regs: plant cell's registers read back as planted", planted > 0 && stuck * 4 >= planted * 3, "{stuck} of {planted}");
    check_eq!("regs: plant cell destroyed", destroyed, 0);
}

/// A reg-probe cell on CPU 3: its count of leaks (None if it did not run).
fn cell_probe(bundle: &Bundle) -> Option<u32> {
    let config = file(bundle, "regs: files", PROBE_CELL)?;
    let image = file(bundle, "regs: files", PROBE_BIN)?;
    let page = shared_page(config)?;
    page.clear(4);
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("regs: probe cell starts", false, "{e}");
            return None;
        }
    };
    let done = wait_ns(ms(3000), || page.read(0) == 1);
    let destroyed = hvc::cell_destroy(id);
    check_eq!("regs: probe cell destroyed", destroyed, 0);
    check!("regs: probe cell checked its registers", done && page.read(2) > 50, "done {done}, checked {}", page.read(2));
    done.then(|| page.read(1))
}

/// The root starts CPU 3 at its capturing stub: its count of leaks.
fn root_probe() -> Option<u32> {
    ROOT_LEAKS.store(u32::MAX, Ordering::Relaxed);
    let ret = PROBE.start(target(), probe_main as SecondaryMain, 0);
    check_eq!("regs: CPU_ON of root CPU 3 to probe", ret, SUCCESS);
    let off = wait_off();
    let leaks = ROOT_LEAKS.load(Ordering::Acquire);
    check!(
        "regs: root probe ran",
        off && leaks != u32::MAX && ROOT_CHECKED.load(Ordering::Relaxed) > 50,
        "off {off}, checked {}",
        ROOT_CHECKED.load(Ordering::Relaxed)
    );
    (leaks != u32::MAX).then_some(leaks)
}

/// reg-smp: its count of leaks after planting and probing its own CPU 3.
fn cell_smp(bundle: &Bundle) -> Option<u32> {
    let config = file(bundle, "regs: files", SMP_CELL)?;
    let image = file(bundle, "regs: files", SMP_BIN)?;
    let page = shared_page(config)?;
    page.clear(4);
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("regs: reg-smp cell starts", false, "{e}");
            return None;
        }
    };
    let done = wait_ns(ms(5000), || page.read(0) == 1);
    let destroyed = hvc::cell_destroy(id);
    check_eq!("regs: reg-smp cell destroyed", destroyed, 0);
    check!("regs: reg-smp planted its CPU 3", page.read(3) > 50, "{} registers read back as planted", page.read(3));
    check!("regs: reg-smp probed its CPU 3", done && page.read(2) > 50, "done {done}, checked {}", page.read(2));
    done.then(|| page.read(1))
}

pub fn run(bundle: &Bundle) {
    root_plant("root -> cell");
    check_eq!("regs: root -> cell: probe cell sees 0 leaks", cell_probe(bundle), Some(0));
    cell_plant(bundle);
    check_eq!("regs: cell -> cell: probe cell sees 0 leaks", cell_probe(bundle), Some(0));
    cell_plant(bundle);
    check_eq!("regs: cell -> root: root CPU 3 sees 0 leaks", root_probe(), Some(0));
    root_plant("root -> root");
    check_eq!("regs: root -> root: root CPU 3 sees 0 leaks", root_probe(), Some(0));
    check_eq!("regs: CPU_ON inside a cell: reg-smp sees 0 leaks", cell_smp(bundle), Some(0));
}
