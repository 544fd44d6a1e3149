# linux-refuse: enable with every kind of system configuration the
# hypervisor itself refuses (the tool's and the driver's checks are passed:
# `enable --no-check` hands the file over as Jailhouse's tool does). Each
# must come back as an error on the shell, never a hang, with the
# hypervisor's reason in dmesg and in the console the driver kept, and
# leave Linux intact; a good enable and disable work afterwards.
workload_start

# Little-endian fields of a .cell file (offsets: jailhouse-abi.md §4).
u32_at() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
u64_at() { od -An -tu8 -j "$2" -N 8 "$1" | tr -d ' '; }
put() { # FILE OFFSET VALUE BYTES
	i=0
	while [ $i -lt "$4" ]; do
		printf "\\$(printf %03o $((($3 >> (8 * i)) & 255)))"
		i=$((i + 1))
	done | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# A copy of the good system config with one field changed; checks the write.
variant() { # NAME OFFSET VALUE BYTES
	cp $C/$SYS_CONFIG $W/$1.cell
	put $W/$1.cell "$2" "$3" "$4"
	case $4 in 8) got=$(u64_at $W/$1.cell "$2") ;; 4) got=$(u32_at $W/$1.cell "$2") ;;
		*) got=$(od -An -tu$4 -j "$2" -N "$4" $W/$1.cell | tr -d ' ') ;; esac
	echo "$1: offset $2 = $got" >&2
}
intact() {
	is $S/enabled 0 && cpus_online 0-3 && every_cpu_works && progresses
}
# NAME FILE ERRNO REASON: the tool fails with the errno's text, the
# hypervisor's reason is in dmesg and in the console kept by the driver.
refused() {
	fails_with "$1: enable fails" "enable failed: .*os error $3" jailhouse enable --no-check "$2"
	check "$1: reason in dmesg" sh -c "dmesg | grep -q 'enable refused (-$3): $4'"
	check "$1: reason on the hypervisor console" sh -c "jailhouse console 2>/dev/null | grep -q 'enable refused (-$3): $4'"
	check "$1: Linux intact" intact
}

check "insmod" insmod /lib/modules/syshyper.ko
SYS=$C/$SYS_CONFIG
CPUSET=$(u32_at $SYS 404)
REGION0=$((356 + 132 + CPUSET))
CORE=$(u64_at /lib/firmware/syshyper.bin 8)
PERCPU=$(u64_at /lib/firmware/syshyper.bin 16)
GICR=$(u64_at $SYS 348)
echo "cpu_set_size $CPUSET, core $CORE, per-CPU $PERCPU, gicr $GICR, config $(wc -c <$SYS) bytes"

# The GIC version the machine does not have (GICv3 machine: 2, GICv2: 3):
# the distributor's architecture revision gives it away before any GIC
# register is written.
GIC=$(od -An -tu1 -j 313 -N 1 $SYS | tr -d ' ')
OTHER=$((5 - GIC))
variant othergic 313 $OTHER 1
refused "other GIC version" $W/othergic.cell 19 "the system configuration names GIC version $OTHER"

variant sysflags 8 256 4
refused "unknown system flags" $W/sysflags.cell 22 "invalid system configuration: header: unknown flag bits 0x100"

if [ "$GIC" = 3 ]; then
	# The redistributors start one frame (two 64 KiB pages) later: CPU 0 has none.
	variant gicr $((348)) $((GICR + 0x20000)) 8
	refused "CPU without a redistributor" $W/gicr.cell 19 "the interrupt controller has no interface for CPU 0"
else # GICv2
	# A GICv2 has no redistributors to misplace; its per-GIC fact a config
	# can get wrong is the maintenance interrupt (PPI 25 on every GICv2).
	variant maint 312 26 1
	refused "wrong maintenance interrupt" $W/maint.cell 22 "the system configuration.s maintenance_irq is 26; this GIC implementation uses PPI 25"
	# The CPU interface given the GICH frame's address: its GICC_IIDR
	# offset is reserved there (reads 0), no GICv2 CPU interface.
	GICH=$(u64_at $SYS 332)
	variant gicc 324 $GICH 8
	refused "wrong GICC base" $W/gicc.cell 19 "the system configuration.s gicc_base $(printf 0x%x $GICH) is no GICv2 CPU interface .GICC_IIDR architecture version 0."
fi

# Image, 4 per-CPU areas and the config fit (the driver's check), no pool.
TIGHT=$(( (CORE + 4 * PERCPU + $(wc -c <$SYS) + 4095) / 4096 * 4096 ))
variant nopool 28 $TIGHT 8
refused "hypervisor memory without a pool" $W/nopool.cell 12 "hypervisor memory of .* leaves no page pool"

# The first root memory region wraps around the address space.
variant wrap $REGION0 -4096 8
refused "root region wraps" $W/wrap.cell 22 "invalid system configuration: .*overflows 64 bits"

# A root CPU that never enters the hypervisor (the driver's fault
# injection makes CPU 2 skip its entry): the others wait in the
# rendezvous until its bound (10 s), then every CPU returns to Linux, the
# waiting ones with ETIMEDOUT (110). Never a hang.
P=/sys/module/syshyper/parameters/test_skip_cpu
echo 2 >$P
fails_with "CPU that never arrives: enable fails" "enable failed: .*os error 110" jailhouse enable $SYS
echo -1 >$P
check "CPU that never arrives: reason in dmesg" sh -c "dmesg | grep -q 'not every root CPU entered the hypervisor within 10 s'"
check "CPU that never arrives: Linux intact" intact

# Not refused: Jailhouse's hypervisor runs with a console type it does not
# know (it just has no UART output), and so does sysHyper.
variant contype 56 99 2
check "unknown console type: accepted" jailhouse enable --no-check $W/contype.cell
check "unknown console type: disable" jailhouse disable
check "enable" jailhouse enable $SYS
check "enabled is 1" is $S/enabled 1
check "every CPU works under the hypervisor" every_cpu_works
check "disable" jailhouse disable
check "Linux works after disable" intact
check "rmmod" rmmod syshyper
summary
