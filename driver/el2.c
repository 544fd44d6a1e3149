// SPDX-License-Identifier: GPL-2.0
/*
 * Exception levels: is EL2 ours to take (Linux's hyp stub owns it), the
 * address of the stub's vectors, the hypercall and the per-CPU entry.
 */
#include <linux/cpu.h>
#include <linux/kprobes.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/barrier.h>
#include <asm/memory.h>
#include <asm/sysreg.h>
#include <asm/virt.h>
#include "syshyper.h"

/* Linux's hyp stub numbers (HVC_SET_VECTORS, HVC_STUB_ERR) come from asm/virt.h. */
/* Probe with a function number the stub does not know. */
#define HVC_PROBE		0x53480000UL
/* "SYSHYPER" read as a little-endian u64 (contracts.md, late launch) */
#define SH_ENTER_MAGIC		0x5359534859504552UL

/* Plausible answers of HYPERVISOR_GET_INFO(number of cells). */
#define SH_MAX_CELLS		256

long sh_hypercall(u64 code, u64 arg1, u64 arg2)
{
	register u64 x0 asm("x0") = code;
	register u64 x1 asm("x1") = arg1;
	register u64 x2 asm("x2") = arg2;

	asm volatile("hvc #0x4a48"
		     : "+r"(x0), "+r"(x1), "+r"(x2)
		     :
		     : "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
		       "x12", "x13", "x14", "x15", "x16", "x17", "memory");
	return (long)x0;
}

static u64 sh_stub_call(u64 func, u64 arg)
{
	register u64 x0 asm("x0") = func;
	register u64 x1 asm("x1") = arg;

	asm volatile("hvc #0" : "+r"(x0), "+r"(x1) : : "memory");
	return x0;
}

/*
 * Both hvc calls of contracts.md "Late launch". The second one returns at
 * EL1 once every CPU has gone through the hypervisor's rendezvous;
 * x1..x18 are not preserved across it.
 */
long sh_enter_el2(unsigned int cpu, u64 vectors_pa, u64 image_pa)
{
	register u64 x0 asm("x0");
	register u64 x1 asm("x1");
	register u64 x2 asm("x2");

	if (sh_stub_call(HVC_SET_VECTORS, vectors_pa) != 0)
		return -EIO;
	x0 = cpu;
	x1 = SH_ENTER_MAGIC;
	x2 = image_pa;
	asm volatile("hvc #0"
		     : "+r"(x0), "+r"(x1), "+r"(x2)
		     :
		     : "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
		       "x12", "x13", "x14", "x15", "x16", "x17", "x18",
		       "memory", "cc");
	return (long)x0;
}

/* EL2 runs with its MMU off on entry: the image must be at PoC. */
void sh_dcache_clean_inval(const void *addr, size_t size)
{
	u64 ctr = read_sysreg(ctr_el0);
	unsigned long line = 4UL << ((ctr >> 16) & 0xf);
	unsigned long p = (unsigned long)addr & ~(line - 1);
	unsigned long end = (unsigned long)addr + size;

	for (; p < end; p += line)
		asm volatile("dc civac, %0" : : "r"(p) : "memory");
	dsb(sy);
}

enum sh_el2_owner {
	SH_EL2_STUB,		/* Linux's hyp stub: free to take */
	SH_EL2_HYPERVISOR,	/* Jailhouse/sysHyper answers hypercalls */
	SH_EL2_OTHER,		/* KVM or an unknown hypervisor */
	SH_EL2_VHE,		/* the kernel itself runs at EL2 */
	SH_EL2_NONE,		/* the CPU has no EL2 */
};

static void sh_probe_cpu(void *info)
{
	enum sh_el2_owner *owner = info;
	unsigned int cpu = smp_processor_id();
	u64 el = (read_sysreg(CurrentEL) >> 2) & 3;
	u64 pfr0 = read_sysreg(id_aa64pfr0_el1);
	long r;

	if (el == 2) {
		owner[cpu] = SH_EL2_VHE;
		return;
	}
	if (((pfr0 >> 8) & 0xf) == 0) {
		owner[cpu] = SH_EL2_NONE;
		return;
	}
	/*
	 * A hypercall doubles as the probe: the stub ignores the immediate
	 * and rejects the unknown number with 0xbadca11, a running
	 * hypervisor reports its number of cells.
	 */
	r = sh_hypercall(JH_HC_HYPERVISOR_GET_INFO, JH_INFO_NUM_CELLS, 0);
	if ((u64)r == HVC_STUB_ERR)
		owner[cpu] = SH_EL2_STUB;
	else if (r >= 1 && r <= SH_MAX_CELLS)
		owner[cpu] = SH_EL2_HYPERVISOR;
	else
		owner[cpu] = SH_EL2_OTHER;
}

static int sh_probe_all(enum sh_el2_owner *worst)
{
	enum sh_el2_owner *owner;
	unsigned int cpu;

	owner = kcalloc(nr_cpu_ids, sizeof(*owner), GFP_KERNEL);
	if (!owner)
		return -ENOMEM;
	on_each_cpu(sh_probe_cpu, owner, 1);
	*worst = SH_EL2_STUB;
	for_each_online_cpu(cpu)
		if (owner[cpu] > *worst)
			*worst = owner[cpu];
	kfree(owner);
	return 0;
}

/*
 * 0 when every online CPU runs at EL1 above Linux's hyp stub; otherwise a
 * negative errno after one clear dmesg line (unless quiet). The caller
 * holds cpus_read_lock().
 */
int sh_el2_check(bool quiet)
{
	enum sh_el2_owner worst;
	int err = sh_probe_all(&worst);

	if (err)
		return err;
	switch (worst) {
	case SH_EL2_STUB:
		return 0;
	case SH_EL2_HYPERVISOR:
		if (!quiet)
			pr_err(SH_PREFIX "a hypervisor is already running at EL2\n");
		return -EEXIST;
	case SH_EL2_VHE:
		if (!quiet)
			pr_err(SH_PREFIX "the kernel runs at EL2 (VHE); boot with id_aa64mmfr1.vh=0 kvm-arm.mode=none\n");
		return -EBUSY;
	case SH_EL2_NONE:
		if (!quiet)
			pr_err(SH_PREFIX "this CPU has no EL2\n");
		return -ENODEV;
	default:
		if (!quiet)
			pr_err(SH_PREFIX "EL2 is not owned by Linux's hyp stub (KVM? boot with kvm-arm.mode=none)\n");
		return -EBUSY;
	}
}

/*
 * For booting sysHyper first (a later step): Linux then already runs as
 * the root cell and the driver must adopt the hypervisor instead of
 * loading it.
 */
bool sh_hypervisor_running(void)
{
	enum sh_el2_owner worst;
	bool running;

	cpus_read_lock();
	running = sh_probe_all(&worst) == 0 && worst == SH_EL2_HYPERVISOR;
	cpus_read_unlock();
	return running;
}

typedef unsigned long (*sh_lookup_fn)(const char *name);

/* kallsyms_lookup_name is not exported; a kprobe on it reveals it. */
static unsigned long sh_lookup_symbol(const char *name)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	sh_lookup_fn lookup;

	if (register_kprobe(&kp) < 0)
		return 0;
	lookup = (sh_lookup_fn)kp.addr;
	unregister_kprobe(&kp);
	return lookup ? lookup(name) : 0;
}

/* Physical address of Linux's __hyp_stub_vectors (kernel image symbol). */
int sh_hyp_stub_vectors(u64 *pa)
{
	unsigned long va = sh_lookup_symbol("__hyp_stub_vectors");

	if (!va || (va & 0x7ff)) {
		pr_err(SH_PREFIX "cannot find Linux's __hyp_stub_vectors (needs CONFIG_KPROBES)\n");
		return -ENOENT;
	}
	*pa = va - kimage_voffset;
	return 0;
}
