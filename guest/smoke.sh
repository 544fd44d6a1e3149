#!/bin/sh
# Driver and tool checks that need no running hypervisor. Prints one
# PASS/FAIL line per check; exits 1 if any failed.
fails=0
check() { # name, command...
	name=$1; shift
	if "$@" >/tmp/out 2>&1; then echo "[PASS] $name"; else echo "[FAIL] $name"; cat /tmp/out; fails=$((fails+1)); fi
}
fails_with() { # name, expected text, command... (must fail and print the text)
	name=$1; text=$2; shift 2
	if "$@" >/tmp/out 2>&1; then echo "[FAIL] $name: succeeded"; fails=$((fails+1));
	elif grep -q "$text" /tmp/out; then echo "[PASS] $name: $(head -n1 /tmp/out)";
	else echo "[FAIL] $name: wrong message"; cat /tmp/out; fails=$((fails+1)); fi
}
C=/etc/syshyper/configs

check "cell list without the driver fails" sh -c '! syshyper cell list'
check "insmod" insmod /lib/modules/syshyper.ko
check "/dev/jailhouse exists" test -c /dev/jailhouse
check "sysfs exists" test -f /sys/devices/jailhouse/enabled -a -d /sys/devices/jailhouse/cells
check "not enabled" grep -qx 0 /sys/devices/jailhouse/enabled
check "hyp stub probe says EL2 is available" sh -c 'dmesg | grep -q "EL2 is available through"'
check "cell list with no hypervisor" sh -c 'syshyper cell list | grep -q "^ID"'
fails_with "enable with a cell config" "cell configuration" syshyper enable $C/gic-demo.cell
fails_with "enable with a missing file" "cannot read" syshyper enable /nonexistent.cell
head -c 300 $C/$SYS_CONFIG > /tmp/short.cell
fails_with "enable with a truncated config" "invalid system configuration" syshyper enable /tmp/short.cell
fails_with "disable when not enabled" "not enabled" syshyper disable
fails_with "cell create when not enabled" "failed" syshyper cell create $C/gic-demo.cell
fails_with "console when not enabled" "not enabled" syshyper console
# The last mem= on the command line wins; 768M leaves the hypervisor memory free.
if [ "$(sed 's/.*mem=\([^ ]*\).*/\1/' /proc/cmdline)" = 768M ]; then
	mv /lib/firmware/syshyper.bin /lib/firmware/hidden.bin
	fails_with "enable with the image missing" "image missing" syshyper enable $C/$SYS_CONFIG
	mv /lib/firmware/hidden.bin /lib/firmware/syshyper.bin
	dd if=/dev/zero bs=1M count=5 of=/lib/firmware/big.bin 2>/dev/null
	cp /lib/firmware/syshyper.bin /lib/firmware/saved.bin
	cat /lib/firmware/saved.bin /lib/firmware/big.bin > /lib/firmware/syshyper.bin
	fails_with "enable with an image too large" "refused" syshyper enable $C/$SYS_CONFIG
	check "dmesg says too large" sh -c 'dmesg | grep -q "image too large"'
	mv /lib/firmware/saved.bin /lib/firmware/syshyper.bin
	fails_with "enable with a config for 16 CPUs" "refused" syshyper enable $C/qemu-virt-16cpu.cell
	check "dmesg names the missing CPU" sh -c 'dmesg | grep -q "root CPU 15 does not exist"'
	echo 0 > /sys/devices/system/cpu/cpu3/online
	fails_with "enable with a root CPU offline" "refused" syshyper enable $C/$SYS_CONFIG
	check "dmesg names the offline CPU" sh -c 'dmesg | grep -q "root cell CPU 3 is not online"'
	echo 1 > /sys/devices/system/cpu/cpu3/online
else
	fails_with "enable with unreserved hypervisor memory" "not reserved" syshyper enable $C/$SYS_CONFIG
	check "dmesg names the overlap" sh -c 'dmesg | grep -q "overlaps Linux RAM"'
fi
check "still not enabled" grep -qx 0 /sys/devices/jailhouse/enabled
check "Linux keeps running" sh -c 'echo alive > /tmp/a && grep -q alive /tmp/a'
check "rmmod" rmmod syshyper
dmesg | grep syshyper
echo "smoke: $fails failed"
[ $fails -eq 0 ]
