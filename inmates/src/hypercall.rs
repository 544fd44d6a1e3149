//! Jailhouse hypercall codes and error numbers (jailhouse-abi.md §3).

pub const HC_DISABLE: u64 = 0;
pub const HC_CELL_CREATE: u64 = 1;
pub const HC_CELL_START: u64 = 2;
pub const HC_CELL_SET_LOADABLE: u64 = 3;
pub const HC_CELL_DESTROY: u64 = 4;
pub const HC_HYPERVISOR_GET_INFO: u64 = 5;
pub const HC_CELL_GET_STATE: u64 = 6;
pub const HC_CPU_GET_INFO: u64 = 7;
pub const HC_DEBUG_CONSOLE_PUTC: u64 = 8;
/// sysHyper extensions (root only): a CPU's post-mortem record and its
/// latency histograms (hypervisor/src/trace).
pub const SH_HC_CPU_RECORD: u64 = 0x103;
/// sysHyper extension: a cell's CPU set (x2 = 0) or name.
pub const SH_HC_CELL_GET_INFO: u64 = 0x100;
pub const SH_HC_CPU_LATENCY: u64 = 0x104;

/// HYPERVISOR_GET_INFO types.
pub const INFO_MEM_POOL_SIZE: u64 = 0;
pub const INFO_MEM_POOL_USED: u64 = 1;
pub const INFO_REMAP_POOL_SIZE: u64 = 2;
pub const INFO_REMAP_POOL_USED: u64 = 3;
pub const INFO_NUM_CELLS: u64 = 4;

/// CPU_GET_INFO: x2 = 0 for the state, `CPU_STAT_BASE + n` for statistic n.
pub const CPU_INFO_STATE: u64 = 0;
pub const CPU_STAT_BASE: u64 = 1000;
pub const CPU_STATE_RUNNING: i64 = 0;
pub const CPU_STATE_FAILED: i64 = 2;

/// Per-CPU statistics (n of `CPU_STAT_BASE + n`).
pub const STAT_TOTAL: u64 = 0;
pub const STAT_MMIO: u64 = 1;
pub const STAT_MANAGEMENT: u64 = 2;
pub const STAT_HYPERCALL: u64 = 3;

/// Cell states (CELL_GET_STATE and the comm region).
pub const CELL_RUNNING: i64 = 0;
pub const CELL_RUNNING_LOCKED: i64 = 1;
pub const CELL_SHUT_DOWN: i64 = 2;
pub const CELL_FAILED: i64 = 3;

/// Errno values; hypercalls return them negated.
pub const EPERM: i64 = 1;
pub const ENOENT: i64 = 2;
pub const E2BIG: i64 = 7;
pub const ENOMEM: i64 = 12;
pub const EBUSY: i64 = 16;
pub const EEXIST: i64 = 17;
pub const EINVAL: i64 = 22;
pub const ENOSYS: i64 = 38;
