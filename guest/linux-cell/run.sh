# The Linux cell's script (its /init runs it; xtask/src/guest/cell.rs):
# says which CPUs and memory the cell's kernel found, so the root's test
# can compare them with configs/linux-cell.toml, then stays up until the
# root shuts the cell down. With `syshyper.crash` on the kernel command
# line it crashes the kernel instead (the test of a failing Linux cell);
# with `syshyper.poweroff` it powers itself off (PSCI SYSTEM_OFF: the cell
# must end SHUT_DOWN). With `syshyper.vblk` it reads its passed-through
# disk.
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
# With `syshyper.vblk` (configs/linux-cell-vblk.toml): the passed-through
# virtio-blk disk. Debian's virtio modules find the function on the cell's
# virtual PCI host; the disk is a cpio archive (xtask/src/guest/vblk.rs)
# whose payload.bin the root's test knows the SHA-256 of. The cell has no
# ivshmem-net.
# "KIND interrupts N": the disk's interrupts so far on all CPUs, MSI
# (chip "MSI", one line per vector: virtio0-config, virtio0-req.N) when
# any, else INTx (the GIC's line "virtio0").
vblk_irqs() {
	awk '$NF ~ /^virtio0/ {
		n = 0
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i
		if ($NF ~ /^virtio0-/ && $0 ~ / MSI /) msi += n
		else if ($NF == "virtio0") intx += n
	} END { if (msi > 0) print "MSI interrupts " msi; else print "INTx interrupts " intx + 0 }' /proc/interrupts
}
vblk_read() {
	# The message-based SPIs the generated device tree offers (GICv3
	# with the hypervisor's ITS; docs/linux-cell.md "MSI").
	dmesg | sed -n 's/^\[[^]]*\] *\(GICv3: .*MBI.*\)/linux-cell: dmesg: \1/p'
	for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci; do
		insmod /etc/syshyper/vblk/$m.ko || echo "linux-cell: insmod $m failed"
	done
	# virtio_blk's probe reads the partition table and waits for its
	# interrupt: in the background, so that a lost interrupt is reported.
	insmod /etc/syshyper/vblk/virtio_blk.ko &
	probe=$!
	for _ in $(seq 1 40); do
		[ -b /dev/vda ] && ! kill -0 $probe 2>/dev/null && break
		sleep 0.5
	done
	if [ ! -b /dev/vda ] || kill -0 $probe 2>/dev/null; then
		echo "linux-cell: virtio_blk not probed after 20 s; interrupts and kernel log:"
		grep -E 'virtio|MSI|MBI' /proc/interrupts | sed 's/^/linux-cell: irq /'
		dmesg | tail -n 20 | sed 's/^/linux-cell: dmesg: /'
	fi
	irqs_before=$(vblk_irqs)
	mkdir -p /tmp/vblk
	if (cd /tmp/vblk && cpio -i </dev/vda 2>/dev/null) && [ -f /tmp/vblk/payload.bin ]; then
		irqs_after=$(vblk_irqs)
		grep virtio /proc/interrupts | sed 's/^/linux-cell: irq /'
		echo "linux-cell: vda $irqs_before before the read"
		echo "linux-cell: vda $irqs_after after the read"
		echo "linux-cell: vda payload.bin sha256 $(sha256sum </tmp/vblk/payload.bin | cut -d' ' -f1)"
	else
		echo "linux-cell: no payload.bin on vda"
		dmesg | grep -i -E 'pci|virtio|vda' | tail -n 15
	fi
	KLOG_TROUBLE='WARNING:|Oops|BUG:|Unexpected interrupt|self-detected stall|detected stalls|rcu: INFO|Internal error|Call trace|Kernel panic|Unable to handle kernel|soft lockup|hard LOCKUP|blocked for more than|I/O error'
	bad=$(dmesg | grep -c -E "$KLOG_TROUBLE")
	if [ "$bad" -eq 0 ]; then
		echo "linux-cell: kernel log clean after reading vda"
	else
		echo "linux-cell: kernel log after reading vda has $bad problems:"
		dmesg | grep -E "$KLOG_TROUBLE" | head -n 10
	fi
}
if grep -q syshyper.vblk /proc/cmdline; then
	vblk_read
# Networking over ivshmem-net, when the guest has a script for it.
elif [ -f /etc/syshyper/cell-net.sh ]; then
	. /etc/syshyper/cell-net.sh
fi
# `syshyper.round=N` tells the root's test which boot this is.
round=$(sed -n 's/.*syshyper\.round=\([0-9]*\).*/\1/p' /proc/cmdline)
echo "linux-cell: running${round:+ round $round}"
while :; do sleep 3600; done
