# The kernel log check every Linux system test ends with (prepended to the
# test scripts with their helpers). The late-launch tests boot with `quiet`,
# which keeps warnings off the console, so the log is read back instead.
W=${W:-/tmp}
# Signs of a kernel in trouble: warnings, oopses, BUGs, interrupts nobody
# expects (e.g. a hypervisor SGI reaching Linux), RCU stalls and lockups.
KLOG_TROUBLE='WARNING:|Oops|BUG:|Unexpected interrupt|self-detected stall|detected stalls|rcu: INFO|Internal error|Call trace|Kernel panic|Unable to handle kernel|soft lockup|hard LOCKUP|blocked for more than'

# Sets KLOG to "clean" or "N problems"; for each problem prints a
# `[FAIL] dmesg: LINE` line and, once, the log from the first problem on.
# An unreadable or empty log is a problem too: the check must not pass by
# reading nothing. DMESG replaces the command (host unit tests).
kernel_log_check() {
	if ! ${DMESG:-dmesg} >$W/dmesg.txt 2>&1 || [ ! -s $W/dmesg.txt ]; then
		echo "[FAIL] dmesg: cannot read the kernel log: $(head -c 200 $W/dmesg.txt)"
		KLOG="unreadable"
		return 1
	fi
	grep -n -E "$KLOG_TROUBLE" $W/dmesg.txt >$W/dmesg.bad
	bad=$(wc -l <$W/dmesg.bad)
	if [ "$bad" -eq 0 ]; then
		KLOG=clean
		return 0
	fi
	first=$(head -n 1 $W/dmesg.bad | cut -d: -f1)
	echo "---- kernel log from line $first of $(wc -l <$W/dmesg.txt) ----"
	sed -n "$first,$((first + 40))p" $W/dmesg.txt
	echo "---- end of the kernel log excerpt ----"
	head -n 20 $W/dmesg.bad | cut -d: -f2- | while IFS= read -r line; do
		echo "[FAIL] dmesg: $line"
	done
	KLOG="$bad problems"
	return 1
}
