//! Entry points called by the vectors, and what happens to a CPU that must
//! stop: parking (PSCI CPU_OFF, failure) and restarting at a new entry.

use super::esr::{ec, DataAbort, Esr};
use super::TrapFrame;
use crate::arch;
use crate::trace::{why, Exit};
use crate::cell::{CellState, CELLS};
use crate::percpu::{this_cpu, CpuState, PerCpu, Stat};
use core::sync::atomic::Ordering;

/// The hypercall immediate; any other HVC immediate is refused.
const HVC_IMM: u16 = 0x4a48;
/// The immediate of the HVC a Linux cell's boot stub (written by `cell
/// linux`, docs/linux-cell.md) executes when it is entered a second time:
/// Linux rebooted (PSCI SYSTEM_RESET restarts the cell at its reset
/// address) or panicked with `panic=-1`, and the kernel image it would
/// jump to has been used up. The cell fails rather than run garbage.
pub const BOOT_AGAIN_IMM: u16 = 0x4c52;

// The partial synchronous entries (vectors.rs `__sync_partial`, one per
// exception class, chosen there from ESR_EL2): only x0-x18, x29, x30 and
// ELR of `frame` are valid, the guest's x19-x28 are still in their
// registers. Each first decides, from the syndrome and x0 alone and
// before it changes anything, whether its handling reads and writes no
// more of the frame than that, never rewrites it as a whole, never
// records it and never leaves EL2 through it; if not it returns
// [`super::SYNC_FULL`] and the entry hands the untouched trap to
// [`trap_lower_sync`] with the whole frame. An access no handler takes
// returns [`super::SYNC_REST`] (traced and counted) and is reported by
// [`trap_lower_sync_rest`] with the whole frame. Otherwise
// [`super::SYNC_DONE`].

/// Registers of the partial frame that a trapped access may name as its
/// transfer register (31, the zero register, has no slot at all).
#[inline(always)]
fn saved(r: u32) -> bool {
    !(19..=28).contains(&r)
}

/// A hypercall: every call but DISABLE (which leaves to Linux through the
/// whole frame) and foreign immediates (which fail the CPU).
#[no_mangle]
extern "C" fn trap_hvc_partial(frame: &mut TrapFrame, esr: u64) -> u32 {
    let esr = Esr(esr);
    if esr.imm16() != HVC_IMM || frame.x[0] == crate::hypercall::code::DISABLE {
        return super::SYNC_FULL;
    }
    let cpu = this_cpu();
    cpu.trace.enter_sync(arch::counter(), esr.0, frame.elr, frame.x[0]);
    if let Some(why) = hypercall(cpu, frame) {
        cpu.trace.exit(why, arch::counter());
    }
    super::SYNC_DONE
}

/// A PSCI/SMCCC call: every call but those that park or restart the
/// calling CPU (CPU_OFF, SYSTEM_OFF, SYSTEM_RESET rewrite the frame).
#[no_mangle]
extern "C" fn trap_smc_partial(frame: &mut TrapFrame, esr: u64) -> u32 {
    if !crate::psci::keeps_frame(frame.x[0]) {
        return super::SYNC_FULL;
    }
    let cpu = this_cpu();
    cpu.trace.enter_sync(arch::counter(), esr, frame.elr, frame.x[0]);
    let why = smc(cpu, frame);
    cpu.trace.exit(why, arch::counter());
    super::SYNC_DONE
}

/// A stage-2 data abort with a valid syndrome whose transfer register
/// the partial frame holds.
#[no_mangle]
extern "C" fn trap_dabt_partial(frame: &mut TrapFrame, esr: u64) -> u32 {
    let esr = Esr(esr);
    let da = DataAbort::decode(esr);
    if !da.isv || !saved(u32::from(da.reg)) {
        return super::SYNC_FULL;
    }
    let cpu = this_cpu();
    cpu.trace.enter_sync(arch::counter(), esr.0, frame.elr, frame.x[0]);
    cpu.count(Stat::Total);
    let (far, hpfar) = arch::far_hpfar();
    let ipa = DataAbort::ipa(hpfar, far);
    cpu.trace.set_detail(ipa);
    if !crate::mmio::handle(frame, esr, ipa) {
        return super::SYNC_REST;
    }
    cpu.trace.exit(Exit::Mmio, arch::counter());
    super::SYNC_DONE
}

/// A trapped system register access whose transfer register the partial
/// frame holds (`sysreg` reads or writes nothing else of it).
#[no_mangle]
extern "C" fn trap_sysreg_partial(frame: &mut TrapFrame, esr: u64) -> u32 {
    let esr = Esr(esr);
    if !saved((esr.iss() >> 5) & 0x1f) {
        return super::SYNC_FULL;
    }
    let cpu = this_cpu();
    cpu.trace.enter_sync(arch::counter(), esr.0, frame.elr, frame.x[0]);
    cpu.count(Stat::Total);
    if !sysreg(frame, esr) {
        return super::SYNC_REST;
    }
    cpu.trace.exit(Exit::Sysreg, arch::counter());
    super::SYNC_DONE
}

/// After a partial entry returned [`super::SYNC_REST`], with
/// the whole frame saved: the data abort no MMIO entry took, or the
/// system register access `sysreg` refused (ESR_EL2 and FAR/HPFAR still
/// hold this trap's values: nothing at EL2 took an exception since).
#[no_mangle]
extern "C" fn trap_lower_sync_rest(frame: &mut TrapFrame) {
    let esr = Esr(arch::esr());
    let why = if esr.ec() == ec::DABT_LOW {
        data_abort_unhandled(frame, esr);
        Exit::Mmio
    } else {
        other_sync(frame, esr);
        Exit::Other
    };
    this_cpu().trace.exit(why, arch::counter());
}

/// A hypercall with sysHyper's immediate; None for a statistics read,
/// which is neither counted nor timed (reading statistics must not change
/// them, issue 19).
#[inline(always)]
fn hypercall(cpu: &PerCpu, frame: &mut TrapFrame) -> Option<Exit> {
    if crate::hypercall::is_statistics_read(frame.x[0]) {
        frame.x[0] = crate::hypercall::handle(frame) as u64;
        return None;
    }
    cpu.count(Stat::Total);
    cpu.count(Stat::Hypercall);
    frame.x[0] = crate::hypercall::handle(frame) as u64;
    Some(Exit::Hypercall)
}

/// A trapped SMC (HCR_EL2.TSC): PSCI and SMCCC.
#[inline(always)]
fn smc(cpu: &PerCpu, frame: &mut TrapFrame) -> Exit {
    cpu.count(Stat::Total);
    frame.elr += 4;
    crate::psci::handle_smc(cpu, frame);
    Exit::Smc
}

/// Every synchronous trap from a lower EL with the whole frame saved.
#[no_mangle]
extern "C" fn trap_lower_sync(frame: &mut TrapFrame) {
    let cpu = this_cpu();
    let esr = Esr(arch::esr());
    // Into this CPU's trap ring (the post-mortem record's history) with
    // x0 as detail (hypercall code, SMC function id); a data abort puts
    // its IPA there once known.
    cpu.trace.enter_sync(arch::counter(), esr.0, frame.elr, frame.x[0]);
    // The frequent exits each take a short path of their own (trapped
    // device accesses, hypercalls, PSCI); the rest, and every failure,
    // are out of line, so no path pays for another's stack frame.
    let why = match esr.ec() {
        ec::DABT_LOW => {
            cpu.count(Stat::Total);
            data_abort(frame, esr);
            Exit::Mmio
        }
        ec::HVC64 if esr.imm16() == HVC_IMM => match hypercall(cpu, frame) {
            Some(why) => why,
            None => return,
        },
        ec::SMC64 => smc(cpu, frame),
        // The root's IPIs (ICC_SGI1R_EL1) come this way.
        ec::SYSREG if sysreg(frame, esr) => {
            cpu.count(Stat::Total);
            Exit::Sysreg
        }
        _ => {
            cpu.count(Stat::Total);
            other_sync(frame, esr);
            Exit::Other
        }
    };
    cpu.trace.exit(why, arch::counter());
}

/// A stage-2 data abort: an MMIO entry of the cell's table, else
/// [`data_abort_unhandled`].
#[inline(never)]
fn data_abort(frame: &mut TrapFrame, esr: Esr) {
    let (far, hpfar) = arch::far_hpfar();
    let ipa = DataAbort::ipa(hpfar, far);
    this_cpu().trace.set_detail(ipa);
    if !crate::mmio::handle(frame, esr, ipa) {
        data_abort_unhandled(frame, esr);
    }
}

/// A data abort no MMIO entry took: a root access racing a hand-over is
/// retried, another root access comes back to it as an external abort,
/// and a cell's fails the cell. (FAR and HPFAR still hold this trap's
/// values: nothing at EL2 took an exception since.)
#[cold]
#[inline(never)]
fn data_abort_unhandled(frame: &mut TrapFrame, esr: Esr) {
    if park_if_requested(frame) {
        return;
    }
    let (far, hpfar) = arch::far_hpfar();
    let da = DataAbort::decode(esr);
    let ipa = DataAbort::ipa(hpfar, far);
    if raced_with_remap(esr, ipa) || reflect_to_root(frame, false, da.write, ipa, far) {
        return;
    }
    fail(
        frame,
        format_args!(
            "unhandled {} of {} bytes at IPA {:#x} (ISV {}, SRT {}, SF {}, SSE {}, DFSC {:#x})",
            if da.write { "write" } else { "read" },
            da.size,
            ipa,
            da.isv as u8,
            da.reg,
            da.sixty_four as u8,
            da.sign_extend as u8,
            da.dfsc
        ),
        esr,
        far,
        hpfar,
    );
}

/// Every other synchronous exit (instruction aborts, refused system
/// register accesses, anything unexpected).
#[cold]
#[inline(never)]
fn other_sync(frame: &mut TrapFrame, esr: Esr) {
    if esr.ec() == ec::IABT_LOW && park_if_requested(frame) {
        return;
    }
    let (far, hpfar) = arch::far_hpfar();
    match esr.ec() {
        ec::SYSREG => fail(frame, format_args!("trapped system register access"), esr, far, hpfar),
        // Only a direct-mode cell traps WFI (HCR_EL2.TWI, docs/direct-delivery.md).
        ec::WFX => {
            frame.elr += 4;
            if !park_if_requested(frame) {
                crate::irqchip::direct_wait();
            }
        }
        ec::IABT_LOW
            if raced_with_remap(esr, DataAbort::ipa(hpfar, far))
                || reflect_to_root(frame, true, false, DataAbort::ipa(hpfar, far), far) => {}
        ec::HVC64 if esr.imm16() == BOOT_AGAIN_IMM => fail(
            frame,
            format_args!("the Linux boot stub was entered again (reboot or panic): a Linux cell cannot restart in place"),
            esr,
            far,
            hpfar,
        ),
        ec::HVC64 => fail(frame, format_args!("HVC with foreign immediate {:#x}", esr.imm16()), esr, far, hpfar),
        ec => fail(frame, format_args!("unhandled exception class {ec:#x}"), esr, far, hpfar),
    }
}

/// The interrupt path (the vector's assembly fast path injects the
/// common case itself and comes here for the rest). Only x0-x18, x29 and
/// x30 of `frame` are valid; `acked` is the INTID the vector already
/// acknowledged, or `irqchip::NOT_ACKED`; `entry` the CNTPCT the vector
/// read. Returns true when the frame was rewritten as a whole (the CPU
/// parked and restarted), so the vector restores all of it.
#[no_mangle]
extern "C" fn trap_lower_irq(frame: &mut TrapFrame, acked: u32, entry: u64) -> bool {
    let cpu = this_cpu();
    cpu.trace.enter_irq(entry);
    cpu.count(Stat::Total);
    if crate::irqchip::handle_irq(cpu, acked) == crate::irqchip::IrqOutcome::Park {
        park_on_request(frame);
        return true;
    }
    // The interrupt path timed the exit itself (irqchip: the fast path
    // shares one counter read between injection delay and exit time).
    false
}

/// A FIQ from a lower EL: the hypervisor's Group-0 interrupts on a CPU
/// of a direct-mode cell, else the interrupt path (FIQs there are only
/// stray Group-0 interrupts, which it drops).
#[no_mangle]
extern "C" fn trap_lower_fiq(frame: &mut TrapFrame, acked: u32, entry: u64) -> bool {
    let cpu = this_cpu();
    match crate::irqchip::handle_fiq(cpu) {
        None => trap_lower_irq(frame, acked, entry),
        Some(outcome) => {
            cpu.count(Stat::Total);
            if outcome == crate::irqchip::IrqOutcome::Park {
                park_on_request(frame);
                return true;
            }
            false
        }
    }
}

/// A stage-2 abort (or a WFI of a direct-mode cell) of a CPU asked to park: its cell's stage 2 may be
/// revoked because the CPU did not answer the management kick
/// (`cell::owner::cpus::park_revoking`: a direct-mode cell can hold off
/// every interrupt); the CPU parks here as the kick would have parked it.
fn park_if_requested(frame: &mut TrapFrame) -> bool {
    if !this_cpu().park_request.load(Ordering::Acquire) {
        return false;
    }
    park_on_request(frame);
    true
}

/// Parks after a management request (cell shutdown or destroy).
fn park_on_request(frame: &mut TrapFrame) {
    let cpu = this_cpu();
    cpu.park_request.store(false, Ordering::Release);
    cpu.set_state(CpuState::Off);
    park(frame);
}

#[no_mangle]
extern "C" fn trap_lower_serror(frame: &mut TrapFrame) {
    let (esr, far, hpfar) = arch::fault_regs();
    fail(frame, format_args!("SError"), Esr(esr), far, hpfar);
}

#[no_mangle]
extern "C" fn trap_lower_aarch32(frame: &mut TrapFrame) {
    let (esr, far, hpfar) = arch::fault_regs();
    fail(frame, format_args!("AArch32 guest code is not supported"), Esr(esr), far, hpfar);
}

#[allow(clippy::panic)] // see the comment at the panic
#[no_mangle]
extern "C" fn trap_hyp_fault(frame: &mut TrapFrame) {
    let (esr, far, _) = arch::fault_regs();
    // A fault in the hypervisor's own code is a bug no guest input may
    // cause: the panic handler reports it and stops (never returns).
    panic!("exception in the hypervisor: ESR {esr:#x} ELR {:#x} FAR {far:#x}", frame.elr);
}

/// Trapped MSR/MRS: the GICv3 SGI generation registers (HCR_EL2.IMO).
#[inline(never)]
fn sysreg(frame: &mut TrapFrame, esr: Esr) -> bool {
    let iss = esr.iss();
    let read = iss & 1 != 0;
    let rt = ((iss >> 5) & 0x1f) as u8;
    let key = iss & !(0x1f << 5) & !1; // Op0, Op2, Op1, CRn, CRm
    let sgi1r = (3 << 20) | (5 << 17) | (12 << 10) | (11 << 1);
    let asgi1r = (3 << 20) | (6 << 17) | (12 << 10) | (11 << 1);
    let sgi0r = (3 << 20) | (7 << 17) | (12 << 10) | (11 << 1);
    // DC ISW / CSW / CISW (Op0 1, Op1 0, CRn 7, CRm 6/10/14, Op2 2): caches
    // are coherent, and a cell may not clean or discard lines by set/way
    // that hold other cells' data, so these are skipped.
    let set_way = [6u32, 10, 14].map(|crm| (1 << 20) | (2 << 17) | (7 << 10) | (crm << 1));
    if !read && set_way.contains(&key) {
        frame.elr += 4;
        return true;
    }
    if read || ![sgi1r, asgi1r, sgi0r].contains(&key) {
        return false;
    }
    crate::irqchip::emulate_sgi(frame.reg(rt));
    frame.elr += 4;
    true
}

/// Whether a stage-2 translation fault hit an entry that a hand-over was
/// changing (break-before-make leaves it invalid for a moment while the
/// root's stage 2 is live on this CPU): the hand-over holds the cell list
/// lock for the whole change, so once the lock is ours the change is
/// complete, and if the address translates now the access is simply
/// retried (ELR unchanged). Permission faults are never retried: a
/// mapped address that still faults would loop.
/// The root's stage 2 changes while live, and a cell's is revoked for a
/// moment when one of its CPUs does not answer a park
/// (`park_revoking`: a CPU of it that faulted then and finds the request
/// already withdrawn retries here); checked after the MMIO emulation so
/// device accesses do not pay for it.
fn raced_with_remap(esr: Esr, ipa: u64) -> bool {
    // DFSC/IFSC 0b0001LL: translation fault at level LL.
    if esr.iss() & 0x3c != 0x04 {
        return false;
    }
    crate::cell::translates(this_cpu().cell.load(Ordering::Relaxed), ipa)
}

/// The root cell is trusted with its own mistakes: an access of the root
/// to an address its stage 2 does not map (hypervisor memory, a cell's
/// memory, nothing at all) comes back to it as a synchronous external
/// abort at EL1, so its own handler (Linux: an oops or SIGBUS) deals with
/// it and no root CPU is lost. Non-root cells fail instead.
fn reflect_to_root(frame: &mut TrapFrame, instruction: bool, write: bool, ipa: u64, far: u64) -> bool {
    if this_cpu().cell.load(Ordering::Relaxed) != 0 {
        return false;
    }
    log::warn!(
        "root cell: {} at IPA {ipa:#x} (VA {far:#x}, ELR {:#x}) is not mapped: reflected as an external abort",
        if instruction { "instruction fetch" } else if write { "write" } else { "read" },
        frame.elr
    );
    arch::inject_external_abort(frame, instruction, write, far);
    true
}

/// Parks the CPU as failed after a one-line diagnostic; its cell is marked
/// FAILED (unless it is the root). Other CPUs keep running.
#[cold]
#[inline(never)]
fn fail(frame: &mut TrapFrame, what: core::fmt::Arguments, esr: Esr, far: u64, hpfar: u64) {
    let cpu = this_cpu();
    let cell_id = cpu.cell.load(Ordering::Relaxed);
    log::error!(
        "CPU {} of cell {} parked: {}: EC {:#x} ESR {:#x} ELR {:#x} FAR {:#x} HPFAR {:#x}",
        cpu.cpu_id.load(Ordering::Relaxed),
        cell_id,
        what,
        esr.ec(),
        esr.0,
        frame.elr,
        far,
        hpfar
    );
    // The post-mortem record, before anyone can see the CPU failed.
    let why = match esr.ec() {
        ec::DABT_LOW => why::DATA_ABORT,
        ec::IABT_LOW => why::INSTRUCTION_ABORT,
        ec::SYSREG => why::SYSREG,
        ec::HVC64 => why::FOREIGN_HVC,
        ec::SERROR => why::SERROR,
        _ => why::UNHANDLED_EC,
    };
    let ipa = DataAbort::ipa(hpfar, far);
    cpu.trace.record_failure(why, esr.0, far, hpfar, ipa, frame, cell_id, arch::counter());
    if cell_id != 0 {
        // Its ivshmem peers see it go, before anyone can see it FAILED.
        crate::ivshmem::stop(cell_id);
        if let Some(cell) = CELLS.lock().iter_mut().find(|c| c.id == cell_id) {
            cell.set_state(CellState::Failed);
        }
    }
    cpu.set_state(CpuState::Failed);
    park(frame);
}

/// Parks this CPU in EL2 until it is asked to start somewhere, then
/// prepares `frame` so that the trap return enters the new context.
pub fn park(frame: &mut TrapFrame) {
    let cpu = this_cpu();
    let empty = crate::memmap::empty_stage2();
    if empty != 0 {
        arch::park_stage2(empty);
    }
    // What the context that ran here left enabled or pending goes now, not
    // only at the next start: a parked CPU must sleep until it is kicked.
    // A Linux cell's CPU parks (destroy) with its timer PPI enabled at the
    // redistributor; the timer fires, the PPI stays pending (masked at
    // EL2, never taken), and a pending interrupt ends every WFI at once,
    // so `park_wait` spun instead of sleeping until the root brought the
    // CPU back. Under QEMU's -icount, whose clock advances with every
    // instruction of every vCPU, two such spinning CPUs used up the clock
    // between the root's timer interrupts: the root's CPU 0 ran little
    // but its timer handler, RCU stalled, and the `cpu_up` of the
    // destroyed cell's CPUs that would have ended the spin never came
    // (the bench's ivnet run: soft lockup on CPU 0 after `cell destroy`).
    // The same reset as at a start (`reset_frame`): the cell's banked
    // interrupts disabled, their pending and active states and the list
    // registers cleared, so no list-register entry signals a virtual
    // interrupt either. The hypervisor's own SGI and maintenance
    // interrupt stay enabled; a kick already pending may be cleared on
    // GICv2 (CPENDSGIR), which loses nothing: the loop below looks for a
    // start request before it waits, and a request after this point
    // kicks again. Only this CPU's interface, banked interrupts and
    // queues are touched; `reset_frame` does it again at the start.
    crate::irqchip::reset_cpu();
    loop {
        if let Some((entry, context)) = cpu.take_start() {
            // The exit that parked ends here, not when it was taken.
            cpu.trace.enter_irq(arch::counter());
            reset_frame(frame, entry, context);
            crate::cell::activate_for_this_cpu();
            return;
        }
        crate::irqchip::park_wait();
    }
}

/// Architectural reset state of a CPU entering a cell at `entry`.
pub fn reset_frame(frame: &mut TrapFrame, entry: u64, context: u64) {
    crate::irqchip::reset_cpu();
    frame.x = [0; 31];
    frame.x[0] = context;
    frame.elr = entry;
    frame.spsr = arch::SPSR_EL1H_MASKED;
    arch::reset_el1();
}
