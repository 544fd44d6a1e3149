// SPDX-License-Identifier: GPL-2.0
/*
 * The hypervisor console: a ring in the hypervisor memory (abi §6), read
 * through /dev/jailhouse and sysfs with Jailhouse's driver semantics:
 *
 * - each open file has its own read position (head); a read returns the
 *   text after it, at most what the caller asked for, and moves the
 *   position by exactly what it returned, so 128-byte reads (Jailhouse's
 *   tool) see all text, in order;
 * - text overwritten before it was read is announced once with
 *   "<missed N bytes of console log>", then the oldest text still in the
 *   ring follows;
 * - with nothing new, a non-blocking read returns 0 while the hypervisor
 *   is enabled and -EAGAIN while it is not; a blocking read waits (polling
 *   at 10 Hz, the hypervisor cannot notify Linux) and, while disabled,
 *   restarts at position 0 so that it follows the next enable;
 * - the console as it was when the hypervisor memory went away (disable,
 *   failed enable) stays readable once per open file;
 * - -EPERM when the system config has no virtual debug console.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "syshyper.h"

/* The hypervisor may hold the ring busy only briefly; give up after this. */
#define SH_CONSOLE_TRIES	100000

/* What one open file of /dev/jailhouse has read. */
struct sh_console_reader {
	u32 head;
	unsigned int last_id;
};

/* The console saved when the hypervisor memory was unmapped; sh_lock. */
static struct {
	bool valid;
	unsigned int id;
	struct jh_console page;
} sh_last_console;

/*
 * A consistent copy of the ring (no write in progress, tail unchanged
 * across the copy). Caller holds sh_lock and sh_console is set. False if
 * the hypervisor kept it busy for too long.
 */
static bool sh_console_snapshot(struct jh_console *dst)
{
	const struct jh_console *c = sh_console;
	unsigned int tries;
	u32 tail;

	for (tries = 0; tries < SH_CONSOLE_TRIES; tries++) {
		if (READ_ONCE(c->busy)) {
			cpu_relax();
			continue;
		}
		tail = READ_ONCE(c->tail);
		smp_rmb();
		memcpy(dst->content, c->content, sizeof(dst->content));
		smp_rmb();
		if (!READ_ONCE(c->busy) && READ_ONCE(c->tail) == tail) {
			dst->busy = 0;
			dst->tail = tail;
			return true;
		}
	}
	return false;
}

/*
 * Copies the text of `c` after `head` (at most the whole ring, oldest
 * first) to dst; *miss is how much was overwritten before it was read.
 */
static size_t sh_console_delta(const struct jh_console *c, char *dst,
			       u32 head, u32 *miss)
{
	u32 delta = c->tail - head;	/* wraps with the 32-bit counters */
	u32 start, first;

	*miss = 0;
	if (delta > JH_CONSOLE_SIZE) {
		*miss = delta - JH_CONSOLE_SIZE;
		head = c->tail - JH_CONSOLE_SIZE;
		delta = JH_CONSOLE_SIZE;
	}
	start = head % JH_CONSOLE_SIZE;
	first = min_t(u32, delta, JH_CONSOLE_SIZE - start);
	memcpy(dst, c->content + start, first);
	memcpy(dst + first, c->content, delta - first);
	return delta;
}

/* The live console after `head`: bytes, or -EAGAIN (disabled) / -EPERM. */
static ssize_t sh_console_live_delta(char *dst, u32 head, u32 *miss,
				     struct jh_console *scratch)
{
	*miss = 0;
	if (!READ_ONCE(sh_enabled))
		return -EAGAIN;
	if (!sh_console)
		return -EPERM;
	if (!sh_console_snapshot(scratch) || scratch->tail == head)
		return 0;
	return sh_console_delta(scratch, dst, head, miss);
}

/* sysfs `console`: the whole ring, empty while disabled. */
ssize_t sh_console_show(char *buf)
{
	struct jh_console *scratch = kmalloc(sizeof(*scratch), GFP_KERNEL);
	ssize_t n;
	u32 miss;

	if (!scratch)
		return -ENOMEM;
	mutex_lock(&sh_lock);
	n = sh_console_live_delta(buf, 0, &miss, scratch);
	mutex_unlock(&sh_lock);
	kfree(scratch);
	return n == -EAGAIN ? 0 : n;
}

/* Before the hypervisor memory is unmapped: keep its last words. */
void sh_console_save_last(void)
{
	if (!sh_console)
		return;
	if (!sh_console_snapshot(&sh_last_console.page))
		return;
	sh_last_console.id++;
	sh_last_console.valid = true;
}

/* A new enable starts a new console: the saved one is history. */
void sh_console_forget_last(void)
{
	sh_last_console.valid = false;
}

int sh_console_open(struct inode *inode, struct file *file)
{
	file->private_data = kzalloc(sizeof(struct sh_console_reader), GFP_KERNEL);
	return file->private_data ? 0 : -ENOMEM;
}

int sh_console_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

ssize_t sh_console_read(struct file *file, char __user *ubuf, size_t len,
			loff_t *off)
{
	struct sh_console_reader *r = file->private_data;
	struct jh_console *scratch;
	char *content;
	ssize_t ret;
	u32 miss = 0;

	if (!r)
		return -EINVAL;
	content = kmalloc(JH_CONSOLE_SIZE, GFP_KERNEL);
	scratch = kmalloc(sizeof(*scratch), GFP_KERNEL);
	if (!content || !scratch) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (mutex_lock_interruptible(&sh_lock)) {
			ret = -EINTR;
			goto out;
		}
		if (sh_last_console.valid && sh_last_console.id != r->last_id) {
			ret = sh_console_delta(&sh_last_console.page, content,
					       r->head, &miss);
			if (!ret)
				r->last_id = sh_last_console.id;
		} else {
			ret = sh_console_live_delta(content, r->head, &miss,
						    scratch);
		}
		mutex_unlock(&sh_lock);

		if ((!ret || ret == -EAGAIN) && (file->f_flags & O_NONBLOCK))
			goto out;
		if (ret == -EAGAIN)
			/* Disabled: follow the next enable from its start. */
			r->head = 0;
		else if (ret < 0)
			goto out;
		else if (ret)
			break;
		schedule_timeout_interruptible(HZ / 10);
		if (signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
	}

	if (miss) {
		/* The text itself follows with the next read. */
		ret = scnprintf(content, JH_CONSOLE_SIZE,
				"<missed %u bytes of console log>\n", miss);
		r->head += miss;
		ret = min_t(size_t, ret, len);
	} else {
		ret = min_t(size_t, ret, len);
		r->head += ret;
	}
	if (copy_to_user(ubuf, content, ret))
		ret = -EFAULT;
out:
	kfree(scratch);
	kfree(content);
	return ret;
}

/* The console's write position now (0 without a console), for
 * sh_console_dump_from(). */
u32 sh_console_tail(void)
{
	return sh_console ? READ_ONCE(sh_console->tail) : 0;
}

/* Writes the console text since `head` to dmesg, for failures the
 * hypervisor explained there (a refused cell names its reason). */
void sh_console_dump_from(u32 head, const char *why)
{
	struct jh_console *page = kmalloc(sizeof(*page), GFP_KERNEL);
	char *buf = kmalloc(JH_CONSOLE_SIZE + 1, GFP_KERNEL);
	size_t n = 0;
	u32 miss;

	if (buf && page && sh_console && sh_console_snapshot(page))
		n = sh_console_delta(page, buf, head, &miss);
	if (buf && sh_console) {
		buf[n] = 0;
		pr_err(SH_PREFIX "%s:\n%s\n", why, buf);
	}
	kfree(buf);
	kfree(page);
}

/* Writes the whole console to dmesg. */
void sh_console_dump(const char *why)
{
	sh_console_dump_from(0, why);
}
