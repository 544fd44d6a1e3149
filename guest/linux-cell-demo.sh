# `cargo xtask run --linux-cell`: the root enables sysHyper and boots
# Debian's kernel in the cell of configs/linux-cell.toml (CPUs 2-3, 192 MiB (64 MiB of it loadable),
# a virtual PL011 whose lines the hypervisor console shows as
# "[linux-cell] ..."), waits for the cell's /init to report, then shuts the
# cell down and destroys it, and its CPUs come back to the root.
set -e
C=/etc/syshyper/configs
L=/etc/syshyper/linux
insmod /lib/modules/syshyper.ko
jailhouse enable $C/$SYS_CONFIG
echo "root: CPUs online before the cell: $(cat /sys/devices/system/cpu/online)"
jailhouse cell linux $C/linux-cell.cell $L/Image -i $L/initramfs.cpio.gz -c "console=ttyAMA0 panic=-1"
jailhouse cell list
echo "root: CPUs online while the cell runs: $(cat /sys/devices/system/cpu/online)"
for _ in $(seq 1 240); do
	jailhouse console | grep -q "linux-cell: running" && break
	sleep 0.5
done
jailhouse console | grep -q "linux-cell: running" || { echo "root: the cell did not reach its /init"; exit 1; }
# Root <-> cell networking over ivshmem-net, when the guest has a script for it.
[ -f /etc/syshyper/root-net.sh ] && . /etc/syshyper/root-net.sh
jailhouse cell shutdown linux-cell
jailhouse cell destroy linux-cell
echo "root: CPUs online after destroy: $(cat /sys/devices/system/cpu/online)"
jailhouse disable
