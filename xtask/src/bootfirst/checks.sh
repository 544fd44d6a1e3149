# Shared helpers of the boot-first guest test scripts (sourced, not run).
# One `[PASS] name` or `[FAIL] name: detail` line per check.
passed=0
failed=0
check() { # name, command...
	name=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then
		echo "[PASS] $name"
		passed=$((passed + 1))
	else
		echo "[FAIL] $name: $(head -c 400 /tmp/check.out | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
}
# The highest "System RAM" end address in /proc/iomem, as a number.
ram_end() {
	end=0
	for e in $(sed -n 's/^ *[0-9a-f]*-\([0-9a-f]*\) : System RAM$/\1/p' /proc/iomem); do
		[ $((0x$e)) -gt $end ] && end=$((0x$e))
	done
	echo $end
}
ram_below_cells() { # Linux must not see the cells' and hypervisor's RAM.
	end=$(ram_end)
	echo "System RAM ends at $(printf %#x $end)"
	[ "$end" -gt 0 ] && [ "$end" -lt $((0x70000000)) ]
}
cpus_online() { # expected list, e.g. 0-3
	echo "online: $(cat /sys/devices/system/cpu/online), expected $1"
	[ "$(cat /sys/devices/system/cpu/online)" = "$1" ]
}
# kernel_log_check (guest/tests/kernel_log.sh) comes with these helpers.
summary() {
	kernel_log_check || failed=$((failed + 1))
	echo "bootfirst-test: $passed passed, $failed failed, kernel log: $KLOG"
	[ $failed -eq 0 ]
}
