// SPDX-License-Identifier: GPL-2.0
/* Checks of configurations handed in by user space, before any hypercall. */
#include <linux/overflow.h>
#include <linux/string.h>
#include "syshyper.h"

static int sh_add_array(size_t *total, u32 count, size_t elem)
{
	size_t bytes;

	if (check_mul_overflow((size_t)count, elem, &bytes) ||
	    check_add_overflow(*total, bytes, total))
		return -EINVAL;
	return 0;
}

/* Size of a cell descriptor plus its arrays, from the header counts. */
int sh_cell_config_size(const struct jh_cell_desc *c, size_t *size)
{
	size_t total = sizeof(*c);

	if (sh_add_array(&total, c->cpu_set_size, 1) ||
	    sh_add_array(&total, c->num_memory_regions, sizeof(struct jh_memory)) ||
	    sh_add_array(&total, c->num_cache_regions, JH_CACHE_SIZE) ||
	    sh_add_array(&total, c->num_irqchips, JH_IRQCHIP_SIZE) ||
	    sh_add_array(&total, c->num_pio_regions, JH_PIO_SIZE) ||
	    sh_add_array(&total, c->num_pci_devices, JH_PCI_DEVICE_SIZE) ||
	    sh_add_array(&total, c->num_pci_caps, JH_PCI_CAP_SIZE) ||
	    sh_add_array(&total, c->num_stream_ids, JH_STREAM_ID_SIZE))
		return -EINVAL;
	*size = total;
	return 0;
}

/*
 * Jailhouse's system configs leave the root cell's signature, architecture
 * and revision zero; if set, they must be right.
 */
int sh_check_root_cell_header(const struct jh_cell_desc *c)
{
	static const char zero[5];

	if (!memcmp(c->signature, zero, 5) && !c->architecture && !c->revision)
		return sh_check_cpu_set_size(c, "system config (root cell)");
	return sh_check_cell_header(c, "system config (root cell)");
}

int sh_check_cpu_set_size(const struct jh_cell_desc *c, const char *what)
{
	if (c->cpu_set_size == 0 || c->cpu_set_size % 8) {
		pr_err(SH_PREFIX "invalid %s: cpu_set_size %u\n", what,
		       c->cpu_set_size);
		return -EINVAL;
	}
	return 0;
}

int sh_check_cell_header(const struct jh_cell_desc *c, const char *what)
{
	if (memcmp(c->signature, "JHCLL", 5) != 0) {
		pr_err(SH_PREFIX "invalid %s: no JHCLL signature\n", what);
		return -EINVAL;
	}
	if (c->revision != JH_CONFIG_REVISION) {
		pr_err(SH_PREFIX "invalid %s: revision %u, expected %u\n", what,
		       c->revision, JH_CONFIG_REVISION);
		return -EINVAL;
	}
	if (c->architecture != JH_ARCH_ARM64) {
		pr_err(SH_PREFIX "invalid %s: architecture %u is not arm64\n",
		       what, c->architecture);
		return -EINVAL;
	}
	return sh_check_cpu_set_size(c, what);
}

const u8 *sh_cell_cpu_set(const struct jh_cell_desc *c)
{
	return (const u8 *)(c + 1);
}

const struct jh_memory *sh_cell_memory(const struct jh_cell_desc *c)
{
	return (const struct jh_memory *)(sh_cell_cpu_set(c) + c->cpu_set_size);
}

/* The cell's pci_devices array (after memory, cache, irqchip and PIO entries). */
const struct jh_pci_device *sh_cell_pci_devices(const struct jh_cell_desc *c)
{
	const u8 *p = (const u8 *)(sh_cell_memory(c) + c->num_memory_regions);

	p += (size_t)c->num_cache_regions * JH_CACHE_SIZE;
	p += (size_t)c->num_irqchips * JH_IRQCHIP_SIZE;
	p += (size_t)c->num_pio_regions * JH_PIO_SIZE;
	return (const struct jh_pci_device *)p;
}

/* The cell's CPUs that Linux can number; highest_plus_one counts them all. */
void sh_cpu_set_to_mask(const struct jh_cell_desc *c, cpumask_t *mask,
			unsigned int *highest_plus_one)
{
	const u8 *set = sh_cell_cpu_set(c);
	unsigned int bit, top = 0;

	cpumask_clear(mask);
	for (bit = 0; bit < c->cpu_set_size * 8; bit++) {
		if (!(set[bit / 8] & (1U << (bit % 8))))
			continue;
		top = bit + 1;
		if (bit < nr_cpu_ids)
			cpumask_set_cpu(bit, mask);
	}
	if (highest_plus_one)
		*highest_plus_one = top;
}
