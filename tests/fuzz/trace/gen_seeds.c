/* gen_seeds DIR: a few small valid and truncated traces as the fuzzer's seed corpus. */
#include <stdio.h>

#include "trace_fixture.h"

int main(int argc, char **argv)
{
	static const struct { const char *name; uint64_t n; size_t block; int footer; } seeds[] = {
		{ "small.trace", 20, 256, 1 },
		{ "blocks.trace", 60, 512, 1 },
		{ "nofooter.trace", 30, 256, 0 },
		{ "empty.trace", 0, 0, 1 },
	};
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[1], seeds[i].name);
		if (fx_write_trace(path, seeds[i].n, seeds[i].block, seeds[i].footer)) {
			fprintf(stderr, "%s: cannot write\n", path);
			return 1;
		}
	}
	return 0;
}
