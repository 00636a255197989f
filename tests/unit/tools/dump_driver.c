/* Stand-in for `detvm dump` until vmm/main.c dispatches to it: `dump_driver dump ARGS`. */
#include <stdio.h>
#include <string.h>

#include "tools/dump.h"

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "dump")) {
		fprintf(stderr, "usage: dump_driver dump [ARGS...]\n");
		return 2;
	}
	return dump_main(argc - 1, argv + 1);
}
