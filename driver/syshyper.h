/* SPDX-License-Identifier: GPL-2.0 */
/* Shared state and entry points of the sysHyper driver's parts. */
#ifndef SYSHYPER_H
#define SYSHYPER_H

#include <linux/cpumask.h>
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include "jailhouse_abi.h"

#define SH_PREFIX "syshyper: "

/* One cell as the driver tracks it (the root cell included, id 0). */
struct sh_cell {
	struct kobject kobj;		/* /sys/devices/jailhouse/cells/<id> */
	struct kobject *stats;		/* .../statistics */
	struct kobject **cpu_stats;	/* .../statistics/cpu<n>, by CPU */
	struct list_head entry;
	unsigned int id;
	char name[JH_CELL_NAME_LEN + 1];
	cpumask_t cpus;
	/*
	 * Copy of the configuration; the load ioctl looks up its regions.
	 * NULL for a cell the hypervisor created before Linux ran.
	 */
	struct jh_cell_desc *config;
	size_t config_size;
	/* Adopted at boot with no way to learn its CPUs (cpus is empty). */
	bool cpus_unknown;
	/* PCI devices of type "device" in its configuration (passed through). */
	unsigned int pt_devices;
};

/* Driver state, guarded by sh_lock. */
extern struct mutex sh_lock;
extern bool sh_enabled;
/* The hypervisor booted before Linux: adopted at load, never disabled. */
extern bool sh_boot_first;
extern struct device *sh_dev;
extern struct kobject *sh_cells_dir;
extern struct list_head sh_cells;
extern struct sh_cell *sh_root_cell;
/* The enabled system configuration names an SMMUv3 (set at enable). */
extern bool sh_smmu;
extern struct jh_console *sh_console;

/* el2.c: the exception levels, the hyp stub and hypercalls */
long sh_hypercall(u64 code, u64 arg1, u64 arg2);
int sh_el2_check(bool quiet);
bool sh_hypervisor_running(void);
int sh_hyp_stub_vectors(u64 *pa);
long sh_enter_el2(unsigned int cpu, u64 vectors_pa, u64 image_pa);
void sh_dcache_clean_inval(const void *addr, size_t size);

/* config.c: configuration checks */
int sh_cell_config_size(const struct jh_cell_desc *cell, size_t *size);
int sh_check_cell_header(const struct jh_cell_desc *cell, const char *what);
int sh_check_root_cell_header(const struct jh_cell_desc *cell);
int sh_check_cpu_set_size(const struct jh_cell_desc *cell, const char *what);
const u8 *sh_cell_cpu_set(const struct jh_cell_desc *cell);
const struct jh_memory *sh_cell_memory(const struct jh_cell_desc *cell);
const struct jh_pci_device *sh_cell_pci_devices(const struct jh_cell_desc *cell);
void sh_cpu_set_to_mask(const struct jh_cell_desc *cell, cpumask_t *mask,
			unsigned int *highest_plus_one);

/* enable.c */
int sh_cmd_enable(void __user *arg);
int sh_cmd_disable(void);

/* ivshmem.c: the root's ivshmem functions as UIO devices */
void sh_ivshmem_setup(const struct jh_system *sys);
void sh_ivshmem_add(void);
void sh_ivshmem_remove(void);

/* cell.c */
int sh_cmd_cell_create(struct jh_cell_create __user *arg);
int sh_cmd_cell_load(struct jh_cell_load __user *arg);
int sh_cmd_cell_start(struct jh_cell_id __user *arg);
int sh_cmd_cell_destroy(struct jh_cell_id __user *arg);
int sh_cell_destroy_all(void);
struct sh_cell *sh_cell_new(const struct jh_cell_desc *config, size_t size,
			    unsigned int id);
void sh_cell_delete(struct sh_cell *cell);
void sh_cell_release(struct kobject *kobj);

/* adopt.c: boot-first mode */
int sh_adopt(void);
bool sh_in_non_root_cell(void);
void sh_forget_cells(void);
void sh_unclaimed_cpus(cpumask_t *out);

/* console.c */
int sh_console_open(struct inode *inode, struct file *file);
int sh_console_release(struct inode *inode, struct file *file);
ssize_t sh_console_read(struct file *file, char __user *buf, size_t len,
			loff_t *off);
ssize_t sh_console_show(char *buf);
void sh_console_dump(const char *why);
/* lifecycle.c: forced management, refusals explained, restart counter */
long sh_manage(unsigned long code, unsigned long arg);
long sh_manage_cell(struct sh_cell *cell, unsigned long code, const char *what);
int sh_cmd_forced(struct sh_forced __user *arg);
extern struct kobj_attribute sh_attr_restarts;
u32 sh_console_tail(void);
void sh_console_dump_from(u32 head, const char *why);
void sh_console_save_last(void);
void sh_console_forget_last(void);

/* sysfs.c */
int sh_cell_dma_unconfined(const struct sh_cell *cell);
int sh_sysfs_init(void);
void sh_sysfs_exit(void);
int sh_sysfs_cell_add(struct sh_cell *cell);
extern struct kobj_type sh_cell_ktype;

/* trace.c: cells/<id>/{postmortem,latency} */
extern struct kobj_attribute sh_attr_postmortem;
extern struct kobj_attribute sh_attr_latency;

#endif
