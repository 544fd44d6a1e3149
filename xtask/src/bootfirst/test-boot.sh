# bootfirst-linux: Linux started by the hypervisor as its root cell.
check "Linux was entered at EL1 (the hypervisor owns EL2)" sh -c 'dmesg | grep "CPU(s) started at EL1"'
check "every root CPU is online" cpus_online 0-3
check "RAM ends below the cells and the hypervisor" ram_below_cells
check "the device tree is xtask's (initramfs at 0x4c000000)" sh -c 'od -An -tx1 /proc/device-tree/chosen/linux,initrd-start | tee /dev/stderr | grep -q "00 00 00 00 4c 00 00 00"'
check "the kernel command line came from /chosen" grep -q "mem=768M nokaslr" /proc/cmdline
