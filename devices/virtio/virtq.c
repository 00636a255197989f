#include "devices/virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmm/log.h"

/* Layout of the rings in guest memory (all little-endian). */
#define DESC_SIZE 16
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_IDX 2
#define USED_RING 4
#define USED_ELEM_SIZE 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

void virtq_reset(struct virtq *q)
{
	const char *name = q->name;
	uint64_t bad_chains = q->bad_chains, bad_rings = q->bad_rings;

	memset(q, 0, sizeof(*q));
	q->name = name;
	q->bad_chains = bad_chains;
	q->bad_rings = bad_rings;
}

static const char *qname(const struct virtq *q)
{
	return q->name ? q->name : "virtq";
}

/* The table may sit at any guest address, so copy rather than cast (alignment). */
static void desc_load(const uint8_t *table, uint32_t idx, struct desc *d)
{
	struct desc raw;

	memcpy(&raw, table + (uint64_t)idx * DESC_SIZE, DESC_SIZE);
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -EBADMSG;
}

int virtq_parse_chain(const struct virtq *q, const struct guest_mem *mem, uint16_t head,
		      struct virtq_chain *c, const char **why)
{
	const uint8_t *table;
	uint32_t table_num = q->num;
	uint32_t budget;	/* descriptors left to visit in this table: bounds any loop */
	int in_indirect = 0, seen_write = 0;
	uint32_t idx = head;

	c->head = head;
	c->nseg = 0;
	c->nread = 0;
	c->read_len = 0;
	c->write_len = 0;
	*why = NULL;

	if (!q->num || head >= q->num)
		return bad(why, "head index out of range");
	table = guest_mem_ptr(mem, q->desc_gpa, (uint64_t)q->num * DESC_SIZE);
	if (!table) {
		*why = "descriptor table outside RAM";
		return -EFAULT;
	}
	budget = q->num;

	for (;;) {
		struct desc d;

		if (budget-- == 0)
			return bad(why, "chain loops or is longer than its table");
		desc_load(table, idx, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect)
				return bad(why, "indirect descriptor not negotiated");
			if (in_indirect)
				return bad(why, "indirect descriptor inside an indirect table");
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return bad(why, "indirect descriptor with NEXT set");
			if (!d.len || d.len % DESC_SIZE || d.len / DESC_SIZE > VIRTQ_MAX_INDIRECT)
				return bad(why, "bad indirect table length");
			table = guest_mem_ptr(mem, d.addr, d.len);
			if (!table)
				return bad(why, "indirect table outside RAM");
			/* the WRITE flag of the indirect descriptor itself is ignored (2.6.5.3.2) */
			table_num = d.len / DESC_SIZE;
			budget = table_num;
			idx = 0;
			in_indirect = 1;
			continue;
		}

		if (d.flags & VIRTQ_DESC_F_WRITE) {
			seen_write = 1;
		} else if (seen_write) {
			return bad(why, "readable descriptor after a writable one");
		}
		if (d.len) {
			struct virtq_seg *s;

			if (!guest_mem_ptr(mem, d.addr, d.len))
				return bad(why, "buffer outside RAM");
			if (c->nseg == VIRTQ_MAX_SEGS)
				return bad(why, "too many segments");
			s = &c->seg[c->nseg++];
			s->gpa = d.addr;
			s->len = d.len;
			s->write = seen_write;
			if (seen_write) {
				c->write_len += d.len;
			} else {
				c->nread++;
				c->read_len += d.len;
			}
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_num)
			return bad(why, "next index out of range");
		idx = d.next;
	}
}

static int read_u16(const struct guest_mem *mem, uint64_t gpa, uint16_t *v)
{
	uint16_t raw;

	if (guest_mem_read(mem, gpa, &raw, sizeof(raw)))
		return -EFAULT;
	*v = le16toh(raw);
	return 0;
}

int virtq_pop(struct virtq *q, struct guest_mem *mem, struct virtq_chain *c)
{
	uint16_t avail_idx, pending, head;
	const char *why;
	int r;

	if (!q->ready || !q->num)
		return 0;
	if (read_u16(mem, q->avail_gpa + AVAIL_IDX, &avail_idx)) {
		log_guest_error(&q->bad_rings, "%s: avail ring outside RAM", qname(q));
		return -EFAULT;
	}
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (!pending)
		return 0;
	if (pending > q->num) {
		log_guest_error(&q->bad_rings, "%s: avail idx %u is %u entries ahead of a %u-entry queue",
				qname(q), avail_idx, pending, q->num);
		return -EFAULT;
	}
	if (read_u16(mem, q->avail_gpa + AVAIL_RING + 2ULL * (q->last_avail & (q->num - 1)), &head)) {
		log_guest_error(&q->bad_rings, "%s: avail ring outside RAM", qname(q));
		return -EFAULT;
	}
	q->last_avail++;

	r = virtq_parse_chain(q, mem, head, c, &why);
	if (!r)
		return 1;
	log_guest_error(&q->bad_chains, "%s: bad descriptor chain at head %u: %s", qname(q), head, why);
	/* hand a chain with a valid head back empty, so the driver can reclaim it */
	if (head < q->num && virtq_push(q, mem, head, 0))
		return -EFAULT;
	return -EBADMSG;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

int virtq_push(struct virtq *q, struct guest_mem *mem, uint16_t head, uint32_t len)
{
	uint32_t elem[2] = { htole32(head), htole32(len) };
	uint64_t slot;
	uint16_t idx;

	if (!q->num)
		return -EFAULT;
	slot = q->used_gpa + USED_RING + (uint64_t)USED_ELEM_SIZE * (q->used_idx & (q->num - 1));
	if (guest_mem_write(mem, slot, elem, sizeof(elem)))
		goto err;
	/* the element must be in place before the index that publishes it */
	idx = htole16((uint16_t)(q->used_idx + 1));
	if (guest_mem_write(mem, q->used_gpa + USED_IDX, &idx, sizeof(idx)))
		goto err;
	q->used_idx++;
	q->pushed++;
	return 0;
err:
	log_guest_error(&q->bad_rings, "%s: used ring outside RAM", qname(q));
	return -EFAULT;
}

int virtq_need_notify(struct virtq *q, const struct guest_mem *mem)
{
	uint16_t flags;

	if (!q->pushed)
		return 0;
	q->pushed = 0;
	/* without EVENT_IDX the only suppression is the driver's NO_INTERRUPT hint */
	if (!read_u16(mem, q->avail_gpa, &flags) && (flags & VIRTQ_AVAIL_F_NO_INTERRUPT))
		return 0;
	return 1;
}

int virtq_chain_foreach(const struct guest_mem *mem, const struct virtq_chain *c, int write,
			uint64_t off, uint64_t len,
			int (*fn)(void *opaque, uint8_t *host, uint64_t gpa, uint32_t n),
			void *opaque)
{
	uint64_t side_len = write ? c->write_len : c->read_len;
	unsigned i = write ? c->nread : 0;
	unsigned end = write ? c->nseg : c->nread;

	if (off > side_len || len > side_len - off)
		return -EFAULT;
	for (; i < end && len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		uint64_t n;
		uint8_t *host;
		int r;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off;
		if (n > len)
			n = len;
		/* checked at parse time; checked again so a stale chain can never escape RAM */
		host = guest_mem_ptr(mem, s->gpa + off, n);
		if (!host)
			return -EFAULT;
		r = fn(opaque, host, s->gpa + off, (uint32_t)n);
		if (r)
			return r;
		off = 0;
		len -= n;
	}
	return len ? -EFAULT : 0;
}

struct copy_ctx {
	struct guest_mem *mem;
	uint8_t *buf;
};

static int copy_out(void *opaque, uint8_t *host, uint64_t gpa, uint32_t n)
{
	struct copy_ctx *x = opaque;

	memcpy(x->buf, host, n);
	x->buf += n;
	return 0;
}

static int copy_in(void *opaque, uint8_t *host, uint64_t gpa, uint32_t n)
{
	struct copy_ctx *x = opaque;

	memcpy(host, x->buf, n);
	guest_mem_mark_dirty(x->mem, gpa, n);
	x->buf += n;
	return 0;
}

int virtq_chain_read(const struct guest_mem *mem, const struct virtq_chain *c, uint64_t off,
		     void *buf, uint64_t len)
{
	struct copy_ctx x = { NULL, buf };

	return virtq_chain_foreach(mem, c, 0, off, len, copy_out, &x);
}

int virtq_chain_write(struct guest_mem *mem, const struct virtq_chain *c, uint64_t off,
		      const void *buf, uint64_t len)
{
	struct copy_ctx x = { mem, (uint8_t *)buf };

	return virtq_chain_foreach(mem, c, 1, off, len, copy_in, &x);
}
