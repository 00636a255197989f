#include "vmm/chaos.h"

#include <string.h>
#include <time.h>

uint64_t chaos_next(struct chaos *c)
{
	/* Steele, Lea and Flood's splitmix64: every seed, 0 included, starts a
	 * full-period sequence */
	uint64_t z = (c->prng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t draw(struct chaos *c, uint64_t bound)
{
	return chaos_next(c) % (bound + 1);	/* bias below 2^-40 for bounds this small */
}

static int chaos_hold(void *self, uint64_t position, int halted)
{
	struct chaos *c = self;
	if (halted) {
		c->holding = 0;
		return 0;
	}
	if (!c->holding) {
		uint64_t k = draw(c, c->max);
		c->delays++;
		c->held_exits += k;
		c->until = position + k;
		c->holding = 1;
	}
	if (position < c->until)
		return 1;
	c->holding = 0;
	return 0;
}

static void chaos_pause(void *self, uint64_t position)
{
	struct chaos *c = self;
	if (!c->max_pause_us || chaos_next(c) % CHAOS_PAUSE_ODDS)
		return;
	uint64_t us = draw(c, c->max_pause_us);
	c->pauses++;
	c->paused_us += us;
	struct timespec t = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	/* a signal (the stop flag, the kick) ends the pause early: the loop looks at it */
	nanosleep(&t, NULL);
}

static const struct irq_gate_ops chaos_gate_ops = { .hold = chaos_hold, .pause = chaos_pause };

void chaos_init(struct chaos *c, uint64_t seed, uint32_t max_delay, uint32_t max_pause_us)
{
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	c->max = max_delay;
	c->max_pause_us = max_pause_us;
	c->prng = seed;
	c->gate.ops = &chaos_gate_ops;
	c->gate.self = c;
}
