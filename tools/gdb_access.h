/*
 * Read and access watchpoints (gdb's rwatch, awatch: Z3, Z4). No exit and no dirty log
 * tells a read, so while any is set the replay is single-stepped and each instruction is
 * decoded (Capstone, Debian's libcapstone) before it runs: the addresses of its memory
 * operands, from the registers at that point, against the watched ranges. Implicit
 * accesses (the stack of PUSH/CALL, string instructions' RSI/RDI) are not seen.
 */
#ifndef DETVM_TOOLS_GDB_ACCESS_H
#define DETVM_TOOLS_GDB_ACCESS_H

#include <stdint.h>

#include "vmm/machine.h"

#define GDB_ACCESS_READ 1
#define GDB_ACCESS_WRITE 2

struct gdb_access {
	uint64_t addr;
	unsigned len;
	unsigned kinds;		/* GDB_ACCESS_READ, | GDB_ACCESS_WRITE for an access watchpoint */
};

/* The first of w[0..n) the instruction at RIP will touch as it watches; -1 none (or an
 * instruction that cannot be read or decoded). */
int gdb_access_next(const struct gdb_access *w, unsigned n, struct machine *m);

#endif
