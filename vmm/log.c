#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>

enum log_level log_threshold = LOG_WARN;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "detvm: %s%s\n", prefix, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	if (level > log_threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(prefix[level], fmt, ap);
	va_end(ap);
}

int log_guest_error(uint64_t *count, const char *fmt, ...)
{
	uint64_t n = ++*count;
	if (log_threshold < LOG_WARN || (n > 8 && (n & 1023) != 0))
		return 0;
	va_list ap;
	va_start(ap, fmt);
	vlog("guest: ", fmt, ap);
	va_end(ap);
	return 1;
}
