/* What trace_mutate and trace_scramble both do when they copy a trace. */
#ifndef DETVM_TESTS_TRACE_COPY_H
#define DETVM_TESTS_TRACE_COPY_H

#include "logs/trace.h"

/* The footer fields a copy keeps from its input (the writer computes the counts). */
static inline void trace_copy_footer(Detvm__TraceFooter *f, const Detvm__TraceFooter *in)
{
	detvm__trace_footer__init(f);
	if (!in)
		return;
	f->final_position = in->final_position;
	f->final_digest = in->final_digest;
	f->clean_exit = in->clean_exit;
	f->reason = in->reason;
	f->message = in->message;
}

#endif
