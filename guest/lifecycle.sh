#!/bin/sh
# The driver and tool against the running hypervisor: enable, sysfs, cell
# lifecycle and its error cases, console, disable with a cell left, enable
# again. One PASS/FAIL line per check; exits 1 if any failed.
fails=0
check() {
	name=$1; shift
	if "$@" >/tmp/out 2>&1; then echo "[PASS] $name"; else echo "[FAIL] $name"; cat /tmp/out; fails=$((fails+1)); fi
}
fails_with() {
	name=$1; text=$2; shift 2
	if "$@" >/tmp/out 2>&1; then echo "[FAIL] $name: succeeded"; fails=$((fails+1));
	elif grep -q "$text" /tmp/out; then echo "[PASS] $name: $(head -n1 /tmp/out)";
	else echo "[FAIL] $name: wrong message"; cat /tmp/out; fails=$((fails+1)); fi
}
C=/etc/syshyper/configs
I=/etc/syshyper/inmates
S=/sys/devices/jailhouse

check "insmod" insmod /lib/modules/syshyper.ko
check "enable" jailhouse enable $C/$SYS_CONFIG
check "enabled is 1" grep -qx 1 $S/enabled
fails_with "enable twice" "already enabled" jailhouse enable $C/$SYS_CONFIG
check "rmmod refused while enabled" sh -c '! rmmod syshyper'
check "mem_pool_size readable" sh -c "test \$(cat $S/mem_pool_size) -gt 0"
check "remap_pool_used readable" cat $S/remap_pool_used
check "root cell in sysfs" grep -qx QEMU-VIRT $S/cells/0/name
check "root cell running" grep -qx running $S/cells/0/state
check "root CPUs" grep -qx 0-3 $S/cells/0/cpus_assigned_list
check "console has the banner" sh -c 'jailhouse console | grep -q sysHyper'
check "console -f follows (EAGAIN-free, killed by timeout)" sh -c 'timeout 1 jailhouse console -f > /tmp/f; grep -q sysHyper /tmp/f'
fails_with "create with a system config" "system configuration" jailhouse cell create $C/$SYS_CONFIG
check "create gic-demo" jailhouse cell create $C/gic-demo.cell
check "CPU 1 left Linux" grep -qx 0 /sys/devices/system/cpu/cpu1/online
fails_with "create it twice" "exists" jailhouse cell create $C/gic-demo.cell
check "cell in sysfs, shut down" grep -qx "shut down" $S/cells/1/state
check "cell CPUs" grep -qx 1 $S/cells/1/cpus_assigned_list
check "root lost CPU 1" grep -qx 0,2-3 $S/cells/0/cpus_assigned_list
check "per-CPU statistics dir" test -f $S/cells/1/statistics/cpu1/vmexits_total
fails_with "load outside loadable memory" "Invalid argument" jailhouse cell load gic-demo $I/gic-demo.bin -a 0x20000
fails_with "load into an unknown cell" "no such cell" jailhouse cell load nosuch $I/gic-demo.bin
fails_with "start the root cell" "Invalid argument" jailhouse cell start 0
check "load by name" jailhouse cell load gic-demo $I/gic-demo.bin
check "load a string too" jailhouse cell load --name gic-demo $I/gic-demo.bin -s "hello" -a 0xf000
check "start by id" jailhouse cell start 1
check "running" grep -qx running $S/cells/1/state
check "list shows it" sh -c 'jailhouse cell list | grep -q "^1 *gic-demo *running *1"'
sleep 1
check "stats count exits" sh -c "test \$(cat $S/cells/1/statistics/vmexits_total) -gt 0"
check "shutdown" jailhouse cell shutdown gic-demo
check "shut down state" grep -qx "shut down" $S/cells/1/state
check "reload and restart" sh -c "jailhouse cell load 1 $I/gic-demo.bin && jailhouse cell start gic-demo"
check "destroy by name" jailhouse cell destroy gic-demo
check "CPU 1 back in Linux" grep -qx 1 /sys/devices/system/cpu/cpu1/online
check "cell gone from sysfs" test ! -e $S/cells/1
fails_with "destroy again" "no such cell" jailhouse cell destroy gic-demo
check "create again for disable" jailhouse cell create $C/gic-demo.cell
check "disable destroys the cell first" jailhouse disable
check "all CPUs online" grep -qx 0-3 /sys/devices/system/cpu/online
check "enabled is 0" grep -qx 0 $S/enabled
check "enable again" jailhouse enable $C/$SYS_CONFIG
check "disable again" jailhouse disable
check "rmmod" rmmod syshyper
dmesg | grep syshyper
echo "lifecycle: $fails failed"
[ $fails -eq 0 ]
