// SPDX-License-Identifier: GPL-2.0
/*
 * Boot-first mode: sysHyper started before Linux, so Linux already runs as
 * the root cell. The driver adopts the running hypervisor at load time
 * instead of enabling it: it rebuilds its cell list from hypercalls only
 * (the system configuration and the hypervisor memory are unknown here),
 * `cell ...` commands work at once and disable is refused.
 */
#include <linux/cpu.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include "syshyper.h"

/* Only the console needs to know where the hypervisor is. */
static unsigned long hv_phys;
module_param(hv_phys, ulong, 0444);
MODULE_PARM_DESC(hv_phys, "boot-first mode: physical address of the hypervisor memory (its system config's hypervisor_memory), to read the hypervisor console");

/* The hypervisor's console page sits inside its core image, below this. */
#define SH_MAX_CONSOLE_OFFSET	(16UL << 20)

static void *sh_adopted_map;

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

/* A name for a cell the hypervisor does not name: "root" or "cell<id>". */
static void sh_default_name(unsigned int id, char *name)
{
	if (id)
		snprintf(name, JH_CELL_NAME_LEN + 1, "cell%u", id);
	else
		strscpy(name, "root", JH_CELL_NAME_LEN + 1);
}

/* The cell's name from the proposed hypercall, else a default one. */
static void sh_query_name(unsigned int id, char *name)
{
	char buf[SH_NAME_CHUNKS * SH_NAME_CHUNK + 1] = { 0 };
	unsigned int k, b;

	for (k = 0; k < SH_NAME_CHUNKS; k++) {
		long chunk = sh_hypercall(SH_HC_CELL_GET_INFO, id, SH_CELL_INFO_NAME + k);

		if (chunk < 0) {
			sh_default_name(id, name);
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
		sh_default_name(id, name);
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
	pr_info(SH_PREFIX "adopted cell \"%s\" (id %u%s) on CPUs %*pbl%s\n",
		cell->name, id, id ? "" : ", root",
		cpumask_pr_args(&cell->cpus), known ? "" : " (as Linux sees them)");
	return 0;
}

/*
 * Finds the console through hv_phys: the root cell may read the hypervisor
 * memory. Only an address outside Linux RAM holding a sysHyper header is
 * taken; anything else leaves the console unavailable, nothing more.
 */
static void sh_adopt_console(void)
{
	struct jh_header *h;
	u64 offset;

	if (!hv_phys)
		return;
	if (!PAGE_ALIGNED(hv_phys) ||
	    region_intersects(hv_phys, PAGE_SIZE, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err(SH_PREFIX "hv_phys=%#lx is not page aligned or is Linux RAM; no console\n",
		       hv_phys);
		return;
	}
	h = memremap(hv_phys, PAGE_SIZE, MEMREMAP_WB);
	if (!h)
		return;
	offset = h->console_page;
	if (memcmp(h->signature, JH_SIGNATURE, 8) || memcmp(h->ext_magic, SH_EXT_MAGIC, 8) ||
	    offset > SH_MAX_CONSOLE_OFFSET) {
		pr_err(SH_PREFIX "no sysHyper image at hv_phys=%#lx; no console\n", hv_phys);
		memunmap(h);
		return;
	}
	memunmap(h);
	sh_adopted_map = memremap(hv_phys, offset + sizeof(*sh_console), MEMREMAP_WB);
	if (sh_adopted_map)
		sh_console = sh_adopted_map + offset;
}

/*
 * Builds the cell list of a hypervisor that booted first. Without
 * SH_HC_CELL_GET_INFO the root's CPUs are the online ones and a single
 * other cell owns the remaining present CPUs; with several other cells
 * their CPUs stay unknown and destroy tries to online every free one.
 */
/*
 * A Linux in a non-root cell (which loads the module for its ivshmem-net
 * device) also finds a hypervisor that answers GET_INFO, but the
 * hypervisor refuses it every root-only call: it has nothing to adopt.
 */
bool sh_in_non_root_cell(void)
{
	return sh_hypercall(JH_HC_CELL_GET_STATE, 0, 0) == -EPERM;
}

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
	sh_adopt_console();
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
	if (sh_adopted_map) {
		sh_console = NULL;
		memunmap(sh_adopted_map);
		sh_adopted_map = NULL;
	}
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
