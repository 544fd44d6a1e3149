# Linux in a cell (xtask test linux-cell-boot; docs/linux-cell.md): the root
# boots Debian's kernel in configs/linux-cell.toml's cell twice, reads the
# cell's report of its CPUs and memory from the hypervisor console, shuts
# the cell down and destroys it, and gets CPUs 2-3 back each time; then a
# cell whose kernel crashes ends FAILED without touching the root's data.
L=/etc/syshyper/linux
BOOTARGS="console=ttyAMA0 panic=-1 quiet"

# Waits up to $2 seconds for the hypervisor console to hold line $1.
console_has() {
	for _ in $(seq 1 $(($2 * 2))); do
		jailhouse console 2>/dev/null | grep -q -- "$1" && return 0
		sleep 0.5
	done
	echo "no \"$1\" on the hypervisor console after $2 s; its end:"
	jailhouse console | tail -n 15
	return 1
}

state_becomes() { # CELL-ID STATE SECONDS
	for _ in $(seq 1 $(($3 * 2))); do
		[ "$(cat $S/cells/$1/state 2>/dev/null)" = "$2" ] && return 0
		sleep 0.5
	done
	echo "cell $1 state: $(cat $S/cells/$1/state 2>&1), expected $2"
	return 1
}

# ivshmem-net (docs/ivshmem-net.md) between the root (10.0.0.1) and the
# cell (10.0.0.2, guest/linux-cell/cell-net.sh, whose lines the hypervisor
# console shows): the link comes up with every boot and goes down with
# the cell, pings go both ways, and 16 MiB go to the cell and back with
# the same SHA-256 on both sides.
carrier_becomes() { # VALUE SECONDS
	for _ in $(seq 1 $(($2 * 2))); do
		[ "$(cat /sys/class/net/ivshmem0/carrier)" = "$1" ] && return 0
		sleep 0.5
	done
	echo "ivshmem0 carrier $(cat /sys/class/net/ivshmem0/carrier), expected $1"
	return 1
}
ivnet_root_up() {
	ip addr add 10.0.0.1/24 dev ivshmem0 && ip link set ivshmem0 up &&
		is /sys/class/net/ivshmem0/carrier 0
}
ivnet_transfer() { # ROUND
	rm -f $W/ivnet.time
	want=$(cut -d' ' -f1 $W/data.sum)
	# Input that never ends (a FIFO held open by the reader): busybox
	# nc would otherwise send FIN at once, and the cell's nc would stop.
	[ -p $W/hold ] || mkfifo $W/hold
	timeout 300 nc -l -p 5001 <>$W/hold >$W/back &
	back=$!
	t0=$(date +%s)
	nc 10.0.0.2 5000 <$W/data &&
		console_has "linux-cell: received 16777216 bytes, sha256 $want (round $1)" 120 ||
		{ kill $back; return 1; }
	wait $back
	got=$(sha256sum $W/back | cut -d' ' -f1)
	rm -f $W/back
	echo "ivshmem-net: 16 MiB to the cell and back in $(($(date +%s) - t0)) s; sent $want, got back $got" |
		tee $W/ivnet.time
	[ "$got" = "$want" ]
}

# The root's virtio-blk disk at 00:05.0 (xtask/src/guest/vblk.rs: a cpio
# archive holding payload.bin, whose SHA-256 xtask wrote next to the
# modules): the root reads it before the hypervisor, under it without
# and with the SMMU, after a cell had the device, and after disable.
VB=/etc/syshyper/vblk
VBLK=0000:00:05.0
vblk_want=$(cut -d' ' -f1 $VB/payload.sha256)
vblk_modules() {
	for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
		insmod $VB/$m.ko || return 1
	done
}
# Reads payload.bin from the disk (no page cache: the bytes come by DMA).
root_reads_disk() {
	for _ in $(seq 1 20); do
		[ -b /dev/vda ] && break
		sleep 0.5
	done
	sync
	echo 3 >/proc/sys/vm/drop_caches
	rm -rf $W/vda && mkdir $W/vda &&
		(cd $W/vda && cpio -i </dev/vda) || return 1
	got=$(sha256sum <$W/vda/payload.bin | cut -d' ' -f1)
	echo "payload.bin read by the root: $got, written: $vblk_want"
	[ "$got" = "$vblk_want" ]
}
vblk_unbind() { echo $VBLK >/sys/bus/pci/devices/$VBLK/driver/unbind && [ ! -e /sys/bus/pci/devices/$VBLK/driver ]; }
vblk_bind() { echo $VBLK >/sys/bus/pci/drivers/virtio-pci/bind; }
# What the root's PCI core reads of the function's vendor ID.
is_vendor() { # VENDOR-ID
	v=$(od -A n -t x2 -N 2 /sys/bus/pci/devices/$VBLK/config | tr -d ' ')
	echo "vendor ID read by the root: $v"
	[ "$v" = "$1" ]
}
# configs/linux-cell-vblk.toml lists the MSI-X capability at 0x98 (id
# 0x11) and BAR1 (its table, 4 KiB) at 0x10000000, where QEMU and the
# root's Linux put them.
vblk_msix_where_listed() {
	cap=$(od -A n -t x1 -j $((0x98)) -N 1 /sys/bus/pci/devices/$VBLK/config | tr -d ' ')
	bar1=$(sed -n 2p /sys/bus/pci/devices/$VBLK/resource)
	echo "config byte 0x98: $cap; BAR1: $bar1"
	[ "$cap" = 11 ] && [ "${bar1%% *}" = 0x0000000010000000 ] && [ "$(echo $bar1 | cut -d' ' -f2)" = 0x0000000010000fff ]
}
# The root's disk interrupt is INTx (its device tree's MSI controller is
# disabled, xtask/src/guest/vblk.rs): INTA of device 5, INTID 36, level.
root_vblk_intx() {
	grep virtio /proc/interrupts
	grep -q " 36 Level *virtio0\$" /proc/interrupts && ! grep -q "virtio0-" /proc/interrupts
}
# The cell's kernel (guest/linux-cell/run.sh) prints its MBI setup and
# its disk's interrupt counts before and after reading the disk. GICv3
# (the system's gicv3_its unit): MSI-X through message-based SPIs
# 154-155 and 158-159 at the ITS's translation frame; GICv2 (no ITS): INTx.
# (Checked as soon as the disk's SHA-256 line is there, while the MBI
# lines a few lines above it are still in the 2 KiB console ring.)
cell_vblk_mbi() {
	console_has "linux-cell: vda payload.bin sha256" 120 || return 1
	case $SMMU_CONFIG in
	*gicv2*) ! jailhouse console | grep -q "linux-cell: dmesg: GICv3: MBI" ;;
	*) console_has "linux-cell: dmesg: GICv3: MBI range \[154:155\]" 1 &&
		console_has "linux-cell: dmesg: GICv3: MBI range \[158:159\]" 1 &&
		console_has "linux-cell: dmesg: GICv3: Using MBI frame 0x0000000008090000" 1 ;;
	esac
}
cell_vblk_irqs_grow() {
	jailhouse console >$W/hvc.txt
	grep "linux-cell: irq " $W/hvc.txt | tail -n 4
	kind=MSI
	case $SMMU_CONFIG in *gicv2*) kind=INTx ;; esac
	before=$(sed -n "s/.*linux-cell: vda $kind interrupts \([0-9]*\) before the read.*/\1/p" $W/hvc.txt | tail -n 1)
	after=$(sed -n "s/.*linux-cell: vda $kind interrupts \([0-9]*\) after the read.*/\1/p" $W/hvc.txt | tail -n 1)
	echo "the cell's virtio-blk $kind interrupts: ${before:-none} before, ${after:-none} after the read"
	[ -n "$before" ] && [ -n "$after" ] && [ "$before" -gt 0 ] && [ "$after" -gt "$before" ]
}

check "virtio-blk: root's driver" vblk_modules
# The root placed BAR4 (64-bit, prefetchable) in QEMU virt's 64-bit
# window at 512 GiB (sysfs resource line 5: start, end, flags), where the
# configurations map it: the 40-bit stage 2 at work.
vblk_bar_high() {
	set -- $(sed -n 5p /sys/bus/pci/devices/$VBLK/resource)
	echo "virtio-blk BAR4 at $1-$2"
	[ "$1" = 0x0000008000000000 ]
}
check "virtio-blk: BAR4 in the 64-bit window at 512 GiB" vblk_bar_high
check "virtio-blk: root reads the disk before enable" root_reads_disk
check "insmod" insmod /lib/modules/syshyper.ko
check "enable" jailhouse enable $C/$SYS_CONFIG
check "virtio-blk: root reads the disk after enable" root_reads_disk
check "ivshmem-net: root's ivshmem0 up, no carrier without the cell" ivnet_root_up
workload_start
# The root's data, checksummed before any Linux cell runs.
dd if=/dev/urandom of=$W/data bs=1M count=16 2>/dev/null
sha256sum $W/data >$W/data.sum

for round in 1 2; do
	check "cell linux $round" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.round=$round"
	check "cell running $round" is $S/cells/1/state running
	check "sysfs: no passed-through device, DMA not unconfined $round" is $S/cells/1/dma_unconfined 0
	check "CPUs 2-3 left Linux $round" cpus_online 0-1
	check "cell reached /init $round" console_has "\[linux-cell\] linux-cell: running round $round" 120
	check "Linux works while the cell runs $round" progresses
	check "ivshmem-net: link up $round" carrier_becomes 1 120
	check "ivshmem-net: root pings the cell $round" ping -c 3 -W 5 10.0.0.2
	check "ivshmem-net: cell pings the root $round" console_has "linux-cell: ping root ok, 3 replies (round $round)" 60
	check "ivshmem-net: 16 MiB to the cell and back, same SHA-256 $round" ivnet_transfer $round
	cat $W/ivnet.time 2>/dev/null
	check "ivshmem-net: cell's kernel log clean $round" console_has "linux-cell: kernel log clean after the transfer (round $round)" 60
	check "cell shutdown $round" jailhouse cell shutdown linux-cell
	check "cell shut down $round" is $S/cells/1/state "shut down"
	check "ivshmem-net: link down with the cell $round" carrier_becomes 0 10
	check "cell destroy $round" jailhouse cell destroy linux-cell
	check "CPUs 2-3 back online $round" cpus_online 0-3
	check "every CPU works $round" every_cpu_works
done

# A cell that halts itself (PSCI SYSTEM_OFF from `poweroff -f`) ends
# SHUT_DOWN, and the root takes its CPUs back at destroy.
check "halting cell linux" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.poweroff"
check "halting cell ends SHUT_DOWN" state_becomes 1 "shut down" 120
check "halted cell destroy" jailhouse cell destroy linux-cell
check "CPUs 2-3 back online after the halt" cpus_online 0-3
check "crashing cell linux" jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "$BOOTARGS syshyper.crash"
check "crashing cell ends FAILED" state_becomes 1 failed 120
check "root data unchanged" sha256sum -c $W/data.sum
check "Linux works after the crash" progresses
check "failed cell destroy" jailhouse cell destroy linux-cell
check "CPUs 2-3 back online after the crash" cpus_online 0-3
check "every CPU works after the crash" every_cpu_works

# DMA confinement in sysfs and `cell list` (docs/passthrough.md): the
# dma-test cell's configuration passes PCI device 00:05.0 through (an
# empty slot on this machine; the cell is created, never started) and
# this system configuration names no SMMU, so its DMA is unconfined.
list_says_unconfined() {
	jailhouse cell list >$W/list.txt
	cat $W/list.txt
	grep -q "^1 .*test-passthru .* 0 UNCONFINED$" $W/list.txt &&
		grep -q "^0 .* 0$" $W/list.txt &&
		grep -q "^note: cell 1 (test-passthru) .*DMA is unconfined" $W/list.txt &&
		[ "$(grep -c '^note:' $W/list.txt)" = 1 ]
}
fails_with "passthrough cell create refused while virtio-pci is bound" "echo $VBLK > /sys/bus/pci/devices/$VBLK/driver/unbind    # driver virtio-pci" jailhouse cell create $C/test-passthru.cell
check "virtio-blk: root unbinds its driver" vblk_unbind
check "passthrough cell create" jailhouse cell create $C/test-passthru.cell
check "sysfs: the passthrough cell's DMA unconfined" is $S/cells/1/dma_unconfined 1
check "sysfs: no DMA faults without an SMMU" is $S/cells/1/dma_faults 0
check "sysfs: the root's DMA not unconfined" is $S/cells/0/dma_unconfined 0
check "cell list: DMA UNCONFINED and a note" list_says_unconfined
check "hypervisor console: DMA unconfined at create" console_has "PCI device 00:05.0 passed through WITHOUT an SMMU: its DMA is unconfined" 10
check "dmesg: DMA unconfined at create" sh -c "dmesg | grep -q 'cell \"test-passthru\" has 1 PCI device(s) passed through and the system has no SMMU: their DMA is unconfined'"
check "passthrough cell destroy" jailhouse cell destroy test-passthru
check "CPUs 2-3 back online after the passthrough cell" cpus_online 0-3
check "virtio-blk: root rebinds its driver" vblk_bind
check "virtio-blk: root reads the disk after the passthrough cell" root_reads_disk
check "disable" jailhouse disable
check "virtio-blk: root reads the disk after disable" root_reads_disk

# The disk in a Linux cell (docs/passthrough.md), with the SMMU: enabled
# with configs/qemu-virt-smmu.cell, the hypervisor drives the SMMU the
# root's device tree hid from Linux; the root's disk DMA (stream 0x28)
# translates through the root's stage 2, then through the cell's while
# configs/linux-cell-vblk.cell has the function.
VCELL="$C/linux-cell-vblk.cell $L/Image -i $L/initramfs.cpio.gz --sysconfig $C/$SMMU_CONFIG"
cell_dma_confined() { is $S/cells/1/dma_unconfined 0 && is $S/cells/1/dma_faults 0; }
list_says_confined() {
	jailhouse cell list >$W/list.txt
	cat $W/list.txt
	grep -q "^1 .*linux-cell-vblk .* 0$" $W/list.txt && ! grep -q "UNCONFINED\|^note:" $W/list.txt
}
check "SMMU: enable" jailhouse enable $C/$SMMU_CONFIG
check "SMMU: the hypervisor drives it" console_has "SMMU: root streams \[8, 10, 28\] translate through" 10
check "virtio-blk: root reads the disk through the SMMU" root_reads_disk
check "virtio-blk: MSI-X capability and BAR1 where the cell's config lists them" vblk_msix_where_listed
check "virtio-blk: the root's disk interrupt is INTx" root_vblk_intx
fails_with "virtio-blk: cell linux refused while virtio-pci is bound" "echo $VBLK > /sys/bus/pci/devices/$VBLK/driver/unbind    # driver virtio-pci" jailhouse cell linux $VCELL -c "$BOOTARGS syshyper.vblk"
check "virtio-blk: cell refused, root still reads the disk" root_reads_disk
check "virtio-blk: root unbinds its driver again" vblk_unbind
check "virtio-blk: cell linux" jailhouse cell linux $VCELL -c "$BOOTARGS syshyper.vblk"
check "virtio-blk: cell running" is $S/cells/1/state running
check "virtio-blk: the root reads no device at 00:05.0" is_vendor ffff
check "virtio-blk: the cell's GIC offers MBIs at the ITS on GICv3" cell_vblk_mbi
check "virtio-blk: the cell reads payload.bin with the SHA-256 written" console_has "linux-cell: vda payload.bin sha256 $vblk_want" 120
check "virtio-blk: cell's kernel log clean" console_has "linux-cell: kernel log clean after reading vda" 30
check "virtio-blk: the cell's disk interrupts, MSI on GICv3, grow across the read" cell_vblk_irqs_grow
check "virtio-blk: sysfs: the cell's DMA confined, no faults" cell_dma_confined
check "virtio-blk: cell list: confined" list_says_confined
check "virtio-blk: Linux works while the cell runs" progresses
check "virtio-blk: cell shutdown" jailhouse cell shutdown linux-cell-vblk
check "virtio-blk: cell destroy" jailhouse cell destroy linux-cell-vblk
check "virtio-blk: CPUs 2-3 back online" cpus_online 0-3
check "virtio-blk: the root sees the device again" is_vendor 1af4
check "virtio-blk: root rebinds its driver after the cell" vblk_bind
check "virtio-blk: root reads the disk after the cell" root_reads_disk
check "SMMU: no DMA faults of the root" is $S/cells/0/dma_faults 0
check "SMMU: disable" jailhouse disable
check "virtio-blk: root reads the disk after the SMMU's disable" root_reads_disk
summary
