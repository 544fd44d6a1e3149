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
sleep 1
check "cell list shows gic-demo running again" sh -c 'syshyper cell list; syshyper cell list | grep "gic-demo" | grep -q running'
# Destroyed again so that its output does not interleave with the last lines.
check "cell destroy gic-demo again" syshyper cell destroy gic-demo
