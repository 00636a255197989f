/* The recorder's copy of guest RAM that step points are stored against (step_shadow.h). */
#include "vmm/step_shadow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE GUEST_PAGE_SIZE

static size_t bitmap_bytes(uint64_t pages)
{
	return ((pages + 63) / 64) * sizeof(uint64_t);
}

/*
 * A page of the anonymous guest mapping that is not resident was never written and reads
 * as zeros, as the copy's unbacked page does: only resident pages need a first copy (as
 * digest.c's prime()).
 */
static void mark_resident_stale(struct step_shadow *s, const struct guest_mem *m)
{
	unsigned char vec[4096];
	for (uint64_t pg = 0; pg < s->pages; pg += sizeof(vec)) {
		uint64_t n = s->pages - pg < sizeof(vec) ? s->pages - pg : sizeof(vec);
		if (mincore(m->base + pg * PAGE, n * PAGE, vec) < 0)
			memset(vec, 1, n);	/* cannot tell: copy them all */
		for (uint64_t i = 0; i < n; i++)
			if (vec[i] & 1)
				s->stale[(pg + i) / 64] |= 1ULL << ((pg + i) % 64);
	}
}

int step_shadow_init(struct step_shadow *s, struct guest_mem *m)
{
	memset(s, 0, sizeof(*s));
	s->pages = m->size / PAGE;
	s->size = m->size;
	void *p = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->stale = calloc(1, bitmap_bytes(s->pages));
	s->unsure = calloc(1, bitmap_bytes(s->pages));
	if (!s->stale || !s->unsure) {
		munmap(p, m->size);
		free(s->stale);
		free(s->unsure);
		memset(s, 0, sizeof(*s));
		return -ENOMEM;
	}
	s->copy = p;
	mark_resident_stale(s, m);
	m->shadow_stale = s->stale;
	return 0;
}

void step_shadow_destroy(struct step_shadow *s, struct guest_mem *m)
{
	if (!s->copy)
		return;
	if (m->shadow_stale == s->stale)
		m->shadow_stale = NULL;
	munmap(s->copy, s->size);
	free(s->stale);
	free(s->unsure);
	memset(s, 0, sizeof(*s));
}

static void copy_page(struct step_shadow *s, const struct guest_mem *m, uint64_t pg)
{
	memcpy(s->copy + pg * PAGE, m->base + pg * PAGE, PAGE);
	s->copied++;
}

void step_shadow_update(struct step_shadow *s, const struct guest_mem *m, const uint64_t *written)
{
	for (uint64_t w = 0; w < (s->pages + 63) / 64; w++) {
		uint64_t bits = written[w] | s->stale[w];
		s->stale[w] = 0;
		while (bits) {
			copy_page(s, m, w * 64 + (uint64_t)__builtin_ctzll(bits));
			bits &= bits - 1;
		}
	}
	s->updates++;
}

void step_shadow_unsure(struct step_shadow *s, const uint64_t *fetched)
{
	/* their copies wait for the next update, which finds them in the written set */
	memcpy(s->unsure, fetched, bitmap_bytes(s->pages));
}

const uint8_t *step_shadow_base(const struct step_shadow *s, uint64_t page)
{
	if (!s->copy || page >= s->pages)
		return NULL;
	uint64_t bit = 1ULL << (page % 64);
	if ((s->stale[page / 64] | s->unsure[page / 64]) & bit)
		return NULL;
	return s->copy + page * PAGE;
}
