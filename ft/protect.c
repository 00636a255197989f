#include "ft/protect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/log.h"
#include "vmm/mono_clock.h"

#define PAGE GUEST_PAGE_SIZE
#define BATCH_PAGES 256
#define ENTRY (sizeof(uint64_t) + PAGE)
#define SLICE_NS (2 * 1000 * 1000)	/* pre-copy work per delivery point */

static size_t bitmap_bytes(uint64_t pages)
{
	return ((pages + 63) / 64) * sizeof(uint64_t);
}

static int batch_send(struct ft_protect *p)
{
	if (p->batch_len <= 1)
		return 0;
	int r = ft_primary_state(p->link, p->batch, p->batch_len);
	p->batch_len = 1;
	return r;
}

static int send_page(struct ft_protect *p, uint64_t pg)
{
	if (p->batch_len + ENTRY > 1 + BATCH_PAGES * ENTRY) {
		int r = batch_send(p);
		if (r)
			return r;
	}
	memcpy(p->batch + p->batch_len, &pg, sizeof(pg));
	memcpy(p->batch + p->batch_len + sizeof(pg), p->m->mem.base + pg * PAGE, PAGE);
	p->batch_len += ENTRY;
	p->sent_pages++;
	p->round_pages[p->round]++;
	return 0;
}

static int page_is_zero(const uint8_t *pg)
{
	static const uint8_t zeros[PAGE];
	return !memcmp(pg, zeros, PAGE);
}

/* Round 0: the pages worth sending (resident, not zero); later rounds: what was written. */
static void first_round(struct ft_protect *p)
{
	unsigned char vec[4096];
	for (uint64_t pg = 0; pg < p->pages; pg += sizeof(vec)) {
		uint64_t n = p->pages - pg < sizeof(vec) ? p->pages - pg : sizeof(vec);
		if (mincore(p->m->mem.base + pg * PAGE, n * PAGE, vec) < 0)
			memset(vec, 1, n);
		for (uint64_t i = 0; i < n; i++)
			if ((vec[i] & 1) && !page_is_zero(p->m->mem.base + (pg + i) * PAGE))
				p->todo[(pg + i) / 64] |= 1ULL << ((pg + i) % 64);
	}
}

/* Pages written since the round began (KVM's dirty log fetched now): how many. */
static int written_since(struct ft_protect *p, uint64_t *count)
{
	struct machine *m = p->m;
	int r = mem_digest_collect(&m->digest, &m->mem, &m->kvm);
	uint64_t n = 0;
	for (uint64_t w = 0; !r && w < (p->pages + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(m->mem.also[w]);
	*count = n;
	return r;
}

/* What was written since the round began (written_since() just looked) is the next. */
static void start_round(struct ft_protect *p)
{
	memcpy(p->todo, p->m->mem.also, bitmap_bytes(p->pages));
	memset(p->m->mem.also, 0, bitmap_bytes(p->pages));
	p->cursor = 0;
	p->round++;
}

int ft_protect_begin(struct ft_protect *p, struct machine *m, struct ft_link *link, uint64_t (*clock)(void *ctx),
		     int (*become_primary)(void *ctx), void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->clock = clock;
	p->become_primary = become_primary;
	p->ctx = ctx;
	p->m = m;
	p->link = link;
	p->pages = m->mem.size / PAGE;
	p->begin_ns = mono_clock_ns();
	if (!m->track_state || !m->mem.dirty)
		return -EINVAL;
	p->todo = calloc(1, bitmap_bytes(p->pages));
	m->mem.also = calloc(1, bitmap_bytes(p->pages));
	p->batch = malloc(1 + BATCH_PAGES * ENTRY);
	if (!p->todo || !m->mem.also || !p->batch)
		return -ENOMEM;
	/* writes from here on are the next round's: start the dirty log afresh */
	int r = mem_digest_collect(&m->digest, &m->mem, &m->kvm);
	if (r)
		return r;
	memset(m->mem.also, 0, bitmap_bytes(p->pages));
	first_round(p);
	uint8_t begin[1 + sizeof(uint64_t)] = { 'B' };
	memcpy(begin + 1, &m->mem.size, sizeof(uint64_t));
	p->batch[0] = 'P';
	p->batch_len = 1;
	return ft_primary_state(link, begin, sizeof(begin));
}

/* Sends the round's pages from the cursor; stops after SLICE_NS unless all is set. */
static int send_round(struct ft_protect *p, int all)
{
	uint64_t t0 = mono_clock_ns();
	for (; p->cursor < p->pages; p->cursor++) {
		if (!(p->todo[p->cursor / 64] >> (p->cursor % 64) & 1)) {
			if (!(p->cursor % 64) && !p->todo[p->cursor / 64])
				p->cursor += 63;	/* an empty word */
			continue;
		}
		int r = send_page(p, p->cursor);
		if (r)
			return r;
		if (!all && !(p->sent_pages % 64) && mono_clock_ns() - t0 > SLICE_NS) {
			p->cursor++;
			return batch_send(p);
		}
	}
	return batch_send(p);
}

/* The pause, from t0, with the last round of n pages started. */
static int pause_and_switch(struct ft_protect *p, uint64_t t0, uint64_t n)
{
	int r = send_round(p, 1);
	p->pause_pages = n;
	struct state_out o;
	state_out_init(&o);
	uint8_t head[1 + sizeof(uint64_t)] = { 'F' };
	memcpy(head + 1, &p->console_off, sizeof(uint64_t));
	state_put(&o, head, sizeof(head));
	char err[300] = "";
	if (!r)
		r = machine_state_save(p->m, p->clock(p->ctx), &o, err, sizeof(err));
	if (!r)
		r = ft_primary_state(p->link, o.buf, o.len);
	state_out_free(&o);
	if (!r)
		r = p->become_primary(p->ctx);
	p->pause_ns = mono_clock_ns() - t0;
	if (r && !p->why[0])
		snprintf(p->why, sizeof(p->why), "%s", err[0] ? err : strerror(-r));
	return r;
}

int ft_protect_step(struct ft_protect *p)
{
	/* at most every other SLICE_NS: the guest keeps at least half of its vCPU */
	if (mono_clock_ns() < p->next_slice_ns)
		return 0;
	int r = send_round(p, 0);
	p->next_slice_ns = mono_clock_ns() + SLICE_NS;
	if (!r && p->cursor >= p->pages) {
		uint64_t t0 = mono_clock_ns(), n = 0;
		r = written_since(p, &n);
		if (!r) {
			start_round(p);
			/* small enough (or no better in sight): the pause, here */
			if (n <= FT_PROTECT_PAUSE_PAGES || p->round >= FT_PROTECT_MAX_ROUNDS) {
				r = pause_and_switch(p, t0, n);
				return r ? r : 1;
			}
		}
	}
	if (r && !p->why[0])
		snprintf(p->why, sizeof(p->why), "%s", r == -EPIPE ? "the new backup is gone" : strerror(-r));
	return r;
}

void ft_protect_destroy(struct ft_protect *p)
{
	if (p->m) {
		free(p->m->mem.also);
		p->m->mem.also = NULL;
	}
	free(p->todo);
	free(p->batch);
	p->todo = NULL;
	p->batch = NULL;
}

int ft_incoming_take(void *incoming, const uint8_t *data, size_t len)
{
	struct ft_incoming *in = incoming;
	if (in->complete)
		return -EINVAL;
	if (data[0] == 'B' && len == 9 && !in->mem) {
		memcpy(&in->mem_size, data + 1, 8);
		if (machine_mem_size_problem(in->mem_size))
			return -EINVAL;
		if (in->mem_max && in->mem_size > in->mem_max)
			return -E2BIG;
		in->pages = in->mem_size / PAGE;
		in->mem = mmap(NULL, in->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		in->have = calloc(1, bitmap_bytes(in->pages));
		if (in->mem == MAP_FAILED)
			in->mem = NULL;
		return in->mem && in->have ? 0 : -ENOMEM;
	}
	if (data[0] == 'P' && in->mem && (len - 1) % ENTRY == 0) {
		for (const uint8_t *e = data + 1; e < data + len; e += ENTRY) {
			uint64_t pg;
			memcpy(&pg, e, sizeof(pg));
			if (pg >= in->pages)
				return -EINVAL;
			memcpy(in->mem + pg * PAGE, e + sizeof(pg), PAGE);
			in->have[pg / 64] |= 1ULL << (pg % 64);
		}
		return 0;
	}
	if (data[0] == 'F' && in->mem && len > 9) {
		memcpy(&in->console_off, data + 1, 8);
		in->state_len = len - 9;
		in->state = malloc(in->state_len);
		if (!in->state)
			return -ENOMEM;
		memcpy(in->state, data + 9, in->state_len);
		in->complete = 1;
		return 0;
	}
	return -EINVAL;
}

int ft_incoming_apply(struct ft_incoming *in, struct machine *m, struct machine_saved *saved, char *err,
		      size_t errlen)
{
	if (!in->complete || in->mem_size != m->mem.size) {
		snprintf(err, errlen, "the primary's state %s", in->complete ? "is of another memory size" : "never came whole");
		return -EINVAL;
	}
	machine_mem_clear(m);
	for (uint64_t pg = 0; pg < in->pages; pg++)
		if (in->have[pg / 64] >> (pg % 64) & 1)
			memcpy(m->mem.base + pg * PAGE, in->mem + pg * PAGE, PAGE);
	struct state_in st;
	state_in_init(&st, in->state, in->state_len);
	return machine_state_load(m, &st, saved, err, errlen);
}

void ft_incoming_destroy(struct ft_incoming *in)
{
	if (in->mem)
		munmap(in->mem, in->mem_size);
	free(in->have);
	free(in->state);
	uint64_t mem_max = in->mem_max;
	memset(in, 0, sizeof(*in));
	in->mem_max = mem_max;
}
