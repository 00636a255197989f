/*
 * trace_bomb: writes a forged trace whose one block holds EVENTS step points of PAGES
 * empty PageImage records each (fx_write_page_bomb), for trace_bounds.sh.
 *
 * usage: trace_bomb OUT EVENTS PAGES       exit 0 done, 1 error, 2 usage
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_fixture.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: trace_bomb OUT EVENTS PAGES\n");
		return 2;
	}
	int r = fx_write_page_bomb(argv[1], (uint32_t)strtoul(argv[2], NULL, 0),
				   (uint32_t)strtoul(argv[3], NULL, 0));
	if (r) {
		fprintf(stderr, "trace_bomb: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return 0;
}
