/*
 * The gdb remote stub of `detvm replay --gdb` (a run_debugger, vmm/debugger.h): stops,
 * breakpoints and watchpoints by single-stepping (this host has no working hardware
 * breakpoints, and an INT3 written into guest memory would change what replay compares),
 * and reverse execution from in-memory checkpoints (replay/checkpoints.h). A position is
 * (exit number, single-steps since that exit's delivery point).
 */
#ifndef DETVM_TOOLS_GDB_SERVER_H
#define DETVM_TOOLS_GDB_SERVER_H

#include <stdint.h>

#include "replay/checkpoints.h"
#include "replay/replay.h"
#include "tools/gdb_access.h"
#include "tools/gdb_rsp.h"
#include "tools/gdb_user_step.h"
#include "vmm/debugger.h"
#include "vmm/machine.h"

#define GDB_MAX_BREAKPOINTS 64
#define GDB_MAX_WATCHPOINTS 4

struct gdb_pos {
	uint64_t exits, steps;
};

struct gdb_watch {
	uint64_t addr;
	unsigned len;
	uint8_t value[8];	/* at the last boundary */
};

enum gdb_mode { GDB_DETACHED, GDB_STOP, GDB_CONTINUE, GDB_STEP, GDB_SEARCH, GDB_GOTO };

struct gdb_server {
	struct run_debugger dbg;
	struct rsp rsp;
	struct replayer *rp;
	struct checkpoints cps;
	int reverse_ok;
	char reverse_off[256];		/* why not, when not */
	enum gdb_mode mode;
	int gdb_waits;			/* gdb sent c/s/bc/bs and waits for a stop reply */
	struct gdb_pos pos, prev;	/* this boundary and the one before */
	uint64_t high_exits;		/* furthest exit run: its console output was shown */
	uint64_t bp[GDB_MAX_BREAKPOINTS];
	unsigned nbp;
	struct gdb_watch wp[GDB_MAX_WATCHPOINTS];
	unsigned nwp;
	struct gdb_access aw[GDB_MAX_WATCHPOINTS];	/* read and access watchpoints */
	unsigned naw;
	int access_next;		/* the one the next instruction touches, -1 none */
	char why[64];			/* the stop reply's reason: "swbreak:;", "watch:ADDR;" */
	int signal;			/* 5 SIGTRAP, 2 SIGINT */
	/* a reverse search: the last hit before target, from checkpoint cp on */
	int search_steps;		/* any single-step is a hit (reverse-stepi) */
	/* the target is a later interval's checkpoint, not where the search began: the
	 * instruction there still ran before that, so a breakpoint or access there is a hit */
	int target_inclusive;
	struct gdb_pos target, hit;
	long cp;
	int found;
	int forward;			/* a forward watchpoint stop: after the write ... */
	struct gdb_pos from;		/* ... the first one after here */
	uint64_t fine_from;		/* stepping from this exit on */
	int hit_coarse;			/* the hit is a write somewhere in interval hit_seg */
	uint64_t hit_seg;
	struct gdb_pos hit_seen;	/* where that write was seen */
	char hit_why[64];
	uint64_t op_ns, op_exits;	/* the last reverse operation: host time, exits re-run */
	unsigned polls, accept_polls;
	uint64_t interrupt_at;		/* a Ctrl-C at this exit's delivery point (tests), 0 none */
	uint64_t steps;			/* single-step stops, for statistics */
	uint64_t entry_rsp;		/* at the last entry into the guest */
	uint16_t entry_cs;
	unsigned step_rings;		/* where KVM single-steps: bit n = ring n */
	unsigned bp_rings;		/* where its hardware breakpoints work: bit n = ring n */
	unsigned port;			/* listened on */
	int started;			/* past the start of the run */
	int free_run;			/* not stepped until the next delivery point */
	uint64_t interrupts_seen;	/* m->stats.interrupts at the last entry */
	int user_steps;			/* ring 3 stepped by gdb_user_step.h */
	struct user_step us;
};

/* Listens on hostport (the port taken is printed once attached); wait: stop before the
 * first instruction until gdb attaches. budget: bytes of checkpoints. 0, or an exit code after printing why. */
int gdb_server_init(struct gdb_server *s, const char *hostport, int wait, uint64_t budget);
/* Drives m from here on (sets m->dbg). */
void gdb_server_attach(struct gdb_server *s, struct machine *m, struct replayer *rp);
/* The replay ended with code: gdb sees the process exit with it. */
void gdb_server_finish(struct gdb_server *s, int code);
void gdb_server_destroy(struct gdb_server *s);

/* Inside the stub. gdb_commands.c: the machine is stopped; talks to gdb until it resumes
 * it (-1) or ends the replay (an exit code). */
int gdb_serve(struct gdb_server *s, struct machine *m);
/* gdb_server.c: starts going back (bc: to the previous hit; bs: one instruction). -1 on
 * the way, 0 refused (the reply sent), or an exit code. */
int gdb_reverse(struct gdb_server *s, struct machine *m, int one_step);
/* gdb_stops.c. The watched values as they are now (after a watchpoint is set, or the
 * state moved). */
void gdb_watch_refresh(struct gdb_server *s, struct machine *m);
/* The first write watchpoint whose value changed since the last boundary (all are
 * brought up to date); -1 none. */
int gdb_watch_changed(struct gdb_server *s, struct machine *m);
/* Whether RIP is on a breakpoint. */
int gdb_at_breakpoint(struct gdb_server *s, struct machine *m);
/* The read or access watchpoint the instruction just run touched (-1 none; why gets the
 * stop reason), noting which one the next will touch where it is stepped. */
int gdb_accessed(struct gdb_server *s, struct machine *m, int stepping, char *why, size_t len);

/* Before a stepped entry: where the guest is about to go through an interrupt gate, how
 * it goes (tools/gdb_gate.c): -1 none ahead, else what wants_step answers. */
int gdb_gate_ahead(struct gdb_server *s, struct machine *m, int injecting);

#endif
