# The root's side of ivshmem-net for `cargo xtask run --linux-cell`
# (sourced by guest/linux-cell-demo.sh once the cell reported "running";
# the cell's side is guest/linux-cell/cell-net.sh): the root's ivshmem0
# gets 10.0.0.1, waits for the link to come up, pings the cell, sends it
# 16 MiB and gets them back, and shows the cell's ping of the root.
ip addr add 10.0.0.1/24 dev ivshmem0
ip link set ivshmem0 up
for _ in $(seq 1 240); do
	[ "$(cat /sys/class/net/ivshmem0/carrier)" = 1 ] && break
	sleep 0.5
done
echo "root: ivshmem0 carrier $(cat /sys/class/net/ivshmem0/carrier)"
ping -c 3 10.0.0.2
dd if=/dev/urandom of=/tmp/ivnet.data bs=1M count=16 2>/dev/null
# A listener's input must not end (busybox nc sends FIN when it does).
mkfifo /tmp/ivnet.hold
nc -l -p 5001 <>/tmp/ivnet.hold >/tmp/ivnet.back &
back=$!
start=$(date +%s)
nc 10.0.0.2 5000 </tmp/ivnet.data
wait $back
echo "root: 16 MiB to the cell and back in $(($(date +%s) - start)) s"
echo "root: sent     $(sha256sum </tmp/ivnet.data)"
echo "root: received $(sha256sum </tmp/ivnet.back)"
for _ in $(seq 1 60); do
	jailhouse console | grep -q "linux-cell: ping root ok" && break
	sleep 0.5
done
jailhouse console | grep "linux-cell: ping root\|linux-cell: received" | tail -n 2
