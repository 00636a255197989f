/*
 * trace_py_fixture TRACE EXPECT: write a fixture trace and, beside it, what a decoder must
 * find in it (one line per record: the header and each event packed again by protobuf-c,
 * in hex). tools/trace_read.py --expect compares its own decoding with these lines.
 */
#include <stdio.h>
#include <stdlib.h>

#include "trace_fixture.h"

#define N_EVENTS 3000

static void put_hex(FILE *f, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
}

int main(int argc, char **argv)
{
	struct fx_header fh;
	struct fx_event fx;
	const Detvm__TraceHeader *h;
	uint8_t *b;
	size_t len;
	FILE *f;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s TRACE EXPECT\n", argv[0]);
		return 2;
	}
	ret = fx_write_trace(argv[1], N_EVENTS, 2048, 1);
	if (ret) {
		fprintf(stderr, "%s: write failed: %s\n", argv[1], trace_strerror(ret));
		return 1;
	}
	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	h = fx_header_make(&fh);
	len = detvm__trace_header__get_packed_size(h);
	b = malloc(len);
	if (!b)
		return 1;
	detvm__trace_header__pack(h, b);
	fprintf(f, "header ");
	put_hex(f, b, len);
	fprintf(f, "\n");
	free(b);
	for (uint64_t i = 0; i < N_EVENTS; i++) {
		const Detvm__Event *ev = fx_event_make(&fx, i);
		const ProtobufCFieldDescriptor *fd =
			protobuf_c_message_descriptor_get_field(&detvm__event__descriptor,
								ev->payload_case);

		b = fx_pack_event(ev, &len);
		if (!b || !fd)
			return 1;
		fprintf(f, "event %llu %llu %s ", (unsigned long long)i,
			(unsigned long long)fx_position(i), fd->name);
		put_hex(f, b, len);
		fprintf(f, "\n");
		free(b);
	}
	fprintf(f, "footer %d\n", N_EVENTS);
	return fclose(f) ? 1 : 0;
}
