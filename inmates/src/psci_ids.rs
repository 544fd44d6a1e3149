//! PSCI function ids and return codes (PSCI 1.1, SMC64 where both exist).

pub const PSCI_VERSION: u32 = 0x8400_0000;
pub const CPU_SUSPEND: u32 = 0xc400_0001;
pub const CPU_OFF: u32 = 0x8400_0002;
pub const CPU_ON: u32 = 0xc400_0003;
pub const AFFINITY_INFO: u32 = 0xc400_0004;
pub const SYSTEM_OFF: u32 = 0x8400_0008;
pub const SYSTEM_RESET: u32 = 0x8400_0009;
pub const PSCI_FEATURES: u32 = 0x8400_000a;

pub const SUCCESS: i64 = 0;
pub const NOT_SUPPORTED: i64 = -1;
pub const INVALID_PARAMETERS: i64 = -2;
pub const DENIED: i64 = -3;
pub const ALREADY_ON: i64 = -4;

/// AFFINITY_INFO results.
pub const AFF_ON: i64 = 0;
pub const AFF_OFF: i64 = 1;
pub const AFF_ON_PENDING: i64 = 2;

/// MPIDR affinity of logical CPU `n` on QEMU virt with GICv3 (16 CPUs per
/// cluster: Aff0 = n % 16, Aff1 = n / 16).
pub const fn qemu_virt_mpidr(n: u64) -> u64 {
    ((n / 16) << 8) | (n % 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpidr_of_qemu_virt_cpus() {
        assert_eq!(qemu_virt_mpidr(0), 0);
        assert_eq!(qemu_virt_mpidr(3), 3);
        assert_eq!(qemu_virt_mpidr(17), 0x101);
    }
}
