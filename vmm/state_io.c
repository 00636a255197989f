#include "vmm/state_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void state_out_init(struct state_out *o)
{
	memset(o, 0, sizeof(*o));
}

void state_out_free(struct state_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

void state_put(struct state_out *o, const void *data, size_t len)
{
	if (o->err)
		return;
	if (o->len + len > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + len)
			cap *= 2;
		uint8_t *b = realloc(o->buf, cap);
		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, data, len);
	o->len += len;
}

void state_put_u32(struct state_out *o, uint32_t v)
{
	state_put(o, &v, sizeof(v));
}

void state_put_u64(struct state_out *o, uint64_t v)
{
	state_put(o, &v, sizeof(v));
}

void state_in_init(struct state_in *in, const void *data, size_t len)
{
	memset(in, 0, sizeof(*in));
	in->p = data;
	in->len = len;
}

void state_get(struct state_in *in, void *data, size_t len)
{
	if (in->err || len > in->len - in->pos) {
		state_check(in, 0, "its length");
		memset(data, 0, len);
		return;
	}
	memcpy(data, in->p + in->pos, len);
	in->pos += len;
}

uint32_t state_get_u32(struct state_in *in)
{
	uint32_t v;
	state_get(in, &v, sizeof(v));
	return v;
}

uint64_t state_get_u64(struct state_in *in)
{
	uint64_t v;
	state_get(in, &v, sizeof(v));
	return v;
}

int state_check(struct state_in *in, int ok, const char *what)
{
	if (!ok && !in->err) {
		in->err = -EINVAL;
		in->bad = what;
	}
	return ok;
}

size_t state_section_begin(struct state_out *o, uint32_t tag)
{
	state_put_u32(o, tag);
	size_t at = o->len;
	state_put_u64(o, 0);
	return at;
}

void state_section_end(struct state_out *o, size_t at)
{
	if (o->err)
		return;
	uint64_t len = o->len - at - sizeof(uint64_t);
	memcpy(o->buf + at, &len, sizeof(len));
}

int state_section_open(struct state_in *in, uint32_t tag, struct state_in *sub)
{
	uint32_t t = state_get_u32(in);
	uint64_t len = state_get_u64(in);
	if (!state_check(in, t == tag, "a section tag") || !state_check(in, len <= in->len - in->pos, "a section length")) {
		state_in_init(sub, NULL, 0);
		sub->err = in->err;
		sub->bad = in->bad;
		return -EINVAL;
	}
	state_in_init(sub, in->p + in->pos, (size_t)len);
	in->pos += (size_t)len;
	return 0;
}
