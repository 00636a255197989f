// SPDX-License-Identifier: MIT
/* Ring-3 runtime; see ulib.h.  This code runs natively, so it may loop. */
#include "ulib.h"

static char line[256];
static u64 line_len;

void flush(void)
{
	if (line_len)
		sys2(SYS_WRITE, line, line_len);
	line_len = 0;
}

void put_char(char c)
{
	line[line_len++] = c;
	if (c == '\n' || line_len == sizeof(line))
		flush();
}

void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

void put_dec(u64 v)
{
	char b[24];
	int n = 0;

	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put_char(b[--n]);
}

static char hexdig(u64 d)
{
	return (char)(d < 10 ? '0' + d : 'a' + d - 10);
}

void put_hex(u64 v)
{
	for (int sh = 60; sh >= 0; sh -= 4)
		put_char(hexdig((v >> sh) & 0xf));
}

void put_hexn(u64 v)
{
	int sh = 60;

	put_str("0x");
	while (sh > 0 && !((v >> sh) & 0xf))
		sh -= 4;
	for (; sh >= 0; sh -= 4)
		put_char(hexdig((v >> sh) & 0xf));
}

u64 fnv(u64 h, const void *p, u64 n)
{
	const u8 *b = p;

	for (u64 i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3UL;
	}
	return h;
}

u64 fnv_str(u64 h, const char *s)
{
	return fnv(h, s, strlen(s));
}

u64 fnv_u64(u64 h, u64 v)
{
	u8 b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (u8)(v >> (8 * i));
	return fnv(h, b, 8);
}

void *memcpy(void *d, const void *s, u64 n)
{
	u8 *dd = d;
	const u8 *ss = s;

	while (n--)
		*dd++ = *ss++;
	return d;
}

void *memset(void *d, int c, u64 n)
{
	u8 *dd = d;

	while (n--)
		*dd++ = (u8)c;
	return d;
}

int memcmp(const void *a, const void *b, u64 n)
{
	const u8 *x = a, *y = b;

	for (u64 i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

u64 strlen(const char *s)
{
	u64 n = 0;

	while (s[n])
		n++;
	return n;
}

int pass(const char *prog, u64 digest)
{
	put_str("RESULT ");
	put_str(prog);
	put_str(" PASS ");
	put_hex(digest);
	put_char('\n');
	return 0;
}

int fail(const char *prog, const char *reason)
{
	put_str("RESULT ");
	put_str(prog);
	put_str(" FAIL ");
	put_str(reason);
	put_char('\n');
	return 1;
}
