/* See shim.h. Compiled by build.rs with the cflags pkg-config gives. */
#include <string.h>

#include <rte_config.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "shim.h"

uint16_t shim_rx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t shim_tx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
			    unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

int shim_mempool_is_ring(const struct rte_mempool *mp)
{
	const struct rte_mempool_ops *ops = rte_mempool_get_ops(mp->ops_index);

	return strncmp(ops->name, "ring_", 5) == 0;
}

unsigned int shim_mempool_avail_here(const struct rte_mempool *mp, int ring_backed)
{
	struct rte_mempool *m = (struct rte_mempool *)mp;
	struct rte_mempool_cache *cache;
	unsigned int n;

	/* The common store's count is only public for ring-backed pools
	 * (rte_mempool_ops_get_count is internal); others take the walk.
	 * The caller asks shim_mempool_is_ring once per pool, not here on
	 * every call. */
	if (!ring_backed)
		return rte_mempool_avail_count(mp);
	n = rte_ring_count((const struct rte_ring *)m->pool_data);
	cache = rte_mempool_default_cache(m, rte_lcore_id());
	if (cache != NULL)
		n += cache->len;
	return n > mp->size ? mp->size : n;
}

void shim_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

struct rte_mbuf *shim_pktmbuf_clone(struct rte_mbuf *md,
				    struct rte_mempool *mp)
{
	return rte_pktmbuf_clone(md, mp);
}

char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

uint16_t shim_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t shim_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

void *shim_pktmbuf_mtod(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

uint16_t shim_mbuf_refcnt_read(const struct rte_mbuf *m)
{
	return rte_mbuf_refcnt_read(m);
}

uint16_t shim_mbuf_refcnt_read_acquire(const struct rte_mbuf *m)
{
	/* DPDK's own read is relaxed. Before writing into a buffer because
	 * its count says we hold the only reference, the writes of whoever
	 * dropped the others must be visible: acquire, pairing with the
	 * release in the decrement that dropped them. */
	return __atomic_load_n(&m->refcnt, __ATOMIC_ACQUIRE);
}

uint16_t shim_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value)
{
	return rte_mbuf_refcnt_update(m, value);
}

int shim_mbuf_is_direct(const struct rte_mbuf *m)
{
	return RTE_MBUF_DIRECT(m) ? 1 : 0;
}

struct rte_mbuf *shim_mbuf_from_indirect(struct rte_mbuf *mi)
{
	return rte_mbuf_from_indirect(mi);
}

uint64_t shim_rdtsc(void)
{
	return rte_rdtsc();
}

unsigned int shim_lcore_id(void)
{
	return rte_lcore_id();
}

int shim_errno(void)
{
	return rte_errno;
}

uint16_t shim_ipv4_phdr_cksum(const struct rte_ipv4_hdr *ipv4_hdr,
			      uint64_t ol_flags)
{
	return rte_ipv4_phdr_cksum(ipv4_hdr, ol_flags);
}

void shim_mbuf_set_tx_lens(struct rte_mbuf *m, uint8_t l2_len, uint8_t l3_len)
{
	m->l2_len = l2_len;
	m->l3_len = l3_len;
}

void shim_mbuf_set_tso(struct rte_mbuf *m, uint8_t l4_len, uint16_t tso_segsz)
{
	m->l4_len = l4_len;
	m->tso_segsz = tso_segsz;
}
