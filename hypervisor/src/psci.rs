//! PSCI 1.1 and SMCCC 1.1 emulation over SMC, per cell: a cell addresses
//! only its own CPUs; SYSTEM_OFF/RESET from the root go to the firmware.

use crate::arch;
use crate::percpu::{present_cpus, this_cpu, CpuState, Stat};
use crate::trap::TrapFrame;
use core::sync::atomic::Ordering;

/// PSCI function ids and return codes.
pub mod fid {
    pub const VERSION: u32 = 0x8400_0000;
    pub const CPU_SUSPEND: u32 = 0x8400_0001;
    pub const CPU_OFF: u32 = 0x8400_0002;
    pub const CPU_ON: u32 = 0x8400_0003;
    pub const AFFINITY_INFO: u32 = 0x8400_0004;
    pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    pub const SYSTEM_RESET: u32 = 0x8400_0009;
    pub const FEATURES: u32 = 0x8400_000a;
    pub const SMC64: u32 = 0x4000_0000;
    pub const SMCCC_VERSION: u32 = 0x8000_0000;
    pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
    pub const ARCH_WORKAROUND_1: u32 = 0x8000_8000;
    pub const ARCH_WORKAROUND_2: u32 = 0x8000_7fff;
}
const NOT_SUPPORTED: i64 = -1;
const INVALID_PARAMETERS: i64 = -2;
const DENIED: i64 = -3;
const ALREADY_ON: i64 = -4;
const ON_PENDING: i64 = -5;

/// What a PSCI call asks for, the 32/64-bit calling conventions folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Version,
    CpuSuspend,
    CpuOff,
    CpuOn { target: u64, entry: u64, context: u64 },
    AffinityInfo { target: u64, level: u64 },
    MigrateInfoType,
    SystemOff,
    SystemReset,
    Features(u32),
    SmcccVersion,
    SmcccArchFeatures(u32),
    Workaround,
    Unknown(u32),
}

/// Decodes x0..x3 of an SMC.
pub fn decode(x: &[u64; 4]) -> Call {
    let f = x[0] as u32;
    let base = if f & 0xff00_0000 == 0xc400_0000 { f & !fid::SMC64 } else { f };
    match base {
        fid::VERSION => Call::Version,
        fid::CPU_SUSPEND => Call::CpuSuspend,
        fid::CPU_OFF => Call::CpuOff,
        fid::CPU_ON => Call::CpuOn { target: x[1], entry: x[2], context: x[3] },
        fid::AFFINITY_INFO => Call::AffinityInfo { target: x[1], level: x[2] },
        fid::MIGRATE_INFO_TYPE => Call::MigrateInfoType,
        fid::SYSTEM_OFF => Call::SystemOff,
        fid::SYSTEM_RESET => Call::SystemReset,
        fid::FEATURES => Call::Features(x[1] as u32),
        fid::SMCCC_VERSION => Call::SmcccVersion,
        fid::SMCCC_ARCH_FEATURES => Call::SmcccArchFeatures(x[1] as u32),
        fid::ARCH_WORKAROUND_1 | fid::ARCH_WORKAROUND_2 => Call::Workaround,
        _ => Call::Unknown(f),
    }
}

/// PSCI_FEATURES answer for a function id.
pub fn features(f: u32) -> i64 {
    match decode(&[u64::from(f), 0, 0, 0]) {
        Call::Unknown(_) | Call::SmcccArchFeatures(_) | Call::Workaround => NOT_SUPPORTED,
        _ => 0,
    }
}

/// Finds the CPU with affinity `target` among the caller's cell's CPUs.
fn own_cpu(target: u64) -> Option<&'static crate::percpu::PerCpu> {
    let cell = this_cpu().cell.load(Ordering::Relaxed);
    let mask = 0xff_00ff_ffff;
    present_cpus().find(|p| {
        p.present.load(Ordering::Acquire)
            && p.cell.load(Ordering::Relaxed) == cell
            && p.mpidr.load(Ordering::Relaxed) & mask == target & mask
    })
}

/// Whether the SMC with function id `x0` leaves the caller's trap frame
/// alone apart from x0 and ELR: false for every id [`decode`] takes for
/// CPU_OFF, SYSTEM_OFF or SYSTEM_RESET (they park or restart the calling
/// CPU; see `trap::handlers::trap_smc_partial`). Clearing the SMC64 bit
/// folds both calling conventions as `decode` does (an id it does not
/// fold, top byte other than 0x84/0xc4, cannot match after clearing it);
/// SYSTEM_OFF and SYSTEM_RESET differ in bit 0 only.
#[inline(always)]
pub fn keeps_frame(x0: u64) -> bool {
    let f = x0 as u32 & !fid::SMC64;
    f != fid::CPU_OFF && f | 1 != fid::SYSTEM_RESET
}

/// Handles an SMC from a guest (ELR already advanced). Inlined into the
/// trap entries: a call of its own cost the PSCI path a prologue.
#[inline(always)]
pub fn handle_smc(cpu: &crate::percpu::PerCpu, frame: &mut TrapFrame) {
    let call = decode(&[frame.x[0], frame.x[1], frame.x[2], frame.x[3]]);
    cpu.count(if frame.x[0] as u32 & 0x0f00_0000 == 0x0400_0000 { Stat::Psci } else { Stat::Smccc });
    let root = cpu.cell.load(Ordering::Relaxed) == 0;
    let ret: i64 = match call {
        Call::Version => 0x1_0001,
        Call::CpuSuspend => 0,
        Call::CpuOff => {
            cpu.set_state(CpuState::Off);
            crate::trap::park(frame);
            return;
        }
        Call::CpuOn { target, entry, context } => match own_cpu(target) {
            None => INVALID_PARAMETERS,
            // The start is requested in the caller's cell, atomically with
            // the check that the target is still off there: a create or a
            // destroy of the target's cell in between makes it fail.
            Some(t) => match t.state() {
                CpuState::Running => ALREADY_ON,
                CpuState::Starting | CpuState::Arming => ON_PENDING,
                CpuState::Failed | CpuState::Claimed => DENIED,
                CpuState::Off if t.request_start_in(cpu.cell.load(Ordering::Relaxed), entry, context) => {
                    crate::irqchip::wake_parked(t);
                    0
                }
                CpuState::Off => match t.state() {
                    CpuState::Claimed => DENIED,
                    _ => ON_PENDING,
                },
            },
        },
        Call::AffinityInfo { target, level } => match (level, own_cpu(target)) {
            (0, Some(t)) => match t.state() {
                CpuState::Running => 0,
                CpuState::Starting | CpuState::Arming => 2,
                CpuState::Off | CpuState::Failed | CpuState::Claimed => 1,
            },
            _ => INVALID_PARAMETERS,
        },
        Call::MigrateInfoType => 2,
        Call::SystemOff | Call::SystemReset if root => {
            arch::smc_call(frame.x[0], 0, 0, 0) as i64
        }
        Call::SystemReset => {
            crate::cell::manage::reset_this_cell(frame);
            return;
        }
        Call::SystemOff => crate::cell::stop_this_cell(frame),
        Call::Features(f) => features(f),
        Call::SmcccVersion => 0x1_0001,
        Call::SmcccArchFeatures(_) => NOT_SUPPORTED,
        Call::Workaround => 0,
        Call::Unknown(_) => NOT_SUPPORTED,
    };
    frame.x[0] = ret as u64;
}
