#!/bin/sh
# The `cargo xtask run` demo in the Debian guest: enable sysHyper under the
# running Linux, run the gic-demo inmate in its own cell, then tear it down.
# Any failing step ends the script with a non-zero status.
set -e
C=/etc/syshyper/configs
I=/etc/syshyper/inmates
# The system configuration: SYS_CONFIG from /init (the machine's); the
# cell: `cargo xtask run --platform zcu102` sets SYS_CONFIG=zcu102.cell
# and CELL=zcu102-gic-demo before this script.
CELL=${CELL:-gic-demo}

step() { echo; echo "### $*"; }

step "loading the driver"
insmod /lib/modules/syshyper.ko

step "jailhouse enable $C/$SYS_CONFIG"
jailhouse enable $C/$SYS_CONFIG
jailhouse cell list

step "creating, loading and starting the gic-demo cell"
jailhouse cell create $C/$CELL.cell
jailhouse cell load gic-demo $I/gic-demo.bin
jailhouse cell start gic-demo
jailhouse cell list

# Let the inmate print a few timer lines on the shared UART.
sleep 1
jailhouse cell stats gic-demo

step "destroying the cell and disabling the hypervisor"
jailhouse cell destroy gic-demo
jailhouse console
jailhouse disable
echo "Linux still runs: $(cat /proc/uptime)"
