#!/bin/sh
# Root overhead (`cargo xtask bench`, rows root_workload*): the same
# workload in the root Linux without and with sysHyper under it.
#
# QEMU runs with -icount shift=4, so counter ticks are instructions; but all
# vCPUs run on one thread and the counter counts every CPU's instructions.
# Pinning the workload to CPU 1 is not enough: how often the idle CPUs take
# timer interrupts changes from one stretch of seconds to the next and
# moved single runs by up to 5%. So CPUs 0, 2 and 3 go offline for each
# measurement (PSCI CPU_OFF; under sysHyper the hypervisor parks them) and
# come back before enable and disable, which need every root CPU. The
# phases alternate CYCLES times and the host keeps the fastest run per side.
set -e
W=/usr/bin/root-workload
# The machine's system configuration (/init exports SYS_CONFIG per GIC version).
C=/etc/syshyper/configs/${SYS_CONFIG:-qemu-virt.cell}
REPS=3
CYCLES=6

others() { # 0|1: the CPUs other than 1 offline or online
	for c in 0 2 3; do
		echo $1 >/sys/devices/system/cpu/cpu$c/online ||
			{ echo "BENCH-ERROR cpu$c online=$1 failed"; exit 1; }
	done
}

insmod /lib/modules/syshyper.ko
i=1
while [ $i -le $CYCLES ]; do
	sleep 1
	others 0
	taskset 0x2 $W without$i $REPS
	others 1
	$W time with$i enable jailhouse enable $C
	sleep 1
	others 0
	taskset 0x2 $W with$i $REPS
	others 1
	$W time with$i disable jailhouse disable
	i=$((i + 1))
done
# Linux cell start to /init (row linux_cell_start_to_init): from `cell
# linux` until the cell's /init line is on the hypervisor console, every
# CPU's instructions (the root polls the console meanwhile).
L=/etc/syshyper/linux
if [ -f $L/Image ]; then
	jailhouse enable $C
	$W time with1 linuxcell sh -c "jailhouse cell linux /etc/syshyper/configs/linux-cell.cell $L/Image \
		-i $L/initramfs.cpio.gz -c 'console=ttyAMA0 panic=-1 quiet' &&
		until jailhouse console | grep -q 'linux-cell: running'; do :; done"
	jailhouse cell destroy linux-cell
	jailhouse disable
fi
echo "BENCH-DONE linux"
