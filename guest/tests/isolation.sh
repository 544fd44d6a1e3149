# linux-isolation: the hostile cell (inmates/src/bin/hostile-cell) attacks
# while Linux is the root cell (late launch). A tmpfs file and a process's
# memory are checksummed before the attacks; after every attack the cell is
# failed (or still spinning, or answered), `cell destroy` works, CPU 1 comes
# back, both checksums are unchanged and the root workload kept running.

# The hostile cell has no console: the root hands it the attack number and
# reads its progress through a mailbox page (hostile-cell/mailbox.rs), here
# with /dev/mem. 0x7f0f0000 lies in the root cell's RAM region but above
# mem=768M, so Linux does not own it and STRICT_DEVMEM lets it be mapped.
MB=0x7f0f0000
# Mailbox words (u64): ROLE 0, STAGE 1, ARG 2, RESULTS 3..14.
STAGE=1
RESULT0=3
# STAGE values: the cell tried the forbidden thing / came back from it.
ATTEMPTED=2
SURVIVED=3
# Attack numbers (hostile-cell/attack_ids.rs).
READ_ROOT_RAM=2
WRITE_ROOT_RAM=3
READ_HV_MEM=6
WRITE_HV_MEM=7
STAGE1_TO_HV=12
ROOT_ONLY_HYPERCALLS=17
SGI_FLOOD=19
MASKED_ENDLESS_LOOP=20
FOREIGN_HVC_IMM=21

# Low and high 32-bit halves of mailbox word $1 (busybox devmem, mmap).
mb_lo() { printf '0x%x' $((MB + $1 * 8)); }
mb_hi() { printf '0x%x' $((MB + $1 * 8 + 4)); }
mb_read() { echo $(($(devmem $(mb_lo $1) 32))); }
mb_read_hi() { echo $(($(devmem $(mb_hi $1) 32))); }
mb_write() { devmem $(mb_lo $1) 32 $2 && devmem $(mb_hi $1) 32 0; }

# The words the protocol uses start at zero, then ROLE = the attack.
mb_arm() {
	for w in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do mb_write $w 0 || return 1; done
	mb_write 0 $1 && [ "$(mb_read 0)" = "$1" ]
}

# The id of the cell called hostile, if any.
hostile_id() {
	for d in $S/cells/*; do
		[ "$(cat $d/name 2>/dev/null)" = hostile ] && basename $d
	done
}

# A fresh hostile cell running attack $1.
launch() {
	jailhouse cell create $C/hostile-cell.cell &&
	jailhouse cell load hostile $I/hostile-cell.bin &&
	mb_arm $1 &&
	jailhouse cell start hostile &&
	HID=$(hostile_id) && [ -n "$HID" ]
}

hostile_state() { cat $S/cells/$HID/state 2>&1; }

# Polls (0.1 s steps, at most $1 tries) until the command after it succeeds.
poll() {
	n=$1; shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}

state_is() { [ "$(hostile_state)" = "$1" ]; }
stage_is() { [ "$(mb_read $STAGE)" = "$1" ]; }

report() { echo "cell $HID: $(hostile_state), stage $(mb_read $STAGE), result0 $(mb_read $RESULT0)"; }

# Attack $1 must make the hypervisor stop the cell: state "failed", and the
# cell got as far as the forbidden access but never past it.
fails() {
	launch $1 || return 1
	poll 50 state_is failed
	report
	state_is failed && stage_is $ATTEMPTED
}

# The masked endless loop: the cell keeps running (spinning); only the root
# can end it, which the next step does.
spins() {
	launch $MASKED_ENDLESS_LOOP || return 1
	poll 50 stage_is $ATTEMPTED
	sleep 0.5
	report
	state_is running && stage_is $ATTEMPTED
}

# Every root-only hypercall (ARG 0: aimed at the root cell) returns -EPERM
# (-1: both halves all ones).
all_eperm() {
	for w in 3 4 5 6 7 8 9 10 11 12 13; do
		[ "$(mb_read $w)" = 4294967295 ] && [ "$(mb_read_hi $w)" = 4294967295 ] || return 1
	done
}
refused_calls() {
	launch $ROOT_ONLY_HYPERCALLS || return 1
	poll 50 stage_is $SURVIVED
	report
	state_is running && stage_is $SURVIVED && all_eperm
}

# The SGI flood: the hypervisor emulates every SGI write for the cell's own
# CPU only; the cell finishes all of them and keeps running.
flood() {
	launch $SGI_FLOOD || return 1
	poll 300 stage_is $SURVIVED
	report
	state_is running && stage_is $SURVIVED && [ "$(mb_read $RESULT0)" = 50000 ]
}

# ---- what must survive: a tmpfs file and a process's memory ----

make_data() {
	head -c 4194304 /dev/urandom >$W/data.bin || return 1
	# The keeper's environment lies in its own memory (its stack);
	# /proc/PID/environ reads that memory back.
	b1=$(head -c 60000 /dev/urandom | od -An -tx1 | tr -d ' \n')
	b2=$(head -c 60000 /dev/urandom | od -An -tx1 | tr -d ' \n')
	env -i BUF1="$b1" BUF2="$b2" sleep 100000 &
	KEEP_PID=$!
	# Until the child has exec'd sleep, its environ is the shell's: wait
	# (bounded) for the big one.
	n=0
	while [ "$(wc -c </proc/$KEEP_PID/environ)" -le 200000 ]; do
		n=$((n + 1))
		[ $n -le 300 ] || return 1
		sleep 0.1
	done
}

sums() {
	sha256sum $W/data.bin | cut -d' ' -f1
	sha256sum /proc/$KEEP_PID/environ | cut -d' ' -f1
}

record_sums() { sums >$W/sums.0 && cat $W/sums.0 && [ "$(wc -l <$W/sums.0)" = 2 ]; }

sums_unchanged() {
	sums >$W/sums.now
	echo "now: $(tr '\n' ' ' <$W/sums.now), before: $(tr '\n' ' ' <$W/sums.0)"
	kill -0 $KEEP_PID && cmp -s $W/sums.0 $W/sums.now
}

# After an attack: destroy works, the cell and its CPU are back, the
# checksums are unchanged and the workload kept progressing.
cleaned_up() {
	timeout 20 jailhouse cell destroy hostile || return 1
	[ -z "$(hostile_id)" ] || { echo "hostile cell still listed"; return 1; }
	cpus_online 0-3 && sums_unchanged && progresses
}

# The hypervisor still answers the root after the attack on its memory.
hv_alive() {
	jailhouse cell list | grep -q "^0 *QEMU-VIRT *running" &&
	jailhouse console | grep -q sysHyper
}

workload_start
check "checksummed data in tmpfs and a process" make_data
check "checksums recorded" record_sums
check "insmod" insmod /lib/modules/syshyper.ko
check "enable" jailhouse enable $C/$SYS_CONFIG
check "mailbox page mapped by the root" mb_arm 1
check "checksums unchanged by enable" sums_unchanged
check "read root RAM: cell failed" fails $READ_ROOT_RAM
check "read root RAM: destroyed, root intact" cleaned_up
check "write root RAM: cell failed" fails $WRITE_ROOT_RAM
check "write root RAM: destroyed, root intact" cleaned_up
check "read hypervisor memory: cell failed" fails $READ_HV_MEM
check "read hypervisor memory: destroyed, root intact" cleaned_up
check "write hypervisor memory: cell failed" fails $WRITE_HV_MEM
check "write hypervisor memory: destroyed, root intact" cleaned_up
check "hypervisor answers after the write attack" hv_alive
check "stage-1 map of hypervisor: cell failed" fails $STAGE1_TO_HV
check "stage-1 map of hypervisor: destroyed, root intact" cleaned_up
check "foreign HVC: cell failed" fails $FOREIGN_HVC_IMM
check "foreign HVC: destroyed, root intact" cleaned_up
check "root-only hypercalls: all -EPERM" refused_calls
check "root-only hypercalls: destroyed, root intact" cleaned_up
check "masked endless loop: cell spins" spins
check "masked endless loop: destroyed, root intact" cleaned_up
check "SGI flood: all sent, cell running" flood
check "SGI flood: destroyed, root intact" cleaned_up
check "every CPU works after the attacks" every_cpu_works
check "disable" jailhouse disable
check "checksums unchanged after disable" sums_unchanged
check "Linux works after disable" progresses
check "rmmod" rmmod syshyper
# summary waits for every background job: end the keeper first.
kill $KEEP_PID
summary
