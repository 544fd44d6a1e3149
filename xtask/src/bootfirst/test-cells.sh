# bootfirst-linux-cells: gic-demo was started by the hypervisor before Linux.
check "Linux was entered at EL1 (the hypervisor owns EL2)" sh -c 'dmesg | grep "CPU(s) started at EL1"'
check "every root CPU is online (CPU 1 is gic-demo's)" cpus_online 0,2-3
check "RAM ends below the cells and the hypervisor" ram_below_cells
