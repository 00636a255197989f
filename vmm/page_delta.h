/*
 * A 4 KiB page stored as what differs from a base page (trace.proto: PageImage.delta).
 *
 * A step point carries the pages the guest wrote since its last exit. Replay loads the
 * point standing at that exit, so it already holds each page as it was there: the point
 * need only carry the bytes the guest changed since (a kernel patching a few bytes of its
 * text rewrote whole pages otherwise). The base is guest memory itself, not anything
 * decoded from the trace, so every consumer that can load a point (replay from any
 * checkpoint, the gdb stub going backwards, `detvm trace`, an FT backup started by a state
 * transfer) has it.
 *
 * Encoding: runs, back to back, each `gap` `len` `len bytes`: gap and len are LEB128
 * varints (gap: bytes left as they are since the previous run's end, len >= 1: bytes
 * replaced by the literal bytes that follow). Runs never reach past the page's end and
 * the encoding has no trailing bytes. Equal stretches shorter than PAGE_DELTA_MERGE stay
 * inside a run: a new run costs at least two bytes of varints.
 */
#ifndef DETVM_VMM_PAGE_DELTA_H
#define DETVM_VMM_PAGE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_DELTA_PAGE 4096u
#define PAGE_DELTA_MERGE 8u
/* An encoding is never kept longer than the page: the page itself is stored instead. */
#define PAGE_DELTA_MAX PAGE_DELTA_PAGE

/* Encodes page against base into out (room for PAGE_DELTA_MAX bytes): its length (0:
 * the page equals its base), or PAGE_DELTA_MAX + 1 where it would be longer than that
 * (out then holds nothing useful). */
size_t page_delta_encode(const uint8_t *base, const uint8_t *page, uint8_t *out);

/* 0 where delta is a well-formed encoding of a change to one page, else -EINVAL. */
int page_delta_check(const uint8_t *delta, size_t len);

/* Applies delta to page in place: 0, or -EINVAL (page untouched) where it is malformed. */
int page_delta_apply(uint8_t *page, const uint8_t *delta, size_t len);

#endif
