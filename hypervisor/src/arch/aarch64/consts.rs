//! Numbers shared between the assembly and Rust.

/// Bytes of a saved trap frame: x0..x30, ELR_EL2, SPSR_EL2, padding.
pub const FRAME_SIZE: usize = 34 * 8;
/// 2 MiB blocks of the image's linear range mapped by the boot page table.
pub const BOOT_PT_BLOCKS: usize = 16;
