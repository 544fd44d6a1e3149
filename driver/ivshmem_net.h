/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ivshmem-net (docs/ivshmem-net.md): the network device on top of one
 * ivshmem v2 function with protocol 0001h. Two front ends find the
 * function and fill in struct sh_ivnet_hw: the root's own discovery through
 * the virtual ECAM (ivshmem.c) and a PCI driver for cells whose Linux
 * enumerates the virtual PCI host (ivshmem_pci.c).
 */
#ifndef SYSHYPER_IVSHMEM_NET_H
#define SYSHYPER_IVSHMEM_NET_H

#include <linux/device.h>
#include <linux/io.h>
#include <linux/types.h>

#define IVSHM_PROTO_NET		0x0001

/* What the front end found; the sections lie back to back (docs/ivshmem.md). */
struct sh_ivnet_hw {
	struct device *parent;
	const char *what;		/* for messages: the PCI address */
	void __iomem *regs;		/* BAR0, mapped by the front end */
	unsigned int irq;		/* the function's INTx, mapped */
	u32 id, peers;
	phys_addr_t state_table;	/* guest-physical, as the capability says */
	u64 state_size;
	phys_addr_t outputs;		/* peer 0's output section */
	u64 output_size;		/* each peer's */
};

struct sh_ivnet;

/* Registers a net_device for the function; ERR_PTR on failure. */
struct sh_ivnet *sh_ivnet_add(const struct sh_ivnet_hw *hw);
/* Unregisters it and says RESET to the peer; the front end unmaps BAR0. */
void sh_ivnet_remove(struct sh_ivnet *net);

/* ivshmem_pci.c: the PCI driver (cells) */
int sh_ivshmem_pci_init(void);
void sh_ivshmem_pci_exit(void);

#endif
