# The Linux cell's script (its /init runs it; xtask/src/guest/cell.rs):
# says which CPUs and memory the cell's kernel found, so the root's test
# can compare them with configs/linux-cell.toml, then stays up until the
# root shuts the cell down. With `syshyper.crash` on the kernel command
# line it crashes the kernel instead (the test of a failing Linux cell);
# with `syshyper.poweroff` it powers itself off (PSCI SYSTEM_OFF: the cell
# must end SHUT_DOWN).
echo "linux-cell: online CPUs $(cat /sys/devices/system/cpu/online)"
echo "linux-cell: $(grep MemTotal /proc/meminfo | tr -s ' ')"
echo "linux-cell: $(grep 'System RAM' /proc/iomem | tr '\n' ' ')"
if grep -q syshyper.crash /proc/cmdline; then
	echo "linux-cell: crashing on purpose"
	echo c >/proc/sysrq-trigger
fi
if grep -q syshyper.poweroff /proc/cmdline; then
	echo "linux-cell: powering off on purpose"
	poweroff -f
fi
# Networking over ivshmem-net, when the guest has a script for it.
[ -f /etc/syshyper/cell-net.sh ] && . /etc/syshyper/cell-net.sh
# `syshyper.round=N` tells the root's test which boot this is.
round=$(sed -n 's/.*syshyper\.round=\([0-9]*\).*/\1/p' /proc/cmdline)
echo "linux-cell: running${round:+ round $round}"
while :; do sleep 3600; done
