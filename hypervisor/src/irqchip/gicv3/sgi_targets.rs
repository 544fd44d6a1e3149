//! Which CPUs a cell's SGI write reaches (pure, host-tested): the CPUs of
//! the sender's own cell named by the write, by affinity (target list),
//! or all of them but the sender (IRM = 1). Every other CPU is dropped:
//! a cell never raises an SGI outside itself. One iterator for both
//! deliveries, trap-and-inject (`inject::emulate_sgi`) and direct
//! (`direct::emulate_sgi`), so they cannot disagree on who is reached.

use crate::arch::regval::sgi1r::Sgi1r;
use core::sync::atomic::Ordering;

/// A CPU as the SGI filter needs to see it.
pub trait SgiCpu {
    /// The cell the CPU belongs to now.
    fn cell(&self) -> u32;
    /// The CPU's MPIDR (its affinity).
    fn mpidr(&self) -> u64;
}

impl SgiCpu for crate::percpu::PerCpu {
    fn cell(&self) -> u32 {
        self.cell.load(Ordering::Relaxed)
    }
    fn mpidr(&self) -> u64 {
        self.mpidr.load(Ordering::Relaxed)
    }
}

/// The CPUs among `cpus` (the present ones) that the SGI write `value`
/// of `me` reaches, each with its MPIDR (read once: the sender needs it
/// for the SGI it sends): only CPUs of `me`'s cell; with IRM every one of
/// them but `me`, else those whose affinity the target list names (`me`
/// included, if named).
pub fn sgi_targets<'a, C: SgiCpu + 'a>(
    cpus: impl Iterator<Item = &'a C>,
    me: &C,
    value: Sgi1r,
) -> impl Iterator<Item = (&'a C, u64)> {
    let cell = me.cell();
    // The sender by address only: the iterator outlives the borrow.
    let me: *const C = me;
    let others = value.to_others();
    cpus.filter_map(move |t| {
        if t.cell() != cell {
            return None;
        }
        let m = t.mpidr();
        let hit = if others { !core::ptr::eq(t, me) } else { value.targets(m) };
        hit.then_some((t, m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cpu {
        cell: u32,
        mpidr: u64,
    }

    impl SgiCpu for Cpu {
        fn cell(&self) -> u32 {
            self.cell
        }
        fn mpidr(&self) -> u64 {
            self.mpidr
        }
    }

    /// CPUs 0 and 3 root, 1 and 2 cell 7; 4 (cluster 1) cell 7 too.
    fn machine() -> [Cpu; 5] {
        [
            Cpu { cell: 0, mpidr: 0x8000_0000 },
            Cpu { cell: 7, mpidr: 0x8000_0001 },
            Cpu { cell: 7, mpidr: 0x8000_0002 },
            Cpu { cell: 0, mpidr: 0x8000_0003 },
            Cpu { cell: 7, mpidr: 0x8000_0100 },
        ]
    }

    fn hits(cpus: &[Cpu], me: usize, value: u64) -> Vec<usize> {
        sgi_targets(cpus.iter(), &cpus[me], Sgi1r(value))
            .map(|(t, m)| {
                assert_eq!(m, t.mpidr);
                cpus.iter().position(|c| core::ptr::eq(c, t)).unwrap()
            })
            .collect()
    }

    #[test]
    fn target_list_stays_in_the_cell() {
        let m = machine();
        // Aff0 0..3 of cluster 0 named: only the cell's CPUs 1 and 2.
        assert_eq!(hits(&m, 1, (1 << 24) | 0b1111), [1, 2]);
        // Only root CPUs named: nobody.
        assert_eq!(hits(&m, 1, (1 << 24) | 0b1001), Vec::<usize>::new());
        // Cluster 1, Aff0 0: the cell's CPU 4 only.
        assert_eq!(hits(&m, 2, (1 << 16) | 1), [4]);
        // The same list from the root reaches the root's CPUs only.
        assert_eq!(hits(&m, 0, 0b1111), [0, 3]);
    }

    #[test]
    fn irm_means_the_other_cpus_of_the_cell() {
        let m = machine();
        assert_eq!(hits(&m, 1, (1 << 40) | (3 << 24)), [2, 4]);
        assert_eq!(hits(&m, 4, 1 << 40), [1, 2]);
        assert_eq!(hits(&m, 3, 1 << 40), [0]);
    }

    #[test]
    fn range_selector_names_other_aff0_blocks() {
        let m: Vec<Cpu> = (0..20).map(|n| Cpu { cell: 1, mpidr: 0x8000_0000 | n }).collect();
        // RS = 1: Aff0 16..31; bit 1 of the list is Aff0 17.
        assert_eq!(hits(&m, 0, (1 << 44) | 0b10), [17]);
    }
}
