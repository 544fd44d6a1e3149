//! The EL2 stack's high-water mark (issue 17: the per-CPU area is sized
//! from it). Each CPU's stack fills its per-CPU area from the end of its
//! `PerCpu` block up to the trap frame at the top. Each CPU paints the
//! free part with a pattern when it enters the hypervisor; the deepest
//! word no longer holding the pattern is the most the stack was ever
//! used. The root reads it per CPU with CPU_GET_INFO (kind
//! [`CPU_INFO_STACK_USED`], a sysHyper extension); the bench reports the
//! largest as `el2_stack_high_water`.

use crate::layout::Layout;
use crate::percpu::PerCpu;

/// Bytes of the trap frame at the top of the stack (the vectors' frame).
const FRAME_SIZE: usize = core::mem::size_of::<crate::trap::TrapFrame>();

/// CPU_GET_INFO kind: bytes of the CPU's EL2 stack used at most since it
/// entered the hypervisor (root only; -EINVAL before it arrived).
pub const CPU_INFO_STACK_USED: u64 = 2000;

/// The paint ("STACKHWM").
#[cfg(target_os = "none")]
const PAINT: u64 = 0x5354_4143_4b48_574d;

/// Bytes below the painting function's own stack pointer left unpainted
/// (nothing of it lives there; a margin all the same).
#[cfg(target_os = "none")]
const MARGIN: u64 = 256;

/// `[low, top)` of CPU `cpu`'s stack as virtual addresses: from the first
/// 16-byte boundary after its `PerCpu` block to the trap frame.
pub fn bounds(layout: &Layout, virt_base: u64, cpu: u64) -> (u64, u64) {
    let base = virt_base.wrapping_add(layout.percpu_offset(cpu));
    let low = base.wrapping_add(core::mem::size_of::<PerCpu>() as u64).wrapping_add(15) & !15;
    let top = base.wrapping_add(layout.percpu_size).wrapping_sub(FRAME_SIZE as u64);
    (low, top)
}

/// Paints the unused part of this CPU's stack, below the caller (called
/// first thing on each entry to the hypervisor, interrupts masked).
#[cfg(target_os = "none")]
#[inline(never)]
pub fn paint(layout: &Layout, virt_base: u64, cpu: u64) {
    let (low, top) = bounds(layout, virt_base, cpu);
    let sp: u64;
    // SAFETY: reads the stack pointer only.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    if sp <= low || sp > top {
        return;
    }
    let end = sp.saturating_sub(MARGIN) & !7;
    let mut a = low;
    while a < end {
        // SAFETY: [low, sp - MARGIN) is this CPU's own stack below
        // everything live on it (stacks grow down, interrupts are masked
        // at EL2, nothing else references it): mapped, aligned, unused.
        unsafe { (a as *mut u64).write_volatile(PAINT) };
        a = a.wrapping_add(8);
    }
}

/// Bytes of CPU `cpu`'s stack used at most since it was painted.
#[cfg(target_os = "none")]
pub fn used(layout: &Layout, virt_base: u64, cpu: u64) -> u64 {
    let (low, top) = bounds(layout, virt_base, cpu);
    let mut a = low;
    while a < top {
        // SAFETY: the per-CPU areas are mapped for the hypervisor's
        // lifetime; a racy read of another CPU's stack word is a plain
        // aligned 64-bit load whose value only decides a statistic.
        if unsafe { (a as *const u64).read_volatile() } != PAINT {
            break;
        }
        a = a.wrapping_add(8);
    }
    top.saturating_sub(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_lies_between_the_block_and_the_frame() {
        let l = Layout { core_size: 0x40000, percpu_size: 0x4000, max_cpus: 4 };
        let (low, top) = bounds(&l, 0x1000_0000, 2);
        assert_eq!(top, 0x1000_0000 + 0x40000 + 3 * 0x4000 - FRAME_SIZE as u64);
        assert!(low >= 0x1000_0000 + 0x40000 + 2 * 0x4000 + core::mem::size_of::<PerCpu>() as u64);
        assert_eq!(low % 16, 0);
        assert!(low < top);
    }
}
