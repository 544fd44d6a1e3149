/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Jailhouse binary interfaces (arm64, config revision 14) as sysHyper's
 * driver sees them: image header, hypercalls, configuration layout and
 * the /dev/jailhouse ioctls. Everything is little-endian and packed; the
 * offsets are pinned with static asserts at the end.
 */
#ifndef SYSHYPER_JAILHOUSE_ABI_H
#define SYSHYPER_JAILHOUSE_ABI_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/build_bug.h>

/* ---- hypervisor image header ---- */
#define JH_SIGNATURE		"JAILHOUS"
#define SH_EXT_MAGIC		"SHYPEXT1"

struct jh_header {
	char signature[8];
	__u64 core_size;
	__u64 percpu_size;
	__u64 entry;
	__u64 console_page;
	__u64 gcov_info_head;
	__u32 max_cpus;
	__u32 online_cpus;
	__u64 debug_console_base;
	__u64 arm_linux_hyp_vectors;
	__u32 arm_linux_hyp_abi;
	__u32 pad;
	/* sysHyper extension header (contracts.md) */
	char ext_magic[8];
	__u64 bootstrap_vectors;
	__u32 reserved0;
	__u32 reserved1;
	__u64 root_boot_arg;
	__u64 boot_bundle;
} __packed;

/* ---- hypervisor console page ---- */
#define JH_CONSOLE_SIZE		2048
struct jh_console {
	__u32 busy;
	__u32 tail;
	char content[JH_CONSOLE_SIZE];
} __packed;

/* ---- hypercalls ---- */
#define JH_HC_DISABLE			0
#define JH_HC_CELL_CREATE		1
#define JH_HC_CELL_START		2
#define JH_HC_CELL_SET_LOADABLE		3
#define JH_HC_CELL_DESTROY		4
#define JH_HC_HYPERVISOR_GET_INFO	5
#define JH_HC_CELL_GET_STATE		6
#define JH_HC_CPU_GET_INFO		7
/*
 * Proposed sysHyper extension (not in Jailhouse): a cell's CPUs and name,
 * for cells the hypervisor created before Linux ran. x1 = cell id, x2 =
 * SH_CELL_INFO_CPUS (bitmap of CPUs 0..62) or SH_CELL_INFO_NAME + k
 * (bytes 7k..7k+6 of the NUL-padded 32-byte name, little-endian, so the
 * result never looks negative). -ENOSYS from a hypervisor without it.
 */
#define SH_HC_CELL_GET_INFO		0x100
#define SH_CELL_INFO_CPUS		0
#define SH_CELL_INFO_NAME		1
#define SH_CELL_INFO_DMA_FAULTS		6
/*
 * sysHyper extensions (docs/lifecycle.md): x2 = JH_HC_CELL_CREATE, _START,
 * _SET_LOADABLE or _DESTROY, x1 its argument: the same call without
 * asking the cells (SHUTDOWN_REQUEST) and whatever cell is RUNNING_LOCKED;
 * and how often cell x1 was restarted.
 */
#define SH_HC_CELL_FORCED		0x101
#define SH_HC_CELL_RESTARTS		0x102

#define JH_INFO_MEM_POOL_SIZE		0
#define JH_INFO_MEM_POOL_USED		1
#define JH_INFO_REMAP_POOL_SIZE		2
#define JH_INFO_REMAP_POOL_USED		3
#define JH_INFO_NUM_CELLS		4

#define JH_CPU_INFO_STATE		0
#define JH_CPU_INFO_STAT_BASE		1000
#define JH_CPU_FAILED			2

#define JH_CELL_RUNNING			0
#define JH_CELL_RUNNING_LOCKED		1
#define JH_CELL_SHUT_DOWN		2
#define JH_CELL_FAILED			3
#define JH_CELL_FAILED_COMM_REV		4

/* ---- configuration, revision 14 ---- */
#define JH_CONFIG_REVISION	14
#define JH_ARCH_ARM64		2
#define JH_CELL_NAME_LEN	31

struct jh_memory {
	__u64 phys_start;
	__u64 virt_start;
	__u64 size;
	__u64 flags;
} __packed;

#define JH_MEM_LOADABLE		0x0040

struct jh_console_desc {
	__u64 address;
	__u32 size;
	__u16 type;
	__u16 flags;
	__u32 divider;
	__u32 gate_nr;
	__u64 clock_reg;
} __packed;

struct jh_cell_desc {
	char signature[5];
	__u8 architecture;
	__u16 revision;
	char name[JH_CELL_NAME_LEN + 1];
	__u32 id;
	__u32 flags;
	__u32 cpu_set_size;
	__u32 num_memory_regions;
	__u32 num_cache_regions;
	__u32 num_irqchips;
	__u32 num_pio_regions;
	__u32 num_pci_devices;
	__u32 num_pci_caps;
	__u32 num_stream_ids;
	__u32 vpci_irq_base;
	__u64 cpu_reset_address;
	__u64 msg_reply_timeout;
	struct jh_console_desc console;
} __packed;

/* An iommu_units entry of the system config (28 bytes). */
#define JH_MAX_IOMMU_UNITS	8
#define JH_IOMMU_SMMUV3		3

struct jh_iommu {
	__u32 type;
	__u64 base;
	__u32 size;
	__u8 data[12];
} __packed;

/* The system config: only the fields the driver reads are named. */
#define JH_SYS_VIRTUAL_DEBUG_CONSOLE	0x0001

struct jh_system {
	char signature[5];
	__u8 architecture;
	__u16 revision;
	__u32 flags;
	struct jh_memory hypervisor_memory;
	struct jh_console_desc debug_console;
	/* The virtual PCI host's ECAM (driver/ivshmem.c). */
	__u64 pci_mmconfig_base;
	__u8 pci_mmconfig_end_bus;
	__u8 pci_is_virtual;
	__u16 pci_domain;
	/* Unused units are all zero; sysfs.c looks for an SMMU among them. */
	struct jh_iommu iommu_units[JH_MAX_IOMMU_UNITS];
	__u8 other[356 - 88 - JH_MAX_IOMMU_UNITS * 28];
	struct jh_cell_desc root_cell;
} __packed;

/* Sizes of the arrays following a cell descriptor, in their order. */
#define JH_CACHE_SIZE		12
#define JH_IRQCHIP_SIZE		32
#define JH_PIO_SIZE		4
#define JH_PCI_DEVICE_SIZE	56
#define JH_PCI_CAP_SIZE		8
#define JH_STREAM_ID_SIZE	4

/* A pci_devices entry (JH_PCI_DEVICE_SIZE bytes). */
#define JH_PCI_TYPE_DEVICE	1
#define JH_PCI_TYPE_IVSHMEM	3

struct jh_pci_device {
	__u8 type;
	__u8 iommu;
	__u16 domain;
	__u16 bdf;
	__u32 bar_mask[6];
	__u16 caps_start;
	__u16 num_caps;
	__u8 num_msi_vectors;
	__u8 msi_flags;
	__u16 num_msix_vectors;
	__u16 msix_region_size;
	__u64 msix_address;
	__u32 shmem_regions_start;
	__u8 shmem_dev_id;
	__u8 shmem_peers;
	__u16 shmem_protocol;
} __packed;

/* ---- /dev/jailhouse ioctls ---- */
struct jh_cell_id {
	__s32 id;
	__u32 padding;
	char name[JH_CELL_NAME_LEN + 1];
} __packed;

struct jh_cell_create {
	__u64 config_address;
	__u32 config_size;
	__u32 padding;
} __packed;

struct jh_preload_image {
	__u64 source_address;
	__u64 size;
	__u64 target_address;
	__u64 padding;
} __packed;

struct jh_cell_load {
	struct jh_cell_id cell_id;
	__u32 num_preload_images;
	__u32 padding;
	struct jh_preload_image image[];
} __packed;

#define JH_ENABLE		_IOW(0, 0, void *)
#define JH_DISABLE		_IO(0, 1)
#define JH_CELL_CREATE		_IOW(0, 2, struct jh_cell_create)
#define JH_CELL_LOAD		_IOW(0, 3, struct jh_cell_load)
#define JH_CELL_START		_IOW(0, 4, struct jh_cell_id)
#define JH_CELL_DESTROY		_IOW(0, 5, struct jh_cell_id)

/*
 * sysHyper extension: the Jailhouse ioctl numbered `nr` (_IOC_NR of
 * JH_DISABLE, JH_CELL_CREATE, _LOAD, _START or _DESTROY) with its usual
 * argument at `arg`, forced (`--force`: no cell is asked, no lock holds).
 */
struct sh_forced {
	__u32 nr;
	__u32 padding;
	__u64 arg;
} __packed;
#define SH_CELL_FORCED		_IOW(0, 6, struct sh_forced)

static_assert(sizeof(struct jh_header) == 120);
static_assert(offsetof(struct jh_header, max_cpus) == 48);
static_assert(offsetof(struct jh_header, arm_linux_hyp_vectors) == 64);
static_assert(offsetof(struct jh_header, ext_magic) == 80);
static_assert(offsetof(struct jh_header, bootstrap_vectors) == 88);
static_assert(sizeof(struct jh_console) == 2056);
static_assert(sizeof(struct jh_memory) == 32);
static_assert(sizeof(struct jh_console_desc) == 32);
static_assert(sizeof(struct jh_cell_desc) == 132);
static_assert(offsetof(struct jh_cell_desc, id) == 40);
static_assert(offsetof(struct jh_cell_desc, cpu_reset_address) == 84);
static_assert(offsetof(struct jh_system, hypervisor_memory) == 12);
static_assert(offsetof(struct jh_system, root_cell) == 356);
static_assert(offsetof(struct jh_system, pci_mmconfig_base) == 76);
static_assert(offsetof(struct jh_system, pci_domain) == 86);
static_assert(sizeof(struct jh_system) == 488);
static_assert(offsetof(struct jh_system, iommu_units) == 88);
static_assert(sizeof(struct jh_iommu) == 28);
static_assert(sizeof(struct jh_pci_device) == JH_PCI_DEVICE_SIZE);
static_assert(offsetof(struct jh_pci_device, shmem_regions_start) == 48);
static_assert(sizeof(struct jh_cell_id) == 40);
static_assert(sizeof(struct jh_cell_create) == 16);
static_assert(sizeof(struct jh_cell_load) == 48);
static_assert(sizeof(struct jh_preload_image) == 32);
static_assert(sizeof(struct sh_forced) == 16);

#endif
