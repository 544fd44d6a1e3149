# linux-unreserved (booted with mem=1024M): the hypervisor memory is Linux
# RAM, so enable must fail with a clear message and leave Linux unharmed.
workload_start
check "Linux owns the hypervisor memory" sh -c 'grep -i "System RAM" /proc/iomem | grep -q "40000000-7fffffff"'
check "insmod" insmod /lib/modules/syshyper.ko
fails_with "enable fails: memory not reserved" "not reserved" jailhouse enable $C/$SYS_CONFIG
check "dmesg names the overlap" sh -c 'dmesg | grep "overlaps Linux RAM"'
check "enable status is non-zero" sh -c "! jailhouse enable $C/$SYS_CONFIG"
check "still not enabled" is $S/enabled 0
check "all CPUs online" cpus_online 0-3
check "every CPU works" every_cpu_works
check "Linux works after the refusal" progresses
check "rmmod" rmmod syshyper
summary
