// SPDX-License-Identifier: GPL-2.0
/*
 * sysHyper driver for stock Linux kernels (no patches): /dev/jailhouse with
 * Jailhouse's ioctls, /sys/devices/jailhouse, and the hypervisor console.
 */
#include <linux/cpu.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include "ivshmem_net.h"
#include "syshyper.h"

DEFINE_MUTEX(sh_lock);
bool sh_enabled;
struct device *sh_dev;
struct kobject *sh_cells_dir;
LIST_HEAD(sh_cells);
struct sh_cell *sh_root_cell;
bool sh_smmu;
struct jh_console *sh_console;

static long sh_ioctl(struct file *file, unsigned int ioctl, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long err;

	if (mutex_lock_interruptible(&sh_lock))
		return -EINTR;
	switch (ioctl) {
	case JH_ENABLE:
		err = sh_cmd_enable(uarg);
		break;
	case JH_DISABLE:
		err = sh_cmd_disable();
		break;
	case JH_CELL_CREATE:
		err = sh_cmd_cell_create(uarg);
		break;
	case JH_CELL_LOAD:
		err = sh_cmd_cell_load(uarg);
		break;
	case JH_CELL_START:
		err = sh_cmd_cell_start(uarg);
		break;
	case JH_CELL_DESTROY:
		err = sh_cmd_cell_destroy(uarg);
		break;
	case SH_CELL_FORCED:
		err = sh_cmd_forced(uarg);
		break;
	default:
		err = -EINVAL;
	}
	mutex_unlock(&sh_lock);
	return err;
}

static const struct file_operations sh_fops = {
	.owner = THIS_MODULE,
	.open = sh_console_open,
	.release = sh_console_release,
	.read = sh_console_read,
	.unlocked_ioctl = sh_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice sh_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "jailhouse",
	.fops = &sh_fops,
};

static int __init sh_init(void)
{
	int err;

	sh_dev = root_device_register("jailhouse");
	if (IS_ERR(sh_dev))
		return PTR_ERR(sh_dev);
	err = sh_sysfs_init();
	if (err)
		goto out_dev;
	err = misc_register(&sh_misc);
	if (err)
		goto out_sysfs;
	/* ivshmem-net functions a cell's Linux enumerates (none in the root). */
	err = sh_ivshmem_pci_init();
	if (err)
		goto out_misc;

	/* Only a report at load time: enable checks again and fails clearly. */
	cpus_read_lock();
	err = sh_el2_check(true);
	if (err && err != -EEXIST)
		sh_el2_check(false);
	cpus_read_unlock();
	switch (err) {
	case 0:
		pr_info(SH_PREFIX "loaded; EL2 is available through Linux's hyp stub\n");
		break;
	case -EEXIST:
		if (sh_in_non_root_cell()) {
			pr_info(SH_PREFIX "loaded in a non-root cell: ivshmem-net only\n");
			break;
		}
		/* Booted first: Linux is already the root cell. */
		mutex_lock(&sh_lock);
		err = sh_adopt();
		mutex_unlock(&sh_lock);
		if (err) {
			pr_err(SH_PREFIX "a hypervisor runs at EL2 but cannot be adopted (%d)\n", err);
			goto out_pci;
		}
		break;
	default:
		pr_warn(SH_PREFIX "loaded; EL2 is not available, enable will fail\n");
	}
	return 0;

out_pci:
	sh_ivshmem_pci_exit();
out_misc:
	misc_deregister(&sh_misc);
out_sysfs:
	sh_sysfs_exit();
out_dev:
	root_device_unregister(sh_dev);
	return err;
}

static void __exit sh_exit(void)
{
	/*
	 * A late-launched hypervisor holds a module reference, so only a
	 * boot-first one can still be running here: it keeps running, and the
	 * next load adopts it again.
	 */
	sh_ivshmem_pci_exit();
	misc_deregister(&sh_misc);
	mutex_lock(&sh_lock);
	sh_ivshmem_remove();
	sh_forget_cells();
	mutex_unlock(&sh_lock);
	sh_sysfs_exit();
	root_device_unregister(sh_dev);
}

module_init(sh_init);
module_exit(sh_exit);
MODULE_DESCRIPTION("sysHyper partitioning hypervisor driver (Jailhouse-compatible)");
MODULE_LICENSE("GPL");
MODULE_FIRMWARE("syshyper.bin");
