# linux-smp16: the machine of Jailhouse's qemu-arm64 config (`-smp 16`,
# as `cargo xtask run --smp 16` boots it) with its 16-CPU system config:
# enable, every CPU under the hypervisor, a cell on CPU 1, disable.
workload_start
all_cpus_work() { for c in $(seq 0 15); do cpu_works $c || return 1; done; }
check "16 CPUs online" cpus_online 0-15
check "insmod" insmod /lib/modules/syshyper.ko
check "enable with the 16-CPU config" jailhouse enable $C/qemu-virt-16cpu.cell
check "root cell on CPUs 0-15" sh -c 'jailhouse cell list | grep -q "^0 *QEMU-VIRT *running *0-15"'
check "all 16 CPUs work under the hypervisor" all_cpus_work
# The cell's own output (gic-demo) goes to the UART meanwhile: the checks'
# lines follow it.
{
check "cell on CPU 1" sh -c "jailhouse cell create $C/gic-demo.cell && jailhouse cell load gic-demo $I/gic-demo.bin && jailhouse cell start gic-demo"
sleep 1
check "root cell on CPUs 0,2-15" sh -c 'jailhouse cell list | grep -q "^0 *QEMU-VIRT *running *0,2-15"'
check "cell destroy" jailhouse cell destroy gic-demo
} >$W/during.log 2>&1
cat $W/during.log
check "disable" jailhouse disable
check "all 16 CPUs online after disable" cpus_online 0-15
check "Linux works after disable" progresses
check "rmmod" rmmod syshyper
summary
