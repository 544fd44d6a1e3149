# linux-adopt: sysHyper booted first with gic-demo as a boot cell, then
# Linux as its root cell. The driver adopts the running hypervisor at
# insmod: no enable, `cell ...` works at once (the boot cell by id), and
# disable is refused. Kernel messages stay off the console (dmesg -n 1) and
# while a cell runs the checks' lines are held back, so that gic-demo's
# output on the same UART cannot split them.
dmesg -n 1
workload_start
{
check "Linux works as the boot-first root cell" progresses
check "CPU 1 belongs to the boot cell" cpus_online 0,2-3
check "insmod adopts the hypervisor" insmod /lib/modules/syshyper.ko
check "dmesg says adopted" sh -c 'dmesg | grep "started before Linux"'
check "enabled is 1 without enable" is $S/enabled 1
check "root cell adopted" is $S/cells/0/state running
check "root cell has the online CPUs" is $S/cells/0/cpus_assigned_list 0,2-3
check "boot cell listed as id 1, running" sh -c 'jailhouse cell list; jailhouse cell list | grep -q "^1 .*running"'
check "boot cell on CPU 1" is $S/cells/1/cpus_assigned_list 1
check "mem_pool_used readable" test "$(cat $S/mem_pool_used)" -gt 0
fails_with "enable is refused" "already enabled" jailhouse enable $C/$SYS_CONFIG
fails_with "disable is refused" "boot-first" jailhouse disable
check "dmesg explains the refusal" sh -c 'dmesg | grep "cannot be disabled"'
check "boot cell still running after the refusal" is $S/cells/1/state running
fails_with "load into the boot cell is refused" "refused" jailhouse cell load 1 $I/gic-demo.bin
check "cell shutdown of the boot cell" jailhouse cell shutdown 1
check "boot cell shut down" is $S/cells/1/state "shut down"
check "cell destroy of the boot cell by id" jailhouse cell destroy 1
} >$W/during.log 2>&1
cat $W/during.log
check "boot cell gone" test ! -e $S/cells/1
check "CPU 1 back in Linux" cpus_online 0-3
check "every CPU works after destroy" every_cpu_works
check "Linux works after destroy" progresses
check "cell create" jailhouse cell create $C/gic-demo.cell
check "cell load" jailhouse cell load gic-demo $I/gic-demo.bin
{
check "cell start" jailhouse cell start gic-demo
check "cell took its timer interrupts" cell_took_irqs 1 3
check "cell running" is $S/cells/1/state running
check "cell list shows gic-demo" sh -c 'jailhouse cell list | grep -q "^1 *gic-demo *running *1"'
check "Linux works while the cell runs" progresses
check "rmmod keeps the hypervisor and the cell" rmmod syshyper
check "insmod adopts the cell again" insmod /lib/modules/syshyper.ko hv_phys=0x7fc00000
check "console readable with hv_phys" sh -c 'jailhouse console | grep -q sysHyper'
check "re-adopted cell running" is $S/cells/1/state running
check "re-adopted cell on CPU 1" is $S/cells/1/cpus_assigned_list 1
check "cell destroy by id" jailhouse cell destroy 1
} >$W/during.log 2>&1
cat $W/during.log
check "CPU 1 back again" cpus_online 0-3
check "every CPU works at the end" every_cpu_works
check "Linux works at the end" progresses
check "rmmod" rmmod syshyper
summary
