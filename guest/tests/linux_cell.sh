# Linux in a cell (xtask test linux-cell-boot; docs/linux-cell.md): the root
# boots Debian's kernel in configs/linux-cell.toml's cell twice, reads the
# cell's report of its CPUs and memory from the hypervisor console, shuts
# the cell down and destroys it, and gets CPUs 2-3 back each time; then a
# cell whose kernel crashes ends FAILED without touching the root's data.
L=/etc/syshyper/linux
BOOTARGS="console=ttyAMA0 panic=-1 quiet"

# Waits up to $2 seconds for the hypervisor console to hold line $1.
console_has() {
	for _ in $(seq 1 $(($2 * 2))); do
		jailhouse console 2>/dev/null | grep -q -- "$1" && return 0
		sleep 0.5
	done
	echo "no \"$1\" on the hypervisor console after $2 s; its end:"
	jailhouse console | tail -n 15
	return 1
}

state_becomes() { # CELL-ID STATE SECONDS
	for _ in $(seq 1 $(($3 * 2))); do
		[ "$(cat $S/cells/$1/state 2>/dev/null)" = "$2" ] && return 0
		sleep 0.5
	done
	echo "cell $1 state: $(cat $S/cells/$1/state 2>&1), expected $2"
	return 1
}

# ivshmem-net (docs/ivshmem-net.md) between the root (10.0.0.1) and the
# cell (10.0.0.2, guest/linux-cell/cell-net.sh, whose lines the hypervisor
# console shows): the link comes up with every boot and goes down with
# the cell, pings go both ways, and 16 MiB go to the cell and back with
# the same SHA-256 on both sides.
carrier_becomes() { # VALUE SECONDS
	for _ in $(seq 1 $(($2 * 2))); do
		[ "$(cat /sys/class/net/ivshmem0/carrier)" = "$1" ] && return 0
		sleep 0.5
	done
	echo "ivshmem0 carrier $(cat /sys/class/net/ivshmem0/carrier), expected $1"
	return 1
}
ivnet_root_up() {
	ip addr add 10.0.0.1/24 dev ivshmem0 && ip link set ivshmem0 up &&
		is /sys/class/net/ivshmem0/carrier 0
}
ivnet_transfer() { # ROUND
	rm -f $W/ivnet.time
	want=$(cut -d' ' -f1 $W/data.sum)
	# Input that never ends (a FIFO held open by the reader): busybox
	# nc would otherwise send FIN at once, and the cell's nc would stop.
	[ -p $W/hold ] || mkfifo $W/hold
	timeout 300 nc -l -p 5001 <>$W/hold >$W/back &
	back=$!
	t0=$(date +%s)
	nc 10.0.0.2 5000 <$W/data &&
		console_has "linux-cell: received 16777216 bytes, sha256 $want (round $1)" 120 ||
		{ kill $back; return 1; }
	wait $back
	got=$(sha256sum $W/back | cut -d' ' -f1)
	rm -f $W/back
	echo "ivshmem-net: 16 MiB to the cell and back in $(($(date +%s) - t0)) s; sent $want, got back $got" |
		tee $W/ivnet.time
	[ "$got" = "$want" ]
}

check "insmod" insmod /lib/modules/syshyper.ko
check "enable" jailhouse enable $C/$SYS_CONFIG
check "ivshmem-net: root's ivshmem0 up, no carrier without the cell" ivnet_root_up
workload_start
# The root's data, checksummed before any Linux cell runs.
dd if=/dev/urandom of=$W/data bs=1M count=16 2>/dev/null
sha256sum $W/data >$W/data.sum

for round in 1 2; do
	check "cell linux $round" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.round=$round"
	check "cell running $round" is $S/cells/1/state running
	check "CPUs 2-3 left Linux $round" cpus_online 0-1
	check "cell reached /init $round" console_has "\[linux-cell\] linux-cell: running round $round" 120
	check "Linux works while the cell runs $round" progresses
	check "ivshmem-net: link up $round" carrier_becomes 1 120
	check "ivshmem-net: root pings the cell $round" ping -c 3 -W 5 10.0.0.2
	check "ivshmem-net: cell pings the root $round" console_has "linux-cell: ping root ok, 3 replies (round $round)" 60
	check "ivshmem-net: 16 MiB to the cell and back, same SHA-256 $round" ivnet_transfer $round
	cat $W/ivnet.time 2>/dev/null
	check "ivshmem-net: cell's kernel log clean $round" console_has "linux-cell: kernel log clean after the transfer (round $round)" 60
	check "cell shutdown $round" jailhouse cell shutdown linux-cell
	check "cell shut down $round" is $S/cells/1/state "shut down"
	check "ivshmem-net: link down with the cell $round" carrier_becomes 0 10
	check "cell destroy $round" jailhouse cell destroy linux-cell
	check "CPUs 2-3 back online $round" cpus_online 0-3
	check "every CPU works $round" every_cpu_works
done

# A cell that halts itself (PSCI SYSTEM_OFF from `poweroff -f`) ends
# SHUT_DOWN, and the root takes its CPUs back at destroy.
check "halting cell linux" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.poweroff"
check "halting cell ends SHUT_DOWN" state_becomes 1 "shut down" 120
check "halted cell destroy" jailhouse cell destroy linux-cell
check "CPUs 2-3 back online after the halt" cpus_online 0-3
check "crashing cell linux" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.crash"
check "crashing cell ends FAILED" state_becomes 1 failed 120
check "root data unchanged" sha256sum -c $W/data.sum
check "Linux works after the crash" progresses
check "failed cell destroy" jailhouse cell destroy linux-cell
check "CPUs 2-3 back online after the crash" cpus_online 0-3
check "every CPU works after the crash" every_cpu_works
check "disable" jailhouse disable
summary
