/*
 * libFuzzer target: the input becomes guest RAM plus a queue's setup; every available
 * chain is popped until the queue is empty. ASan catches any access outside RAM; the
 * asserts below catch a parsed chain that claims memory outside RAM or breaks the
 * readable-before-writable rule.
 *
 * Input layout: [0] flags (bit 0: INDIRECT_DESC negotiated), [1] log2 queue size (mod 9),
 * [2..7] desc/avail/used offsets in 4-byte units (u16 each), [8..9] last_avail,
 * the rest: the first bytes of guest RAM (64 KiB, zero-filled beyond the input).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtq.h"
#include "vmm/log.h"

#define RAM_SIZE (64 * 1024)
#define HDR 10

static uint8_t *ram;

static void check(int ok)
{
	if (!ok)
		abort();
}

static int touch(void *opaque, uint8_t *host, uint64_t gpa, uint32_t n)
{
	uint64_t *sum = opaque;

	check(gpa < RAM_SIZE && n <= RAM_SIZE - gpa && host == ram + gpa);
	*sum += host[0] + host[n - 1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain c;
	struct guest_mem mem;
	struct virtq q;
	uint16_t off[3];

	if (size < HDR)
		return 0;
	if (!ram) {
		ram = malloc(RAM_SIZE);
		log_threshold = LOG_ERROR;	/* guest-error warnings would drown the fuzzer */
	}
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + HDR, size - HDR < RAM_SIZE ? size - HDR : RAM_SIZE);
	guest_mem_wrap(&mem, ram, RAM_SIZE);

	memset(&q, 0, sizeof(q));
	q.name = "fuzz";
	q.indirect = data[0] & 1;
	q.num = (uint16_t)(1u << (data[1] % 9));
	q.ready = 1;
	memcpy(off, data + 2, sizeof(off));
	q.desc_gpa = 4ULL * off[0];
	q.avail_gpa = 4ULL * off[1];
	q.used_gpa = 4ULL * off[2];
	memcpy(&q.last_avail, data + 8, 2);
	q.used_idx = q.last_avail;

	/* same bound the devices use: at most a queue's worth per notify */
	for (unsigned i = 0; i < q.num; i++) {
		uint64_t sum = 0, rl = 0, wl = 0;
		int r = virtq_pop(&q, &mem, &c);

		if (r == 0 || r == -EFAULT)
			break;
		if (r < 0)
			continue;
		check(r == 1 && c.head < q.num && c.nseg <= VIRTQ_MAX_SEGS && c.nread <= c.nseg);
		for (unsigned s = 0; s < c.nseg; s++) {
			check(c.seg[s].len && c.seg[s].gpa < RAM_SIZE &&
			      c.seg[s].len <= RAM_SIZE - c.seg[s].gpa);
			check(c.seg[s].write == (s >= c.nread));
			*(c.seg[s].write ? &wl : &rl) += c.seg[s].len;
		}
		check(rl == c.read_len && wl == c.write_len);
		check(virtq_chain_foreach(&mem, &c, 0, 0, c.read_len, touch, &sum) == 0);
		check(virtq_chain_foreach(&mem, &c, 1, 0, c.write_len, touch, &sum) == 0);
		if (c.write_len)
			virtq_chain_write(&mem, &c, c.write_len - 1, &sum, 1);
		virtq_push(&q, &mem, c.head, (uint32_t)c.write_len);
	}
	virtq_need_notify(&q, &mem);
	return 0;
}
