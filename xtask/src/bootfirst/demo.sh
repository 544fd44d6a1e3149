#!/bin/sh
# The `cargo xtask run --boot-first` demo: sysHyper booted first and started
# Linux as its root cell (and any --cell cells); show that, with no enable.
echo "### Linux runs as the root cell: $(nproc) CPUs online ($(cat /sys/devices/system/cpu/online))"
dmesg | grep -m1 "CPU(s) started at"
echo "### RAM Linux sees:"
grep "System RAM" /proc/iomem
insmod /lib/modules/syshyper.ko
echo "### syshyper cell list (no enable needed in boot-first mode)"
syshyper cell list
