#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

static uint64_t range_last(const struct bus_range *r)
{
	return r->base + r->len - 1;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct io_handler *ops,
		 void *opaque, const char *name)
{
	if (!len || base + len - 1 < base || !ops)
		return -EINVAL;
	if (b->count == BUS_MAX_RANGES)
		return -ENOSPC;
	unsigned i = 0;
	while (i < b->count && b->ranges[i].base < base)
		i++;
	if (i > 0 && range_last(&b->ranges[i - 1]) >= base)
		return -EEXIST;
	if (i < b->count && b->ranges[i].base <= base + len - 1)
		return -EEXIST;
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->count - i) * sizeof(b->ranges[0]));
	b->ranges[i] = (struct bus_range){ base, len, ops, opaque, name };
	b->count++;
	return 0;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	for (unsigned i = 0; i < b->count; i++) {
		if (b->ranges[i].base != base)
			continue;
		memmove(&b->ranges[i], &b->ranges[i + 1], (b->count - i - 1) * sizeof(b->ranges[0]));
		b->count--;
		return 0;
	}
	return -ENOENT;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr > range_last(r))
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static const struct bus_range *claim(const struct bus *b, uint64_t addr, unsigned size)
{
	const struct bus_range *r = bus_find(b, addr);
	if (!r || !size || addr + size - 1 > range_last(r) || addr + size - 1 < addr)
		return NULL;
	return r;
}

int bus_read(struct bus *b, uint64_t addr, uint8_t *data, unsigned size)
{
	const struct bus_range *r = claim(b, addr, size);
	if (!r || !r->ops->read) {
		memset(data, 0xff, size);
		b->unclaimed_reads++;
		return -ENOENT;
	}
	r->ops->read(r->opaque, addr - r->base, data, size);
	return 0;
}

int bus_write(struct bus *b, uint64_t addr, const uint8_t *data, unsigned size)
{
	const struct bus_range *r = claim(b, addr, size);
	if (!r || !r->ops->write) {
		b->unclaimed_writes++;
		return -ENOENT;
	}
	r->ops->write(r->opaque, addr - r->base, data, size);
	return 0;
}
