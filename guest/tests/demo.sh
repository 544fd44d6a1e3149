# linux-demo: the demo sequence with a check at every step, while a root
# workload runs; Linux keeps working during and after; disable, enable again.
root_cpus_work() { cpu_works 0 && cpu_works 2 && cpu_works 3; }
stats_count() {
	jailhouse cell stats gic-demo && test "$(cat $S/cells/1/statistics/vmexits_total)" -gt 0
}
workload_start
check "insmod" insmod /lib/modules/syshyper.ko
check "driver loaded, not enabled" is $S/enabled 0
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
check "hypervisor console" sh -c 'jailhouse console | grep -q sysHyper'
check "disable" jailhouse disable
check "enabled is 0" is $S/enabled 0
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
