/*
 * A debugger driving the run loop (the gdb stub on replay, tools/gdb_*.c). The loop
 * calls it at every delivery point and at every single-step it asked for; between
 * calls the debugger may stop (serve its client) or put the machine back to an earlier
 * state, after which the loop resumes there. Run, record and plain replay install none.
 */
#ifndef DETVM_VMM_DEBUGGER_H
#define DETVM_VMM_DEBUGGER_H

struct machine;

/* Where the loop resumes after the debugger replaced the machine's state. */
enum debugger_resume {
	DEBUGGER_RESUME_NONE,
	DEBUGGER_RESUME_POINT,	/* at a delivery point: offer an interrupt, then enter */
	DEBUGGER_RESUME_STEP,	/* between two instructions of a run: enter */
};

#define DEBUGGER_STEP_KEEP 2
#define DEBUGGER_STEP_DONE 3

struct run_debugger_ops {
	/* The machine stands at a delivery point, whole (where a snapshot is taken), after
	 * exit m->stats.exits (0: the start). -1 to go on, else a detvm exit code. */
	int (*point)(void *self, struct machine *m);
	/* A single-step the debugger asked for ended (KVM_EXIT_DEBUG). Same returns. */
	int (*stepped)(void *self, struct machine *m);
	/* Before each entry into the guest: 1 to single-step it, 0 not, DEBUGGER_STEP_KEEP
	 * to leave KVM's debug state as it is (a ring where KVM cannot step), or
	 * DEBUGGER_STEP_DONE: the debugger moved the guest by one instruction itself (and
	 * handled that stop); the loop goes round without entering, or ends with
	 * exit_code where that is set. */
	int (*wants_step)(void *self, struct machine *m);
};

struct run_debugger {
	const struct run_debugger_ops *ops;
	void *self;
	enum debugger_resume resume;	/* set by the debugger when it replaced the state */
	int stepping;			/* single-step is armed for the debugger */
	int exit_code;			/* with DEBUGGER_STEP_DONE: > 0 ends the run */
};

#endif
