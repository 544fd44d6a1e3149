#!/bin/sh
# ivshmem-net (`cargo xtask bench`, rows ivnet_*): the root Linux runs
# ivnet-bench's client against the server in a Linux cell
# (configs/linux-cell.toml, guest/linux-cell/cell-net.sh starts the
# server) over the 0001:00:01.0 link: UDP round trips, then 16 MiB over
# TCP. Counter ticks are instructions of the whole machine (-icount; both
# Linuxes run in the same QEMU thread).
set -e
C=/etc/syshyper/configs
L=/etc/syshyper/linux
insmod /lib/modules/syshyper.ko
jailhouse enable $C/$SYS_CONFIG
ip addr add 10.0.0.1/24 dev ivshmem0
ip link set ivshmem0 up
jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "console=ttyAMA0 quiet"
for _ in $(seq 1 480); do
	[ "$(cat /sys/class/net/ivshmem0/carrier)" = 1 ] && break
	sleep 0.5
done
[ "$(cat /sys/class/net/ivshmem0/carrier)" = 1 ] || { echo "BENCH-ERROR ivnet: no carrier"; exit 1; }
/usr/bin/ivnet-bench client 10.0.0.2 200 16777216
# The cell's CPUs parked for a moment before the destroy brings them back:
# they park with the cell's timer running. A parked CPU that did not
# sleep (its timer PPI left enabled and pending ended every WFI) used up
# -icount's clock, and the root stalled here (RCU stall, soft lockups,
# the run's timeout); the park now resets the CPU's interrupts (trap::park).
jailhouse cell shutdown linux-cell
sleep 2
jailhouse cell destroy linux-cell
jailhouse disable
echo "BENCH-DONE ivnet"
