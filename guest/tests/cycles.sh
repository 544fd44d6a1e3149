# linux-cycles: enable with wrong configs fails and leaves Linux unharmed
# (refused by the tool, by the driver, and by the hypervisor itself);
# then 20 create/load/start/destroy cycles leave mem_pool_used where it began;
# then 20 enable/disable cycles, each followed by CPU hotplug (issue 13.6).
workload_start
check "insmod" insmod /lib/modules/syshyper.ko
fails_with "enable with a cell config" "cell configuration" jailhouse enable $C/gic-demo.cell
head -c 300 $C/qemu-virt.cell >/tmp/short.cell
fails_with "enable with a truncated config" "invalid system configuration" jailhouse enable /tmp/short.cell
fails_with "enable with a config for 16 CPUs" "refused" jailhouse enable $C/qemu-virt-16cpu.cell
check "dmesg names the missing CPU" sh -c 'dmesg | grep "root CPU 15 does not exist"'
echo 0 >/sys/devices/system/cpu/cpu3/online
fails_with "enable with a root CPU offline" "refused" jailhouse enable $C/qemu-virt.cell
echo 1 >/sys/devices/system/cpu/cpu3/online
# Passes the tool's and the driver's checks; the hypervisor itself refuses
# it on every CPU during the late launch, and must hand Linux back intact.
jailhouse config show $C/qemu-virt.cell | sed 's/^gic_version = 3$/gic_version = 2/' >$W/gicv2.toml
jailhouse config compile $W/gicv2.toml -o $W/gicv2.cell
fails_with "enable with a GICv2 config fails in the hypervisor" "enable failed" jailhouse enable $W/gicv2.cell
check "dmesg says the hypervisor failed to start" sh -c 'dmesg | grep "failed to start"'
check "still not enabled" is $S/enabled 0
check "all CPUs online after the refusals" cpus_online 0-3
check "every CPU works after the refusals" every_cpu_works
check "Linux works after the refusals" progresses
check "enable" jailhouse enable $C/qemu-virt.cell
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
	jailhouse enable $C/qemu-virt.cell && every_cpu_works &&
	jailhouse disable && hotplug_all && every_cpu_works
}
for i in $(seq 1 20); do
	check "enable, disable, hotplug $i" enable_disable
done
check "Linux works after the enable/disable cycles" progresses
check "rmmod" rmmod syshyper
summary
