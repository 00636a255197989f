/* Messages to stderr, prefixed "detvm: ". Guest misbehaviour is rate-limited. */
#ifndef DETVM_VMM_LOG_H
#define DETVM_VMM_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;	/* default LOG_WARN */

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * For accesses a guest should not make: *count is incremented every time; a warning is
 * printed for the first few and then for every 1024th, so a hostile guest cannot flood
 * the host's log. Returns 1 when it printed.
 */
int log_guest_error(uint64_t *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
