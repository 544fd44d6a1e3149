//! Suite "rootsub" (system config qemu-virt-subpage.toml, where the root has
//! its PL011 only as two sub-page regions): the root's own console output
//! goes through trapped and forwarded accesses (its CPU's MMIO exit counter
//! grows with each line), and accesses the regions do not allow come back
//! to the root as synchronous external aborts, like any unmapped address.
use crate::hv_memory::{probe, DFSC_SEA, EC_DABT_CUR};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::{CPU_STAT_BASE, STAT_MMIO};
use syshyper_inmates::{check, cpu, println};

/// Bundle entry selecting the suite (its content is not read).
pub const MODE: &str = "mode:rootsub";
const UART: u64 = 0x0900_0000;

pub fn wanted(b: &Bundle) -> bool {
    b.find(MODE).is_some()
}

fn my_cpu() -> u64 {
    let m = cpu::mpidr();
    ((m >> 8) & 0xff) * 16 + (m & 0xff)
}

fn must_abort(name: &str, addr: u64) {
    match probe(addr) {
        None => {
            check!(name, false, "read of {addr:#x} completed");
        }
        Some((esr, far)) => {
            let (ec, dfsc) = (esr >> 26, esr & 0x3f);
            check!(
                name,
                ec == EC_DABT_CUR && dfsc == DFSC_SEA && far == addr,
                "ESR {esr:#x} FAR {far:#x}, want EC 0x25 DFSC 0x10 FAR {addr:#x}"
            );
        }
    }
}

pub fn run(_bundle: &Bundle) {
    let cpu = my_cpu();
    let mmio = || hvc::cpu_info(cpu, CPU_STAT_BASE + STAT_MMIO);
    let before = mmio();
    println!("rootsub: this line goes through the hypervisor");
    let after = mmio();
    // At least a flag read and a data write per character of the line.
    check!("rootsub: root prints through its sub-page UART", after >= before + 2 * 44, "MMIO exits {before} -> {after}");
    must_abort("rootsub: root read outside its sub-page regions aborts", UART + 0x30);
    must_abort("rootsub: root 64-bit read of the flag register aborts", UART + 0x18);
    println!("rootsub: root still prints after the refused accesses");
}
