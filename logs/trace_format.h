/*
 * Byte-level constants and helpers shared by the trace writer and reader (internal to
 * logs/). FORMAT.md is the specification; this file must agree with it.
 * All fixed-width integers in a trace are little-endian.
 */
#ifndef DETVM_LOGS_TRACE_FORMAT_H
#define DETVM_LOGS_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "logs/crc32c.h"
#include "logs/trace.h"

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

/* v as a protobuf varint at p (at most TRACE_VARINT_MAX bytes): the bytes written. */
static inline size_t trace_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

/* The file header's frame around the hlen bytes of a packed TraceHeader that sit at
 * b + TRACE_FILE_FIXED_LEN: magic, version and length before, the CRC after (b holds
 * TRACE_FILE_FIXED_LEN + hlen + 4 bytes). */
static inline void trace_frame_header(uint8_t *b, size_t hlen)
{
	memcpy(b, TRACE_FILE_MAGIC, TRACE_FILE_MAGIC_LEN);
	trace_put_le32(b + 8, TRACE_FORMAT_VERSION);
	trace_put_le32(b + 12, (uint32_t)hlen);
	trace_put_le32(b + TRACE_FILE_FIXED_LEN + hlen, crc32c(b, TRACE_FILE_FIXED_LEN + hlen));
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
