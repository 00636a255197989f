/* detvm's process exit codes: each says how a run ended. */
#ifndef DETVM_VMM_EXITCODE_H
#define DETVM_VMM_EXITCODE_H

enum detvm_exit {
	DETVM_EXIT_OK = 0,		/* guest powered off or asked for a reset */
	DETVM_EXIT_GUEST_FAIL = 1,	/* guest powered off reporting failure (debug-exit != 0) */
	DETVM_EXIT_USAGE = 2,		/* bad flags, missing or malformed image or file */
	DETVM_EXIT_KVM = 3,		/* KVM refused something, or an emulation failure */
	DETVM_EXIT_TRIPLE_FAULT = 4,	/* guest shutdown (triple fault) */
	DETVM_EXIT_UNKNOWN = 5,		/* an exit reason detvm does not handle */
	DETVM_EXIT_DIVERGED = 6,	/* replay diverged from the trace */
	DETVM_EXIT_TRACE = 7,		/* the trace is unreadable, truncated or corrupt */
	DETVM_EXIT_TIMEOUT = 8,		/* --timeout or --max-exits reached */
	DETVM_EXIT_HALTED = 9,		/* guest halted with interrupts off: it can never wake */
	DETVM_EXIT_HOST = 10,		/* a host-side failure (I/O error, out of memory) */
	DETVM_EXIT_INTERRUPTED = 11,	/* SIGINT or SIGTERM */
	DETVM_EXIT_MISMATCH = 12,	/* replay: a file the trace names is missing or changed */
	DETVM_EXIT_FT_HALTED = 13,	/* ft: lost the arbiter or could not reach it, so halted
					 * rather than be a second live VM */
};

/* Ends the guest makes at an exit (so record and replay can compare the state there),
 * as opposed to ends imposed from outside: a timeout, a signal, a host or trace error. */
static inline int detvm_exit_at_boundary(int code)
{
	return code != DETVM_EXIT_TIMEOUT && code != DETVM_EXIT_INTERRUPTED && code != DETVM_EXIT_DIVERGED &&
	       code != DETVM_EXIT_TRACE && code != DETVM_EXIT_HOST;
}

#endif
