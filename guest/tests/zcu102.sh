# zcu102-linux: late launch on QEMU's Xilinx ZCU102 model (GIC-400, Cadence
# UARTs) with Debian's kernel and device tree: enable on configs/zcu102.toml,
# gic-demo and uart-demo cells on UART 1 (configs/zcu102-*-demo.toml, as
# Jailhouse's ZCU102 cell configs), disable; then `config create` on this
# board (issue 19): its output passes `config check --live` and enable, a
# cell and disable work on it.
workload_start
check "insmod" insmod $KO
check "Linux works before enable" progresses
check "enable" jailhouse enable $C/zcu102.cell
check "enabled is 1" is $S/enabled 1
check "root cell listed" sh -c 'jailhouse cell list | grep -q "^0 *ZynqMP-ZCU102 *running *0-3"'
check "Linux works under the hypervisor" progresses
check "every CPU works under the hypervisor" every_cpu_works
# The cells print on UART 1, the checks' lines on UART 0; both reach the
# one console, so the checks made meanwhile go to a file shown afterwards.
check "gic-demo create" jailhouse cell create $C/zcu102-gic-demo.cell
check "gic-demo: CPU 3 left Linux" cpus_online 0-2
check "gic-demo load" jailhouse cell load gic-demo $I/gic-demo.bin
{
check "gic-demo start" jailhouse cell start gic-demo
check "gic-demo took its timer interrupts" cell_took_irqs 1 3
check "gic-demo running" is $S/cells/1/state running
check "Linux works while gic-demo runs" progresses
check "gic-demo destroy" jailhouse cell destroy gic-demo
} >$W/during.log 2>&1
cat $W/during.log
check "gic-demo: CPU 3 back in Linux" cpus_online 0-3
check "uart-demo create" jailhouse cell create $C/zcu102-uart-demo.cell
check "uart-demo: CPU 3 left Linux" cpus_online 0-2
check "uart-demo load" jailhouse cell load uart-demo $I/uart-demo.bin
{
check "uart-demo start" jailhouse cell start uart-demo
# "tick 1" comes after 1 s, 20 wake-ups of 50 ms.
check "uart-demo took its wake-up interrupts" cell_took_irqs 1 22
check "uart-demo running" is $S/cells/1/state running
check "Linux works while uart-demo runs" progresses
check "uart-demo destroy" jailhouse cell destroy uart-demo
} >$W/during.log 2>&1
cat $W/during.log
check "uart-demo: CPU 3 back in Linux" cpus_online 0-3
check "every CPU works after the cells" every_cpu_works
check "hypervisor console" sh -c 'jailhouse console | grep -q sysHyper'
check "disable" jailhouse disable
check "enabled is 0" is $S/enabled 0
check "all CPUs online after disable" cpus_online 0-3
check "every CPU works after disable" every_cpu_works
# config create from the running ZCU102 (device tree, /proc/iomem, mem=):
# the reserved area 0x70000000-0x7fffffff, the hypervisor at its top
# 0x7fc00000 (as configs/zcu102.toml), the GIC-400 with the 8 KiB views
# Linux uses.
gen_layout() {
	cat $W/gen.toml
	grep -q 'hypervisor_memory = { phys = "0x7fc00000"' $W/gen.toml &&
		grep -q 'gic_version = 2' $W/gen.toml &&
		grep -q 'gicc_base = "0xf902f000"' $W/gen.toml &&
		grep -q 'type = "xuartps"' $W/gen.toml
}
check "config create" syshyper config create --name ZCU102-GEN -o $W/gen.toml
check "config create: reserved area, GIC-400 and console as zcu102.toml" gen_layout
check "config create: output compiles" syshyper config compile $W/gen.toml -o $W/gen.cell
check "config check --live accepts it with gic-demo" syshyper config check --live $W/gen.cell $C/zcu102-gic-demo.cell
check "enable with the generated config" jailhouse enable $W/gen.cell
check "root cell listed on the generated config" sh -c 'jailhouse cell list | grep -q "^0 *ZCU102-GEN *running *0-3"'
check "every CPU works on the generated config" every_cpu_works
check "gic-demo create and load on the generated config" sh -c "jailhouse cell create $C/zcu102-gic-demo.cell && jailhouse cell load gic-demo $I/gic-demo.bin"
{
check "gic-demo start on the generated config" jailhouse cell start gic-demo
check "gic-demo took its timer interrupts on the generated config" cell_took_irqs 1 3
check "gic-demo running on the generated config" is $S/cells/1/state running
check "gic-demo destroy on the generated config" jailhouse cell destroy gic-demo
} >$W/during.log 2>&1
cat $W/during.log
check "disable on the generated config" jailhouse disable
check "all CPUs online after the generated config" cpus_online 0-3
check "rmmod" rmmod syshyper
summary
