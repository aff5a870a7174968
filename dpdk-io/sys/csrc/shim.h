/*
 * Real symbols for DPDK's static-inline functions, which bindgen cannot
 * link against. Every function here is a one-line forward to the DPDK
 * inline of the same name (without the shim_ prefix), but for the few
 * that say what they do instead.
 */
#ifndef DPDK_SYS_SHIM_H
#define DPDK_SYS_SHIM_H

#include <stdint.h>
#include <rte_mbuf.h>
#include <rte_ip.h>

uint16_t shim_rx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t shim_tx_burst(uint16_t port_id, uint16_t queue_id,
		       struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp);
int shim_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
			    unsigned int count);
void shim_pktmbuf_free(struct rte_mbuf *m);
/* Whether the pool's common store is a DPDK ring (its ops are "ring_*"). */
int shim_mempool_is_ring(const struct rte_mempool *mp);
/* Free objects in the pool's common ring plus the calling lcore's cache:
 * a lower bound of rte_mempool_avail_count() without its walk over every
 * lcore's cache. ring_backed: what shim_mempool_is_ring said of the pool
 * (without it, the full count). */
unsigned int shim_mempool_avail_here(const struct rte_mempool *mp, int ring_backed);
struct rte_mbuf *shim_pktmbuf_clone(struct rte_mbuf *md,
				    struct rte_mempool *mp);

char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
uint16_t shim_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t shim_pktmbuf_tailroom(const struct rte_mbuf *m);
void *shim_pktmbuf_mtod(const struct rte_mbuf *m);

uint16_t shim_mbuf_refcnt_read(const struct rte_mbuf *m);
/* The reference count with acquire ordering, for deciding exclusivity. */
uint16_t shim_mbuf_refcnt_read_acquire(const struct rte_mbuf *m);
uint16_t shim_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value);
/* 1 when m owns its data buffer (neither indirect nor external). */
int shim_mbuf_is_direct(const struct rte_mbuf *m);
/* The mbuf whose buffer an indirect mbuf is attached to. */
struct rte_mbuf *shim_mbuf_from_indirect(struct rte_mbuf *mi);

/* Sets l2_len and l3_len (C bit fields) for TX checksum offload. */
void shim_mbuf_set_tx_lens(struct rte_mbuf *m, uint8_t l2_len, uint8_t l3_len);
/* The TCP header length and segment size of a TSO frame. */
void shim_mbuf_set_tso(struct rte_mbuf *m, uint8_t l4_len, uint16_t tso_segsz);

uint64_t shim_rdtsc(void);
unsigned int shim_lcore_id(void);
int shim_errno(void);

uint16_t shim_ipv4_phdr_cksum(const struct rte_ipv4_hdr *ipv4_hdr,
			      uint64_t ol_flags);

#endif
