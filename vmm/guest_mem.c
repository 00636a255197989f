#include "vmm/guest_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void layout(struct guest_mem *m)
{
	uint64_t low = m->size < GUEST_MEM_HOLE_START ? m->size : GUEST_MEM_HOLE_START;
	m->slots[0] = (struct guest_mem_slot){ 0, low, m->base };
	m->nslots = 1;
	if (m->size > low) {
		m->slots[1] = (struct guest_mem_slot){ GUEST_MEM_HIGH_START, m->size - low, m->base + low };
		m->nslots = 2;
	}
}

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	if (size < (1 << 20) || size % GUEST_PAGE_SIZE)
		return -EINVAL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, size, MADV_MERGEABLE);
	m->base = p;
	m->size = size;
	layout(m);
	return 0;
}

void guest_mem_wrap(struct guest_mem *m, void *host, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->base = host;
	m->size = size;
	layout(m);
}

void guest_mem_destroy(struct guest_mem *m)
{
	free(m->dirty);
	m->dirty = NULL;
	if (m->base && m->nslots && m->slots[0].host == m->base && m->size)
		munmap(m->base, m->size);
	memset(m, 0, sizeof(*m));
}

int guest_mem_track_dirty(struct guest_mem *m)
{
	uint64_t pages = m->size / GUEST_PAGE_SIZE;
	m->dirty = calloc((pages + 63) / 64, sizeof(uint64_t));
	return m->dirty ? 0 : -ENOMEM;
}

/* Index of the slot holding all of [gpa, gpa+len), or -1. */
static int slot_of(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nslots; i++) {
		const struct guest_mem_slot *s = &m->slots[i];
		if (gpa >= s->gpa && gpa - s->gpa <= s->size && len <= s->size - (gpa - s->gpa))
			return (int)i;
	}
	return -1;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int i = slot_of(m, gpa, len);
	if (i < 0 || (len == 0 && gpa - m->slots[i].gpa == m->slots[i].size))
		return NULL;
	return m->slots[i].host + (gpa - m->slots[i].gpa);
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *buf, uint64_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int guest_mem_write(struct guest_mem *m, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	guest_mem_mark_dirty(m, gpa, len);
	return 0;
}

void guest_mem_mark_dirty(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int i = slot_of(m, gpa, len);
	if (!m->dirty || i < 0 || !len)
		return;
	uint64_t off = (uint64_t)(m->slots[i].host - m->base) + (gpa - m->slots[i].gpa);
	for (uint64_t pg = off / GUEST_PAGE_SIZE; pg <= (off + len - 1) / GUEST_PAGE_SIZE; pg++) {
		m->dirty[pg / 64] |= 1ULL << (pg % 64);
		if (m->also)
			m->also[pg / 64] |= 1ULL << (pg % 64);
		if (m->shadow_stale)
			m->shadow_stale[pg / 64] |= 1ULL << (pg % 64);
	}
}

uint64_t guest_mem_page_gpa(const struct guest_mem *m, uint64_t page)
{
	uint64_t off = page * GUEST_PAGE_SIZE;
	for (unsigned i = 0; i < m->nslots; i++) {
		uint64_t start = (uint64_t)(m->slots[i].host - m->base);
		if (off >= start && off - start < m->slots[i].size)
			return m->slots[i].gpa + (off - start);
	}
	return UINT64_MAX;
}
