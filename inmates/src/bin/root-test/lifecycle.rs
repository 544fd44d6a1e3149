//! Helpers the cell suites share: bundle files, creating and loading a cell
//! the way Jailhouse's driver does (create, set loadable, copy the image
//! through the root's 1:1 mapping, start), and waits bounded in counter time.
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cmdline::{CMDLINE_OFFSET, CMDLINE_SIZE};
use syshyper_inmates::cell_config::{self as cfg, MEM_IO, MEM_LOADABLE, MEM_ROOTSHARED};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::shared::SharedPage;
use syshyper_inmates::{check, cpu, ticks, timer};

/// A bundle file, or a failed check naming it.
pub fn file<'a>(bundle: &Bundle<'a>, suite: &str, name: &str) -> Option<&'a [u8]> {
    let found = bundle.find(name).map(|f| f.data);
    if found.is_none() {
        check!(suite, false, "bundle has no file {name}");
    }
    found
}

/// Guest-physical (= physical, the root is 1:1) address of bundle data.
pub fn addr_of(data: &[u8]) -> u64 {
    data.as_ptr() as u64
}

/// Pool pages in use and number of cells.
pub fn usage() -> (i64, i64) {
    (
        hvc::hypervisor_info(INFO_MEM_POOL_USED),
        hvc::hypervisor_info(INFO_NUM_CELLS),
    )
}

/// Destroys the cell a warm-up create made (if it made one). Creating a
/// cell the first time in a 2 MiB block of root RAM makes the hypervisor
/// split the root's block mapping and keep the new table after destroy, so
/// suites that compare pool usage before and after create such a cell once
/// first (the lead knows: see the cells-tests report).
pub fn warm_up(create_result: i64) {
    if create_result > 0 {
        hvc::cell_destroy(create_result as u64);
    }
}

/// Why loading or starting a cell failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchError {
    Create(i64),
    SetLoadable(i64),
    NoLoadableRegion,
    ImageTooLarge,
    Start(i64),
}

impl core::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LaunchError::Create(e) => write!(f, "create returned {e}"),
            LaunchError::SetLoadable(e) => write!(f, "set_loadable returned {e}"),
            LaunchError::NoLoadableRegion => {
                f.write_str("config has no loadable region at guest 0")
            }
            LaunchError::ImageTooLarge => f.write_str("image larger than the loadable region"),
            LaunchError::Start(e) => write!(f, "start returned {e}"),
        }
    }
}

/// Set loadable, copy `image` to the cell's loadable region at guest 0.
pub fn load(id: u64, config: &[u8], image: &[u8]) -> Result<(), LaunchError> {
    let ret = hvc::cell_set_loadable(id);
    if ret != 0 {
        return Err(LaunchError::SetLoadable(ret));
    }
    let (_, region) = cfg::find_region(config, MEM_LOADABLE, MEM_IO)
        .filter(|(_, r)| r.virt == 0)
        .ok_or(LaunchError::NoLoadableRegion)?;
    if image.len() as u64 > region.size {
        return Err(LaunchError::ImageTooLarge);
    }
    // SAFETY: after SET_LOADABLE the region is mapped 1:1 in the root (the
    // hypervisor's contract) and belongs to no running code; it is not part
    // of root-test's own image or the bundle (configs/test-*.toml).
    unsafe {
        core::ptr::copy_nonoverlapping(image.as_ptr(), region.phys as *mut u8, image.len());
    }
    Ok(())
}

/// Create, load and start; returns the cell id. A cell that was created is
/// destroyed again when a later step fails.
pub fn launch(config: &[u8], image: &[u8]) -> Result<u64, LaunchError> {
    launch_with(config, image, &[])
}

/// [`launch`], with the concatenation of `cmdline` (when not empty) put
/// into the image's command-line buffer (`cmdline::CMDLINE_OFFSET`)
/// before the start.
pub fn launch_with(config: &[u8], image: &[u8], cmdline: &[&str]) -> Result<u64, LaunchError> {
    let id = hvc::cell_create(addr_of(config));
    if id <= 0 {
        return Err(LaunchError::Create(id));
    }
    let id = id as u64;
    let started = load(id, config, image)
        .and_then(|_| write_cmdline(config, image, cmdline))
        .and_then(|_| match hvc::cell_start(id) {
            0 => Ok(()),
            e => Err(LaunchError::Start(e)),
        });
    match started {
        Ok(()) => Ok(id),
        Err(e) => {
            hvc::cell_destroy(id);
            Err(e)
        }
    }
}

/// Writes `parts` and a NUL at image offset `CMDLINE_OFFSET` of the loaded
/// image (nothing for no parts).
fn write_cmdline(config: &[u8], image: &[u8], parts: &[&str]) -> Result<(), LaunchError> {
    if parts.is_empty() {
        return Ok(());
    }
    let (_, ram) = cfg::find_region(config, MEM_LOADABLE, MEM_IO).ok_or(LaunchError::NoLoadableRegion)?;
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if image.len() < CMDLINE_OFFSET + CMDLINE_SIZE || len >= CMDLINE_SIZE {
        return Err(LaunchError::ImageTooLarge);
    }
    // `load` just copied the image to the loadable region, mapped 1:1 in
    // the root until start; the command-line buffer lies inside the image
    // and the string fits with its NUL (both checked above).
    let buf = (ram.phys as usize + CMDLINE_OFFSET) as *mut u8;
    let bytes = parts.iter().flat_map(|p| p.bytes()).chain([0u8]);
    for (i, b) in bytes.enumerate() {
        // SAFETY: byte `i` of the command-line buffer, mapped as said above.
        unsafe { buf.add(i).write_volatile(b) };
    }
    Ok(())
}

/// The cell's root-shared page (not the UART), seen from the root.
pub fn shared_page(config: &[u8]) -> Option<SharedPage> {
    let (_, r) = cfg::find_region(config, MEM_ROOTSHARED | RW, MEM_IO)?;
    // SAFETY: a ROOTSHARED RAM region stays mapped 1:1 in the root while the
    // cell exists and is root RAM otherwise (configs/test-*.toml).
    Some(unsafe { SharedPage::at(r.phys as usize) })
}

const RW: u64 = cfg::MEM_READ | cfg::MEM_WRITE;

/// Polls `done` (yielding) for at most `ns` of counter time.
pub fn wait_ns(ns: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = timer::counter().saturating_add(ticks::ns_to_ticks(ns, timer::frequency()));
    while timer::counter() < end {
        if done() {
            return true;
        }
        cpu::cpu_relax();
    }
    done()
}

/// Takes every virtual interrupt already on its way to this CPU, so that
/// a counter read after the call has seen it: no pause. Meant for an
/// interrupt whose sender did its part before a text or word this CPU has
/// read (a trapped doorbell, SGI or pend write, then the marker). The
/// sender's EL2 posts it and kicks this CPU (management SGI) or, for a
/// physical one, the GIC raises it, before the trapped write returns;
/// QEMU raises this CPU's IRQ line within that write. A hypercall round
/// trip (`id`: any cell) is an exception entry and return, context
/// synchronization events at which the pending physical interrupt is
/// taken at the latest; its handler lists the virtual one, and the `eret`
/// back, IRQs unmasked here, takes it before the next instruction.
pub fn settle(id: u64) {
    let _ = hvc::cell_state(id);
}

/// Milliseconds as nanoseconds.
pub const fn ms(n: u64) -> u64 {
    n * 1_000_000
}
