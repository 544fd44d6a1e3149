// SPDX-License-Identifier: GPL-2.0
/*
 * ivshmem-net functions on a PCI bus Linux enumerates itself: a Linux cell
 * sees the virtual PCI host as a generic ECAM host from its device tree,
 * so there the function is an ordinary PCI device with BAR0 and INTx
 * assigned by the PCI core. (The root has no such host; ivshmem.c finds
 * its functions through the ECAM instead.) Both hand the same description
 * to ivshmem_net.c.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include "ivshmem_net.h"
#include "syshyper.h"

#define IVSHM_VENDOR		0x110a
#define IVSHM_DEVICE		0x4106
/* Vendor capability (docs/ivshmem.md, config space 40h..). */
#define CAP_PRIV_CONTROL	0x03	/* byte: bit 0 one-shot */
#define CAP_STATE_TAB_SZ	0x04
#define CAP_RW_SECTION_SZ	0x08
#define CAP_OUTPUT_SECTION_SZ	0x10
#define CAP_ADDRESS		0x18
#define REG_ID			0x00
#define REG_MAX_PEERS		0x04
#define BAR0_SIZE		0x1000

struct sh_ivpci {
	void __iomem *regs;
	struct sh_ivnet *net;
};

static u64 cfg_read64(struct pci_dev *pdev, int off)
{
	u32 lo = 0, hi = 0;

	pci_read_config_dword(pdev, off, &lo);
	pci_read_config_dword(pdev, off + 4, &hi);
	return lo | ((u64)hi << 32);
}

static int sh_ivpci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct sh_ivnet_hw hw = { .parent = &pdev->dev, .what = pci_name(pdev) };
	struct sh_ivpci *d;
	u32 state_sz = 0;
	u64 rw_sz;
	int cap, err;

	cap = pci_find_capability(pdev, PCI_CAP_ID_VNDR);
	if (!cap) {
		dev_err(&pdev->dev, "no ivshmem vendor capability\n");
		return -ENODEV;
	}
	d = devm_kzalloc(&pdev->dev, sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	err = pcim_enable_device(pdev);
	if (err)
		return err;
	if (pci_resource_len(pdev, 0) < BAR0_SIZE) {
		dev_err(&pdev->dev, "BAR0 smaller than the registers\n");
		return -ENODEV;
	}
	err = pcim_iomap_regions(pdev, BIT(0), "ivshmem-net");
	if (err)
		return err;
	d->regs = pcim_iomap_table(pdev)[0];

	pci_read_config_dword(pdev, cap + CAP_STATE_TAB_SZ, &state_sz);
	rw_sz = cfg_read64(pdev, cap + CAP_RW_SECTION_SZ);
	hw.output_size = cfg_read64(pdev, cap + CAP_OUTPUT_SECTION_SZ);
	hw.state_table = cfg_read64(pdev, cap + CAP_ADDRESS);
	hw.state_size = state_sz;
	hw.outputs = hw.state_table + state_sz + rw_sz;
	hw.regs = d->regs;
	hw.id = readl(d->regs + REG_ID);
	hw.peers = readl(d->regs + REG_MAX_PEERS);
	if (!state_sz || !hw.output_size || !PAGE_ALIGNED(hw.state_table) ||
	    !PAGE_ALIGNED(state_sz) || !PAGE_ALIGNED(rw_sz) ||
	    !PAGE_ALIGNED(hw.output_size)) {
		dev_err(&pdev->dev, "sections not page aligned\n");
		return -ENODEV;
	}
	if (!pdev->irq) {
		dev_err(&pdev->dev, "no INTx\n");
		return -ENODEV;
	}
	hw.irq = pdev->irq;
	/* Not one-shot: the net driver keeps its interrupt enabled. */
	pci_write_config_byte(pdev, cap + CAP_PRIV_CONTROL, 0);
	pci_set_master(pdev);

	d->net = sh_ivnet_add(&hw);
	if (IS_ERR(d->net))
		return PTR_ERR(d->net);
	pci_set_drvdata(pdev, d);
	return 0;
}

static void sh_ivpci_remove(struct pci_dev *pdev)
{
	struct sh_ivpci *d = pci_get_drvdata(pdev);

	sh_ivnet_remove(d->net);
}

/* Class FFh, sub-class and interface = the protocol (0001h: ivshmem-net). */
static const struct pci_device_id sh_ivpci_ids[] = {
	{ PCI_DEVICE(IVSHM_VENDOR, IVSHM_DEVICE),
	  .class = (PCI_CLASS_OTHERS << 16) | IVSHM_PROTO_NET, .class_mask = 0xffffff },
	{ }
};
MODULE_DEVICE_TABLE(pci, sh_ivpci_ids);

static struct pci_driver sh_ivpci_driver = {
	.name = "syshyper-ivshmem-net",
	.id_table = sh_ivpci_ids,
	.probe = sh_ivpci_probe,
	.remove = sh_ivpci_remove,
};

int sh_ivshmem_pci_init(void)
{
	return pci_register_driver(&sh_ivpci_driver);
}

void sh_ivshmem_pci_exit(void)
{
	pci_unregister_driver(&sh_ivpci_driver);
}
