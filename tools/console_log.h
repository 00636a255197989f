/*
 * The guest's console output, rebuilt from a trace: every guest write to COM1 is an exit
 * record with the bytes written, so following the 16550A's registers the way the device
 * does (the divisor latch bit of LCR, loopback in MCR) gives exactly the bytes the
 * recording printed, each with the exit that wrote it. Used by `detvm console` and
 * `detvm report`.
 */
#ifndef DETVM_TOOLS_CONSOLE_LOG_H
#define DETVM_TOOLS_CONSOLE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logs/trace.h"

struct console_line {
	uint64_t position;	/* the exit that wrote the line's first byte */
	uint64_t guest_ns;	/* guest time there (tools/trace_walk.h) */
	uint8_t *text;		/* without the '\n' */
	size_t len, cap;
	bool newline;		/* ended by '\n' (only the last line may lack one) */
	uint64_t missing;	/* bytes written by a string out the trace kept only in part */
};

struct console_log {
	uint8_t lcr, mcr;	/* the UART registers that decide where a THR write goes */
	struct console_line *lines;
	size_t nlines, cap;
	uint64_t bytes;		/* bytes transmitted */
};

void console_log_init(struct console_log *c);
/* Take one event (only COM1 writes matter). 0, or -ENOMEM. */
int console_log_event(struct console_log *c, const struct trace_event *te, uint64_t guest_ns);
void console_log_free(struct console_log *c);

#endif
