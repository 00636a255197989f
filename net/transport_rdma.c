/*
 * The rdma wire: one RC queue pair per link, set up over the TCP connection of the hello
 * (rc_pingpong's recipe: QP number, PSN, LID and GID exchanged, INIT -> RTR -> RTS).
 *
 * Each side registers a receive ring the peer may write. A message of L bytes goes
 * with one RDMA WRITE WITH IMMEDIATE (immediate = L) to the next L bytes of the peer's
 * ring, or to its start when they would run past the end; both sides apply that rule,
 * so the immediate alone says where the bytes are. The receiver copies them out, posts
 * the receive again and, every quarter ring (or quarter of its receive queue), SENDs
 * back how much it has consumed: credits. The sender keeps a mirror of the peer's ring
 * as its staging area, so a write needs no copy of its own and its bytes stay put until
 * the peer has consumed them.
 *
 * Waiting: a bounded busy poll of the completion queue, then a block on its completion
 * channel together with the side channel, whose end (the peer process died) ends the
 * link at once. A completion in error (the peer's host no longer answers) ends it too.
 */
#include "net/transport_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RING_BYTES (2 * TRANSPORT_MAX_MSG + 4096)	/* two sealed messages, whole pages */
#define RQ_DEPTH 512
#define SQ_DEPTH 256
#define SIGNAL_EVERY 32
#define SPIN_NS (20 * 1000)
#define SLOT_BYTES 64
#define FLUSH_WR_ID UINT64_MAX
#define FLUSH_MS 2000

struct credit {
	uint64_t bytes;		/* ring bytes consumed so far, skips included */
	uint64_t msgs;		/* messages consumed so far */
};

/* What the sides tell each other over the side channel. */
struct params {
	uint32_t qpn, psn;
	uint16_t lid, pad;
	uint8_t gid[16];
	uint64_t ring_addr;
	uint32_t ring_rkey, ring_bytes;
};

struct rdma_link {
	struct transport t;
	int fd;				/* the side channel */
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint8_t *ring, *stage, *slots;	/* receive ring, mirror of the peer's, receive slots */
	struct ibv_mr *ring_mr, *stage_mr, *slots_mr, *credit_mr;
	struct credit credit_out;	/* the SEND buffer */
	struct params peer;
	/* sending */
	uint64_t wpos;			/* bytes of the peer's ring used so far */
	uint64_t wmsgs;			/* messages sent (writes and credits) */
	struct credit peer_used;	/* what the peer has consumed */
	unsigned unsignaled;		/* WRs posted since the last signaled one */
	unsigned sq_busy;		/* WRs whose completion is not yet seen */
	/* receiving */
	uint32_t arrived[RQ_DEPTH];	/* lengths of messages written, in order */
	unsigned head, count;
	struct credit used;		/* what this side consumed */
	struct credit credited;		/* what the peer was told */
	int dead;
	int notify_armed;
	int flushed;			/* the closing write completed */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The link is dead from here on: the first reason is kept. */
static int die(struct rdma_link *l, int code, const char *what)
{
	if (!l->dead) {
		snprintf(l->t.error, sizeof(l->t.error), "%s: %s", l->t.peer, what);
		l->dead = code;
	}
	return l->dead;
}

static int post_recv(struct rdma_link *l, unsigned slot)
{
	struct ibv_sge sge = { (uintptr_t)(l->slots + slot * SLOT_BYTES), SLOT_BYTES, l->slots_mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 }, *bad;
	return ibv_post_recv(l->qp, &wr, &bad) ? -EIO : 0;
}

/* Posts a send WR, signaling every SIGNAL_EVERY so the send queue drains. */
static int post(struct rdma_link *l, struct ibv_send_wr *wr)
{
	struct ibv_send_wr *bad;
	if (++l->unsignaled >= SIGNAL_EVERY) {
		wr->send_flags |= IBV_SEND_SIGNALED;
		l->unsignaled = 0;
	}
	l->sq_busy++;
	l->wmsgs++;
	return ibv_post_send(l->qp, wr, &bad) ? die(l, -EPIPE, "ibv_post_send failed") : 0;
}

static void handle(struct rdma_link *l, const struct ibv_wc *wc)
{
	if (wc->opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
		l->arrived[(l->head + l->count++) % RQ_DEPTH] = ntohl(wc->imm_data);
	} else if (wc->opcode == IBV_WC_RECV) {
		struct credit c;
		memcpy(&c, l->slots + wc->wr_id * SLOT_BYTES, sizeof(c));
		if (c.bytes > l->peer_used.bytes && c.bytes <= l->wpos)
			l->peer_used.bytes = c.bytes;
		if (c.msgs > l->peer_used.msgs && c.msgs <= l->wmsgs)
			l->peer_used.msgs = c.msgs;
		l->used.msgs++;		/* a credit message takes a receive too */
	} else {
		l->sq_busy = l->sq_busy > SIGNAL_EVERY ? l->sq_busy - SIGNAL_EVERY : 0;
		if (wc->wr_id == FLUSH_WR_ID)
			l->flushed = 1;
		return;
	}
	if (post_recv(l, (unsigned)wc->wr_id))
		die(l, -EIO, "cannot post a receive again");
}

/* Takes what the completion queue holds; -errno when the link is dead. */
static int drain(struct rdma_link *l)
{
	struct ibv_wc wc[16];
	int n = 0;
	while (!l->dead && (n = ibv_poll_cq(l->cq, 16, wc)) > 0) {
		for (int i = 0; i < n; i++) {
			if (wc[i].status != IBV_WC_SUCCESS) {
				char why[128];
				snprintf(why, sizeof(why), "the RDMA link failed: %s (the peer's host is gone?)",
					 ibv_wc_status_str(wc[i].status));
				return die(l, -ECONNRESET, why);
			}
			handle(l, &wc[i]);
		}
	}
	if (n < 0)
		return die(l, -EIO, "ibv_poll_cq failed");
	return l->dead;
}

/* Waits until the completion queue has something (or the deadline): busy first, then on
 * the completion channel and the side channel. 0, -ETIMEDOUT, or the link's death. */
static int wait_cq(struct rdma_link *l, int64_t deadline)
{
	uint64_t spin_end = now_ns() + SPIN_NS;
	for (;;) {
		int r = drain(l);
		if (r)
			return r;
		if (now_ns() >= spin_end)
			break;
		if (l->count)
			return 0;
	}
	if (!l->notify_armed) {
		if (ibv_req_notify_cq(l->cq, 0))
			return die(l, -EIO, "ibv_req_notify_cq failed");
		l->notify_armed = 1;
		/* what came between the last poll and arming is not announced */
		return drain(l);
	}
	struct pollfd pf[3] = { { .fd = l->ch->fd, .events = POLLIN }, { .fd = l->fd, .events = POLLIN },
				{ .fd = l->t.wake_fd, .events = POLLIN } };
	int p = poll(pf, l->t.wake_fd >= 0 ? 3 : 2, link_ms_left(deadline));
	if (p < 0)
		return errno == EINTR ? 0 : -errno;
	if (p == 0 || (!pf[0].revents && !pf[1].revents && link_woken(&l->t)))
		return -ETIMEDOUT;
	if (pf[1].revents) {
		char c;
		ssize_t n = recv(l->fd, &c, 1, MSG_DONTWAIT);
		/* what the peer wrote before it closed is still delivered */
		if (n <= 0 && !(n < 0 && errno == EAGAIN) && !drain(l) && l->count)
			return 0;
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			return die(l, -ECONNRESET, "closed the link");
		return die(l, -EPROTO, "sent garbage on the RDMA side channel");
	}
	if (pf[0].revents) {
		struct ibv_cq *cq;
		void *ctx;
		if (!ibv_get_cq_event(l->ch, &cq, &ctx))
			ibv_ack_cq_events(cq, 1);
		l->notify_armed = 0;
	}
	return drain(l);
}

static int send_credit(struct rdma_link *l)
{
	l->credit_out = l->used;
	l->credited = l->used;
	struct ibv_sge sge = { (uintptr_t)&l->credit_out, sizeof(l->credit_out), l->credit_mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_INLINE };
	return post(l, &wr);
}

static int rdma_send(struct transport *t, const void *msg, size_t len)
{
	struct rdma_link *l = (struct rdma_link *)t;
	if (len > WIRE_MAX_MSG)
		return -EMSGSIZE;
	uint64_t off = l->wpos % RING_BYTES, skip = off + len > RING_BYTES ? RING_BYTES - off : 0;
	/* room in the peer's ring and receive queue (half of it: credits need some), and in
	 * our send queue */
	int64_t deadline = link_deadline(t->send_timeout_ms);
	for (;;) {
		if (l->dead)
			return -EPIPE;
		if (l->wpos + skip + len - l->peer_used.bytes <= RING_BYTES &&
		    l->wmsgs - l->peer_used.msgs < RQ_DEPTH / 2 && l->sq_busy < SQ_DEPTH - SIGNAL_EVERY)
			break;
		int r = wait_cq(l, deadline);
		if (r == -ETIMEDOUT && deadline >= 0 && !link_ms_left(deadline))
			return die(l, -ETIMEDOUT, "gave no room for a message within the send timeout");
		if (r && r != -ETIMEDOUT)
			return r == -ECONNRESET ? -EPIPE : r;
	}
	off = skip ? 0 : off;
	memcpy(l->stage + off, msg, len);
	struct ibv_sge sge = { (uintptr_t)(l->stage + off), (uint32_t)len, l->stage_mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = len ? 1 : 0, .opcode = IBV_WR_RDMA_WRITE_WITH_IMM,
				  .imm_data = htonl((uint32_t)len) };
	wr.wr.rdma.remote_addr = l->peer.ring_addr + off;
	wr.wr.rdma.rkey = l->peer.ring_rkey;
	l->wpos += skip + len;
	int r = post(l, &wr);
	if (r)
		return -EPIPE;
	t->sent_msgs++;
	t->sent_bytes += len;
	return 0;
}

static ssize_t rdma_recv(struct transport *t, void *buf, size_t cap, int timeout_ms)
{
	struct rdma_link *l = (struct rdma_link *)t;
	int64_t deadline = link_deadline(timeout_ms);
	int r = drain(l);
	while (!r && !l->count) {
		r = wait_cq(l, deadline);
		if (r == -ETIMEDOUT && !l->count)
			return r;
	}
	if (!l->count)
		return r;
	uint32_t len = l->arrived[l->head];
	if (len > WIRE_MAX_MSG) {
		link_fail(t, "%s sent garbage: a message of %u bytes (at most %u)", t->peer, len, WIRE_MAX_MSG);
		return l->dead = -EPROTO;
	}
	if (len > cap) {
		return l->dead = link_too_big(t, len, cap);
	}
	uint64_t off = l->used.bytes % RING_BYTES, skip = off + len > RING_BYTES ? RING_BYTES - off : 0;
	if (len)
		memcpy(buf, l->ring + (skip ? 0 : off), len);
	l->head = (l->head + 1) % RQ_DEPTH;
	l->count--;
	l->used.bytes += skip + len;
	l->used.msgs++;
	if (l->used.bytes - l->credited.bytes >= RING_BYTES / 4 || l->used.msgs - l->credited.msgs >= RQ_DEPTH / 8)
		send_credit(l);
	t->recv_msgs++;
	t->recv_bytes += len;
	return len;
}

/* RC completes in order: once a last, signaled, empty write completes, the peer holds
 * every message before it. Without this a message sent just before closing is lost. */
static void flush_sends(struct rdma_link *l)
{
	if (l->dead || !l->qp || !l->wmsgs)
		return;
	struct ibv_send_wr wr = { .wr_id = FLUSH_WR_ID, .opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED };
	wr.wr.rdma.remote_addr = l->peer.ring_addr;
	wr.wr.rdma.rkey = l->peer.ring_rkey;
	l->unsignaled = 0;
	if (post(l, &wr))
		return;
	int64_t deadline = link_deadline(FLUSH_MS);
	while (!l->flushed && !drain(l) && link_ms_left(deadline))
		usleep(50);
}

static void rdma_destroy(struct transport *t)
{
	struct rdma_link *l = (struct rdma_link *)t;
	flush_sends(l);
	if (l->qp)
		ibv_destroy_qp(l->qp);
	if (l->cq)
		ibv_destroy_cq(l->cq);
	if (l->ch)
		ibv_destroy_comp_channel(l->ch);
	struct ibv_mr *mrs[] = { l->ring_mr, l->stage_mr, l->slots_mr, l->credit_mr };
	for (unsigned i = 0; i < 4; i++)
		if (mrs[i])
			ibv_dereg_mr(mrs[i]);
	if (l->pd)
		ibv_dealloc_pd(l->pd);
	if (l->ctx)
		ibv_close_device(l->ctx);
	free(l->ring);
	free(l->stage);
	free(l->slots);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

static const struct transport_ops rdma_ops = {
	.wire = "rdma",
	.send = rdma_send,
	.recv = rdma_recv,
	.destroy = rdma_destroy,
};

/* An IPv4-mapped GID (RoCE v2 over an IPv4 address) on port 1: its index, or -1. */
static int ipv4_gid(struct ibv_context *ctx, union ibv_gid *gid)
{
	struct ibv_port_attr pa;
	if (ibv_query_port(ctx, 1, &pa))
		return -1;
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	for (int i = 0; i < pa.gid_tbl_len; i++)
		if (!ibv_query_gid(ctx, 1, i, gid) && !memcmp(gid->raw, v4, 12) && memcmp(gid->raw + 12, "\0\0\0\0", 4))
			return i;
	return -1;
}

/* The named device, or the first with an IPv4 GID; its context and GID index. */
static struct ibv_context *open_device(const char *want, union ibv_gid *gid, int *gidx, char *name, size_t len)
{
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	struct ibv_context *ctx = NULL;
	for (int i = 0; list && i < n && !ctx; i++) {
		if (want && strcmp(want, ibv_get_device_name(list[i])))
			continue;
		ctx = ibv_open_device(list[i]);
		if (ctx && (*gidx = ipv4_gid(ctx, gid)) < 0) {
			ibv_close_device(ctx);
			ctx = NULL;
		}
		if (ctx && name)
			snprintf(name, len, "%s", ibv_get_device_name(list[i]));
	}
	if (list)
		ibv_free_device_list(list);
	return ctx;
}

int transport_rdma_available(char *name, size_t len)
{
	union ibv_gid gid;
	int gidx;
	struct ibv_context *ctx = open_device(NULL, &gid, &gidx, name, len);
	if (ctx)
		ibv_close_device(ctx);
	return ctx != NULL;
}

/* INIT, the receives posted, then RTR towards the peer. */
static int modify(struct rdma_link *l, int gidx, char *err, size_t errlen)
{
	struct ibv_port_attr pa;
	ibv_query_port(l->ctx, 1, &pa);
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = 1,
				 .qp_access_flags = IBV_ACCESS_REMOTE_WRITE };
	if (ibv_modify_qp(l->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		return snprintf(err, errlen, "cannot move the queue pair to INIT"), -EIO;
	for (unsigned i = 0; i < RQ_DEPTH; i++)
		if (post_recv(l, i))
			return snprintf(err, errlen, "cannot post receives"), -EIO;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = pa.active_mtu < IBV_MTU_1024 ? pa.active_mtu : IBV_MTU_1024;
	a.dest_qp_num = l->peer.qpn;
	a.rq_psn = l->peer.psn;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	memcpy(a.ah_attr.grh.dgid.raw, l->peer.gid, 16);
	a.ah_attr.grh.sgid_index = (uint8_t)gidx;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.dlid = l->peer.lid;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(l->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			  IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		return snprintf(err, errlen, "cannot move the queue pair to RTR (is the peer's RDMA device reachable?)"), -EIO;
	return 0;
}

int transport_rdma_new(struct transport **out, int fd, const char *peer, const char *device, int server,
		       int64_t deadline, char *err, size_t errlen)
{
	struct rdma_link *l = calloc(1, sizeof(*l));
	union ibv_gid gid;
	int gidx = -1, r = -EIO;
	char name[64] = "";
	if (!l) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->fd = fd;
	l->t.ops = &rdma_ops;
	l->t.wake_fd = -1;
	snprintf(l->t.peer, sizeof(l->t.peer), "%s", peer);
	l->ctx = open_device(device, &gid, &gidx, name, sizeof(name));
	if (!l->ctx) {
		snprintf(err, errlen, device ? "no RDMA device '%s' with an IPv4 address" :
			 "no RDMA device with an IPv4 address%s (see `detvm doctor`)", device ? device : "");
		r = -ENODEV;
		goto fail;
	}
	l->ring = aligned_alloc(4096, RING_BYTES);
	l->stage = aligned_alloc(4096, RING_BYTES);
	l->slots = calloc(RQ_DEPTH, SLOT_BYTES);
	l->pd = ibv_alloc_pd(l->ctx);
	l->ch = ibv_create_comp_channel(l->ctx);
	if (!l->ring || !l->stage || !l->slots || !l->pd || !l->ch) {
		snprintf(err, errlen, "cannot set up RDMA on %s: out of memory or resources", name);
		goto fail;
	}
	l->cq = ibv_create_cq(l->ctx, RQ_DEPTH + SQ_DEPTH, NULL, l->ch, 0);
	l->ring_mr = ibv_reg_mr(l->pd, l->ring, RING_BYTES, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	l->stage_mr = ibv_reg_mr(l->pd, l->stage, RING_BYTES, 0);
	l->slots_mr = ibv_reg_mr(l->pd, l->slots, RQ_DEPTH * SLOT_BYTES, IBV_ACCESS_LOCAL_WRITE);
	l->credit_mr = ibv_reg_mr(l->pd, &l->credit_out, sizeof(l->credit_out), 0);
	struct ibv_qp_init_attr qa = { .send_cq = l->cq, .recv_cq = l->cq, .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = SQ_DEPTH, .max_recv_wr = RQ_DEPTH,
						.max_send_sge = 1, .max_recv_sge = 1,
						.max_inline_data = sizeof(struct credit) } };
	l->qp = l->cq ? ibv_create_qp(l->pd, &qa) : NULL;
	if (!l->cq || !l->ring_mr || !l->stage_mr || !l->slots_mr || !l->credit_mr || !l->qp) {
		snprintf(err, errlen, "cannot set up RDMA on %s (queue pair, completion queue or memory "
			 "registration refused: is the memlock limit too low?)", name);
		goto fail;
	}
	struct ibv_port_attr pa;
	ibv_query_port(l->ctx, 1, &pa);
	/* a PSN nobody can guess: packets injected into the queue pair are dropped by RC */
	uint32_t psn = 0;
	if (getrandom(&psn, sizeof(psn), 0) != sizeof(psn))
		psn = (uint32_t)now_ns();
	struct params me = { .qpn = l->qp->qp_num, .psn = psn & 0xffffff, .lid = pa.lid,
			     .ring_addr = (uintptr_t)l->ring, .ring_rkey = l->ring_mr->rkey, .ring_bytes = RING_BYTES };
	memcpy(me.gid, gid.raw, 16);
	r = link_write_all(fd, &me, sizeof(me), -1);
	if (!r)
		r = link_read_all(fd, &l->peer, sizeof(l->peer), deadline);
	if (r) {
		snprintf(err, errlen, "%s: the RDMA parameters did not come: %s", peer, strerror(-r));
		goto fail;
	}
	if (l->peer.ring_bytes != RING_BYTES) {
		snprintf(err, errlen, "%s offers a ring of %u bytes, this side expects %u", peer,
			 l->peer.ring_bytes, RING_BYTES);
		r = -EPROTO;
		goto fail;
	}
	r = modify(l, gidx, err, errlen);
	if (r)
		goto fail;
	/* timeout 14: 4.096 us * 2^14 = 67 ms a try, 7 tries; rnr_retry 7: a receive not yet
	 * posted again makes the sender wait, not fail */
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTS, .timeout = 14, .retry_cnt = 7, .rnr_retry = 7,
				 .sq_psn = me.psn, .max_rd_atomic = 1 };
	if (ibv_modify_qp(l->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			  IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC)) {
		snprintf(err, errlen, "cannot move the queue pair to RTS");
		r = -EIO;
		goto fail;
	}
	/* neither side writes before the other can take it */
	char sync = server ? 's' : 'c', got;
	r = link_write_all(fd, &sync, 1, -1);
	if (!r)
		r = link_read_all(fd, &got, 1, deadline);
	if (r) {
		snprintf(err, errlen, "%s: the RDMA link did not come up: %s", peer, strerror(-r));
		goto fail;
	}
	*out = &l->t;
	return 0;
fail:
	rdma_destroy(&l->t);
	return r ? r : -EIO;
}
