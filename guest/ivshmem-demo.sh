#!/bin/sh
# `cargo xtask run --ivshmem`: the root Linux and the ivshmem-demo cell talk
# over the ivshmem link 0001:00:00.0 (docs/ivshmem.md): hello texts both
# ways (the cell prints the root's on the shared UART, the root prints the
# cell's answers), then 1000 checked ping-pong round trips.
# Any failing step ends the script with a non-zero status.
set -e
C=/etc/syshyper/configs
I=/etc/syshyper/inmates

step() { echo; echo "### $*"; }

step "loading the driver, enabling sysHyper"
insmod /lib/modules/syshyper.ko
jailhouse enable $C/$SYS_CONFIG

step "the root's ivshmem devices (UIO)"
for d in /sys/class/uio/uio*; do
	echo "$(basename $d): $(cat $d/name)"
	for m in $d/maps/map*; do
		echo "  $(basename $m): $(cat $m/name), $(cat $m/size) bytes at $(cat $m/addr)"
	done
done

step "creating, loading and starting the ivshmem-demo cell (peer 1)"
jailhouse cell create $C/ivshmem-demo.cell
jailhouse cell load ivshmem-demo $I/ivshmem-demo.bin
jailhouse cell start ivshmem-demo
sleep 0.5

step "syshyper ivshmem-demo --count 5 --peer 1: hello texts both ways"
syshyper ivshmem-demo --count 5 --interval 500 --peer 1

step "syshyper ivshmem-demo --ping 1000 --peer 1"
syshyper ivshmem-demo --ping 1000 --peer 1

step "destroying the cell and disabling the hypervisor"
jailhouse cell destroy ivshmem-demo
jailhouse disable
echo "Linux still runs: $(cat /proc/uptime)"
