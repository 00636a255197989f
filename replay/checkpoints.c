#include "replay/checkpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/exitcode.h"
#include "vmm/machine_state.h"
#include "vmm/mono_clock.h"

/* A checkpoint every 10 ms of replay (host time, stepping included), so going back to
 * any position re-runs at most about that much; at least one per 5000 exits. */
#define CP_INTERVAL_NS (10 * 1000000ULL)
#define CP_MAX_EXITS 5000
#define PAGE GUEST_PAGE_SIZE

void checkpoints_init(struct checkpoints *s, uint64_t budget)
{
	memset(s, 0, sizeof(*s));
	s->budget = budget;
}

static void cp_free(struct checkpoint *c)
{
	state_out_free(&c->state);
	block_copies_free(&c->blocks);
	free(c->pages);
	free(c->data);
	memset(c, 0, sizeof(*c));
}

static uint64_t cp_bytes(const struct checkpoint *c)
{
	return c->state.len + c->npages * (PAGE + sizeof(uint64_t)) + c->blocks.n * (CP_BLOCK + sizeof(uint64_t));
}

void checkpoints_destroy(struct checkpoints *s)
{
	for (size_t i = 0; i < s->n; i++)
		cp_free(&s->cp[i]);
	free(s->cp);
	if (s->disks)
		cp_disks_destroy(s->disks);
	free(s->disks);
	memset(s, 0, sizeof(*s));
}

int checkpoints_watch_disks(struct checkpoints *s, struct replayer *rp)
{
	if (!rp->ndisks)
		return 0;
	s->disks = malloc(sizeof(*s->disks));
	int r = s->disks ? cp_disks_init(s->disks, rp) : -ENOMEM;
	if (r) {
		free(s->disks);
		s->disks = NULL;
	}
	return r;
}

struct page_set {
	uint64_t *pages;
	size_t n, cap;
	int err;
};

static void add_page(uint64_t page, void *arg)
{
	struct page_set *ps = arg;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 64;
		uint64_t *p = realloc(ps->pages, cap * sizeof(*p));
		if (!p) {
			ps->err = -ENOMEM;
			return;
		}
		ps->pages = p;
		ps->cap = cap;
	}
	ps->pages[ps->n++] = page;
}

static int page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* Brings the digest's page hashes (and so its changed set) up to date with memory. */
static int flush(struct machine *m)
{
	uint8_t d[OBSERVER_DIGEST_BYTES];
	return mem_digest_memory(&m->digest, &m->mem, &m->kvm, d);
}

static int copy_pages(struct checkpoint *c, struct page_set *ps, const struct machine *m)
{
	c->data = malloc(ps->n ? ps->n * PAGE : 1);
	if (!c->data)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n; i++)
		memcpy(c->data + i * PAGE, m->mem.base + ps->pages[i] * PAGE, PAGE);
	c->pages = ps->pages;
	c->npages = ps->n;
	ps->pages = NULL;
	return 0;
}

static long find_page(const struct checkpoint *c, uint64_t page)
{
	size_t lo = 0, hi = c->npages;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->pages[mid] == page)
			return (long)mid;
		if (c->pages[mid] < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Drops checkpoint i (0 < i < n - 1) into i + 1: the pages i has and i + 1 lacks move. */
static int merge_into_next(struct checkpoints *s, size_t i)
{
	struct checkpoint *a = &s->cp[i], *b = &s->cp[i + 1];
	size_t n = 0, ia = 0, ib = 0, cap = a->npages + b->npages;
	uint64_t *pages = malloc((cap ? cap : 1) * sizeof(*pages));
	uint8_t *data = malloc((cap ? cap : 1) * PAGE);
	if (!pages || !data) {
		free(pages);
		free(data);
		return -ENOMEM;
	}
	while (ia < a->npages || ib < b->npages) {
		int from_b = ia == a->npages || (ib < b->npages && b->pages[ib] <= a->pages[ia]);
		if (from_b) {
			if (ia < a->npages && a->pages[ia] == b->pages[ib])
				ia++;
			pages[n] = b->pages[ib];
			memcpy(data + n * PAGE, b->data + ib++ * PAGE, PAGE);
		} else {
			pages[n] = a->pages[ia];
			memcpy(data + n * PAGE, a->data + ia++ * PAGE, PAGE);
		}
		n++;
	}
	s->bytes -= cp_bytes(a) + cp_bytes(b);
	if (block_copies_merge(&a->blocks, &b->blocks)) {
		s->bytes += cp_bytes(a) + cp_bytes(b);
		free(pages);
		free(data);
		return -ENOMEM;
	}
	free(b->pages);
	free(b->data);
	b->pages = pages;
	b->data = data;
	b->npages = n;
	s->bytes += cp_bytes(b);
	cp_free(a);
	memmove(&s->cp[i], &s->cp[i + 1], (s->n - i - 1) * sizeof(s->cp[0]));
	s->n--;
	s->base--;
	s->merged++;
	return 0;
}

/* Over budget: merge the checkpoint whose neighbours are closest, until under it. */
static int thin(struct checkpoints *s)
{
	while (s->bytes > s->budget && s->n > 2) {
		size_t best = 1;
		for (size_t i = 2; i + 1 < s->n; i++)
			if (s->cp[i + 1].exits - s->cp[i - 1].exits < s->cp[best + 1].exits - s->cp[best - 1].exits)
				best = i;
		int r = merge_into_next(s, best);
		if (r)
			return r;
	}
	if (s->bytes > s->budget)
		s->full = 1;
	return 0;
}

static int before(uint64_t e1, uint64_t s1, uint64_t e2, uint64_t s2)
{
	return e1 < e2 || (e1 == e2 && s1 < s2);
}

static int take(struct checkpoints *s, struct machine *m, struct replayer *p, uint64_t steps, char *err,
		size_t errlen)
{
	struct checkpoint c = { .exits = m->stats.exits, .steps = steps, .exception_queued = m->exception_queued,
				.request_window = m->kvm.run->request_interrupt_window };
	struct page_set ps = { 0 };
	if (replayer_place(p, &c.place))
		return 0;	/* at the trace's end: nothing to come back to */
	int r = flush(m);
	if (r) {
		snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-r));
		return r;
	}
	if (s->n == 0) {	/* the first holds every page that is not zero */
		for (uint64_t pg = 0; pg < m->mem.size / PAGE && !ps.err; pg++)
			if (!page_is_zero(m->mem.base + pg * PAGE))
				add_page(pg, &ps);
	} else {
		mem_digest_each_changed(&m->digest, add_page, &ps);
	}
	r = ps.err ? ps.err : copy_pages(&c, &ps, m);
	free(ps.pages);
	if (!r && s->disks)
		r = cp_disks_take(s->disks, &c.blocks);
	if (r) {
		snprintf(err, errlen, "%s for a replay checkpoint", r == -ENOMEM ? "out of memory" : "cannot read the disks");
		cp_free(&c);
		return r;
	}
	state_out_init(&c.state);
	r = machine_state_save(m, 0, &c.state, err, errlen);
	if (r) {
		cp_free(&c);
		return r;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct checkpoint *a = realloc(s->cp, cap * sizeof(*a));
		if (!a) {
			cp_free(&c);
			snprintf(err, errlen, "out of memory for a replay checkpoint");
			return -ENOMEM;
		}
		s->cp = a;
		s->cap = cap;
	}
	if (s->n == 0 && cp_bytes(&c) > s->budget) {
		snprintf(err, errlen, "guest memory in use (%llu KiB) is more than the checkpoint budget "
			 "(%llu KiB): raise --checkpoint-mem", (unsigned long long)cp_bytes(&c) / 1024,
			 (unsigned long long)s->budget / 1024);
		cp_free(&c);
		return -ENOSPC;
	}
	s->cp[s->n++] = c;
	s->base = s->n - 1;
	s->bytes += cp_bytes(&c);
	s->taken++;
	s->last_ns = mono_clock_ns();
	mem_digest_forget_changed(&m->digest);
	r = thin(s);
	if (r)
		snprintf(err, errlen, "out of memory merging replay checkpoints");
	return r;
}

int checkpoints_at(struct checkpoints *s, struct machine *m, struct replayer *p, uint64_t steps, char *err,
		   size_t errlen)
{
	uint64_t exits = m->stats.exits;
	if (s->n && s->base + 1 < s->n) {	/* re-running history already checkpointed */
		const struct checkpoint *next = &s->cp[s->base + 1];
		if (exits != next->exits || steps != next->steps)
			return 0;
		int r = flush(m);
		if (r) {
			snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-r));
			return r;
		}
		mem_digest_forget_changed(&m->digest);
		if (s->disks)
			cp_disks_passed(s->disks);
		s->base++;
		if (s->base + 1 == s->n)
			s->last_ns = mono_clock_ns();
		return 0;
	}
	const struct checkpoint *last = s->n ? &s->cp[s->n - 1] : NULL;
	if (last && !before(last->exits, last->steps, exits, steps))
		return 0;
	if (last && (s->full || (mono_clock_ns() - s->last_ns < CP_INTERVAL_NS &&
				 exits - last->exits < CP_MAX_EXITS)))
		return 0;
	return take(s, m, p, steps, err, errlen);
}

long checkpoints_find(const struct checkpoints *s, uint64_t exits, uint64_t steps)
{
	long best = -1;
	for (size_t i = 0; i < s->n && !before(exits, steps, s->cp[i].exits, s->cp[i].steps); i++)
		best = (long)i;
	return best;
}

/* The page's content at checkpoint t: its latest copy at or before t (none: zeros). */
static const uint8_t *page_at(const struct checkpoints *s, size_t t, uint64_t page)
{
	for (size_t i = t + 1; i-- > 0;) {
		long k = find_page(&s->cp[i], page);
		if (k >= 0)
			return s->cp[i].data + (size_t)k * PAGE;
	}
	return NULL;
}

struct restore_ctx {
	uint64_t *set;
};

static void mark_page(uint64_t page, void *arg)
{
	struct restore_ctx *rc = arg;
	rc->set[page / 64] |= 1ULL << (page % 64);
}

int checkpoints_restore(struct checkpoints *s, size_t t, struct machine *m, struct replayer *p, char *err,
			size_t errlen)
{
	uint64_t pages = m->mem.size / PAGE, words = (pages + 63) / 64;
	struct restore_ctx rc = { calloc(words + 1, sizeof(uint64_t)) };
	if (!rc.set) {
		snprintf(err, errlen, "out of memory going back to a checkpoint");
		return DETVM_EXIT_HOST;
	}
	int r = flush(m);
	if (r) {
		free(rc.set);
		snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	/* every page that may differ from checkpoint t: changed since base, and each copy
	 * taken after t up to base */
	mem_digest_each_changed(&m->digest, mark_page, &rc);
	for (size_t i = t + 1; i <= s->base && i < s->n; i++)
		for (uint64_t k = 0; k < s->cp[i].npages; k++)
			mark_page(s->cp[i].pages[k], &rc);
	for (uint64_t w = 0; w < words; w++)
		for (uint64_t bits = rc.set[w]; bits; bits &= bits - 1) {
			uint64_t pg = w * 64 + (uint64_t)__builtin_ctzll(bits);
			const uint8_t *src = page_at(s, t, pg);
			uint8_t *dst = m->mem.base + pg * PAGE;
			if (src)
				memcpy(dst, src, PAGE);
			else
				memset(dst, 0, PAGE);
			guest_mem_mark_dirty(&m->mem, guest_mem_page_gpa(&m->mem, pg), PAGE);
		}
	free(rc.set);
	if (s->disks) {
		const struct block_copies **cps = malloc((s->n ? s->n : 1) * sizeof(*cps));
		for (size_t i = 0; cps && i < s->n; i++)
			cps[i] = &s->cp[i].blocks;
		r = cps ? cp_disks_restore(s->disks, cps, t, s->base) : -ENOMEM;
		free(cps);
		if (r) {
			snprintf(err, errlen, "cannot put the disks back: %s", strerror(-r));
			return DETVM_EXIT_HOST;
		}
	}
	const struct checkpoint *c = &s->cp[t];
	struct state_in in;
	struct machine_saved saved;
	state_in_init(&in, c->state.buf, c->state.len);
	r = machine_state_load(m, &in, &saved, err, errlen);
	if (r)
		return DETVM_EXIT_KVM;
	m->stats.exits = saved.exits;
	m->exception_queued = c->exception_queued;
	/* not KVM's state but the loop's, and a run between exits goes on waiting for it */
	m->kvm.run->request_interrupt_window = (uint8_t)c->request_window;
	m->step.kind = STEP_NONE;
	r = replayer_return(p, &c->place);
	if (r) {
		snprintf(err, errlen, "%s", p->msg);
		return r;
	}
	/* the pages written back count as changed now; relative to t nothing is */
	r = flush(m);
	if (r) {
		snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-r));
		return DETVM_EXIT_KVM;
	}
	mem_digest_forget_changed(&m->digest);
	s->base = t;
	return 0;
}
