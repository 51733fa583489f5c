/* SPDX-License-Identifier: MIT */
/*
 * skew.h - clock offsets between hosts from causality.
 *
 * Every host's times are first put on its own wall clock (the recording's
 * CLOCK_REALTIME reference pairs).  A host's wall clock may be off: its
 * OFFSET is how far its clock is ahead of the reference host's
 * (host_clock = reference_clock + offset), so a host whose clock runs 5 s
 * ahead has offset +5 s, and its times are corrected by subtracting it.
 *
 * Each matched exchange (a client's request answered by a server, both
 * recorded) bounds the server's offset relative to the client's: the server
 * cannot receive the request before the client sent it, nor send the reply
 * after the client received it:
 *
 *   s_send - c_recv  <=  offset(server) - offset(client)  <=  s_recv - c_send
 *
 * All such bounds form a system of difference constraints; the tightest
 * interval of each host's offset relative to the reference follows from
 * shortest paths over it (Floyd-Warshall: hosts are few).  The estimate is a
 * point inside the feasible region, chosen host by host as the middle of
 * what is left (the NTP estimate for one pair), so that applying the
 * offsets never puts an effect before its cause when the constraints are
 * consistent.
 *
 * Inconsistent constraints (a pair whose bounds cross, e.g. a clock
 * stepped during the recording, or a cycle of pairs that cannot all hold)
 * are reported: a crossing pair is narrowed to the middle of its crossed
 * bounds, and when the system still has no solution the offsets come from
 * the pairs along a spanning tree from the reference (most exchanges
 * first).  Hosts not connected to the reference by exchanges have an unbounded
 * interval; among a group of them that exchanged with each other, the
 * first keeps offset 0 (its wall clock taken as right) and the others are
 * placed relative to it, so the group stays causal.
 *
 * Library code: never prints, never exits.
 */
#ifndef PYLOW_SKEW_H
#define PYLOW_SKEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLW_SKEW_HOSTS_MAX	256

/* One matched exchange; times in ns on each host's own (wall) clock. */
struct plw_skew_exchange {
	uint32_t client, server;	/* host indexes, < nr_hosts, different */
	int64_t c_send, c_recv;		/* client: request sent, reply received */
	int64_t s_recv, s_send;		/* server: request received, reply sent */
};

#define PLW_SKEW_UNBOUNDED_LO	INT64_MIN
#define PLW_SKEW_UNBOUNDED_HI	INT64_MAX

struct plw_skew_host {
	int64_t offset_ns;		/* estimate: host clock - reference clock */
	int64_t lo_ns, hi_ns;		/* interval (PLW_SKEW_UNBOUNDED_* when open) */
	uint64_t matched;		/* exchanges with this host on one side */
	bool bounded;			/* connected to the reference by exchanges */
	bool inconsistent;		/* its bounds contradicted each other */
};

/*
 * Estimates the offset of each of NR_HOSTS hosts relative to host REF from
 * N exchanges.  OUT has NR_HOSTS entries.  Returns 0 (consistent), 1 (some
 * constraints were inconsistent: flagged in OUT, offsets still set), or
 * -EINVAL / -ENOMEM.
 */
int plw_skew_solve(uint32_t nr_hosts, uint32_t ref, const struct plw_skew_exchange *ex,
		   size_t n, struct plw_skew_host *out);

#endif /* PYLOW_SKEW_H */
