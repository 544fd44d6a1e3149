// SPDX-License-Identifier: GPL-2.0
/*
 * Enable and disable: place the image and the system configuration in the
 * reserved hypervisor memory, then move every CPU under the hypervisor
 * through Linux's hyp stub (contracts.md "Late launch").
 */
#include <linux/cpu.h>
#include <linux/firmware.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/stop_machine.h>
#include <linux/uaccess.h>
#include "syshyper.h"

static char *firmware = "syshyper.bin";
module_param(firmware, charp, 0444);
MODULE_PARM_DESC(firmware, "hypervisor image in /lib/firmware");

/*
 * Fault injection for the system tests: this CPU skips its hypervisor
 * entry at enable, so the hypervisor's rendezvous must give up on it and
 * every CPU must come back with an error (guest/tests/refuse.sh).
 */
static int test_skip_cpu = -1;
module_param(test_skip_cpu, int, 0644);
MODULE_PARM_DESC(test_skip_cpu, "testing only: this CPU does not enter the hypervisor at enable");

/* Bounds a system config before it is copied (the hypervisor memory bounds it again). */
#define SH_MAX_SYSTEM_CONFIG	(1024 * 1024)

static void *sh_hv_mem;

struct sh_enter_ctx {
	u64 vectors_pa;
	u64 image_pa;
	/* The root CPUs: the online CPUs when the header was written. */
	const cpumask_t *root_cpus;
	/* Set when the online CPUs are no longer the root CPUs. */
	bool cpus_changed;
	long *result;
};

/*
 * Runs on every online CPU at once, from stop_machine(): each one enters
 * the hypervisor, whose rendezvous then waits with interrupts masked until
 * all root CPUs have arrived.
 *
 * Why stop_machine() and not an IPI to each CPU (on_each_cpu(), as
 * Jailhouse does): an IPI is taken wherever the CPU had interrupts on,
 * possibly holding a spinlock, and the CPU then waits in EL2 for the
 * others. A CPU that has not taken its IPI yet may be spinning with
 * interrupts off for that very lock (or for anything else only a captured
 * CPU can release), so it never takes the IPI, never arrives, and the
 * machine freezes with no message: the enable hang. Seen under load: a CPU
 * in read_lock(&tasklist_lock) (wait4, interrupts on) took the IPI while
 * two others spun in write_lock_irq(&tasklist_lock) (exit, wait4);
 * docs/enable-hang.md has the stacks. stop_machine() calls
 * this function only once every online CPU runs its stopper thread, which
 * holds no lock (it is scheduled, so no spinlock is held and interrupts
 * were on), and all of them have passed the same step with interrupts
 * off; none can be waiting for another, so all arrive.
 *
 * stop_machine() holds the CPU hotplug lock, so the online mask is the
 * same on every CPU here: either every CPU finds it equal to the root
 * CPUs (the header's online_cpus, which the rendezvous counts) and enters,
 * or none enters. A CPU that came or went since the checks can therefore
 * not leave the rendezvous one CPU short.
 */
static int sh_enter_cpu(void *info)
{
	struct sh_enter_ctx *ctx = info;
	unsigned int cpu = smp_processor_id();

	if (!cpumask_equal(cpu_online_mask, ctx->root_cpus)) {
		WRITE_ONCE(ctx->cpus_changed, true);
		ctx->result[cpu] = -EAGAIN;
		return 0;
	}
	if ((int)cpu == READ_ONCE(test_skip_cpu)) {
		ctx->result[cpu] = -ECANCELED;
		return 0;
	}
	ctx->result[cpu] = sh_enter_el2(cpu, ctx->vectors_pa, ctx->image_pa);
	return 0;
}

static void sh_disable_cpu(void *info)
{
	long *result = info;

	result[smp_processor_id()] = sh_hypercall(JH_HC_DISABLE, 0, 0);
}

/* The common result of the CPUs of `cpus`, or the first error. */
static long sh_collect(const long *result, const cpumask_t *cpus, const char *what)
{
	unsigned int cpu;
	long first = 0;
	bool set = false;

	for_each_cpu(cpu, cpus) {
		if (!set) {
			first = result[cpu];
			set = true;
		} else if (result[cpu] != first) {
			pr_err(SH_PREFIX "%s: CPU %u returned %ld, others %ld\n",
			       what, cpu, result[cpu], first);
			if (!first)
				first = result[cpu];
		}
	}
	return first;
}

/* Copies and checks the system config from user space. */
static int sh_get_system_config(void __user *arg, struct jh_system **out,
				size_t *out_size)
{
	struct jh_system head, *config;
	size_t root_size, size;
	int err;

	if (copy_from_user(&head, arg, sizeof(head)))
		return -EFAULT;
	if (memcmp(head.signature, "JHSYS", 5) != 0) {
		pr_err(SH_PREFIX "invalid system config: no JHSYS signature\n");
		return -EINVAL;
	}
	if (head.revision != JH_CONFIG_REVISION) {
		pr_err(SH_PREFIX "invalid system config: revision %u, expected %u\n",
		       head.revision, JH_CONFIG_REVISION);
		return -EINVAL;
	}
	if (head.architecture != JH_ARCH_ARM64) {
		pr_err(SH_PREFIX "invalid system config: architecture %u is not arm64\n",
		       head.architecture);
		return -EINVAL;
	}
	err = sh_check_root_cell_header(&head.root_cell);
	if (err)
		return err;
	if (sh_cell_config_size(&head.root_cell, &root_size) ||
	    root_size > SH_MAX_SYSTEM_CONFIG) {
		pr_err(SH_PREFIX "invalid system config: arrays too large\n");
		return -EINVAL;
	}
	size = offsetof(struct jh_system, root_cell) + root_size;
	config = vmemdup_user(arg, size);
	if (IS_ERR(config))
		return PTR_ERR(config);
	/* User space may have changed it between the two copies. */
	if (memcmp(config, &head, sizeof(head)) != 0) {
		kvfree(config);
		return -EINVAL;
	}
	*out = config;
	*out_size = size;
	return 0;
}

/* Refuses memory Linux uses: that is "hypervisor memory not reserved". */
static int sh_check_hv_memory(const struct jh_memory *mem)
{
	if (!mem->size || !PAGE_ALIGNED(mem->phys_start) ||
	    !PAGE_ALIGNED(mem->size) || mem->phys_start + mem->size < mem->phys_start) {
		pr_err(SH_PREFIX "invalid system config: hypervisor memory %#llx+%#llx\n",
		       mem->phys_start, mem->size);
		return -EINVAL;
	}
	if (region_intersects(mem->phys_start, mem->size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err(SH_PREFIX "hypervisor memory %#llx-%#llx is not reserved: it overlaps Linux RAM (boot with mem= below it)\n",
		       mem->phys_start, mem->phys_start + mem->size - 1);
		return -ENOMEM;
	}
	return 0;
}

/* The image must be a sysHyper image that fits with its per-CPU areas and the config. */
static int sh_check_image(const struct firmware *fw, const struct jh_memory *mem,
			  unsigned int max_cpus, size_t config_size,
			  u64 *config_offset)
{
	const struct jh_header *h = (const void *)fw->data;
	u64 percpu, end;

	if (fw->size < sizeof(*h) || memcmp(h->signature, JH_SIGNATURE, 8)) {
		pr_err(SH_PREFIX "%s is not a hypervisor image (no JAILHOUS header)\n", firmware);
		return -EINVAL;
	}
	if (memcmp(h->ext_magic, SH_EXT_MAGIC, 8)) {
		pr_err(SH_PREFIX "%s has no SHYPEXT1 extension header: a stock kernel can only start sysHyper\n",
		       firmware);
		return -EINVAL;
	}
	if (fw->size >= mem->size) {
		pr_err(SH_PREFIX "hypervisor image too large: %zu bytes, hypervisor memory %llu bytes\n",
		       fw->size, mem->size);
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(h->core_size) || h->core_size < fw->size ||
	    !h->percpu_size || !PAGE_ALIGNED(h->percpu_size) ||
	    h->bootstrap_vectors >= h->core_size || (h->bootstrap_vectors & 0x7ff) ||
	    h->console_page > h->core_size - sizeof(struct jh_console)) {
		pr_err(SH_PREFIX "%s: inconsistent image header\n", firmware);
		return -EINVAL;
	}
	if (check_mul_overflow(h->percpu_size, (u64)max_cpus, &percpu) ||
	    check_add_overflow(h->core_size, percpu, config_offset) ||
	    check_add_overflow(*config_offset, (u64)config_size, &end) ||
	    end > mem->size) {
		pr_err(SH_PREFIX "hypervisor memory too small for image, %u per-CPU areas and config\n",
		       max_cpus);
		return -ENOMEM;
	}
	return 0;
}

/* Every online CPU must be a root CPU and vice versa. */
static int sh_check_root_cpus(const cpumask_t *root, unsigned int max_cpus)
{
	unsigned int cpu;

	if (max_cpus > nr_cpu_ids) {
		pr_err(SH_PREFIX "invalid system config: root CPU %u does not exist\n",
		       max_cpus - 1);
		return -EINVAL;
	}
	for_each_online_cpu(cpu)
		if (!cpumask_test_cpu(cpu, root)) {
			pr_err(SH_PREFIX "CPU %u is online but not in the root cell\n", cpu);
			return -EINVAL;
		}
	for_each_cpu(cpu, root)
		if (!cpu_online(cpu)) {
			pr_err(SH_PREFIX "root cell CPU %u is not online\n", cpu);
			return -EINVAL;
		}
	return 0;
}

/* As the hypervisor: an SMMUv3 unit confines the DMA of listed streams. */
static bool sh_config_has_smmu(const struct jh_system *config)
{
	unsigned int n;

	for (n = 0; n < JH_MAX_IOMMU_UNITS; n++)
		if (config->iommu_units[n].type == JH_IOMMU_SMMUV3 &&
		    config->iommu_units[n].base)
			return true;
	return false;
}

static int sh_do_enable(struct jh_system *config, size_t config_size)
{
	const struct jh_memory *mem = &config->hypervisor_memory;
	struct sh_enter_ctx ctx = { .image_pa = mem->phys_start };
	const struct firmware *fw = NULL;
	struct jh_header *header;
	unsigned int max_cpus;
	cpumask_t root_cpus;
	u64 config_offset, stub_vectors;
	struct sh_cell *root;
	long err;

	err = sh_check_hv_memory(mem);
	if (err)
		return err;
	sh_cpu_set_to_mask(&config->root_cell, &root_cpus, &max_cpus);
	err = request_firmware(&fw, firmware, sh_dev);
	if (err) {
		pr_err(SH_PREFIX "missing hypervisor image /lib/firmware/%s (%ld)\n",
		       firmware, err);
		return -ENOENT;
	}
	err = sh_check_image(fw, mem, max_cpus, config_size, &config_offset);
	if (err)
		goto out_fw;
	err = sh_hyp_stub_vectors(&stub_vectors);
	if (err)
		goto out_fw;
	ctx.result = kcalloc(nr_cpu_ids, sizeof(*ctx.result), GFP_KERNEL);
	root = sh_cell_new(&config->root_cell,
			   config_size - offsetof(struct jh_system, root_cell), 0);
	if (!ctx.result || !root) {
		err = -ENOMEM;
		goto out_free;
	}
	sh_hv_mem = memremap(mem->phys_start, mem->size, MEMREMAP_WB);
	if (!sh_hv_mem) {
		pr_err(SH_PREFIX "cannot map hypervisor memory %#llx+%#llx\n",
		       mem->phys_start, mem->size);
		err = -ENOMEM;
		goto out_free;
	}

	/*
	 * Checked under the hotplug lock; stop_machine() takes that lock
	 * itself (it may not be taken twice), so sh_enter_cpu() checks the
	 * online CPUs again where they cannot change.
	 */
	cpus_read_lock();
	err = sh_check_root_cpus(&root_cpus, max_cpus);
	if (!err)
		err = sh_el2_check(false);
	cpus_read_unlock();
	if (err)
		goto out_unmap;

	memcpy(sh_hv_mem, fw->data, fw->size);
	memset(sh_hv_mem + fw->size, 0, mem->size - fw->size);
	memcpy(sh_hv_mem + config_offset, config, config_size);
	header = sh_hv_mem;
	header->max_cpus = max_cpus;
	header->online_cpus = cpumask_weight(&root_cpus);
	header->arm_linux_hyp_vectors = stub_vectors;
	header->arm_linux_hyp_abi = 1;
	ctx.vectors_pa = mem->phys_start + header->bootstrap_vectors;
	sh_console = sh_hv_mem + header->console_page;
	sh_console_forget_last();
	sh_dcache_clean_inval(sh_hv_mem, mem->size);

	ctx.root_cpus = &root_cpus;
	stop_machine(sh_enter_cpu, &ctx, cpu_online_mask);
	if (ctx.cpus_changed) {
		/* No CPU entered: the image was not even looked at. */
		pr_err(SH_PREFIX "the online CPUs changed during enable; nothing was started\n");
		err = -EAGAIN;
		goto out_unmap;
	}
	err = sh_collect(ctx.result, &root_cpus, "enable");
	if (err) {
		pr_err(SH_PREFIX "the hypervisor failed to start (%ld)\n", err);
		/* Its last words were written with the MMU off or elsewhere. */
		sh_dcache_clean_inval(sh_console, sizeof(*sh_console));
		sh_console_dump("hypervisor console after the failed enable");
		sh_console_save_last();
		goto out_unmap;
	}
	/* As Jailhouse: no console to read without the config's flag. */
	if (!(config->flags & JH_SYS_VIRTUAL_DEBUG_CONSOLE))
		sh_console = NULL;

	sh_enabled = true;
	sh_smmu = sh_config_has_smmu(config);
	sh_root_cell = root;
	list_add(&root->entry, &sh_cells);
	if (sh_sysfs_cell_add(root))
		pr_warn(SH_PREFIX "no sysfs entry for the root cell\n");
	__module_get(THIS_MODULE);
	pr_info(SH_PREFIX "hypervisor enabled, root cell \"%s\" on CPUs %*pbl\n",
		root->name, cpumask_pr_args(&root->cpus));
	/* Only now: the ECAM it programs is the hypervisor's, trapped. */
	sh_ivshmem_setup(config);
	sh_ivshmem_add();
	kfree(ctx.result);
	release_firmware(fw);
	return 0;

out_unmap:
	sh_console = NULL;
	memunmap(sh_hv_mem);
	sh_hv_mem = NULL;
out_free:
	if (root)
		sh_cell_delete(root);
	kfree(ctx.result);
out_fw:
	release_firmware(fw);
	return err;
}

int sh_cmd_enable(void __user *arg)
{
	struct jh_system *config;
	size_t size;
	int err;

	if (sh_enabled) {
		pr_err(SH_PREFIX "the hypervisor is already enabled\n");
		return -EBUSY;
	}
	err = sh_get_system_config(arg, &config, &size);
	if (err)
		return err;
	err = sh_do_enable(config, size);
	kvfree(config);
	return err;
}

int sh_cmd_disable(void)
{
	long *result;
	long err;

	if (!sh_enabled) {
		pr_err(SH_PREFIX "disable: the hypervisor is not enabled\n");
		return -EINVAL;
	}
	if (sh_boot_first) {
		/* Checked before any cell is destroyed: disable changes nothing. */
		pr_err(SH_PREFIX "disable: sysHyper was started before Linux (boot-first mode) and cannot be disabled\n");
		return -EPERM;
	}
	/* The UIO devices go first: their registers vanish with the hypervisor. */
	sh_ivshmem_remove();
	err = sh_cell_destroy_all();
	if (err)
		goto out_ivshmem;
	result = kcalloc(nr_cpu_ids, sizeof(*result), GFP_KERNEL);
	if (!result) {
		err = -ENOMEM;
		goto out_ivshmem;
	}
	cpus_read_lock();
	on_each_cpu(sh_disable_cpu, result, 1);
	err = sh_collect(result, cpu_online_mask, "disable");
	cpus_read_unlock();
	kfree(result);
	if (err) {
		pr_err(SH_PREFIX "the hypervisor refused to disable (%ld)\n", err);
		goto out_ivshmem;
	}
	sh_console_save_last();
	sh_enabled = false;
	sh_console = NULL;
	list_del(&sh_root_cell->entry);
	sh_cell_delete(sh_root_cell);
	sh_root_cell = NULL;
	memunmap(sh_hv_mem);
	sh_hv_mem = NULL;
	module_put(THIS_MODULE);
	pr_info(SH_PREFIX "hypervisor disabled\n");
	return 0;

out_ivshmem:
	/* Still enabled: the devices come back. */
	sh_ivshmem_add();
	return err;
}
