// SPDX-License-Identifier: GPL-2.0
/* The hypervisor console: a ring in the hypervisor memory (abi §6). */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "syshyper.h"

/* The hypervisor may hold the ring busy only briefly; give up after this. */
#define SH_CONSOLE_TRIES	100000

/*
 * Copies the text written since *last (at most the whole ring) and moves
 * *last to the tail. Caller holds sh_lock and sh_console is set.
 */
static size_t sh_console_copy_locked(u32 *last, char *buf, size_t max)
{
	const struct jh_console *c = sh_console;
	unsigned int tries;
	u32 tail, start, n, i;

	for (tries = 0; tries < SH_CONSOLE_TRIES; tries++) {
		if (READ_ONCE(c->busy)) {
			cpu_relax();
			continue;
		}
		smp_rmb();
		tail = READ_ONCE(c->tail);
		n = tail - *last;
		if (n > JH_CONSOLE_SIZE)
			n = JH_CONSOLE_SIZE;
		if (n > max)
			n = max;
		start = tail - n;
		for (i = 0; i < n; i++)
			buf[i] = READ_ONCE(c->content[(start + i) % JH_CONSOLE_SIZE]);
		smp_rmb();
		if (!READ_ONCE(c->busy) && READ_ONCE(c->tail) == tail) {
			*last = tail;
			return n;
		}
	}
	return 0;
}

size_t sh_console_copy(u32 *last, char *buf, size_t max)
{
	size_t n = 0;

	mutex_lock(&sh_lock);
	if (sh_console)
		n = sh_console_copy_locked(last, buf, max);
	mutex_unlock(&sh_lock);
	return n;
}

/* Reading /dev/jailhouse: new console text; blocks until there is some. */
ssize_t sh_console_read(struct file *file, char __user *ubuf, size_t len,
			loff_t *off)
{
	u32 *last = file->private_data;
	char *buf;
	ssize_t ret;
	size_t n;

	if (!last)
		return -EINVAL;
	if (!len)
		return 0;
	buf = kmalloc(JH_CONSOLE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (!READ_ONCE(sh_enabled)) {
			ret = 0;
			break;
		}
		n = sh_console_copy(last, buf, min_t(size_t, len, JH_CONSOLE_SIZE));
		if (n) {
			ret = copy_to_user(ubuf, buf, n) ? -EFAULT : n;
			break;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		/* The hypervisor cannot notify Linux; poll at 10 Hz. */
		if (msleep_interruptible(100) && signal_pending(current)) {
			ret = -EINTR;
			break;
		}
	}
	kfree(buf);
	return ret;
}

/* Writes the console to dmesg, for failures the hypervisor explained there. */
void sh_console_dump(const char *why)
{
	char *buf = kmalloc(JH_CONSOLE_SIZE + 1, GFP_KERNEL);
	u32 last = 0;
	size_t n;

	if (!buf || !sh_console) {
		kfree(buf);
		return;
	}
	n = sh_console_copy_locked(&last, buf, JH_CONSOLE_SIZE);
	buf[n] = 0;
	pr_err(SH_PREFIX "%s:\n%s\n", why, buf);
	kfree(buf);
}
