// SPDX-License-Identifier: GPL-2.0
/*
 * ivshmem-net: an Ethernet link between two ivshmem v2 peers
 * (docs/ivshmem-net.md has the format and the handshake; this file is its
 * implementation).
 *
 * Each peer owns one byte ring in its own output section (the only shared
 * memory it may write): it produces frames there and publishes how far it
 * has consumed the other peer's ring in the same section's header. The
 * doorbell is the peer's INTx; a state change in the state table raises it
 * too. Both peers run this same code.
 *
 * The sections are normal write-back memory in every peer (the hypervisor
 * maps them so), coherent without cache maintenance; the only ordering
 * rules are the release/acquire pairs on the indexes, argued where they are.
 * virt_*() barriers are used rather than smp_*(): the other side is another
 * kernel, so the barriers must be real even in a uniprocessor build.
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "ivshmem_net.h"
#include "syshyper.h"

/* BAR0 registers (docs/ivshmem.md). */
#define REG_INT_CONTROL		0x08
#define REG_DOORBELL		0x0c
#define REG_STATE		0x10

/* Link states in the state table (the ivshmem-net protocol's values). */
#define ST_RESET		0
#define ST_INIT			1
#define ST_READY		2
#define ST_RUN			3

/* An output section: this header, then the ring from RING_OFFSET. */
#define RING_OFFSET		0x1000
struct ivnet_ctrl {
	u64 tx_head;		/* bytes produced into this section's ring */
	u8 pad0[56];
	u64 rx_tail;		/* bytes consumed of the peer's ring */
	u8 pad1[56];
	u32 tx_wait;		/* 1: the producer waits for the peer's rx_tail */
};

/* A record in a ring; records start at multiples of REC_ALIGN. */
#define REC_ALIGN		64
#define REC_PAD			BIT(0)	/* skip to the ring's start */
#define REC_CSUM		BIT(1)	/* checksum still to fill in */
struct ivnet_rec {
	u32 len;		/* frame bytes after this header */
	u16 flags;
	u16 csum_start;		/* from the frame's start */
	u16 csum_offset;	/* from csum_start */
	u16 reserved0;
	u32 reserved1;
	u8 data[];
};

#define DEFAULT_MTU		16384
#define MAX_MTU			(65535 - ETH_HLEN - VLAN_HLEN)

struct sh_ivnet {
	struct net_device *ndev;
	struct napi_struct napi;
	struct work_struct state_work;
	struct mutex lock;		/* state changes, open and stop */
	struct sh_ivnet_hw hw;
	u32 peer;

	const u32 *state_tab;		/* read-only for us */
	struct ivnet_ctrl *my_ctrl;	/* our output section */
	u8 *my_ring;
	const struct ivnet_ctrl *peer_ctrl;	/* the peer's, read-only */
	const u8 *peer_ring;
	u64 ring_size;			/* D: each ring's bytes */

	u32 state;			/* ours, as last written */
	u32 last_peer_state;		/* what the work last saw */
	bool opened;
	u64 tx_head;			/* owned by xmit (or stop/reset) */
	u64 rx_tail;			/* owned by the NAPI poll */
	u32 max_rec;			/* record bytes of the largest frame */
};

static u32 rec_size(u32 frame_len)
{
	return ALIGN(sizeof(struct ivnet_rec) + frame_len, REC_ALIGN);
}

static void set_state(struct sh_ivnet *p, u32 state)
{
	WRITE_ONCE(p->state, state);
	writel(state, p->hw.regs + REG_STATE);
}

/*
 * The doorbell. writel() orders every earlier store to normal memory (the
 * ring and its index) before the register write (its barrier is at least
 * dmb oshst, and the sections are inner shareable), so the peer's
 * interrupt cannot come before what it announces is visible.
 */
static void ring_peer(struct sh_ivnet *p)
{
	writel(p->peer << 16, p->hw.regs + REG_DOORBELL);
}

static u32 peer_state(struct sh_ivnet *p)
{
	return READ_ONCE(p->state_tab[p->peer]);
}

/*
 * Free bytes in our ring. virt_load_acquire() on the peer's rx_tail: the
 * peer released it after copying the records out, and the acquire keeps
 * our later stores into those bytes after this load, so we never overwrite
 * a record the peer still reads. A hostile peer's rx_tail beyond our head
 * or more than a ring behind gives a huge or negative distance: no space
 * (it can only stall its own link).
 */
static u64 tx_space(struct sh_ivnet *p)
{
	u64 used = p->tx_head - virt_load_acquire(&p->peer_ctrl->rx_tail);

	return used > p->ring_size ? 0 : p->ring_size - used;
}

/* Room for the largest frame plus the pad record a wrap may need. */
static bool tx_room(struct sh_ivnet *p)
{
	return tx_space(p) >= 2 * (u64)p->max_rec;
}

static netdev_tx_t sh_ivnet_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct sh_ivnet *p = netdev_priv(ndev);
	u32 len = skb->len, need = rec_size(len);
	u64 pos = p->tx_head % p->ring_size, contig = p->ring_size - pos;
	struct ivnet_rec *rec;
	u16 flags = 0;

	if (READ_ONCE(p->state) != ST_RUN || need > p->max_rec ||
	    tx_space(p) < need + (contig < need ? contig : 0)) {
		ndev->stats.tx_dropped++;
		dev_kfree_skb_any(skb);
		return NETDEV_TX_OK;
	}
	if (contig < need) {
		/* contig is a non-zero multiple of REC_ALIGN: room for a header. */
		rec = (struct ivnet_rec *)(p->my_ring + pos);
		rec->len = 0;
		rec->flags = REC_PAD;
		p->tx_head += contig;
		pos = 0;
	}
	rec = (struct ivnet_rec *)(p->my_ring + pos);
	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		/* As virtio-net: the receiver's stack fills the checksum in if needed. */
		flags |= REC_CSUM;
		rec->csum_start = skb_checksum_start_offset(skb);
		rec->csum_offset = skb->csum_offset;
	}
	rec->len = len;
	rec->flags = flags;
	skb_copy_bits(skb, 0, rec->data, len);
	p->tx_head += need;
	/*
	 * Release: the record (and a pad record before it) is written before
	 * the peer can see the head that covers it; the peer acquires it.
	 */
	virt_store_release(&p->my_ctrl->tx_head, p->tx_head);
	ndev->stats.tx_packets++;
	ndev->stats.tx_bytes += len;
	dev_consume_skb_any(skb);

	if (!tx_room(p)) {
		netif_stop_queue(ndev);
		/*
		 * Ask the peer for a doorbell when it consumes. Full barrier
		 * between the flag's store and the re-read of its rx_tail; the
		 * peer has one between storing rx_tail and reading the flag
		 * (sh_ivnet_poll): one of the two sees the other's store, so
		 * the queue cannot stay stopped with space free.
		 */
		WRITE_ONCE(p->my_ctrl->tx_wait, 1);
		virt_mb();
		if (tx_room(p)) {
			WRITE_ONCE(p->my_ctrl->tx_wait, 0);
			netif_start_queue(ndev);
		}
	}
	/* One doorbell per batch the stack hands over. */
	if (!netdev_xmit_more() || netif_queue_stopped(ndev))
		ring_peer(p);
	return NETDEV_TX_OK;
}

/* The peer consumed from our ring: restart a stopped queue. */
static void tx_wake(struct sh_ivnet *p)
{
	struct net_device *ndev = p->ndev;
	struct netdev_queue *txq = netdev_get_tx_queue(ndev, 0);

	if (!netif_queue_stopped(ndev))
		return;
	__netif_tx_lock(txq, smp_processor_id());
	if (READ_ONCE(p->state) == ST_RUN && netif_queue_stopped(ndev) && tx_room(p)) {
		WRITE_ONCE(p->my_ctrl->tx_wait, 0);
		netif_wake_queue(ndev);
	}
	__netif_tx_unlock(txq);
}

/* Copies one record out of the peer's ring into an skb for the stack. */
static void rx_one(struct sh_ivnet *p, const struct ivnet_rec *rec, u32 len,
		   u16 flags)
{
	struct net_device *ndev = p->ndev;
	u16 start = READ_ONCE(rec->csum_start), off = READ_ONCE(rec->csum_offset);
	struct sk_buff *skb;

	skb = napi_alloc_skb(&p->napi, len);
	if (!skb) {
		ndev->stats.rx_dropped++;
		return;
	}
	memcpy(skb_put(skb, len), rec->data, len);
	/* skb_partial_csum_set() checks the peer's offsets against the frame. */
	if ((flags & REC_CSUM) && !skb_partial_csum_set(skb, start, off)) {
		ndev->stats.rx_errors++;
		dev_kfree_skb_any(skb);
		return;
	}
	skb->protocol = eth_type_trans(skb, ndev);
	ndev->stats.rx_packets++;
	ndev->stats.rx_bytes += len;
	napi_gro_receive(&p->napi, skb);
}

static int sh_ivnet_poll(struct napi_struct *napi, int budget)
{
	struct sh_ivnet *p = container_of(napi, struct sh_ivnet, napi);
	u32 ps = peer_state(p);
	u64 head, tail = p->rx_tail, before = tail;
	int done = 0;

	tx_wake(p);
	/* Only a peer in READY or RUN has a valid ring (docs/ivshmem-net.md). */
	if (READ_ONCE(p->state) != ST_RUN || (ps != ST_READY && ps != ST_RUN)) {
		napi_complete_done(napi, 0);
		return 0;
	}
	/*
	 * Acquire: the peer released its head after writing the records, so
	 * every record below head reads complete after this load.
	 */
	head = virt_load_acquire(&p->peer_ctrl->tx_head);
	if (head - tail > p->ring_size) {
		/* Not a ring the peer could have written (or it restarts). */
		p->ndev->stats.rx_errors++;
		tail = head;
	}
	while (tail != head && done < budget) {
		u64 pos = tail % p->ring_size, avail = head - tail;
		const struct ivnet_rec *rec = (const void *)(p->peer_ring + pos);
		u32 len = READ_ONCE(rec->len);
		u16 flags = READ_ONCE(rec->flags);

		if (flags & REC_PAD) {
			if (p->ring_size - pos > avail)
				goto bad;
			tail += p->ring_size - pos;
			continue;
		}
		/*
		 * Every check against the peer's values before the copy: the
		 * record must lie inside the published part and the ring.
		 */
		if (len < ETH_HLEN || rec_size(len) > p->max_rec ||
		    rec_size(len) > avail || pos + rec_size(len) > p->ring_size)
			goto bad;
		rx_one(p, rec, len, flags);
		tail += rec_size(len);
		done++;
	}
	goto publish;
bad:
	p->ndev->stats.rx_errors++;
	tail = head;
publish:
	p->rx_tail = tail;
	if (tail != before) {
		/*
		 * Release: our reads of the records are done before the peer
		 * can see the space free and overwrite it (it acquires).
		 */
		virt_store_release(&p->my_ctrl->rx_tail, tail);
		/* Pairs with the barrier after tx_wait in sh_ivnet_xmit. */
		virt_mb();
		if (READ_ONCE(p->peer_ctrl->tx_wait))
			ring_peer(p);
	}
	if (done < budget)
		napi_complete_done(napi, done);
	return done;
}

/*
 * A new doorbell or a state change of the peer. Not one-shot: the device
 * keeps its interrupt enabled, and NAPI merges doorbells that come while
 * a poll is scheduled (a doorbell during the poll reschedules it).
 */
static irqreturn_t sh_ivnet_irq(int irq, void *data)
{
	struct sh_ivnet *p = data;

	if (peer_state(p) != READ_ONCE(p->last_peer_state))
		schedule_work(&p->state_work);
	napi_schedule(&p->napi);
	return IRQ_HANDLED;
}

/* Both rings' headers back to zero, nothing sent or consumed. */
static void reset_rings(struct sh_ivnet *p)
{
	p->tx_head = 0;
	p->rx_tail = 0;
	WRITE_ONCE(p->my_ctrl->tx_head, 0);
	WRITE_ONCE(p->my_ctrl->rx_tail, 0);
	WRITE_ONCE(p->my_ctrl->tx_wait, 0);
	/* The zeroes are visible before the state that announces them. */
	virt_wmb();
}

/*
 * Back to INIT: the link is down until both peers go through the
 * handshake again. Transmit and the poll are stopped first (they own
 * tx_head and rx_tail), so nothing races with the zeroing.
 */
static void link_reset(struct sh_ivnet *p)
{
	netif_carrier_off(p->ndev);
	netif_tx_disable(p->ndev);
	napi_disable(&p->napi);
	reset_rings(p);
	napi_enable(&p->napi);
	set_state(p, ST_INIT);
}

/*
 * The handshake (docs/ivshmem-net.md): INIT -> READY once the peer is in
 * INIT or READY (a peer in RUN is still in an earlier session and must
 * reset first), READY -> RUN once the peer is in READY or RUN, and back to
 * INIT when the peer leaves the session (RESET or any unknown value; INIT
 * while we run).
 */
static void sh_ivnet_state_work(struct work_struct *work)
{
	struct sh_ivnet *p = container_of(work, struct sh_ivnet, state_work);
	u32 ps;

	mutex_lock(&p->lock);
	while (p->opened) {
		ps = peer_state(p);
		WRITE_ONCE(p->last_peer_state, ps);
		if (p->state == ST_INIT && (ps == ST_INIT || ps == ST_READY)) {
			set_state(p, ST_READY);
		} else if (p->state == ST_READY && (ps == ST_READY || ps == ST_RUN)) {
			set_state(p, ST_RUN);
			netif_carrier_on(p->ndev);
			netif_wake_queue(p->ndev);
			/*
			 * Frames the peer sent while we were READY. Softirqs
			 * off around it, so that the poll runs when they come
			 * back on rather than waiting in process context.
			 */
			local_bh_disable();
			napi_schedule(&p->napi);
			local_bh_enable();
			netdev_info(p->ndev, "link up with peer %u\n", p->peer);
		} else if ((p->state == ST_READY && ps != ST_INIT) ||
			   (p->state == ST_RUN && ps != ST_READY && ps != ST_RUN)) {
			if (p->state == ST_RUN)
				netdev_info(p->ndev, "link down (peer state %u)\n", ps);
			link_reset(p);
		} else {
			break;
		}
	}
	mutex_unlock(&p->lock);
}

static int sh_ivnet_open(struct net_device *ndev)
{
	struct sh_ivnet *p = netdev_priv(ndev);

	mutex_lock(&p->lock);
	netif_carrier_off(ndev);
	netif_stop_queue(ndev);
	reset_rings(p);
	napi_enable(&p->napi);
	p->opened = true;
	set_state(p, ST_INIT);
	mutex_unlock(&p->lock);
	schedule_work(&p->state_work);
	return 0;
}

static int sh_ivnet_stop(struct net_device *ndev)
{
	struct sh_ivnet *p = netdev_priv(ndev);

	mutex_lock(&p->lock);
	p->opened = false;
	set_state(p, ST_RESET);
	netif_carrier_off(ndev);
	netif_tx_disable(ndev);
	napi_disable(&p->napi);
	mutex_unlock(&p->lock);
	cancel_work_sync(&p->state_work);
	return 0;
}

/* Only while down: the receiver checks frame sizes against its own MTU's. */
static int sh_ivnet_change_mtu(struct net_device *ndev, int mtu)
{
	struct sh_ivnet *p = netdev_priv(ndev);

	if (netif_running(ndev))
		return -EBUSY;
	ndev->mtu = mtu;
	p->max_rec = rec_size(mtu + ETH_HLEN + VLAN_HLEN);
	return 0;
}

static const struct net_device_ops sh_ivnet_ops = {
	.ndo_open = sh_ivnet_open,
	.ndo_stop = sh_ivnet_stop,
	.ndo_start_xmit = sh_ivnet_xmit,
	.ndo_change_mtu = sh_ivnet_change_mtu,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

static void unmap_sections(struct sh_ivnet *p)
{
	if (p->state_tab)
		memunmap((void *)p->state_tab);
	if (p->my_ctrl)
		memunmap(p->my_ctrl);
	if (p->peer_ctrl)
		memunmap((void *)p->peer_ctrl);
}

static int map_sections(struct sh_ivnet *p)
{
	const struct sh_ivnet_hw *hw = &p->hw;
	phys_addr_t mine = hw->outputs + hw->id * hw->output_size;
	phys_addr_t theirs = hw->outputs + p->peer * hw->output_size;

	/*
	 * Write-back, as every peer maps the sections. The state table and
	 * the peer's section are read-only in stage 2: we only read them.
	 */
	p->state_tab = memremap(hw->state_table, hw->state_size, MEMREMAP_WB);
	p->my_ctrl = memremap(mine, hw->output_size, MEMREMAP_WB);
	p->peer_ctrl = memremap(theirs, hw->output_size, MEMREMAP_WB);
	if (!p->state_tab || !p->my_ctrl || !p->peer_ctrl)
		return -ENOMEM;
	p->my_ring = (u8 *)p->my_ctrl + RING_OFFSET;
	p->peer_ring = (const u8 *)p->peer_ctrl + RING_OFFSET;
	return 0;
}

struct sh_ivnet *sh_ivnet_add(const struct sh_ivnet_hw *hw)
{
	struct net_device *ndev;
	struct sh_ivnet *p;
	u64 ring = round_down(hw->output_size > RING_OFFSET ?
			      hw->output_size - RING_OFFSET : 0, REC_ALIGN);
	u32 max_mtu;
	int err;

	if (hw->peers != 2 || hw->id > 1 || hw->state_size < 2 * sizeof(u32)) {
		pr_err(SH_PREFIX "%s: ivshmem-net needs a link of 2 peers (ID %u of %u)\n",
		       hw->what, hw->id, hw->peers);
		return ERR_PTR(-ENODEV);
	}
	/* Four of the largest records fit (the queue stops below two). */
	if (ring < 4 * (u64)rec_size(ETH_FRAME_LEN + VLAN_HLEN)) {
		pr_err(SH_PREFIX "%s: output section of %#llx bytes too small for ivshmem-net\n",
		       hw->what, hw->output_size);
		return ERR_PTR(-ENODEV);
	}
	max_mtu = min_t(u64, MAX_MTU, ring / 4 - REC_ALIGN - sizeof(struct ivnet_rec) -
			ETH_HLEN - VLAN_HLEN);

	ndev = alloc_netdev(sizeof(*p), "ivshmem%d", NET_NAME_ENUM, ether_setup);
	if (!ndev)
		return ERR_PTR(-ENOMEM);
	p = netdev_priv(ndev);
	p->ndev = ndev;
	p->hw = *hw;
	p->peer = 1 - hw->id;
	p->ring_size = ring;
	mutex_init(&p->lock);
	INIT_WORK(&p->state_work, sh_ivnet_state_work);
	err = map_sections(p);
	if (err)
		goto out_free;

	SET_NETDEV_DEV(ndev, hw->parent);
	ndev->netdev_ops = &sh_ivnet_ops;
	ndev->min_mtu = ETH_MIN_MTU;
	ndev->max_mtu = max_mtu;
	ndev->mtu = min_t(u32, DEFAULT_MTU, max_mtu);
	p->max_rec = rec_size(ndev->mtu + ETH_HLEN + VLAN_HLEN);
	ndev->hw_features = NETIF_F_SG | NETIF_F_HW_CSUM;
	ndev->features = ndev->hw_features;
	eth_hw_addr_random(ndev);
	netif_napi_add(ndev, &p->napi, sh_ivnet_poll);
	netif_carrier_off(ndev);

	/* Down until opened: RESET tells a peer that waits. */
	set_state(p, ST_RESET);
	err = request_irq(hw->irq, sh_ivnet_irq, 0, hw->what, p);
	if (err)
		goto out_napi;
	writel(1, hw->regs + REG_INT_CONTROL);
	err = register_netdev(ndev);
	if (err)
		goto out_irq;
	netdev_info(ndev, "ivshmem-net on %s: ID %u, %llu-byte rings, MTU %u (max %u)\n",
		    hw->what, hw->id, ring, ndev->mtu, max_mtu);
	return p;

out_irq:
	writel(0, hw->regs + REG_INT_CONTROL);
	free_irq(hw->irq, p);
out_napi:
	netif_napi_del(&p->napi);
out_free:
	unmap_sections(p);
	free_netdev(ndev);
	return ERR_PTR(err);
}

void sh_ivnet_remove(struct sh_ivnet *p)
{
	struct net_device *ndev = p->ndev;

	/* Stops it (RESET to the peer) if it is up. */
	unregister_netdev(ndev);
	set_state(p, ST_RESET);
	writel(0, p->hw.regs + REG_INT_CONTROL);
	free_irq(p->hw.irq, p);
	cancel_work_sync(&p->state_work);
	netif_napi_del(&p->napi);
	unmap_sections(p);
	free_netdev(ndev);
}
