// SPDX-License-Identifier: GPL-2.0
/*
 * The root cell's ivshmem v2 functions as UIO devices (docs/ivshmem.md,
 * "Root Linux: UIO").
 *
 * Jailhouse adds a device-tree node for its virtual PCI host with an
 * overlay, and Linux's PCI core then enumerates it. The stock Debian kernel
 * has no CONFIG_OF_OVERLAY, so this driver does not drive a PCI bus at all:
 * after enable it programs each ivshmem function of the root configuration
 * through the virtual ECAM itself (the hypervisor traps and emulates every
 * access there) and registers one UIO device per function directly, with
 * the maps, names and semantics of Jailhouse's uio_ivshmem driver. Nothing
 * else in Linux sees these functions, so nothing else can move their BARs.
 *
 * A function whose protocol is ivshmem-net (0001h) becomes a network
 * device instead (ivshmem_net.c, docs/ivshmem-net.md); the discovery
 * here is the same.
 *
 * Config space and BAR0 are touched with aligned 32-bit accesses only: the
 * hypervisor emulates them from the trap syndrome, and readl()/writel() are
 * single plain loads and stores (the syndrome is valid).
 */
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/version.h>
#include <linux/irq.h>
#include <linux/mm.h>
#include <linux/of.h>
#include <linux/of_irq.h>
#include <linux/slab.h>
#include <linux/uio_driver.h>
#include <dt-bindings/interrupt-controller/arm-gic.h>
#include "ivshmem_net.h"
#include "syshyper.h"

/* Config space of an ivshmem function (docs/ivshmem.md, config space). */
#define IVSHM_VENDOR_DEVICE	0x4106110a
#define PCI_ID			0x00
#define PCI_COMMAND		0x04
#define  PCI_COMMAND_MEMORY	0x0002
#define PCI_BAR0		0x10
#define PCI_CAP_PTR		0x34
#define PCI_INT_LINE		0x3c	/* line byte 0, pin byte 1 */
#define PCI_CAP_ID_VENDOR	0x09
/* Offsets in the vendor capability. */
#define CAP_HEADER		0x00	/* id, next, length, privileged control */
#define  CAP_PRIV_ONESHOT	(1U << 24)
#define CAP_STATE_TAB_SZ	0x04
#define CAP_RW_SECTION_SZ	0x08
#define CAP_OUTPUT_SECTION_SZ	0x10
#define CAP_ADDRESS		0x18

/* BAR0 registers. */
#define REG_ID			0x00
#define REG_MAX_PEERS		0x04
#define REG_INT_CONTROL		0x08
#define REG_STATE		0x10

#define ECAM_FN_SIZE		0x1000
#define BAR0_SIZE		0x1000
#define MAP_NAME_LEN		32

/* One registered function: a UIO device, or a network device. */
struct sh_ivshmem {
	struct uio_info info;
	struct sh_ivnet *net;	/* ivshmem-net: the network device, else NULL */
	struct sh_ivnet_hw hw;	/* what the capability and registers say */
	void __iomem *cfg;	/* its 4 KiB of the ECAM */
	void __iomem *regs;	/* BAR0 */
	unsigned int cap;	/* the vendor capability's offset */
	unsigned int virq;
	u32 intid;
	/* Maps user space may not write (state table, input sections). */
	bool readonly[MAX_UIO_MAPS];
	char name[MAP_NAME_LEN];
};

/* The system configuration's virtual PCI host, saved at enable. */
static u64 ecam_base;
static unsigned int ecam_buses;
static u16 pci_domain;
static bool pci_virtual;

/* Guarded by sh_lock, as enable and disable are. */
static void __iomem *ecam;
static struct sh_ivshmem **devs;
static unsigned int num_devs;

void sh_ivshmem_setup(const struct jh_system *sys)
{
	ecam_base = sys->pci_mmconfig_base;
	ecam_buses = sys->pci_mmconfig_end_bus + 1U;
	pci_domain = sys->pci_domain;
	pci_virtual = sys->pci_is_virtual;
}

static u32 cfg_read(struct sh_ivshmem *d, unsigned int off)
{
	return readl(d->cfg + off);
}

static void cfg_write(struct sh_ivshmem *d, unsigned int off, u32 val)
{
	writel(val, d->cfg + off);
}

static u64 cfg_read64(struct sh_ivshmem *d, unsigned int off)
{
	return cfg_read(d, off) | ((u64)cfg_read(d, off + 4) << 32);
}

static irqreturn_t sh_ivshmem_irq(int irq, struct uio_info *info)
{
	/*
	 * One-shot mode: the device already cleared its interrupt enable,
	 * user space enables it again (write() or the register). The UIO
	 * core counts the event and wakes the readers.
	 */
	return IRQ_HANDLED;
}

static int sh_ivshmem_irqcontrol(struct uio_info *info, s32 on)
{
	struct sh_ivshmem *d = info->priv;

	writel(on ? 1 : 0, d->regs + REG_INT_CONTROL);
	return 0;
}

/* As Jailhouse's driver: a closed device says its peer went away. */
static int sh_ivshmem_release(struct uio_info *info, struct inode *inode)
{
	struct sh_ivshmem *d = info->priv;

	writel(0, d->regs + REG_STATE);
	return 0;
}

/*
 * Since Linux 6.3 vm_flags is read-only and changed through helpers that
 * take the mmap lock into account (6.12 refuses the plain write); 6.1 has
 * no helpers. Without VM_MAYWRITE, mprotect() cannot make the map
 * writable later.
 */
static void clear_maywrite(struct vm_area_struct *vma)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, VM_MAYWRITE);
#else
	vma->vm_flags &= ~VM_MAYWRITE;
#endif
}

/*
 * The UIO core has checked that vm_pgoff names a map and that the length
 * fits it. Registers are device memory; the sections are normal cacheable
 * memory, as every peer maps them (coherent without cache maintenance).
 * Read-only maps refuse a writable mapping here instead of letting the
 * hypervisor turn the first write into an external abort.
 */
static int sh_ivshmem_mmap(struct uio_info *info, struct vm_area_struct *vma)
{
	struct sh_ivshmem *d = info->priv;
	unsigned long mi = vma->vm_pgoff;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct uio_mem *mem;

	if (mi >= MAX_UIO_MAPS || !info->mem[mi].size)
		return -EINVAL;
	mem = &info->mem[mi];
	if (len > PAGE_ALIGN(mem->size))
		return -EINVAL;
	if (d->readonly[mi]) {
		if (vma->vm_flags & VM_WRITE)
			return -EPERM;
		clear_maywrite(vma);
	}
	if (mem->memtype == UIO_MEM_PHYS)
		vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	return remap_pfn_range(vma, vma->vm_start, mem->addr >> PAGE_SHIFT,
			       len, vma->vm_page_prot);
}

/* The root's own address of shared-memory region `index`, or 0 if none. */
static u64 region_addr(const struct jh_cell_desc *root, u32 index, u64 *size)
{
	const struct jh_memory *mem = sh_cell_memory(root);

	if (index >= root->num_memory_regions)
		return 0;
	*size = mem[index].size;
	return mem[index].virt_start;
}

static void set_map(struct sh_ivshmem *d, unsigned int *n, const char *name,
		    u64 addr, u64 size, int type, bool readonly)
{
	struct uio_mem *m = &d->info.mem[*n];

	m->name = name;
	m->addr = addr;
	m->size = size;
	m->memtype = type;
	d->readonly[*n] = readonly;
	(*n)++;
}

/*
 * The maps from the vendor capability, as Jailhouse's uio_ivshmem: the
 * sections lie back to back from the capability's address; a read/write
 * section of size 0 has no map (the later ones move up). Each section is
 * checked against the root's own region for it (the hypervisor already
 * checked the configuration; a mismatch means the two disagree).
 */
static int sh_ivshmem_maps(struct sh_ivshmem *d, const struct jh_cell_desc *root,
			   const struct jh_pci_device *pd, u64 bar)
{
	unsigned int cap = d->cap, n = 0, peer;
	u64 state_sz, rw_sz, out_sz, addr, cfg_addr, cfg_size;
	u32 id, peers;

	state_sz = cfg_read(d, cap + CAP_STATE_TAB_SZ);
	rw_sz = cfg_read64(d, cap + CAP_RW_SECTION_SZ);
	out_sz = cfg_read64(d, cap + CAP_OUTPUT_SECTION_SZ);
	addr = cfg_read64(d, cap + CAP_ADDRESS);
	id = readl(d->regs + REG_ID);
	peers = readl(d->regs + REG_MAX_PEERS);

	if (id >= peers || peers != pd->shmem_peers || id != pd->shmem_dev_id) {
		pr_err(SH_PREFIX "%s: ID %u of %u peers, the config says %u of %u\n",
		       d->name, id, peers, pd->shmem_dev_id, pd->shmem_peers);
		return -ENODEV;
	}
	if (!state_sz || !out_sz || !PAGE_ALIGNED(addr) || !PAGE_ALIGNED(state_sz) ||
	    !PAGE_ALIGNED(rw_sz) || !PAGE_ALIGNED(out_sz)) {
		pr_err(SH_PREFIX "%s: sections not page aligned (state table %#llx+%#llx, r/w %#llx, output %#llx)\n",
		       d->name, addr, state_sz, rw_sz, out_sz);
		return -ENODEV;
	}
	/* Back to back, as the capability's single address implies. */
	for (peer = 0; peer < 2 + peers; peer++) {
		u64 want = addr, size;

		if (peer >= 1)
			want += state_sz;
		if (peer >= 2)
			want += rw_sz + (peer - 2) * out_sz;
		size = peer == 0 ? state_sz : peer == 1 ? rw_sz : out_sz;
		cfg_addr = region_addr(root, pd->shmem_regions_start + peer, &cfg_size);
		if (cfg_size != size || (size && cfg_addr != want)) {
			pr_err(SH_PREFIX "%s: section %u at %#llx+%#llx, the root config has %#llx+%#llx\n",
			       d->name, peer, want, size, cfg_addr, cfg_size);
			return -ENODEV;
		}
	}

	d->hw.id = id;
	d->hw.peers = peers;
	d->hw.state_table = addr;
	d->hw.state_size = state_sz;
	d->hw.outputs = addr + state_sz + rw_sz;
	d->hw.output_size = out_sz;

	set_map(d, &n, "registers", bar, BAR0_SIZE, UIO_MEM_PHYS, false);
	set_map(d, &n, "state_table", addr, state_sz, UIO_MEM_IOVA, true);
	addr += state_sz;
	if (rw_sz)
		set_map(d, &n, "rw_section", addr, rw_sz, UIO_MEM_IOVA, false);
	addr += rw_sz;
	set_map(d, &n, "input_sections", addr, peers * out_sz, UIO_MEM_IOVA, true);
	set_map(d, &n, "output_section", addr + id * out_sz, out_sz, UIO_MEM_IOVA, false);
	return 0;
}

/*
 * The GIC's device-tree node, GICv3 or GICv2: both encode an SPI as
 * <GIC_SPI number flags>, so the same three cells map the INTx. The GICv2
 * compatibles are those Linux's GICv2 driver binds to on arm64 boards
 * (QEMU virt: cortex-a15-gic; GIC-400 SoCs: gic-400).
 */
static const struct of_device_id sh_gic_ids[] = {
	{ .compatible = "arm,gic-v3" },
	{ .compatible = "arm,gic-400" },
	{ .compatible = "arm,cortex-a15-gic" },
	{ .compatible = "arm,cortex-a9-gic" },
	{ .compatible = "arm,cortex-a7-gic" },
	{}
};

/* The SPI of the function's INTx through the GIC's device-tree node. */
static int sh_ivshmem_map_irq(struct sh_ivshmem *d, const struct jh_cell_desc *root)
{
	struct of_phandle_args spec = { .args_count = 3 };
	unsigned int pin = (cfg_read(d, PCI_INT_LINE) >> 8) & 0xff;
	u32 intid;

	if (pin < 1 || pin > 4) {
		pr_err(SH_PREFIX "%s: interrupt pin %u\n", d->name, pin);
		return -ENODEV;
	}
	intid = 32 + root->vpci_irq_base + pin - 1;
	d->intid = intid;
	spec.np = of_find_matching_node(NULL, sh_gic_ids);
	if (!spec.np) {
		pr_err(SH_PREFIX "%s: no GIC node in the device tree\n", d->name);
		return -ENODEV;
	}
	spec.args[0] = GIC_SPI;
	spec.args[1] = intid - 32;
	spec.args[2] = IRQ_TYPE_EDGE_RISING;
	d->virq = irq_create_of_mapping(&spec);
	of_node_put(spec.np);
	if (!d->virq) {
		pr_err(SH_PREFIX "%s: cannot map INTID %u\n", d->name, intid);
		return -EINVAL;
	}
	return 0;
}

static void sh_ivshmem_free(struct sh_ivshmem *d)
{
	if (d->regs) {
		writel(0, d->regs + REG_INT_CONTROL);
		iounmap(d->regs);
	}
	/* Memory decoding off and BAR0 back to 0: as before enable. */
	cfg_write(d, PCI_COMMAND, 0);
	cfg_write(d, PCI_BAR0, 0);
	if (d->virq)
		irq_dispose_mapping(d->virq);
	kfree(d);
}

/*
 * BAR0 of the k-th ivshmem function goes right after the ECAM
 * (docs/ivshmem.md "Where BAR0 goes"); its size comes from PCI's sizing
 * (all ones written, the size bits read back).
 */
static struct sh_ivshmem *sh_ivshmem_probe(const struct jh_cell_desc *root,
					   const struct jh_pci_device *pd,
					   unsigned int k)
{
	struct sh_ivshmem *d;
	u64 bar = ecam_base + ((u64)ecam_buses << 20) + (u64)k * BAR0_SIZE;
	u32 val, size;
	int err;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return ERR_PTR(-ENOMEM);
	/* Jailhouse's name: the driver's, then the PCI address. */
	snprintf(d->name, sizeof(d->name), "%s[%04x:%02x:%02x.%x]",
		 pd->shmem_protocol == IVSHM_PROTO_NET ? "ivshmem-net" : "uio_ivshmem",
		 pci_domain, pd->bdf >> 8, (pd->bdf >> 3) & 0x1f, pd->bdf & 7);
	if ((pd->bdf >> 8) >= ecam_buses) {
		pr_err(SH_PREFIX "%s: bus beyond the ECAM's last bus %u\n",
		       d->name, ecam_buses - 1);
		kfree(d);
		return ERR_PTR(-ENODEV);
	}
	d->cfg = ecam + ((u32)pd->bdf << 12);
	val = cfg_read(d, PCI_ID);
	if (val != IVSHM_VENDOR_DEVICE) {
		pr_err(SH_PREFIX "%s: vendor/device %08x, not an ivshmem function\n",
		       d->name, val);
		kfree(d);
		return ERR_PTR(-ENODEV);
	}

	d->cap = cfg_read(d, PCI_CAP_PTR) & 0xfc;
	if (!d->cap || (cfg_read(d, d->cap + CAP_HEADER) & 0xff) != PCI_CAP_ID_VENDOR) {
		pr_err(SH_PREFIX "%s: no ivshmem vendor capability\n", d->name);
		kfree(d);
		return ERR_PTR(-ENODEV);
	}

	cfg_write(d, PCI_COMMAND, 0);
	cfg_write(d, PCI_BAR0, 0xffffffff);
	size = ~(cfg_read(d, PCI_BAR0) & ~0xfU) + 1;
	if (size == BAR0_SIZE && bar + BAR0_SIZE <= U32_MAX)
		cfg_write(d, PCI_BAR0, (u32)bar);
	val = cfg_read(d, PCI_BAR0) & ~0xfU;
	if (val != bar) {
		pr_err(SH_PREFIX "%s: BAR0 of %#x bytes at %#x, expected %#x bytes at %#llx\n",
		       d->name, size, val, BAR0_SIZE, bar);
		err = -ENODEV;
		goto out;
	}
	cfg_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY);
	d->regs = ioremap(bar, BAR0_SIZE);
	if (!d->regs) {
		err = -ENOMEM;
		goto out;
	}
	err = sh_ivshmem_maps(d, root, pd, bar);
	if (err)
		goto out;
	err = sh_ivshmem_map_irq(d, root);
	if (err)
		goto out;
	if (pd->shmem_protocol == IVSHM_PROTO_NET) {
		/* Not one-shot: the net driver keeps its interrupt enabled. */
		val = cfg_read(d, d->cap + CAP_HEADER);
		cfg_write(d, d->cap + CAP_HEADER, val & ~CAP_PRIV_ONESHOT);
		d->hw.parent = sh_dev;
		d->hw.what = d->name;
		d->hw.regs = d->regs;
		d->hw.irq = d->virq;
		d->net = sh_ivnet_add(&d->hw);
		if (IS_ERR(d->net)) {
			err = PTR_ERR(d->net);
			d->net = NULL;
			goto out;
		}
		return d;
	}
	/*
	 * As Jailhouse's driver: one-shot mode, one interrupt per enable
	 * (only the privileged control byte of this dword is writable).
	 */
	val = cfg_read(d, d->cap + CAP_HEADER);
	cfg_write(d, d->cap + CAP_HEADER, val | CAP_PRIV_ONESHOT);

	d->info.name = d->name;
	d->info.version = "1";
	d->info.priv = d;
	d->info.irq = d->virq;
	d->info.handler = sh_ivshmem_irq;
	d->info.irqcontrol = sh_ivshmem_irqcontrol;
	d->info.release = sh_ivshmem_release;
	d->info.mmap = sh_ivshmem_mmap;
	err = uio_register_device(sh_dev, &d->info);
	if (err) {
		pr_err(SH_PREFIX "%s: UIO registration failed (%d)\n", d->name, err);
		goto out;
	}
	pr_info(SH_PREFIX "%s: ID %u, BAR0 %#llx, INTID %u (irq %u)\n", d->name,
		readl(d->regs + REG_ID), bar, d->intid, d->virq);
	return d;
out:
	sh_ivshmem_free(d);
	return ERR_PTR(err);
}

/*
 * Registers a UIO or network device for every ivshmem function of the
 * root cell.
 * A function that cannot be set up is named in dmesg and left out; the
 * hypervisor keeps running either way.
 */
void sh_ivshmem_add(void)
{
	const struct jh_cell_desc *root = sh_root_cell ? sh_root_cell->config : NULL;
	const struct jh_pci_device *pd;
	struct sh_ivshmem *d;
	unsigned int i, k = 0, count = 0;

	if (!root || !pci_virtual || !ecam_base || devs)
		return;
	pd = sh_cell_pci_devices(root);
	for (i = 0; i < root->num_pci_devices; i++)
		if (pd[i].type == JH_PCI_TYPE_IVSHMEM)
			count++;
	if (!count)
		return;
	devs = kcalloc(count, sizeof(*devs), GFP_KERNEL);
	ecam = ioremap(ecam_base, (size_t)ecam_buses << 20);
	if (!devs || !ecam) {
		pr_err(SH_PREFIX "ivshmem: out of memory\n");
		goto out;
	}
	for (i = 0; i < root->num_pci_devices; i++) {
		if (pd[i].type != JH_PCI_TYPE_IVSHMEM)
			continue;
		d = sh_ivshmem_probe(root, &pd[i], k++);
		if (!IS_ERR(d))
			devs[num_devs++] = d;
	}
	if (num_devs)
		return;
out:
	kfree(devs);
	devs = NULL;
	if (ecam)
		iounmap(ecam);
	ecam = NULL;
}

/*
 * Unregisters every UIO and network device (before disable, and at module
 * unload).
 */
void sh_ivshmem_remove(void)
{
	unsigned int i;

	for (i = 0; i < num_devs; i++) {
		if (devs[i]->net)
			sh_ivnet_remove(devs[i]->net);
		else
			uio_unregister_device(&devs[i]->info);
		sh_ivshmem_free(devs[i]);
	}
	num_devs = 0;
	kfree(devs);
	devs = NULL;
	if (ecam)
		iounmap(ecam);
	ecam = NULL;
}
