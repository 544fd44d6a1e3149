# linux-smp16: the machine of Jailhouse's qemu-arm64 config (`-smp 16`,
# as `cargo xtask run --smp 16` boots it) with its 16-CPU system config:
# enable, every CPU under the hypervisor, a cell on CPU 1, disable.
# With `--gic 2` the machine has 8 CPUs, QEMU's GICv2 maximum (a GICv2
# has 8 CPU interfaces), and the config is qemu-virt-gicv2-8cpu.cell:
# xtask sets SMP_CPUS and SMP_CONFIG before this script.
SMP_CPUS=${SMP_CPUS:-16}
SMP_CONFIG=${SMP_CONFIG:-qemu-virt-16cpu.cell}
LAST=$((SMP_CPUS - 1))
echo "linux-smp16: $SMP_CPUS CPUs, $SMP_CONFIG"
workload_start
all_cpus_work() { for c in $(seq 0 $LAST); do cpu_works $c || return 1; done; }
check "every CPU online" cpus_online 0-$LAST
check "insmod" insmod /lib/modules/syshyper.ko
check "enable with the many-CPU config" jailhouse enable $C/$SMP_CONFIG
check "root cell on every CPU" sh -c "jailhouse cell list | grep -q '^0 *QEMU-VIRT *running *0-$LAST'"
check "every CPU works under the hypervisor" all_cpus_work
# The cell's own output (gic-demo) goes to the UART meanwhile: the checks'
# lines follow it.
{
check "cell on CPU 1" sh -c "jailhouse cell create $C/gic-demo.cell && jailhouse cell load gic-demo $I/gic-demo.bin && jailhouse cell start gic-demo"
sleep 1
check "root cell on every CPU but 1" sh -c "jailhouse cell list | grep -q '^0 *QEMU-VIRT *running *0,2-$LAST'"
check "cell destroy" jailhouse cell destroy gic-demo
} >$W/during.log 2>&1
cat $W/during.log
check "disable" jailhouse disable
check "every CPU online after disable" cpus_online 0-$LAST
check "Linux works after disable" progresses
check "rmmod" rmmod syshyper
summary
