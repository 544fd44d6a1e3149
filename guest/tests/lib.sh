# Helpers of the late-launch Linux system tests (sourced before each test
# script by xtask/src/systests_linux.rs). Every check prints exactly one
# line, `[PASS] NAME` or `[FAIL] NAME: detail`; the harness waits for each
# PASS line in order and fails on any FAIL line.
C=/etc/syshyper/configs
# The machine's system configuration in $C (/init exports it per GIC version).
SYS_CONFIG=${SYS_CONFIG:-qemu-virt.cell}
SMMU_CONFIG=${SMMU_CONFIG:-qemu-virt-smmu.cell}
I=/etc/syshyper/inmates
# The module (linux-demo sets C, I and KO to the installed packages' paths).
KO=/lib/modules/syshyper.ko
S=/sys/devices/jailhouse
# Scratch files (the host unit test points W elsewhere).
W=${W:-/tmp}
passed=0
failed=0

pass() { echo "[PASS] $1"; passed=$((passed + 1)); }
fail() { echo "[FAIL] $1: $2"; failed=$((failed + 1)); }
out() { head -c 600 $W/check.out | tr '\n' ' '; }

check() { # NAME COMMAND... : the command must succeed
	name=$1; shift
	if "$@" >$W/check.out 2>&1; then pass "$name"; else fail "$name" "$(out)"; fi
}

fails_with() { # NAME TEXT COMMAND... : the command must fail and print TEXT
	name=$1; text=$2; shift 2
	if "$@" >$W/check.out 2>&1; then
		fail "$name" "succeeded: $(out)"
	elif grep -q -- "$text" $W/check.out; then
		echo "  ($(head -n1 $W/check.out))"
		pass "$name"
	else
		fail "$name" "no \"$text\" in: $(out)"
	fi
}

# ---- the root workload: Linux must keep working around every step ----

# A CPU-bound counter and a timer-driven counter (sleep needs the timer).
# Each publishes its value with a rename, so readers never see a torn file.
# The trap makes a killed loop finish its rename before it exits (a shell
# runs a trap only after its foreground command): once `wait` returns, no
# late rename can move a counter that was stopped.
workload_start() {
	(trap 'exit 0' TERM; n=0; while :; do
		n=$((n + 1))
		[ $((n % 100)) -eq 0 ] && echo $n >$W/work.tmp && mv $W/work.tmp $W/work.n
	done) &
	WORK_PID=$!
	renice -n 19 -p $WORK_PID >/dev/null 2>&1
	(trap 'exit 0' TERM; t=0; while :; do
		sleep 0.1
		t=$((t + 1))
		echo $t >$W/tick.tmp && mv $W/tick.tmp $W/tick.n
	done) &
	TICK_PID=$!
	# Never leave the loops behind, whatever ends the script.
	trap workload_stop EXIT
	sleep 0.5
}

workload_stop() { kill $WORK_PID $TICK_PID 2>/dev/null; wait 2>/dev/null; }

counter() { cat $1 2>/dev/null || echo 0; }

# Both loops advance within 3 s (polled every 0.5 s: a loaded host may
# not schedule the niced loop at once; a stuck system fails all the same).
progresses() {
	w0=$(counter $W/work.n); t0=$(counter $W/tick.n)
	for _ in 1 2 3 4 5 6; do
		sleep 0.5
		w1=$(counter $W/work.n); t1=$(counter $W/tick.n)
		[ "$w1" -gt "$w0" ] && [ "$t1" -gt "$t0" ] && break
	done
	echo "work $w0 -> $w1, ticks $t0 -> $t1, uptime $(cut -d' ' -f1 /proc/uptime) s"
	[ "$w1" -gt "$w0" ] && [ "$t1" -gt "$t0" ]
}

# Timer interrupts CPU $1 took (its column of the arch_timer line).
timer_irqs() {
	awk -v cpu="CPU$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == cpu) col = i + 1 }
		/arch_timer/ { if (col) print $col; else print "offline"; exit }' /proc/interrupts
}

# CPU $1 runs a task that sleeps, and takes timer interrupts meanwhile.
cpu_works() {
	a=$(timer_irqs $1)
	taskset -c $1 sh -c 'for i in 1 2 3 4 5; do sleep 0.02; done' || return 1
	b=$(timer_irqs $1)
	echo "CPU$1 timer interrupts $a -> $b"
	[ "$a" != offline ] && [ "$b" -gt "$a" ]
}

every_cpu_works() { for c in 0 1 2 3; do cpu_works $c || return 1; done; }

cpus_online() { # expected list, e.g. 0-3
	echo "online: $(cat /sys/devices/system/cpu/online), expected $1"
	[ "$(cat /sys/devices/system/cpu/online)" = "$1" ]
}

# Cell $1 took at least $2 of its own interrupts (its timer's, injected by
# the hypervisor: statistics/vmexits_virt_irq), polled for at most 10 s: a
# started demo has initialised and printed its first timer lines, without
# a blind sleep.
cell_took_irqs() {
	n=0
	until [ "$(counter $S/cells/$1/statistics/vmexits_virt_irq)" -ge $2 ]; do
		n=$((n + 1)); [ $n -le 200 ] || break
		sleep 0.05
	done
	echo "cell $1: $(counter $S/cells/$1/statistics/vmexits_virt_irq) interrupts, expected at least $2"
	[ "$(counter $S/cells/$1/statistics/vmexits_virt_irq)" -ge $2 ]
}

# A sysfs file has exactly this content.
is() { echo "$1: $(cat "$1" 2>&1), expected $2"; [ "$(cat "$1")" = "$2" ]; }

# The last line of every test: the kernel log must be clean as well.
summary() {
	workload_stop
	${DMESG:-dmesg} | grep syshyper | tail -n 20
	kernel_log_check || failed=$((failed + 1))
	echo "linux-test: $passed passed, $failed failed, kernel log: $KLOG"
	[ $failed -eq 0 ]
}
