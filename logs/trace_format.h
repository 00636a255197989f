/*
 * Byte-level constants and helpers shared by the trace writer and reader (internal to
 * logs/). FORMAT.md is the specification; this file must agree with it.
 * All fixed-width integers in a trace are little-endian.
 */
#ifndef DETVM_LOGS_TRACE_FORMAT_H
#define DETVM_LOGS_TRACE_FORMAT_H

#include <stdint.h>
#include <string.h>

/* File header: magic[8] | u32 version | u32 header_len | TraceHeader | u32 crc32c */
#define TRACE_FILE_MAGIC "DETVMTR\0"
#define TRACE_FILE_MAGIC_LEN 8
#define TRACE_FILE_FIXED_LEN 16

/* Block: "BLK1" | u32 clen | u32 ulen | u32 count | u64 first_seq | u32 crc32c(zdata) | zdata */
#define TRACE_BLOCK_MAGIC "BLK1"
#define TRACE_BLOCK_HDR_LEN 28

/* Footer: "END1" | u32 footer_len | TraceFooter | u32 crc32c(everything before it) */
#define TRACE_FOOTER_MAGIC "END1"
#define TRACE_FOOTER_FIXED_LEN 8

/* Longest varint for a uint64 */
#define TRACE_VARINT_MAX 10

static inline void trace_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static inline void trace_put_le64(uint8_t *p, uint64_t v)
{
	trace_put_le32(p, (uint32_t)v);
	trace_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t trace_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t trace_get_le64(const uint8_t *p)
{
	return trace_get_le32(p) | (uint64_t)trace_get_le32(p + 4) << 32;
}

#endif
