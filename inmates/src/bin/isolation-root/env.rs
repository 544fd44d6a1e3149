//! What every part of the suite shares: the bundle files, the root's own
//! memory checksum, the hypervisor's accounting numbers, cell loading and
//! bounded waits.
use crate::attack_ids::ROOT_TARGET;
use crate::mailbox::*;
use syshyper_inmates::bundle::{has_magic, Bundle, BUNDLE_ADDR, BUNDLE_MAX_SIZE, MAGIC};
use syshyper_inmates::hvc::{self, hypervisor_info};
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{cpu, ticks, timer};

/// Where the two cells' RAM starts (configs/hostile-cell.toml, victim-cell.toml).
pub const HOSTILE_RAM: usize = 0x7f00_0000;
pub const VICTIM_RAM: usize = 0x7f10_0000;
/// Bytes of root RAM at `ROOT_TARGET` filled with a pattern and checksummed.
const ROOT_PATTERN_BYTES: usize = 256 * 1024;

pub struct Env {
    pub bundle: Bundle<'static>,
    pub hostile_cfg: &'static [u8],
    /// The same cell with direct interrupt delivery (`direct_irqs`), if
    /// the bundle has it: every attack runs a second time in it.
    pub hostile_direct_cfg: Option<&'static [u8]>,
    pub victim_cfg: &'static [u8],
    pub image: &'static [u8],
    pub hostile_mb: Mailbox,
    pub victim_mb: Mailbox,
    root_sum: u64,
}

/// Guest-physical (= physical, the root is 1:1) address of bundle data.
pub fn addr_of(data: &[u8]) -> u64 {
    data.as_ptr() as u64
}

impl Env {
    pub fn new() -> Option<Self> {
        // SAFETY: the magic lies in root RAM (mapped 1:1 in the root cell).
        let head = unsafe { core::slice::from_raw_parts(BUNDLE_ADDR as *const u8, MAGIC.len()) };
        if !has_magic(head) {
            return None;
        }
        // SAFETY: 0x4800_0000..0x4c00_0000 is root RAM reserved for the
        // bundle (contracts.md); nothing writes it while the program runs.
        let bytes =
            unsafe { core::slice::from_raw_parts(BUNDLE_ADDR as *const u8, BUNDLE_MAX_SIZE) };
        let bundle = Bundle::parse(bytes).ok()?;
        fill_root_pattern();
        Some(Self {
            hostile_cfg: bundle.find("hostile.cell")?.data,
            hostile_direct_cfg: bundle.find("hostile-direct.cell").map(|f| f.data),
            victim_cfg: bundle.find("victim.cell")?.data,
            image: bundle.find("hostile-cell.bin")?.data,
            bundle,
            // SAFETY: both mailboxes are ROOTSHARED pages inside root RAM,
            // mapped in the root for its whole life.
            hostile_mb: unsafe { Mailbox::at(HOSTILE_MAILBOX_PHYS) },
            // SAFETY: as above.
            victim_mb: unsafe { Mailbox::at(VICTIM_MAILBOX_PHYS) },
            root_sum: root_checksum(),
        })
    }

    /// True when the root's pattern and image still hash as at start.
    pub fn root_intact(&self) -> bool {
        root_checksum() == self.root_sum
    }

    /// SET_LOADABLE, copy the image to `ram`, reset `mb` with `role` and
    /// `arg`. Returns the SET_LOADABLE result.
    pub fn load(&self, id: i64, ram: usize, mb: Mailbox, role: u64, arg: u64) -> i64 {
        let r = hvc::cell_set_loadable(id as u64);
        if r != 0 {
            return r;
        }
        copy_words(self.image, ram);
        mb.clear();
        mb.write(ARG, arg);
        mb.write(ROLE, role);
        0
    }
}

fn pattern_word(i: usize) -> u64 {
    (i as u64 ^ 0xa5a5_5a5a).wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn fill_root_pattern() {
    for i in 0..ROOT_PATTERN_BYTES / 8 {
        // SAFETY: ROOT_TARGET.. is root RAM that nothing else uses.
        unsafe { ((ROOT_TARGET as usize + i * 8) as *mut u64).write_volatile(pattern_word(i)) };
    }
}

extern "C" {
    static __image_start: u8;
    static __bss_start: u8;
}

/// FNV-1a over the pattern and this program's loaded image.
fn root_checksum() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |w: u64| h = (h ^ w).wrapping_mul(0x100_0000_01b3);
    for i in 0..ROOT_PATTERN_BYTES / 8 {
        // SAFETY: as in `fill_root_pattern`.
        mix(unsafe { ((ROOT_TARGET as usize + i * 8) as *const u64).read_volatile() });
    }
    let start = core::ptr::addr_of!(__image_start) as usize;
    let end = core::ptr::addr_of!(__bss_start) as usize;
    for a in (start..end).step_by(8) {
        // SAFETY: the program's own loaded image, 8-byte aligned bounds.
        mix(unsafe { (a as *const u64).read_volatile() });
    }
    h
}

/// Copies `src` to physical `dst` in 64-bit words (the tail zero-padded):
/// the root runs with its MMU off, where unaligned accesses fault.
pub fn copy_words(src: &[u8], dst: usize) {
    for (i, chunk) in src.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: `dst` is a cell's LOADABLE RAM mapped into the root by
        // SET_LOADABLE; the image is smaller than that region.
        unsafe { ((dst + i * 8) as *mut u64).write_volatile(u64::from_le_bytes(w)) };
    }
}

pub fn pool_used() -> i64 {
    hypervisor_info(INFO_MEM_POOL_USED)
}

pub fn num_cells() -> i64 {
    hypervisor_info(INFO_NUM_CELLS)
}

/// Polls `done` (yielding) for at most `ms` milliseconds of counter time.
pub fn wait_ms(ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = timer::counter() + ticks::ns_to_ticks(ms * 1_000_000, timer::frequency());
    while timer::counter() < end {
        if done() {
            return true;
        }
        cpu::cpu_relax();
    }
    done()
}

/// Waits `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    wait_ms(ms, || false);
}
