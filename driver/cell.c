// SPDX-License-Identifier: GPL-2.0
/*
 * Cell management: create (offline the CPUs, hand the config to the
 * hypervisor), load (copy images into the cell's memory), start, destroy.
 */
#include <linux/cpu.h>
#include <linux/io.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "syshyper.h"

/* The hypervisor reads at most 16 pages of a cell config. */
#define SH_MAX_CELL_CONFIG	(16 * 4096)
/* More preload images than any real cell uses; bounds the copy. */
#define SH_MAX_IMAGES		64

void sh_cell_release(struct kobject *kobj)
{
	struct sh_cell *cell = container_of(kobj, struct sh_cell, kobj);

	kfree(cell->cpu_stats);
	kfree(cell->config);
	kfree(cell);
}

/*
 * A cell object holding a copy of config (none for a cell adopted in
 * boot-first mode: the caller sets name and CPUs); not yet in sysfs.
 */
struct sh_cell *sh_cell_new(const struct jh_cell_desc *config, size_t size,
			    unsigned int id)
{
	struct sh_cell *cell = kzalloc(sizeof(*cell), GFP_KERNEL);
	u32 n;

	if (!cell)
		return NULL;
	kobject_init(&cell->kobj, &sh_cell_ktype);
	INIT_LIST_HEAD(&cell->entry);
	cell->id = id;
	cell->cpu_stats = kcalloc(nr_cpu_ids, sizeof(*cell->cpu_stats), GFP_KERNEL);
	if (config)
		cell->config = kmemdup(config, size, GFP_KERNEL);
	if ((config && !cell->config) || !cell->cpu_stats) {
		kobject_put(&cell->kobj);
		return NULL;
	}
	if (!config)
		return cell;
	cell->config_size = size;
	strscpy(cell->name, config->name, sizeof(cell->name));
	/* The size was checked (sh_cell_config_size) before any caller got here. */
	for (n = 0; n < config->num_pci_devices; n++)
		if (sh_cell_pci_devices(config)[n].type == JH_PCI_TYPE_DEVICE)
			cell->pt_devices++;
	sh_cpu_set_to_mask(config, &cell->cpus, NULL);
	return cell;
}

/* Removes the cell from sysfs; the memory goes with the last reference. */
void sh_cell_delete(struct sh_cell *cell)
{
	unsigned int cpu;

	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		kobject_put(cell->cpu_stats[cpu]);
	kobject_put(cell->stats);
	kobject_put(&cell->kobj);
}

static struct sh_cell *sh_find_cell(struct jh_cell_id __user *arg, bool allow_root)
{
	struct jh_cell_id id;
	struct sh_cell *cell;

	if (copy_from_user(&id, arg, sizeof(id)))
		return ERR_PTR(-EFAULT);
	id.name[JH_CELL_NAME_LEN] = 0;
	if (id.id < -1)
		return ERR_PTR(-EINVAL);
	list_for_each_entry(cell, &sh_cells, entry) {
		if (id.id >= 0 ? cell->id == (u32)id.id : !strcmp(cell->name, id.name)) {
			if (cell == sh_root_cell && !allow_root) {
				pr_err(SH_PREFIX "the root cell cannot be managed\n");
				return ERR_PTR(-EINVAL);
			}
			return cell;
		}
	}
	return ERR_PTR(-ENOENT);
}

static void sh_online(const cpumask_t *cpus)
{
	unsigned int cpu;
	int err;

	for_each_cpu(cpu, cpus) {
		err = add_cpu(cpu);
		if (err)
			pr_err(SH_PREFIX "cannot bring CPU %u back online (%d)\n", cpu, err);
	}
}

/* Takes the cell's CPUs from Linux; all or none. */
static int sh_offline(const cpumask_t *cpus)
{
	cpumask_t done;
	unsigned int cpu;
	int err;

	cpumask_clear(&done);
	for_each_cpu(cpu, cpus) {
		err = remove_cpu(cpu);
		if (err) {
			pr_err(SH_PREFIX "cannot take CPU %u offline (%d)\n", cpu, err);
			sh_online(&done);
			return err;
		}
		cpumask_set_cpu(cpu, &done);
	}
	return 0;
}

static int sh_check_cell_config(const struct jh_cell_desc *config, size_t size)
{
	size_t need;
	int err = sh_check_cell_header(config, "cell config");

	if (err)
		return err;
	if (sh_cell_config_size(config, &need) || need > size) {
		pr_err(SH_PREFIX "invalid cell config: arrays run past its %zu bytes\n", size);
		return -EINVAL;
	}
	return 0;
}

int sh_cmd_cell_create(struct jh_cell_create __user *arg)
{
	struct jh_cell_create req;
	struct jh_cell_desc *config;
	struct sh_cell *cell, *other;
	unsigned int top, cpu;
	cpumask_t cpus;
	long id;
	u32 head;
	int err;

	if (!sh_enabled)
		return -EINVAL;
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.config_size < sizeof(*config) || req.config_size > SH_MAX_CELL_CONFIG) {
		pr_err(SH_PREFIX "invalid cell config: %u bytes\n", req.config_size);
		return -EINVAL;
	}
	/* kmalloc memory is physically contiguous: the hypervisor reads it by address. */
	config = kmalloc(req.config_size, GFP_KERNEL);
	if (!config)
		return -ENOMEM;
	err = -EFAULT;
	if (copy_from_user(config, u64_to_user_ptr(req.config_address), req.config_size))
		goto out;
	err = sh_check_cell_config(config, req.config_size);
	if (err)
		goto out;
	config->name[JH_CELL_NAME_LEN] = 0;
	list_for_each_entry(other, &sh_cells, entry)
		if (!strcmp(other->name, config->name)) {
			pr_err(SH_PREFIX "a cell named \"%s\" exists\n", config->name);
			err = -EEXIST;
			goto out;
		}
	sh_cpu_set_to_mask(config, &cpus, &top);
	err = -EBUSY;
	if (top > nr_cpu_ids || cpumask_empty(&cpus)) {
		pr_err(SH_PREFIX "cell \"%s\": no CPUs or CPU %u does not exist\n",
		       config->name, top - 1);
		goto out;
	}
	for_each_cpu(cpu, &cpus)
		if (!cpumask_test_cpu(cpu, &sh_root_cell->cpus)) {
			pr_err(SH_PREFIX "cell \"%s\": CPU %u is not in the root cell\n",
			       config->name, cpu);
			goto out;
		}
	cell = sh_cell_new(config, req.config_size, 0);
	err = -ENOMEM;
	if (!cell)
		goto out;

	err = sh_offline(&cpus);
	if (err)
		goto out_cell;
	head = sh_console_tail();
	id = sh_manage(JH_HC_CELL_CREATE, virt_to_phys(config));
	if (id < 0) {
		pr_err(SH_PREFIX "the hypervisor refused cell \"%s\" (%ld)\n",
		       config->name, id);
		sh_console_dump_from(head, "the hypervisor's reason");
		sh_online(&cpus);
		err = id;
		goto out_cell;
	}
	cell->id = id;
	cpumask_andnot(&sh_root_cell->cpus, &sh_root_cell->cpus, &cpus);
	list_add_tail(&cell->entry, &sh_cells);
	if (sh_sysfs_cell_add(cell))
		pr_warn(SH_PREFIX "no sysfs entry for cell \"%s\"\n", cell->name);
	pr_info(SH_PREFIX "created cell \"%s\" (id %u) on CPUs %*pbl\n",
		cell->name, cell->id, cpumask_pr_args(&cpus));
	if (sh_cell_dma_unconfined(cell) == 1)
		pr_notice(SH_PREFIX "cell \"%s\" has %u PCI device(s) passed through and the system has no SMMU: their DMA is unconfined (it can reach all memory)\n",
			  cell->name, cell->pt_devices);
	kfree(config);
	return 0;

out_cell:
	sh_cell_delete(cell);
out:
	kfree(config);
	return err;
}

/* Copies one image to the cell's guest-physical address through the root's view. */
static int sh_load_image(struct sh_cell *cell, const struct jh_preload_image *img)
{
	const struct jh_memory *mem = sh_cell_memory(cell->config);
	u32 n;

	if (!img->size)
		return 0;
	for (n = 0; n < cell->config->num_memory_regions; n++, mem++) {
		u64 offset = img->target_address - mem->virt_start, done, chunk;
		void *map;
		int err = 0;

		if (!(mem->flags & JH_MEM_LOADABLE) ||
		    img->target_address < mem->virt_start ||
		    offset >= mem->size || img->size > mem->size - offset)
			continue;
		map = memremap(mem->phys_start + offset, img->size, MEMREMAP_WB);
		if (!map)
			return -ENOMEM;
		/*
		 * In pieces with a reschedule point between them: a Linux
		 * kernel image is tens of MiB, and one copy and clean of it
		 * held the CPU long enough under QEMU for RCU stall and soft
		 * lockup reports.
		 */
		for (done = 0; done < img->size && !err; done += chunk) {
			chunk = min_t(u64, img->size - done, SZ_1M);
			if (copy_from_user(map + done,
					   u64_to_user_ptr(img->source_address + done), chunk))
				err = -EFAULT;
			/* The cell starts with its MMU and caches off. */
			sh_dcache_clean_inval(map + done, chunk);
			cond_resched();
		}
		memunmap(map);
		return err;
	}
	pr_err(SH_PREFIX "cell \"%s\": image at %#llx+%#llx is not inside a loadable memory region\n",
	       cell->name, img->target_address, img->size);
	return -EINVAL;
}

int sh_cmd_cell_load(struct jh_cell_load __user *arg)
{
	struct jh_cell_load head;
	struct jh_preload_image *images;
	struct sh_cell *cell;
	long err;
	u32 n;

	if (!sh_enabled)
		return -EINVAL;
	if (copy_from_user(&head, arg, sizeof(head)))
		return -EFAULT;
	if (head.num_preload_images > SH_MAX_IMAGES)
		return -EINVAL;
	cell = sh_find_cell(&arg->cell_id, false);
	if (IS_ERR(cell))
		return PTR_ERR(cell);
	/* Shutdown (no images) needs no configuration; loading does. */
	if (head.num_preload_images && !cell->config) {
		pr_err(SH_PREFIX "cell \"%s\" was started before Linux and its configuration is unknown here: destroy it and create it again to load images\n",
		       cell->name);
		return -EINVAL;
	}
	images = memdup_user(arg->image, head.num_preload_images * sizeof(*images));
	if (IS_ERR(images))
		return PTR_ERR(images);
	err = sh_manage_cell(cell, JH_HC_CELL_SET_LOADABLE, head.num_preload_images ? "load" : "shutdown");
	if (err)
		pr_err(SH_PREFIX "cell \"%s\": set loadable failed (%ld)\n", cell->name, err);
	for (n = 0; !err && n < head.num_preload_images; n++)
		err = sh_load_image(cell, &images[n]);
	kfree(images);
	return err;
}

int sh_cmd_cell_start(struct jh_cell_id __user *arg)
{
	struct sh_cell *cell;
	long err;

	if (!sh_enabled)
		return -EINVAL;
	cell = sh_find_cell(arg, false);
	if (IS_ERR(cell))
		return PTR_ERR(cell);
	err = sh_manage_cell(cell, JH_HC_CELL_START, "start");
	if (err)
		pr_err(SH_PREFIX "cell \"%s\": start failed (%ld)\n", cell->name, err);
	return err;
}

/*
 * Brings back the CPUs of a destroyed cell whose CPUs the driver never
 * learnt: every free one is tried; the hypervisor refuses those another
 * cell still holds, and they stay offline.
 */
static void sh_online_unclaimed(void)
{
	cpumask_t cpus;
	unsigned int cpu;

	cpus_read_lock();
	sh_unclaimed_cpus(&cpus);
	cpus_read_unlock();
	for_each_cpu(cpu, &cpus)
		if (!add_cpu(cpu))
			cpumask_set_cpu(cpu, &sh_root_cell->cpus);
}

static int sh_destroy(struct sh_cell *cell)
{
	long err = sh_manage_cell(cell, JH_HC_CELL_DESTROY, "destroy");

	if (err) {
		pr_err(SH_PREFIX "cell \"%s\": destroy failed (%ld)\n", cell->name, err);
		return err;
	}
	if (cell->cpus_unknown) {
		sh_online_unclaimed();
	} else {
		cpumask_or(&sh_root_cell->cpus, &sh_root_cell->cpus, &cell->cpus);
		sh_online(&cell->cpus);
	}
	list_del(&cell->entry);
	pr_info(SH_PREFIX "destroyed cell \"%s\"\n", cell->name);
	sh_cell_delete(cell);
	return 0;
}

int sh_cmd_cell_destroy(struct jh_cell_id __user *arg)
{
	struct sh_cell *cell;

	if (!sh_enabled)
		return -EINVAL;
	cell = sh_find_cell(arg, false);
	if (IS_ERR(cell))
		return PTR_ERR(cell);
	return sh_destroy(cell);
}

int sh_cell_destroy_all(void)
{
	struct sh_cell *cell, *tmp;
	int err;

	list_for_each_entry_safe(cell, tmp, &sh_cells, entry) {
		if (cell == sh_root_cell)
			continue;
		err = sh_destroy(cell);
		if (err)
			return err;
	}
	return 0;
}
