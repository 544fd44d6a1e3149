# ivshmem-net in the Linux cell (docs/ivshmem-net.md), sourced by run.sh
# before it reports "running": the module's PCI driver finds the link's
# function on the cell's virtual PCI host, the interface gets 10.0.0.2, and
# in the background the cell
# - pings the root (10.0.0.1) once the link is up, and says so;
# - takes the root's 16 MiB on TCP port 5000, prints its SHA-256 and sends
#   the bytes back to the root's port 5001;
# - serves ivnet-bench (the bench) if the initramfs has it;
# - reports whether its kernel log is clean, for the root's test.
# Every line goes to the cell's console, which the root reads through the
# hypervisor console.
KLOG_TROUBLE='WARNING:|Oops|BUG:|Unexpected interrupt|self-detected stall|detected stalls|rcu: INFO|Internal error|Call trace|Kernel panic|Unable to handle kernel|soft lockup|hard LOCKUP|blocked for more than'
cell_klog() { # WHEN
	bad=$(dmesg | grep -c -E "$KLOG_TROUBLE")
	if [ "$bad" -eq 0 ]; then
		echo "linux-cell: kernel log clean $1$net_round"
	else
		echo "linux-cell: kernel log $1 has $bad problems$net_round:"
		dmesg | grep -E "$KLOG_TROUBLE" | head -n 10
	fi
}
# The root's test tells boots apart by `syshyper.round=N`.
net_round=$(sed -n 's/.*syshyper\.round=\([0-9]*\).*/ (round \1)/p' /proc/cmdline)
insmod /lib/modules/syshyper.ko || echo "linux-cell: insmod syshyper.ko failed"
if ip addr add 10.0.0.2/24 dev ivshmem0 && ip link set ivshmem0 up; then
	echo "linux-cell: ivshmem0 up"
else
	echo "linux-cell: no ivshmem0"
fi
(
	for _ in $(seq 1 240); do
		[ "$(cat /sys/class/net/ivshmem0/carrier 2>/dev/null)" = 1 ] && break
		sleep 0.5
	done
	if ping -c 3 -W 5 10.0.0.1 >/tmp/ping.out 2>&1; then
		echo "linux-cell: ping root ok, $(grep -c 'bytes from' /tmp/ping.out) replies$net_round"
	else
		echo "linux-cell: ping root failed$net_round"
		cat /tmp/ping.out
	fi
	cell_klog "after the ping"
) &
# busybox nc sends FIN when its input ends and exits when the other side's
# FIN comes: a listener reads a FIFO it holds open itself (`<>`), which
# never ends, so it neither stops the sender early nor exits before it.
mkfifo /tmp/hold
(
	nc -l -p 5000 <>/tmp/hold >/tmp/rx
	echo "linux-cell: received $(wc -c </tmp/rx) bytes, sha256 $(sha256sum /tmp/rx | cut -d' ' -f1)$net_round"
	if nc 10.0.0.1 5001 </tmp/rx; then
		echo "linux-cell: sent them back$net_round"
	else
		echo "linux-cell: sending back failed$net_round"
	fi
	rm -f /tmp/rx
	cell_klog "after the transfer"
) &
[ -x /usr/bin/ivnet-bench ] && ivnet-bench serve >/dev/null 2>&1 &
