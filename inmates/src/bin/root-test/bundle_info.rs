//! Lists the bundle xtask may load at 0x4800_0000 (contracts.md). Absent
//! bundle: nothing to check, so the program also runs without one.
use syshyper_inmates::bundle::{has_magic, Bundle, BUNDLE_ADDR, BUNDLE_MAX_SIZE, MAGIC};
use syshyper_inmates::{check, println};

/// The bundle, when one is present and valid.
pub fn run() -> Option<Bundle<'static>> {
    // SAFETY: the magic lies in root RAM (mapped 1:1 in the root cell).
    let head: &[u8] = unsafe { core::slice::from_raw_parts(BUNDLE_ADDR as *const u8, MAGIC.len()) };
    if !has_magic(head) {
        println!("root-test: no bundle at {BUNDLE_ADDR:#x}");
        return None;
    }
    // SAFETY: 0x4800_0000..0x4c00_0000 is root RAM reserved for the bundle
    // (contracts.md); nothing writes it while the program runs.
    let bytes: &'static [u8] =
        unsafe { core::slice::from_raw_parts(BUNDLE_ADDR as *const u8, BUNDLE_MAX_SIZE) };
    match Bundle::parse(bytes) {
        Ok(b) => {
            check!("bundle: parses", true);
            for f in b.files() {
                println!("root-test: bundle file {} ({} bytes)", f.name, f.data.len());
            }
            Some(b)
        }
        Err(e) => {
            check!("bundle: parses", false, "{e}");
            None
        }
    }
}
