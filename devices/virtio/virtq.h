/*
 * Split virtqueue (virtio 1.1 section 2.6), device side.
 *
 * Everything the guest wrote is untrusted: a chain is parsed into a bounded list of
 * segments only after every descriptor, index and length has been checked against the
 * queue and guest RAM. Parsing depends only on guest memory and the queue state, so it
 * can be unit-tested and fuzzed without a VM.
 *
 * Threading: all of this runs on the vCPU thread while the guest is stopped in an exit,
 * so no memory barriers are needed between reading the rings and the descriptors.
 */
#ifndef DETVM_DEVICES_VIRTIO_VIRTQ_H
#define DETVM_DEVICES_VIRTIO_VIRTQ_H

#include <stdint.h>

#include "vmm/guest_mem.h"

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

#define VIRTQ_MAX_SIZE 32768		/* the spec's ceiling for Queue Size */
#define VIRTQ_MAX_SEGS 256		/* non-empty segments one chain may carry */
#define VIRTQ_MAX_INDIRECT 4096		/* descriptors in one indirect table */

struct virtq_seg {
	uint64_t gpa;
	uint32_t len;			/* never 0: empty descriptors are dropped */
	uint32_t write;			/* 1: device-writable */
};

/* A parsed chain: the readable segments first, then the writable ones. */
struct virtq_chain {
	uint16_t head;			/* what goes back in the used ring */
	uint16_t nseg;
	uint16_t nread;			/* seg[0..nread) readable, seg[nread..nseg) writable */
	uint64_t read_len;
	uint64_t write_len;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq {
	/* set by the transport from the driver's registers */
	uint16_t num;			/* Queue Size: a power of two, 0 while unset */
	uint8_t ready;
	uint8_t indirect;		/* VIRTIO_F_INDIRECT_DESC was negotiated */
	uint64_t desc_gpa;		/* descriptor table */
	uint64_t avail_gpa;		/* driver area */
	uint64_t used_gpa;		/* device area */
	/* device state */
	uint16_t last_avail;		/* next avail ring entry to consume */
	uint16_t used_idx;		/* our copy of used->idx */
	uint16_t pushed;		/* used entries not yet signalled */
	/* diagnostics; kept across resets */
	const char *name;		/* "blk0.q0", for messages */
	uint64_t bad_chains;		/* chains rejected (and returned with len 0 if possible) */
	uint64_t bad_rings;		/* rings unreadable or driver indices inconsistent */
};

/* Forget the driver's setup and the ring positions; counters and name stay. */
void virtq_reset(struct virtq *q);

/*
 * Parse the chain that starts at descriptor `head`. 0, or a negative errno with *why
 * set to a short reason: -EBADMSG for a malformed chain, -EFAULT when the descriptor
 * table itself is outside RAM. Reads guest memory only.
 */
int virtq_parse_chain(const struct virtq *q, const struct guest_mem *mem, uint16_t head,
		      struct virtq_chain *c, const char **why);

/*
 * Take the next available chain. 1: *c holds it; 0: nothing available (or queue not
 * ready); -EBADMSG: the chain was malformed, was counted and, when its head index is
 * valid, returned to the used ring with len 0 -- keep popping; -EFAULT: the rings
 * themselves are unusable, counted -- stop. Callers bound their loop by q->num pops
 * per notify: a guest cannot post more than that while it is stopped, and a guest
 * that overlaps its rings could otherwise keep the avail index ahead forever.
 */
int virtq_pop(struct virtq *q, struct guest_mem *mem, struct virtq_chain *c);
/* Put back the chain just popped, unused (e.g. an rx buffer too small for a frame). */
void virtq_unpop(struct virtq *q);
/* Return a chain: len is the number of bytes the device wrote. 0 or -EFAULT. */
int virtq_push(struct virtq *q, struct guest_mem *mem, uint16_t head, uint32_t len);
/* 1 if entries were pushed since the last call and the driver wants an interrupt. */
int virtq_need_notify(struct virtq *q, const struct guest_mem *mem);

/*
 * Visit the bytes [off, off+len) of a chain's readable (write == 0) or writable
 * (write == 1) side as host pointers into guest RAM. fn returning nonzero stops the
 * walk and is returned. -EFAULT if the chain's side is shorter than off+len.
 */
int virtq_chain_foreach(const struct guest_mem *mem, const struct virtq_chain *c, int write,
			uint64_t off, uint64_t len,
			int (*fn)(void *opaque, uint8_t *host, uint64_t gpa, uint32_t n),
			void *opaque);
/* Copy from the readable side / to the writable side (marks pages dirty). 0 or -EFAULT. */
int virtq_chain_read(const struct guest_mem *mem, const struct virtq_chain *c, uint64_t off,
		     void *buf, uint64_t len);
int virtq_chain_write(struct guest_mem *mem, const struct virtq_chain *c, uint64_t off,
		      const void *buf, uint64_t len);

#endif
