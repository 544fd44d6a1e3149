# Linux in a cell (xtask test linux-cell; docs/linux-cell.md): the root
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

check "insmod" insmod /lib/modules/syshyper.ko
check "enable" jailhouse enable $C/qemu-virt.cell
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
	check "cell shutdown $round" jailhouse cell shutdown linux-cell
	check "cell shut down $round" is $S/cells/1/state "shut down"
	check "cell destroy $round" jailhouse cell destroy linux-cell
	check "CPUs 2-3 back online $round" cpus_online 0-3
	check "every CPU works $round" every_cpu_works
done

check "crashing cell linux" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.crash"
check "crashing cell ends FAILED" state_becomes 1 failed 120
check "root data unchanged" sha256sum -c $W/data.sum
check "Linux works after the crash" progresses
check "failed cell destroy" jailhouse cell destroy linux-cell
check "CPUs 2-3 back online after the crash" cpus_online 0-3
check "every CPU works after the crash" every_cpu_works
check "disable" jailhouse disable
summary
