// SPDX-License-Identifier: GPL-2.0
/*
 * Boot-first mode: sysHyper started before Linux, so Linux already runs as
 * the root cell. The driver adopts the running hypervisor at load time
 * instead of enabling it: it rebuilds its cell list from hypercalls only
 * (the system configuration and the hypervisor memory are unknown here),
 * `cell ...` commands work at once and disable is refused.
 */
#include <linux/cpu.h>
#include <linux/slab.h>
#include "syshyper.h"

/* The hypervisor numbers cells 1..254 (0 is the root). */
#define SH_MAX_CELL_ID		254
/* Name chunks of SH_HC_CELL_GET_INFO: 7 bytes each cover the 32-byte name. */
#define SH_NAME_CHUNK		7
#define SH_NAME_CHUNKS		DIV_ROUND_UP(JH_CELL_NAME_LEN + 1, SH_NAME_CHUNK)

bool sh_boot_first;

/* The cell's CPUs from the proposed hypercall; false if it is missing. */
static bool sh_query_cpus(unsigned int id, cpumask_t *cpus)
{
	long bits = sh_hypercall(SH_HC_CELL_GET_INFO, id, SH_CELL_INFO_CPUS);
	unsigned int cpu;

	if (bits < 0)
		return false;
	cpumask_clear(cpus);
	for (cpu = 0; cpu < 63 && cpu < nr_cpu_ids; cpu++)
		if (bits & (1L << cpu))
			cpumask_set_cpu(cpu, cpus);
	return true;
}

/* The cell's name from the proposed hypercall, else "cell<id>". */
static void sh_query_name(unsigned int id, char *name)
{
	char buf[SH_NAME_CHUNKS * SH_NAME_CHUNK + 1] = { 0 };
	unsigned int k, b;

	for (k = 0; k < SH_NAME_CHUNKS; k++) {
		long chunk = sh_hypercall(SH_HC_CELL_GET_INFO, id, SH_CELL_INFO_NAME + k);

		if (chunk < 0) {
			snprintf(name, JH_CELL_NAME_LEN + 1, "cell%u", id);
			return;
		}
		for (b = 0; b < SH_NAME_CHUNK; b++)
			buf[k * SH_NAME_CHUNK + b] = (chunk >> (8 * b)) & 0xff;
	}
	/* A name the hypervisor holds is trusted no further than printable text. */
	for (b = 0; b < JH_CELL_NAME_LEN && buf[b]; b++)
		if (buf[b] < 0x21 || buf[b] > 0x7e || buf[b] == '/')
			buf[b] = '_';
	buf[b] = 0;
	if (!buf[0])
		snprintf(name, JH_CELL_NAME_LEN + 1, "cell%u", id);
	else
		strscpy(name, buf, JH_CELL_NAME_LEN + 1);
}

static int sh_adopt_cell(unsigned int id, const cpumask_t *cpus, bool known)
{
	struct sh_cell *cell = sh_cell_new(NULL, 0, id);

	if (!cell)
		return -ENOMEM;
	sh_query_name(id, cell->name);
	cpumask_copy(&cell->cpus, cpus);
	cell->cpus_unknown = !known;
	list_add_tail(&cell->entry, &sh_cells);
	if (!id)
		sh_root_cell = cell;
	if (sh_sysfs_cell_add(cell))
		pr_warn(SH_PREFIX "no sysfs entry for cell %u\n", id);
	pr_info(SH_PREFIX "adopted cell \"%s\" (id %u, %s) on CPUs %*pbl%s\n",
		cell->name, id, id ? "started at boot" : "root",
		cpumask_pr_args(&cell->cpus), known ? "" : " (as Linux sees them)");
	return 0;
}

/*
 * Builds the cell list of a hypervisor that booted first. Without
 * SH_HC_CELL_GET_INFO the root's CPUs are the online ones and a single
 * other cell owns the remaining present CPUs; with several other cells
 * their CPUs stay unknown and destroy tries to online every free one.
 */
int sh_adopt(void)
{
	long cells = sh_hypercall(JH_HC_HYPERVISOR_GET_INFO, JH_INFO_NUM_CELLS, 0);
	cpumask_t root, rest, cpus;
	unsigned int id, found = 1;
	bool known;
	int err;

	if (cells < 1)
		return cells < 0 ? cells : -EIO;
	cpus_read_lock();
	known = sh_query_cpus(0, &root);
	if (!known)
		cpumask_copy(&root, cpu_online_mask);
	cpumask_andnot(&rest, cpu_present_mask, &root);
	cpus_read_unlock();

	err = sh_adopt_cell(0, &root, true);
	for (id = 1; !err && id <= SH_MAX_CELL_ID && found < cells; id++) {
		if (sh_hypercall(JH_HC_CELL_GET_STATE, id, 0) < 0)
			continue;
		found++;
		known = sh_query_cpus(id, &cpus);
		if (!known && cells == 2) {
			/* The only other cell holds every CPU the root lacks. */
			cpumask_copy(&cpus, &rest);
			known = true;
		} else if (!known) {
			cpumask_clear(&cpus);
		}
		err = sh_adopt_cell(id, &cpus, known);
	}
	if (err) {
		sh_forget_cells();
		return err;
	}
	sh_boot_first = true;
	WRITE_ONCE(sh_enabled, true);
	pr_info(SH_PREFIX "sysHyper was started before Linux: %ld cell(s) adopted, no enable needed\n",
		cells);
	return 0;
}

/* Drops the driver's view of the cells (module unload in boot-first mode). */
void sh_forget_cells(void)
{
	struct sh_cell *cell, *tmp;

	list_for_each_entry_safe(cell, tmp, &sh_cells, entry) {
		list_del(&cell->entry);
		sh_cell_delete(cell);
	}
	sh_root_cell = NULL;
	WRITE_ONCE(sh_enabled, false);
}

/*
 * CPUs to bring back after destroying a cell whose CPUs are unknown:
 * present, offline, and not held by a cell the driver knows.
 */
void sh_unclaimed_cpus(cpumask_t *out)
{
	struct sh_cell *cell;

	cpumask_andnot(out, cpu_present_mask, cpu_online_mask);
	list_for_each_entry(cell, &sh_cells, entry)
		if (!cell->cpus_unknown)
			cpumask_andnot(out, out, &cell->cpus);
}
