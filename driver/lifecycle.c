// SPDX-License-Identifier: GPL-2.0
/*
 * Cooperative shutdown, as far as the driver is concerned (the protocol
 * itself runs in the hypervisor, docs/lifecycle.md): management calls,
 * forced ones for `--force` (sysHyper extension), the hypervisor's reason
 * when a cell refuses, and the per-cell restart counter in sysfs.
 */
#include <linux/uaccess.h>
#include "syshyper.h"

/*
 * True while a forced ioctl runs; it and every management call run under
 * sh_lock (main.c), so no other ioctl sees it set.
 */
static bool sh_forced;

/* A management hypercall; through SH_HC_CELL_FORCED while forced. */
long sh_manage(unsigned long code, unsigned long arg)
{
	if (sh_forced)
		return sh_hypercall(SH_HC_CELL_FORCED, arg, code);
	return sh_hypercall(code, arg, 0);
}

/*
 * A management hypercall on `cell`; a refusal by the cells (EPERM: it
 * denied, or a cell is RUNNING_LOCKED; ETIMEDOUT: it did not answer) is
 * explained in the kernel log with the hypervisor's own line.
 */
long sh_manage_cell(struct sh_cell *cell, unsigned long code, const char *what)
{
	u32 head = sh_console_tail();
	long err = sh_manage(code, cell->id);

	if (err == -EPERM || err == -ETIMEDOUT) {
		pr_err(SH_PREFIX "cell \"%s\": %s refused: %s (--force overrides)\n",
		       cell->name, what, err == -EPERM ?
		       "the cell denied the shutdown request, or a cell is RUNNING_LOCKED" :
		       "the cell did not answer the shutdown request in time");
		sh_console_dump_from(head, "the hypervisor's reason");
	}
	return err;
}

int sh_cmd_forced(struct sh_forced __user *arg)
{
	struct sh_forced req;
	void __user *inner;
	int err;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	inner = u64_to_user_ptr(req.arg);
	sh_forced = true;
	switch (req.nr) {
	case _IOC_NR(JH_DISABLE):
		err = sh_cmd_disable();
		break;
	case _IOC_NR(JH_CELL_CREATE):
		err = sh_cmd_cell_create(inner);
		break;
	case _IOC_NR(JH_CELL_LOAD):
		err = sh_cmd_cell_load(inner);
		break;
	case _IOC_NR(JH_CELL_START):
		err = sh_cmd_cell_start(inner);
		break;
	case _IOC_NR(JH_CELL_DESTROY):
		err = sh_cmd_cell_destroy(inner);
		break;
	default:
		err = -EINVAL;
	}
	sh_forced = false;
	return err;
}

static ssize_t restarts_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct sh_cell *cell = container_of(k, struct sh_cell, kobj);
	long n;

	if (!READ_ONCE(sh_enabled))
		return -ENODEV;
	n = sh_hypercall(SH_HC_CELL_RESTARTS, cell->id, 0);
	if (n < 0)
		return n;
	return sysfs_emit(buf, "%ld\n", n);
}

struct kobj_attribute sh_attr_restarts = __ATTR_RO(restarts);
