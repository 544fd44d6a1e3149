# linux-cycles: enable with wrong configs fails and leaves Linux unharmed
# (refused by the tool, by the driver, and by the hypervisor itself);
# then 20 create/load/start/destroy cycles leave mem_pool_used where it began;
# then 20 enable/disable cycles, each followed by CPU hotplug (issue 13.6).
workload_start
check "insmod" insmod /lib/modules/syshyper.ko
fails_with "enable with a cell config" "cell configuration" jailhouse enable $C/gic-demo.cell
head -c 300 $C/$SYS_CONFIG >/tmp/short.cell
fails_with "enable with a truncated config" "invalid system configuration" jailhouse enable /tmp/short.cell
fails_with "enable with a config for 16 CPUs" "refused" jailhouse enable $C/qemu-virt-16cpu.cell
check "dmesg names the missing CPU" sh -c 'dmesg | grep "root CPU 15 does not exist"'
echo 0 >/sys/devices/system/cpu/cpu3/online
fails_with "enable with a root CPU offline" "refused" jailhouse enable $C/$SYS_CONFIG
echo 1 >/sys/devices/system/cpu/cpu3/online
# Passes the tool's and the driver's checks; the hypervisor itself refuses
# it on every CPU during the late launch, and must hand Linux back intact.
# The config names the GIC version the machine does not have (3 <-> 2).
jailhouse config show $C/$SYS_CONFIG |
	sed -e 's/^gic_version = 3$/gic_version = x/' -e 's/^gic_version = 2$/gic_version = 3/' -e 's/^gic_version = x$/gic_version = 2/' >$W/othergic.toml
jailhouse config compile $W/othergic.toml -o $W/othergic.cell
fails_with "enable with the other GIC version fails in the hypervisor" "enable failed" jailhouse enable $W/othergic.cell
check "dmesg says the hypervisor failed to start" sh -c 'dmesg | grep "failed to start"'
check "still not enabled" is $S/enabled 0
check "all CPUs online after the refusals" cpus_online 0-3
check "every CPU works after the refusals" every_cpu_works
check "Linux works after the refusals" progresses
check "enable" jailhouse enable $C/$SYS_CONFIG
# A cell config that passes the tool's and the driver's checks but gives
# the cell the GIC distributor: the hypervisor refuses it, and dmesg says
# why (the driver copies the hypervisor's reason there).
jailhouse config show $C/gic-demo.cell >$W/gicd.toml &&
	printf '\n[[cell.memory]]\nphys = "0x08000000"\nsize = "4 KiB"\nflags = ["read", "write", "io"]\n' >>$W/gicd.toml &&
	jailhouse config compile $W/gicd.toml -o $W/gicd.cell
fails_with "cell create with the GICD refused by the hypervisor" "cell create" jailhouse cell create $W/gicd.cell
check "dmesg names the reason for the refused cell" sh -c 'dmesg | grep -q "overlaps the interrupt controller"'
check "CPU 1 back after the refused create" cpus_online 0-3
used0=$(cat $S/mem_pool_used)
echo "mem_pool_used at the start: $used0"
check "mem_pool_used readable" test "$used0" -gt 0
one_cycle() {
	jailhouse cell create $C/gic-demo.cell &&
	jailhouse cell load gic-demo $I/gic-demo.bin &&
	jailhouse cell start gic-demo &&
	is $S/cells/1/state running &&
	cpus_online 0,2-3 &&
	jailhouse cell destroy gic-demo &&
	cpus_online 0-3 &&
	echo "mem_pool_used $(cat $S/mem_pool_used)"
}
for i in $(seq 1 20); do
	check "cycle $i" one_cycle
done
check "mem_pool_used back at its start" is $S/mem_pool_used "$used0"
check "every CPU works after the cycles" every_cpu_works
check "Linux works after the cycles" progresses
# Cooperative shutdown (issue 18, docs/lifecycle.md): the comm-test cell
# (inmates/src/bin/comm-test.rs, configs/test-comm.cell) answers as its
# command line says; the hypervisor asks it before every load, start or
# destroy over it running. Its root-shared page (0x7f3f0000): word 0 its
# wake-ups, 1 the RECONFIG_COMPLETED seen, 2 the shutdown requests seen,
# 3 its mode. Cells print on the shared UART meanwhile: the checks' lines
# go to a file shown afterwards, so that the two never interleave.
CS=0x7f3f0000
word() { echo $(($(devmem $((CS + 4 * $1)) 32))); }
wait_word() { # IDX MIN: word IDX reaches MIN within 10 s
	n=0
	while [ "$(word $1)" -lt $2 ]; do
		n=$((n + 1))
		[ $n -le 200 ] || { echo "word $1 is $(word $1), not $2"; return 1; }
		sleep 0.05
	done
}
state_of() { # NAME: the cell's state in sysfs
	for d in $S/cells/*; do [ "$(cat $d/name)" = "$1" ] && cat $d/state; done
}
root_cpus_work() { cpu_works 0 && cpu_works 1 && cpu_works 3; } # CPU 2: test-comm
state_is() { s=$(state_of $1); echo "state of $1: $s"; [ "$s" = "$2" ]; }
comm_start() { # MODE CODE: load comm-test in MODE, start it, see it run
	for w in 0 1 2 3; do devmem $((CS + 4 * w)) 32 0; done
	jailhouse cell load test-comm $I/comm-test.bin -s "mode=$1" -a 0x1000 &&
	jailhouse cell start test-comm && wait_word 0 3 && [ "$(word 3)" = $2 ]
}
restarts_is() { # NAME N: sysfs and cell list show N restarts (the column before DMA faults)
	for d in $S/cells/*; do [ "$(cat $d/name)" = "$1" ] && r=$(cat $d/restarts); done
	echo "restarts of $1: $r"
	[ "$r" = "$2" ] && jailhouse cell list | grep -Eq "^[0-9]* *$1 .* $2 +[-0-9]+( UNCONFINED)?$"
}
restart_100() { # load and start the running approving cell 100 times
	for n in $(seq 1 100); do
		jailhouse cell load test-comm $I/comm-test.bin -s "mode=approve" -a 0x1000 >/dev/null &&
		jailhouse cell start test-comm >/dev/null || { echo "restart $n failed"; return 1; }
	done
	is $S/mem_pool_used "$comm_used"
}
wait_failed() { n=0; until state_is test-crash failed; do n=$((n + 1)); [ $n -le 100 ] || return 1; sleep 0.1; done; }
crash_start() { jailhouse cell load test-crash $I/crash-demo.bin && jailhouse cell start test-crash && wait_failed; }
{
check "comm: create test-comm" jailhouse cell create $C/test-comm.cell
check "comm: approving cell runs" comm_start approve 1
check "comm: create gic-demo next to it" jailhouse cell create $C/gic-demo.cell
check "comm: it acknowledged RECONFIG_COMPLETED after the create" wait_word 1 1
check "comm: destroy gic-demo" jailhouse cell destroy gic-demo
check "comm: it acknowledged RECONFIG_COMPLETED after the destroy" wait_word 1 2
check "comm: shutdown approved" jailhouse cell shutdown test-comm
check "comm: one shutdown request seen" test "$(word 2)" = 1
check "comm: shut down after approval" state_is test-comm "shut down"
check "comm: denying cell runs" comm_start deny 2
fails_with "comm: shutdown denied, named, --force offered" 'cell "test-comm" (id [0-9]*) denied the shutdown request; --force' jailhouse cell shutdown test-comm
fails_with "comm: destroy denied" "denied the shutdown request" jailhouse cell destroy test-comm
check "comm: dmesg has the hypervisor's reason" sh -c 'dmesg | grep -q "denied the shutdown request (cell destroy"'
check "comm: denying cell still running" state_is test-comm running
check "comm: shutdown --force wins" jailhouse cell shutdown --force test-comm
check "comm: shut down after --force" state_is test-comm "shut down"
check "comm: silent cell runs" comm_start mute 4
fails_with "comm: silent cell times out" 'cell "test-comm" (id [0-9]*) did not answer the shutdown request in time' jailhouse cell destroy test-comm
check "comm: silent cell still running" state_is test-comm running
check "comm: Linux works after the timeout" progresses
check "comm: root CPUs work after the timeout" root_cpus_work
check "comm: destroy --force wins over silence" jailhouse cell destroy test-comm --force
check "comm: gic-demo runs" sh -c "jailhouse cell create $C/gic-demo.cell && jailhouse cell load gic-demo $I/gic-demo.bin && jailhouse cell start gic-demo"
check "comm: create test-comm again" jailhouse cell create $C/test-comm.cell
check "comm: locking cell runs" comm_start lock 3
check "comm: locked in sysfs" state_is test-comm running/locked
check "comm: locked in cell list" sh -c 'jailhouse cell list | grep -q "^[0-9]* *test-comm *running/locked"'
fails_with "comm: no destroy of another cell while locked" 'cell "test-comm" (id [0-9]*) is locked' jailhouse cell destroy gic-demo
fails_with "comm: no load of another cell while locked" "is locked" jailhouse cell load gic-demo $I/gic-demo.bin
fails_with "comm: locked cell denies its destroy" "denied the shutdown request" jailhouse cell destroy test-comm
check "comm: gic-demo still running" state_is gic-demo running
check "comm: destroy --force of the locked cell" jailhouse cell destroy --force test-comm
check "comm: gic-demo destroyed once the lock is gone" jailhouse cell destroy gic-demo
# Restart (issue 18.4): 100 load+start cycles over the running cell, each
# approved by it; a failed cell starts again after a new load.
check "restart: test-comm runs" sh -c "jailhouse cell create $C/test-comm.cell && jailhouse cell load test-comm $I/comm-test.bin && jailhouse cell start test-comm"
comm_used=$(cat $S/mem_pool_used)
check "restart: 100 load/start cycles keep mem_pool_used" restart_100
check "restart: counter 100 in sysfs and cell list" restarts_is test-comm 100
check "restart: destroy test-comm" jailhouse cell destroy test-comm
check "restart: create test-crash" jailhouse cell create $C/test-crash.cell
check "restart: crash-demo fails" crash_start
check "restart: the failed cell starts again after a load" crash_start
check "restart: counter 1 after the failed cell's restart" restarts_is test-crash 1
check "restart: destroy the failed cell" jailhouse cell destroy test-crash
} >$W/during.log 2>&1
cat $W/during.log
check "comm: all CPUs back in Linux" cpus_online 0-3
check "comm: mem_pool_used back at its start" is $S/mem_pool_used "$used0"
check "disable" jailhouse disable
# Disable while the root's IPIs keep coming (the workload, every_cpu_works):
# no management SGI (15) may reach Linux or stay pending for it. Linux
# enables all 16 SGIs when it brings a CPU online, so the CPU hotplug after
# each disable turns a leftover into "Unexpected interrupt (irqnr 15)" in
# dmesg, which fails the summary.
hotplug_all() {
	for c in 1 2 3; do
		echo 0 >/sys/devices/system/cpu/cpu$c/online &&
		echo 1 >/sys/devices/system/cpu/cpu$c/online || return 1
	done
	cpus_online 0-3
}
enable_disable() {
	jailhouse enable $C/$SYS_CONFIG && every_cpu_works &&
	jailhouse disable && hotplug_all && every_cpu_works
}
for i in $(seq 1 20); do
	check "enable, disable, hotplug $i" enable_disable
done
check "Linux works after the enable/disable cycles" progresses
check "rmmod" rmmod syshyper
summary
