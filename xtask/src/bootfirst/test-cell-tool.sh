# bootfirst-linux-cell-tool: the root's tool manages the boot cell gic-demo
# without `enable` (runs after test-cells.sh).
C=/etc/syshyper/configs
I=/etc/syshyper/inmates
check "insmod" insmod /lib/modules/syshyper.ko
check "cell list shows gic-demo running" sh -c 'syshyper cell list; syshyper cell list | grep "gic-demo" | grep -q running'
check "cell destroy gic-demo" syshyper cell destroy gic-demo
check "CPU 1 is back in Linux" cpus_online 0-3
check "cell create" syshyper cell create $C/gic-demo.cell
check "cell load" syshyper cell load gic-demo $I/gic-demo.bin -a 0
# The harness waits for the new instance's first lines after this marker
# (the old one, destroyed above, never prints "Initializing" again).
echo "bootfirst-test: starting gic-demo again"
check "cell start" syshyper cell start gic-demo
check "cell list shows gic-demo running again" sh -c 'syshyper cell list; syshyper cell list | grep "gic-demo" | grep -q running'
# Issue 18/19 in boot-first mode: EL2 latency of the running gic-demo,
# and a root-cell Total that is the sum of its CPU columns. The irq
# histogram fills as gic-demo's timer fires: polled (at most 10 s), no
# blind pause.
irq_latency_sampled() {
	n=0
	until syshyper cell stats --latency --json gic-demo >/tmp/lat.json && grep -q '"irq":{"samples":[1-9]' /tmp/lat.json; do
		n=$((n + 1)); [ $n -le 100 ] || { cat /tmp/lat.json; return 1; }
		sleep 0.1
	done
	cat /tmp/lat.json
}
check "latency histograms of gic-demo" irq_latency_sampled
check "cell stats totals add up" sh -c 'syshyper cell stats 0 | tee /tmp/st.out; awk "NR > 2 { s = 0; for (i = 3; i <= NF; i++) s += \$i; if (s != \$2) bad = 1 } END { exit bad }" /tmp/st.out'
# Destroyed again so that its output does not interleave with the last lines.
check "cell destroy gic-demo again" syshyper cell destroy gic-demo
# Post-mortem in boot-first mode: crash-demo on CPU 2 fails its cell, and
# `cell dump` names the access (the Linux demo test checks every field).
crash_dumped() {
	n=0
	until [ "$(syshyper cell list | grep test-crash | grep -c failed)" = 1 ]; do
		n=$((n + 1)); [ $n -le 40 ] || return 1
		sleep 0.05
	done
	syshyper cell dump test-crash | tee /tmp/dump.out
	grep -q "data abort, read, 4 bytes at IPA 0x10000000, outside the cell's memory (translation fault, level [0-3]), at PC 0x" /tmp/dump.out
}
check "crash cell create, load, start" sh -c "syshyper cell create $C/test-crash.cell && syshyper cell load test-crash $I/crash-demo.bin && syshyper cell start test-crash"
check "cell dump of the crashed cell" crash_dumped
check "crash cell destroy" syshyper cell destroy test-crash
# Cooperative shutdown and restart in boot-first mode (docs/lifecycle.md):
# a cell that denies (comm-test), --force, a restart counted in cell list.
# The cell prints on the shared UART: the checks' lines go to a file
# shown afterwards, so that the two never interleave.
refused_with() { # TEXT COMMAND...: the command fails and says TEXT
	text=$1
	shift
	! "$@" >/tmp/refused.out 2>&1 && cat /tmp/refused.out && grep -q -- "$text" /tmp/refused.out
}
# comm-test answers from its loop, which it enters right after setting up
# its GIC (trapped MMIO writes): the checks that need its answer wait
# until its CPU's MMIO exits move past what they were before its start
# (polled, at most 10 s), instead of a blind pause.
comm_mmio() { syshyper cell stats test-comm | awk '$1 == "mmio" { print $2 }'; }
comm_runs() { # MMIO exits before the start
	n=0
	until m=$(comm_mmio) && [ -n "$m" ] && [ "$m" != "$1" ]; do
		n=$((n + 1)); [ $n -le 100 ] || return 1
		sleep 0.1
	done
}
{
check "comm: create test-comm" syshyper cell create $C/test-comm.cell
check "comm: load a denying test-comm" syshyper cell load test-comm $I/comm-test.bin -s "mode=deny" -a 0x1000
M=$(comm_mmio)
check "comm: start it" syshyper cell start test-comm
comm_runs "$M"
check "comm: shutdown denied, --force offered" refused_with 'cell "test-comm" (id [0-9]*) denied the shutdown request; --force' syshyper cell shutdown test-comm
check "comm: still running" sh -c 'syshyper cell list | grep -q "test-comm *running "'
check "comm: shutdown --force" syshyper cell shutdown --force test-comm
check "comm: shut down" sh -c 'syshyper cell list | grep -q "test-comm *shut down "'
M=$(comm_mmio)
check "comm: start again after a load (approving)" sh -c "syshyper cell load test-comm $I/comm-test.bin && syshyper cell start test-comm"
check "comm: restart counted in cell list" sh -c 'syshyper cell list; syshyper cell list | grep -Eq "test-comm .* 1 +[-0-9]+$"'
comm_runs "$M"
check "comm: destroy, approved by the cell" syshyper cell destroy test-comm
check "comm: CPU 2 back in Linux" cpus_online 0-3
} >/tmp/comm.log 2>&1
cat /tmp/comm.log
