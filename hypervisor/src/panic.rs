//! The panic handler: print where, then stop the machine with a failing
//! status (boot-first under QEMU) or park the CPU (late launch).

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::console::print_unlocked(format_args!(
        "\nPANIC on CPU {}: {}\n",
        crate::percpu::this_cpu_id(),
        info
    ));
    if crate::hv::get().is_none_or(|h| h.boot_first) {
        crate::arch::semihosting_exit(3);
    }
    crate::arch::halt()
}
