#include "vmm/vtsc.h"

uint64_t vtsc_read(struct vtsc *t, uint64_t seen_ns)
{
	uint64_t clock = (uint64_t)((unsigned __int128)seen_ns * VTSC_KHZ / 1000000u);
	uint64_t next = t->last + VTSC_STEP;
	t->last = clock > next ? clock : next;
	t->reads++;
	return t->last;
}
