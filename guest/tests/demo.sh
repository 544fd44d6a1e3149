# linux-demo: the demo sequence with a check at every step, while a root
# workload runs; Linux keeps working during and after; disable, enable again.
root_cpus_work() { cpu_works 0 && cpu_works 2 && cpu_works 3; }
# The console through /dev/jailhouse (Jailhouse's driver semantics): all of
# it, in order, whatever the read size. $1: a capture, compared with sysfs
# `console` (the whole ring) after dropping the "<missed N bytes>" notice a
# reader starting at 0 gets once the ring has wrapped.
same_as_ring() {
	sed '1{/^<missed [0-9]* bytes of console log>$/d}' "$1" >$W/con.cmp
	echo "$(wc -c <"$1") bytes read, ring $(wc -c <$W/con.ring) bytes"
	[ -s $W/con.ring ] && cmp $W/con.ring $W/con.cmp
}
# Jailhouse's tool reads 128 bytes at a time, non-blocking, until a read
# returns 0: it must print everything and exit 0 (EAGAIN would be exit 1).
console_nonblocking() {
	cat $S/console >$W/con.ring
	jailhouse console >$W/con.tool || { echo "exit status $?"; return 1; }
	same_as_ring $W/con.tool
}
# Blocking 128-byte reads (dd writes each as it comes): the text in order;
# dd then blocks in the driver, waiting for more, until the timeout.
console_blocking() {
	cat $S/console >$W/con.ring
	timeout 3 dd if=/dev/jailhouse of=$W/con.dd bs=128 2>/dev/null
	same_as_ring $W/con.dd
}
# Disabled: the console of the last session is still readable once per
# open file (then a read returns 0, so the tool ends with status 0).
console_after_disable() {
	jailhouse console >$W/con.last || return 1
	echo "$(wc -c <$W/con.last) bytes"
	grep -q sysHyper $W/con.last
}
pools_read_0() {
	for f in mem_pool_size mem_pool_used remap_pool_size remap_pool_used; do
		is $S/$f 0 || return 1
	done
}
stats_count() {
	jailhouse cell stats gic-demo && test "$(cat $S/cells/1/statistics/vmexits_total)" -gt 0
}
workload_start
check "insmod" insmod /lib/modules/syshyper.ko
check "driver loaded, not enabled" is $S/enabled 0
fails_with "no console before enable" "not enabled" jailhouse console
check "Linux works before enable" progresses
check "enable" jailhouse enable $C/qemu-virt.cell
check "enabled is 1" is $S/enabled 1
check "root cell listed" sh -c 'jailhouse cell list | grep -q "^0 *QEMU-VIRT *running *0-3"'
check "Linux works under the hypervisor" progresses
check "every CPU works under the hypervisor" every_cpu_works
check "cell create" jailhouse cell create $C/gic-demo.cell
check "CPU 1 left Linux" cpus_online 0,2-3
check "cell shut down after create" is $S/cells/1/state "shut down"
check "cell load" jailhouse cell load gic-demo $I/gic-demo.bin
# gic-demo prints on the same UART: while it runs, the checks' lines go to
# a file, shown once it is destroyed, so that the two never interleave.
# The harness meanwhile waits for gic-demo's own lines.
{
check "cell start" jailhouse cell start gic-demo
sleep 1
check "cell running" is $S/cells/1/state running
check "cell list shows it" sh -c 'jailhouse cell list | grep -q "^1 *gic-demo *running *1"'
check "Linux works while the cell runs" progresses
check "root CPUs work while the cell runs" root_cpus_work
check "cell stats count exits" stats_count
check "cell destroy" jailhouse cell destroy gic-demo
} >$W/during.log 2>&1
cat $W/during.log
check "cell gone" test ! -e $S/cells/1
check "all root CPUs back online" cpus_online 0-3
check "every CPU works after destroy" every_cpu_works
check "Linux works after destroy" progresses
# A Jailhouse-style inmate in late launch: timer-bare sets up only its CPU
# interface and its timer PPI's enable bit and relies on the redistributor
# state the hypervisor brings every CPU to; its count is word 0 of a page
# it shares with the root (outside Linux's RAM, read with devmem).
timer_ticks() {
	n=0
	while [ $(($(devmem 0x7f3f0000 32))) -lt 5 ]; do
		n=$((n + 1))
		[ $n -le 200 ] || { echo "count $(devmem 0x7f3f0000 32)"; return 1; }
		sleep 0.05
	done
	echo "count $(devmem 0x7f3f0000 32)"
}
check "timer-bare cell create" jailhouse cell create $C/test-timer-bare.cell
check "timer-bare cell load" jailhouse cell load test-timer-bare $I/timer-bare.bin
{
check "timer-bare cell start" jailhouse cell start test-timer-bare
check "timer-bare takes timer interrupts" timer_ticks
check "timer-bare cell shutdown" jailhouse cell shutdown test-timer-bare
check "timer-bare shut down" is $S/cells/1/state "shut down"
check "timer-bare cell destroy" jailhouse cell destroy test-timer-bare
} >$W/during.log 2>&1
cat $W/during.log
check "CPU 2 back in Linux" cpus_online 0-3
check "hypervisor console" sh -c 'jailhouse console | grep -q sysHyper'
check "console in 128-byte non-blocking reads" console_nonblocking
check "console in 128-byte blocking reads" console_blocking
check "disable" jailhouse disable
check "enabled is 0" is $S/enabled 0
check "pools read 0 while disabled" pools_read_0
check "last console readable after disable" console_after_disable
check "all CPUs online after disable" cpus_online 0-3
check "every CPU works after disable" every_cpu_works
check "Linux works after disable" progresses
check "enable again" jailhouse enable $C/qemu-virt.cell
check "root cell running again" is $S/cells/0/state running
check "cell create again" jailhouse cell create $C/gic-demo.cell
{
check "cell load and start again" sh -c "jailhouse cell load gic-demo $I/gic-demo.bin && jailhouse cell start gic-demo"
sleep 0.5
check "cell running again" is $S/cells/1/state running
check "disable with a cell running" jailhouse disable
} >$W/during.log 2>&1
cat $W/during.log
check "all CPUs online after the second disable" cpus_online 0-3
check "Linux works after the second disable" progresses
check "rmmod" rmmod syshyper
summary
