// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/devices/jailhouse as Jailhouse lays it out: hypervisor attributes,
 * cells/<id>/{name,state,cpus_*}, cells/<id>/statistics[/cpu<n>] and, sysHyper's,
 * cells/<id>/{dma_unconfined,dma_faults}.
 *
 * Cell attributes never take sh_lock: cells are removed with it held, and
 * removal waits for readers. A read racing with disable reaches Linux's
 * hyp stub, which answers harmlessly.
 */
#include <linux/slab.h>
#include "syshyper.h"

static ssize_t enabled_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(sh_enabled));
}
static DEVICE_ATTR_RO(enabled);

static ssize_t console_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sh_console_show(buf);
}
static DEVICE_ATTR_RO(console);

/* As Jailhouse's: 0 while the hypervisor is disabled. */
static ssize_t sh_info_show(char *buf, u64 type)
{
	long val;

	if (!READ_ONCE(sh_enabled))
		return sysfs_emit(buf, "0\n");
	val = sh_hypercall(JH_HC_HYPERVISOR_GET_INFO, type, 0);
	if (val < 0)
		return val;
	return sysfs_emit(buf, "%ld\n", val);
}

#define SH_INFO_ATTR(name, type)						\
static ssize_t name##_show(struct device *dev, struct device_attribute *a,	\
			   char *buf)						\
{										\
	return sh_info_show(buf, type);						\
}										\
static DEVICE_ATTR_RO(name)

SH_INFO_ATTR(mem_pool_size, JH_INFO_MEM_POOL_SIZE);
SH_INFO_ATTR(mem_pool_used, JH_INFO_MEM_POOL_USED);
SH_INFO_ATTR(remap_pool_size, JH_INFO_REMAP_POOL_SIZE);
SH_INFO_ATTR(remap_pool_used, JH_INFO_REMAP_POOL_USED);

static struct attribute *sh_dev_attrs[] = {
	&dev_attr_enabled.attr,
	&dev_attr_console.attr,
	&dev_attr_mem_pool_size.attr,
	&dev_attr_mem_pool_used.attr,
	&dev_attr_remap_pool_size.attr,
	&dev_attr_remap_pool_used.attr,
	NULL,
};
static const struct attribute_group sh_dev_group = { .attrs = sh_dev_attrs };

/* ---- cells/<id> ---- */

#define to_cell(k) container_of(k, struct sh_cell, kobj)

static ssize_t name_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_cell(k)->name);
}

static const char *const sh_state_names[] = {
	[JH_CELL_RUNNING] = "running",
	[JH_CELL_RUNNING_LOCKED] = "running/locked",
	[JH_CELL_SHUT_DOWN] = "shut down",
	[JH_CELL_FAILED] = "failed",
	[JH_CELL_FAILED_COMM_REV] = "failed/comm rev",
};

static ssize_t state_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	long state;

	if (!READ_ONCE(sh_enabled))
		return -ENODEV;
	state = sh_hypercall(JH_HC_CELL_GET_STATE, to_cell(k)->id, 0);
	if (state < 0)
		return state;
	if (state >= ARRAY_SIZE(sh_state_names))
		return sysfs_emit(buf, "invalid\n");
	return sysfs_emit(buf, "%s\n", sh_state_names[state]);
}

static void sh_failed_cpus(struct sh_cell *cell, cpumask_t *failed)
{
	unsigned int cpu;

	cpumask_clear(failed);
	if (!READ_ONCE(sh_enabled))
		return;
	for_each_cpu(cpu, &cell->cpus)
		if (sh_hypercall(JH_HC_CPU_GET_INFO, cpu, JH_CPU_INFO_STATE) == JH_CPU_FAILED)
			cpumask_set_cpu(cpu, failed);
}

static ssize_t cpus_assigned_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%*pb\n", cpumask_pr_args(&to_cell(k)->cpus));
}

static ssize_t cpus_assigned_list_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%*pbl\n", cpumask_pr_args(&to_cell(k)->cpus));
}

static ssize_t cpus_failed_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	cpumask_t failed;

	sh_failed_cpus(to_cell(k), &failed);
	return sysfs_emit(buf, "%*pb\n", cpumask_pr_args(&failed));
}

static ssize_t cpus_failed_list_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	cpumask_t failed;

	sh_failed_cpus(to_cell(k), &failed);
	return sysfs_emit(buf, "%*pbl\n", cpumask_pr_args(&failed));
}

/*
 * 1: the cell has passed-through PCI devices and the system configuration
 * names no SMMU, so their DMA reaches all memory; 0: it has none, or the
 * SMMU confines them; -1: unknown (a cell adopted at boot: the driver has
 * no configuration of it).
 */
int sh_cell_dma_unconfined(const struct sh_cell *cell)
{
	if (!cell->config)
		return -1;
	return cell->pt_devices && !READ_ONCE(sh_smmu);
}

static ssize_t dma_unconfined_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	int v = sh_cell_dma_unconfined(to_cell(k));

	if (v < 0)
		return sysfs_emit(buf, "unknown\n");
	return sysfs_emit(buf, "%d\n", v);
}

/* The SMMU's faults for the cell's streams (0 without an SMMU). */
static ssize_t dma_faults_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	long val;

	if (!READ_ONCE(sh_enabled))
		return -ENODEV;
	val = sh_hypercall(SH_HC_CELL_GET_INFO, to_cell(k)->id, SH_CELL_INFO_DMA_FAULTS);
	if (val < 0)
		return val;
	return sysfs_emit(buf, "%ld\n", val);
}

static struct kobj_attribute sh_attr_name = __ATTR_RO(name);
static struct kobj_attribute sh_attr_dma_unconfined = __ATTR_RO(dma_unconfined);
static struct kobj_attribute sh_attr_dma_faults = __ATTR_RO(dma_faults);
static struct kobj_attribute sh_attr_state = __ATTR_RO(state);
static struct kobj_attribute sh_attr_cpus_assigned = __ATTR_RO(cpus_assigned);
static struct kobj_attribute sh_attr_cpus_assigned_list = __ATTR_RO(cpus_assigned_list);
static struct kobj_attribute sh_attr_cpus_failed = __ATTR_RO(cpus_failed);
static struct kobj_attribute sh_attr_cpus_failed_list = __ATTR_RO(cpus_failed_list);

static struct attribute *sh_cell_attrs[] = {
	&sh_attr_name.attr,
	&sh_attr_state.attr,
	&sh_attr_cpus_assigned.attr,
	&sh_attr_cpus_assigned_list.attr,
	&sh_attr_cpus_failed.attr,
	&sh_attr_cpus_failed_list.attr,
	&sh_attr_postmortem.attr,
	&sh_attr_latency.attr,
	&sh_attr_restarts.attr,
	&sh_attr_dma_unconfined.attr,
	&sh_attr_dma_faults.attr,
	NULL,
};
ATTRIBUTE_GROUPS(sh_cell);

struct kobj_type sh_cell_ktype = {
	.release = sh_cell_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = sh_cell_groups,
};

/* ---- cells/<id>/statistics[/cpu<n>] ---- */

struct sh_stats {
	struct kobject kobj;
	struct sh_cell *cell;
	int cpu;	/* -1: the sum over the cell's CPUs */
};

struct sh_stat_attr {
	struct kobj_attribute attr;
	unsigned int stat;
};

static ssize_t sh_stat_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct sh_stats *s = container_of(k, struct sh_stats, kobj);
	unsigned int stat = container_of(a, struct sh_stat_attr, attr)->stat;
	unsigned int cpu;
	long val, sum = 0;

	if (!READ_ONCE(sh_enabled))
		return -ENODEV;
	for_each_cpu(cpu, &s->cell->cpus) {
		if (s->cpu >= 0 && cpu != s->cpu)
			continue;
		val = sh_hypercall(JH_HC_CPU_GET_INFO, cpu, JH_CPU_INFO_STAT_BASE + stat);
		if (val < 0)
			return val;
		sum += val;
	}
	return sysfs_emit(buf, "%ld\n", sum);
}

#define SH_STAT(name, n) \
	static struct sh_stat_attr sh_stat_##name = { __ATTR(name, 0444, sh_stat_show, NULL), n }

/* Jailhouse's arm64 statistics, in the hypervisor's numbering. */
SH_STAT(vmexits_total, 0);
SH_STAT(vmexits_mmio, 1);
SH_STAT(vmexits_management, 2);
SH_STAT(vmexits_hypercall, 3);
SH_STAT(vmexits_maintenance, 4);
SH_STAT(vmexits_virt_irq, 5);
SH_STAT(vmexits_virt_sgi, 6);
SH_STAT(vmexits_psci, 7);
SH_STAT(vmexits_smccc, 8);

static struct attribute *sh_stats_attrs[] = {
	&sh_stat_vmexits_total.attr.attr,
	&sh_stat_vmexits_mmio.attr.attr,
	&sh_stat_vmexits_management.attr.attr,
	&sh_stat_vmexits_hypercall.attr.attr,
	&sh_stat_vmexits_maintenance.attr.attr,
	&sh_stat_vmexits_virt_irq.attr.attr,
	&sh_stat_vmexits_virt_sgi.attr.attr,
	&sh_stat_vmexits_psci.attr.attr,
	&sh_stat_vmexits_smccc.attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(sh_stats);

static void sh_stats_release(struct kobject *k)
{
	kfree(container_of(k, struct sh_stats, kobj));
}

static struct kobj_type sh_stats_ktype = {
	.release = sh_stats_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = sh_stats_groups,
};

static struct kobject *sh_stats_add(struct sh_cell *cell, struct kobject *parent, int cpu)
{
	struct sh_stats *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int err;

	if (!s)
		return NULL;
	s->cell = cell;
	s->cpu = cpu;
	if (cpu < 0)
		err = kobject_init_and_add(&s->kobj, &sh_stats_ktype, parent, "statistics");
	else
		err = kobject_init_and_add(&s->kobj, &sh_stats_ktype, parent, "cpu%d", cpu);
	if (err) {
		kobject_put(&s->kobj);
		return NULL;
	}
	return &s->kobj;
}

int sh_sysfs_cell_add(struct sh_cell *cell)
{
	unsigned int cpu;
	int err;

	err = kobject_add(&cell->kobj, sh_cells_dir, "%u", cell->id);
	if (err)
		return err;
	cell->stats = sh_stats_add(cell, &cell->kobj, -1);
	if (!cell->stats)
		return -ENOMEM;
	for_each_cpu(cpu, &cell->cpus) {
		cell->cpu_stats[cpu] = sh_stats_add(cell, cell->stats, cpu);
		if (!cell->cpu_stats[cpu])
			return -ENOMEM;
	}
	return 0;
}

int sh_sysfs_init(void)
{
	int err = sysfs_create_group(&sh_dev->kobj, &sh_dev_group);

	if (err)
		return err;
	sh_cells_dir = kobject_create_and_add("cells", &sh_dev->kobj);
	if (!sh_cells_dir) {
		sysfs_remove_group(&sh_dev->kobj, &sh_dev_group);
		return -ENOMEM;
	}
	return 0;
}

void sh_sysfs_exit(void)
{
	kobject_put(sh_cells_dir);
	sysfs_remove_group(&sh_dev->kobj, &sh_dev_group);
}
