/*
 * What a recorded step point's pages are stored against (vmm/page_delta.h): guest memory
 * as it was at the guest's last exit, which replay holds when it loads the point.
 *
 * The recorder cannot copy memory at every exit (a dirty-log fetch per exit would cost
 * more than the exits). It keeps a copy of guest RAM instead, brought up to date at each
 * periodic kick that follows exits (step.c: step_live_point), from the pages written since
 * the last update (the guest's, from KVM's dirty log; the VMM's, from guest_mem's hook).
 * A point comes only after a whole kick period without exits, so the last exit E lies
 * before the last update U: a page nobody wrote between the dirty-log fetch before U and
 * the point was the same at E as in the copy. A page written in that window ("unsure":
 * reported by U's own fetch, which covers E) or by the VMM since U has no usable base
 * and is stored whole, as before.
 *
 * Memory: the copy is an anonymous mapping the size of guest RAM; only pages the guest or
 * VMM ever wrote are backed, so it costs at most guest RAM (plus 2 bits a page).
 */
#ifndef DETVM_VMM_STEP_SHADOW_H
#define DETVM_VMM_STEP_SHADOW_H

#include <stdint.h>

#include "vmm/guest_mem.h"

struct step_shadow {
	uint8_t *copy;		/* guest RAM at the last update; NULL until step_shadow_init */
	uint64_t pages, size;
	/* copy out of date: written by the VMM since the update (guest_mem's hook) or never
	 * copied since the shadow began */
	uint64_t *stale;
	uint64_t *unsure;	/* reported by the update's own dirty-log fetch */
	uint64_t updates, copied;	/* statistics */
};

/* Starts the copy of m (resident pages are stale, to be copied by the first update) and
 * hooks m's VMM writes. 0 or -errno. */
int step_shadow_init(struct step_shadow *s, struct guest_mem *m);
void step_shadow_destroy(struct step_shadow *s, struct guest_mem *m);
/* Copies every page in `written` (one bit a page, slot order) or stale into the copy. */
void step_shadow_update(struct step_shadow *s, const struct guest_mem *m, const uint64_t *written);
/* After the dirty-log fetch that ends an update: those pages are unsure until the next. */
void step_shadow_unsure(struct step_shadow *s, const uint64_t *fetched);
/* The page (index in slot order) as it was at the last exit, or NULL where unknown. */
const uint8_t *step_shadow_base(const struct step_shadow *s, uint64_t page);

#endif
