//! The image header, entry modes and where things sit in hypervisor memory.
//! Pure arithmetic, shared by the entry code and host tests.

/// Boot-first, the CPU QEMU or the boot loader started.
pub const MODE_BOOT_PRIMARY: usize = 1;
/// Boot-first, a CPU the hypervisor started with PSCI CPU_ON.
pub const MODE_BOOT_SECONDARY: usize = 2;
/// Late launch from Linux through the hyp stub.
pub const MODE_LATE: usize = 3;
/// PSCI context id the hypervisor passes to the CPUs it starts (boot-first).
pub const BOOT_SECONDARY_MAGIC: u64 = 0x5359_5348_424f_4f54;
/// The context id for the CPU started as index `cpu` (< 256): the magic's
/// upper seven bytes and the index in the low byte, so the index comes
/// from the boot CPU's table and never from the started CPU's MPIDR.
pub const fn boot_secondary_context(cpu: u64) -> u64 {
    (BOOT_SECONDARY_MAGIC & !0xff) | (cpu & 0xff)
}
/// x1 of the second hyp-stub `hvc` in a late launch ("SYSHYPER").
pub const ENTER_MAGIC: u64 = 0x5359_5348_5950_4552;
/// Extension-header flag: sysHyper was started before Linux.
pub const EXT_FLAG_BOOT_FIRST: u32 = 1;

/// The Jailhouse image header followed by sysHyper's extension.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HvHeader {
    pub signature: [u8; 8],
    pub core_size: u64,
    pub percpu_size: u64,
    pub entry: u64,
    pub console_page: u64,
    pub gcov_info_head: u64,
    pub max_cpus: u32,
    pub online_cpus: u32,
    pub debug_console_base: u64,
    pub arm_linux_hyp_vectors: u64,
    pub arm_linux_hyp_abi: u32,
    pub _pad: u32,
    pub ext_magic: [u8; 8],
    pub bootstrap_vectors: u64,
    pub ext_flags: u32,
    pub _pad2: u32,
    /// Boot-first: x0 for the root cell's first CPU (Linux: the DTB).
    pub root_boot_arg: u64,
    /// Boot-first: physical address of a bundle of cells to start at boot.
    pub boot_bundle: u64,
}

/// Offsets (from the image start) of the parts of hypervisor memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub core_size: u64,
    pub percpu_size: u64,
    pub max_cpus: u64,
}

impl Layout {
    /// From the header fields.
    pub fn from_header(h: &HvHeader) -> Self {
        Self { core_size: h.core_size, percpu_size: h.percpu_size, max_cpus: h.max_cpus.into() }
    }

    /// Offset of CPU `cpu`'s per-CPU area.
    pub fn percpu_offset(&self, cpu: u64) -> u64 {
        self.core_size + cpu * self.percpu_size
    }

    /// Offset of the system configuration.
    pub fn config_offset(&self) -> u64 {
        self.percpu_offset(self.max_cpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn header_matches_jailhouse_layout() {
        assert_eq!(offset_of!(HvHeader, core_size), 8);
        assert_eq!(offset_of!(HvHeader, percpu_size), 16);
        assert_eq!(offset_of!(HvHeader, entry), 24);
        assert_eq!(offset_of!(HvHeader, console_page), 32);
        assert_eq!(offset_of!(HvHeader, gcov_info_head), 40);
        assert_eq!(offset_of!(HvHeader, max_cpus), 48);
        assert_eq!(offset_of!(HvHeader, online_cpus), 52);
        assert_eq!(offset_of!(HvHeader, debug_console_base), 56);
        assert_eq!(offset_of!(HvHeader, arm_linux_hyp_vectors), 64);
        assert_eq!(offset_of!(HvHeader, arm_linux_hyp_abi), 72);
        assert_eq!(offset_of!(HvHeader, ext_magic), 80);
        assert_eq!(offset_of!(HvHeader, bootstrap_vectors), 88);
        assert_eq!(offset_of!(HvHeader, ext_flags), 96);
        assert_eq!(offset_of!(HvHeader, root_boot_arg), 104);
        assert_eq!(offset_of!(HvHeader, boot_bundle), 112);
        assert_eq!(size_of::<HvHeader>(), 120);
    }

    #[test]
    fn config_follows_the_percpu_areas() {
        let l = Layout { core_size: 0x40000, percpu_size: 0x10000, max_cpus: 4 };
        assert_eq!(l.percpu_offset(0), 0x40000);
        assert_eq!(l.percpu_offset(3), 0x70000);
        assert_eq!(l.config_offset(), 0x80000);
    }

    #[test]
    fn magics_spell_their_names() {
        assert_eq!(&ENTER_MAGIC.to_be_bytes(), b"SYSHYPER");
        assert_eq!(&BOOT_SECONDARY_MAGIC.to_be_bytes(), b"SYSHBOOT");
        assert_eq!(boot_secondary_context(3), 0x5359_5348_424f_4f03);
        assert_eq!(boot_secondary_context(3) & !0xff, BOOT_SECONDARY_MAGIC & !0xff);
    }
}
