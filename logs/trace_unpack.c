/*
 * A memory budget for protobuf-c while it unpacks one record from a file or a peer
 * (trace.h: TRACE_UNPACK_BUDGET). The count only grows: what protobuf-c frees while it
 * unpacks (its scratch lists) is not given back, so the budget bounds the peak too.
 */
#include "logs/trace.h"

#include <stdlib.h>

static void *budget_alloc(void *data, size_t size)
{
	struct trace_unpack_budget *b = data;

	if (size > b->left) {
		b->over = 1;
		return NULL;
	}
	b->left -= size;
	return malloc(size);
}

/* as protobuf-c's default allocator frees, so free_unpacked(x, NULL) is right too */
static void budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

ProtobufCAllocator *trace_unpack_budget(struct trace_unpack_budget *b, size_t len)
{
	b->alloc.alloc = budget_alloc;
	b->alloc.free = budget_free;
	b->alloc.allocator_data = b;
	b->left = TRACE_UNPACK_BUDGET(len);
	b->over = 0;
	return &b->alloc;
}
