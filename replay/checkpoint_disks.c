#include "replay/checkpoint_disks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/file_io.h"

#define KEY(disk, block) ((uint64_t)(disk) << 48 | (block))

static void disk_writing(void *ctx, unsigned disk, uint64_t off, uint64_t len)
{
	struct cp_disks *d = ctx;
	if (disk >= d->n)
		return;
	for (uint64_t b = off / CP_BLOCK; b <= (off + len - 1) / CP_BLOCK && b < d->blocks[disk]; b++) {
		d->dirty[disk][b / 64] |= 1ULL << (b % 64);
		if (d->orig[disk][b])
			continue;
		uint8_t *o = calloc(1, CP_BLOCK);
		uint64_t at = b * CP_BLOCK, n = d->rp->disk_size[disk] - at;
		int r = o ? file_pread_full(d->rp->disk_fd[disk], o, n < CP_BLOCK ? n : CP_BLOCK, at) : -ENOMEM;
		if (r) {
			free(o);
			d->err = r;
			continue;
		}
		d->orig[disk][b] = o;
		d->bytes += CP_BLOCK;
	}
}

int cp_disks_init(struct cp_disks *d, struct replayer *rp)
{
	memset(d, 0, sizeof(*d));
	d->rp = rp;
	d->n = rp->ndisks;
	for (unsigned i = 0; i < d->n; i++) {
		d->blocks[i] = (rp->disk_size[i] + CP_BLOCK - 1) / CP_BLOCK;
		d->dirty[i] = calloc(d->blocks[i] / 64 + 1, sizeof(uint64_t));
		d->orig[i] = calloc(d->blocks[i] + 1, sizeof(uint8_t *));
		if (!d->dirty[i] || !d->orig[i]) {
			cp_disks_destroy(d);
			return -ENOMEM;
		}
	}
	rp->disk_writing = disk_writing;
	rp->disk_ctx = d;
	return 0;
}

void cp_disks_destroy(struct cp_disks *d)
{
	if (d->rp && d->rp->disk_ctx == d)
		d->rp->disk_writing = NULL;
	for (unsigned i = 0; i < REPLAY_MAX_DISKS; i++) {
		for (uint64_t b = 0; d->orig[i] && b < d->blocks[i]; b++)
			free(d->orig[i][b]);
		free(d->orig[i]);
		free(d->dirty[i]);
	}
	memset(d, 0, sizeof(*d));
}

static int block_read(struct cp_disks *d, unsigned disk, uint64_t b, uint8_t *out)
{
	uint64_t at = b * CP_BLOCK, n = d->rp->disk_size[disk] - at;
	memset(out, 0, CP_BLOCK);
	return file_pread_full(d->rp->disk_fd[disk], out, n < CP_BLOCK ? n : CP_BLOCK, at);
}

int cp_disks_take(struct cp_disks *d, struct block_copies *out)
{
	memset(out, 0, sizeof(*out));
	if (d->err)
		return d->err;
	size_t n = 0;
	for (unsigned i = 0; i < d->n; i++)
		for (uint64_t w = 0; w <= d->blocks[i] / 64; w++)
			n += (size_t)__builtin_popcountll(d->dirty[i][w]);
	out->key = malloc((n ? n : 1) * sizeof(uint64_t));
	out->data = malloc((n ? n : 1) * CP_BLOCK);
	if (!out->key || !out->data) {
		block_copies_free(out);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < d->n; i++)
		for (uint64_t w = 0; w <= d->blocks[i] / 64; w++) {
			for (uint64_t bits = d->dirty[i][w]; bits; bits &= bits - 1) {
				uint64_t b = w * 64 + (uint64_t)__builtin_ctzll(bits);
				int r = block_read(d, i, b, out->data + out->n * CP_BLOCK);
				if (r) {
					block_copies_free(out);
					return r;
				}
				out->key[out->n++] = KEY(i, b);
			}
			d->dirty[i][w] = 0;
		}
	return 0;
}

void cp_disks_passed(struct cp_disks *d)
{
	for (unsigned i = 0; i < d->n; i++)
		memset(d->dirty[i], 0, (d->blocks[i] / 64 + 1) * sizeof(uint64_t));
}

void block_copies_free(struct block_copies *c)
{
	free(c->key);
	free(c->data);
	memset(c, 0, sizeof(*c));
}

int block_copies_merge(struct block_copies *a, struct block_copies *b)
{
	size_t cap = a->n + b->n, n = 0, ia = 0, ib = 0;
	uint64_t *key = malloc((cap ? cap : 1) * sizeof(uint64_t));
	uint8_t *data = malloc((cap ? cap : 1) * CP_BLOCK);
	if (!key || !data) {
		free(key);
		free(data);
		return -ENOMEM;
	}
	while (ia < a->n || ib < b->n) {
		int from_b = ia == a->n || (ib < b->n && b->key[ib] <= a->key[ia]);
		if (from_b && ia < a->n && a->key[ia] == b->key[ib])
			ia++;
		const struct block_copies *src = from_b ? b : a;
		size_t k = from_b ? ib++ : ia++;
		key[n] = src->key[k];
		memcpy(data + n * CP_BLOCK, src->data + k * CP_BLOCK, CP_BLOCK);
		n++;
	}
	block_copies_free(a);
	block_copies_free(b);
	b->key = key;
	b->data = data;
	b->n = n;
	return 0;
}

static const uint8_t *find(const struct block_copies *c, uint64_t key)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->key[mid] == key)
			return c->data + mid * CP_BLOCK;
		if (c->key[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int put_back(struct cp_disks *d, const struct block_copies *const *cps, size_t t, unsigned disk, uint64_t b)
{
	const uint8_t *src = NULL;
	for (size_t i = t + 1; i-- > 0 && !src;)
		src = find(cps[i], KEY(disk, b));
	if (!src)
		src = d->orig[disk][b];
	if (!src)	/* never written: nothing to put back */
		return 0;
	uint64_t at = b * CP_BLOCK, n = d->rp->disk_size[disk] - at;
	return file_pwrite_full(d->rp->disk_fd[disk], src, n < CP_BLOCK ? n : CP_BLOCK, at);
}

int cp_disks_restore(struct cp_disks *d, const struct block_copies *const *cps, size_t t, size_t base)
{
	int r = 0;
	for (unsigned i = 0; i < d->n && !r; i++)
		for (uint64_t w = 0; w <= d->blocks[i] / 64 && !r; w++)
			for (uint64_t bits = d->dirty[i][w]; bits && !r; bits &= bits - 1)
				r = put_back(d, cps, t, i, w * 64 + (uint64_t)__builtin_ctzll(bits));
	for (size_t c = t + 1; c <= base && !r; c++)
		for (size_t k = 0; k < cps[c]->n && !r; k++)
			r = put_back(d, cps, t, (unsigned)(cps[c]->key[k] >> 48), cps[c]->key[k] & ((1ULL << 48) - 1));
	if (!r)
		cp_disks_passed(d);
	return r;
}
