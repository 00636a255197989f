/* SPDX-License-Identifier: MIT */
/*
 * Ring-3 runtime of the test programs: system call wrappers, a line-buffered
 * console (one SYS_WRITE per line keeps the emulated ring 0 out of the way),
 * and the FNV-1a digest every RESULT line carries.
 */
#ifndef GUEST_ULIB_H
#define GUEST_ULIB_H

#include "../abi.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long s64;

static inline s64 sys5(u64 nr, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4)
{
	register u64 r10 __asm__("r10") = a3;
	register u64 r8 __asm__("r8") = a4;
	s64 ret;

	__asm__ __volatile__("int $0x80"
			     : "=a"(ret)
			     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8)
			     : "memory");
	return ret;
}

#define sys0(n)			sys5((n), 0, 0, 0, 0, 0)
#define sys1(n, a)		sys5((n), (u64)(a), 0, 0, 0, 0)
#define sys2(n, a, b)		sys5((n), (u64)(a), (u64)(b), 0, 0, 0)
#define sys3(n, a, b, c)	sys5((n), (u64)(a), (u64)(b), (u64)(c), 0, 0)
#define sys4(n, a, b, c, d)	sys5((n), (u64)(a), (u64)(b), (u64)(c), (u64)(d), 0)

static inline u64 uticks(void) { return (u64)sys0(SYS_TICKS); }
static inline void usleep_ticks(u64 n) { sys1(SYS_SLEEP, n); }
static inline void uexit(int code) { sys1(SYS_EXIT, code); for (;;) ; }

/* console: buffered until '\n' */
void put_str(const char *s);
void put_char(char c);
void put_dec(u64 v);
void put_hex(u64 v);		/* 16 digits, no prefix */
void put_hexn(u64 v);		/* minimal digits, 0x prefix */
void flush(void);

/* FNV-1a 64 */
#define FNV_INIT 0xcbf29ce484222325UL
u64 fnv(u64 h, const void *p, u64 n);
u64 fnv_str(u64 h, const char *s);
u64 fnv_u64(u64 h, u64 v);

void *memcpy(void *d, const void *s, u64 n);
void *memset(void *d, int c, u64 n);
int memcmp(const void *a, const void *b, u64 n);
u64 strlen(const char *s);

/* user/ustart.c: KEY=NUMBER on the command line, dflt where absent or 0 */
u64 cmdline_num(const char *key, u64 dflt);

/* Program conventions: print the RESULT line; return 0 (PASS) or 1 (FAIL). */
int pass(const char *prog, u64 digest);
int fail(const char *prog, const char *reason);

/* programs (user/prog_*.c); n = the `n=` argument or 0 for the default */
int prog_hello(u64 n);
int prog_ticks(u64 n);
int prog_talk(u64 n);
int prog_race(u64 n);
int prog_blk(u64 n);
int prog_journal(u64 n);
int prog_net(u64 n);
int prog_spin(u64 n);
int prog_badqueue(u64 n);
int prog_kspin(u64 n);
int prog_memtouch(u64 n);
int prog_memhot(u64 n);
int prog_memrate(u64 n);
int prog_tsc(u64 n);

/* user/prog_blk.c, shared with badqueue */
int blk_roundtrip(const char *prog, u64 sector, u64 nsect, u64 *digest);

#endif
