/* Internals of `detvm dump` shared by dump.c, dump_text.c, dump_json.c and dump_util.c. */
#ifndef DETVM_TOOLS_DUMP_PRIV_H
#define DETVM_TOOLS_DUMP_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "logs/trace.h"

/* Event kinds are the payload field numbers 3..15 (FORMAT.md); slot 0 = unknown kind. */
#define DUMP_KIND_SLOTS 16

/* Name of a payload kind ("exit", "irq", ...), "unknown" for anything else. */
const char *dump_kind_name(unsigned int kind);
/* The Event's kind slot: its payload case, or 0 when the payload is a kind we don't know. */
unsigned int dump_event_kind(const Detvm__Event *ev);
/* The field number of an unknown payload (a newer writer's kind), 0 if none found. */
uint32_t dump_unknown_kind(const Detvm__Event *ev);

/* Enum values by name; out-of-range values come back as "<what>#N" in buf. */
const char *dump_exit_kind_name(int v, char *buf, size_t len);
const char *dump_clock_source_name(int v, char *buf, size_t len);
const char *dump_delivery_name(int v, char *buf, size_t len);
const char *dump_end_reason_name(int v, char *buf, size_t len);
#define DUMP_NAME_BUF 32

/* Lower-case hex of p[0..len); at most `max` bytes, then "..." when there are more. */
void dump_put_hex(FILE *out, const uint8_t *p, size_t len, size_t max);
/* A quoted, C-escaped string safe for a terminal; at most `max` bytes, then "...". */
void dump_put_quoted(FILE *out, const uint8_t *p, size_t len, size_t max);
/* A JSON string literal. Bytes that are not valid UTF-8 are written as \u00XX. */
void dump_put_json_str(FILE *out, const char *s);
void dump_put_json_bytes_str(FILE *out, const uint8_t *p, size_t len);

/* Renderers: text (dump_text.c) and JSON Lines (dump_json.c). */
void dump_text_header(FILE *out, const char *path, uint32_t version,
		      const Detvm__TraceHeader *h);
void dump_text_event(FILE *out, const struct trace_event *te);
void dump_text_footer(FILE *out, const Detvm__TraceFooter *f);

void dump_json_header(FILE *out, const char *path, uint32_t version,
		      const Detvm__TraceHeader *h);
void dump_json_event(FILE *out, const struct trace_event *te);
void dump_json_footer(FILE *out, const Detvm__TraceFooter *f);

/* Short name of a trace error code for JSON ("truncated", "crc", "io", ...). */
const char *dump_error_name(int err);

#endif
