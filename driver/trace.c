// SPDX-License-Identifier: GPL-2.0
/*
 * cells/<id>/postmortem and cells/<id>/latency: what the hypervisor keeps
 * about each of the cell's CPUs (sysHyper hypercalls 0x103 and 0x104,
 * root only), printed raw; `syshyper cell dump` and `cell stats
 * --latency` decode them (tools/src/driver/trace.rs).
 *
 * postmortem: per failed CPU a line "cpu N" and the record's 105 words
 *   in hex, 8 per line (layout: hypervisor/src/trace/mod.rs, `rec`);
 *   nothing for a CPU without a record (one that has not failed).
 * latency: per CPU a line "cpu N", then one line per histogram
 *   ("irq mmio hypercall smc sysreg other inject"), each "NAME" followed by
 *   "k:count" for every non-empty log2 bucket k (bucket k holds delays d
 *   in CNTPCT ticks with clz(d) = k).
 * Both fit a page for the CPU counts of a cell (about 1.8 KiB per failed
 * CPU; sysfs_emit_at stops at the page's end).
 */
#include "syshyper.h"

#define SH_HC_CPU_RECORD	0x103
#define SH_HC_CPU_LATENCY	0x104
#define SH_RECORD_WORDS		105
#define SH_BUCKETS		65

static const char *const sh_hist_names[] = {
	"irq", "mmio", "hypercall", "smc", "sysreg", "other", "inject",
};

#define to_cell(k) container_of(k, struct sh_cell, kobj)

/* One record word from its two 32-bit halves; < 0: no record or error. */
static long sh_record_word(unsigned int cpu, unsigned int word, u64 *val)
{
	long lo = sh_hypercall(SH_HC_CPU_RECORD, cpu, 2 * word);
	long hi;

	if (lo < 0)
		return lo;
	hi = sh_hypercall(SH_HC_CPU_RECORD, cpu, 2 * word + 1);
	if (hi < 0)
		return hi;
	*val = (u64)lo | (u64)hi << 32;
	return 0;
}

static ssize_t postmortem_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct sh_cell *cell = to_cell(k);
	unsigned int cpu, w;
	int len = 0;
	long err;
	u64 v;

	if (!READ_ONCE(sh_enabled))
		return -ENODEV;
	for_each_cpu(cpu, &cell->cpus) {
		if (sh_record_word(cpu, 0, &v) < 0)
			continue;	/* no record: the CPU has not failed */
		len += sysfs_emit_at(buf, len, "cpu %u\n", cpu);
		for (w = 0; w < SH_RECORD_WORDS; w++) {
			err = sh_record_word(cpu, w, &v);
			if (err < 0)
				return err;
			len += sysfs_emit_at(buf, len, "%llx%c", v,
					     (w % 8 == 7 || w == SH_RECORD_WORDS - 1) ? '\n' : ' ');
		}
	}
	return len;
}

static ssize_t latency_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct sh_cell *cell = to_cell(k);
	unsigned int cpu, h, b;
	int len = 0;
	long n;

	if (!READ_ONCE(sh_enabled))
		return -ENODEV;
	for_each_cpu(cpu, &cell->cpus) {
		len += sysfs_emit_at(buf, len, "cpu %u\n", cpu);
		for (h = 0; h < ARRAY_SIZE(sh_hist_names); h++) {
			len += sysfs_emit_at(buf, len, "%s", sh_hist_names[h]);
			for (b = 0; b < SH_BUCKETS; b++) {
				n = sh_hypercall(SH_HC_CPU_LATENCY, cpu, h * SH_BUCKETS + b);
				if (n < 0)
					return n;
				if (n)
					len += sysfs_emit_at(buf, len, " %u:%ld", b, n);
			}
			len += sysfs_emit_at(buf, len, "\n");
		}
	}
	return len;
}

/* Another cell's registers: for the root user only. */
struct kobj_attribute sh_attr_postmortem = __ATTR(postmortem, 0400, postmortem_show, NULL);
struct kobj_attribute sh_attr_latency = __ATTR_RO(latency);
