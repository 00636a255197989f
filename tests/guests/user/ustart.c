// SPDX-License-Identifier: MIT
/*
 * Ring-3 entry: parse the command line the kernel copied into ucmdline and run
 * the selected program.  Arguments (everything else is ignored, including the
 * virtio_mmio.device= entries the VMM appends):
 *   prog=NAME   hello (default), ticks, race, blk, net, spin, badqueue, kspin, talk, journal,
 *               memtouch, memhot, memrate, tsc
 *   hz=NUMBER   the timer rate the kernel set (memrate paces itself by it)
 *   n=NUMBER    per-program count, see each prog_*.c (0 or absent = default)
 */
#include "ulib.h"

/* In .data, not .bss: the kernel writes it before ring 3 ever runs. */
__attribute__((section(".data"))) char ucmdline[1024];
/* Stack of the first task; the kernel starts it at ustack0 + USTACK0_SIZE. */
__attribute__((aligned(16))) u8 ustack0[USTACK0_SIZE];

struct prog {
	const char *name;
	int (*fn)(u64 n);
};

static const struct prog progs[] = {
	{ "hello", prog_hello },
	{ "ticks", prog_ticks },
	{ "race", prog_race },
	{ "blk", prog_blk },
	{ "journal", prog_journal },
	{ "net", prog_net },
	{ "spin", prog_spin },
	{ "badqueue", prog_badqueue },
	{ "kspin", prog_kspin },
	{ "talk", prog_talk },
	{ "memtouch", prog_memtouch },
	{ "memhot", prog_memhot },
	{ "memrate", prog_memrate },
	{ "tsc", prog_tsc },
};

/* Value of KEY=... as a [start, len) token, or 0 if absent. */
static const char *arg(const char *cmd, const char *key, u64 *len)
{
	u64 kl = strlen(key);

	for (const char *s = cmd; *s; s++) {
		if ((s == cmd || s[-1] == ' ') && !memcmp(s, key, kl) && s[kl] == '=') {
			const char *v = s + kl + 1;

			*len = 0;
			while (v[*len] && v[*len] != ' ')
				(*len)++;
			return v;
		}
	}
	return 0;
}

/* The decimal value of KEY= on the command line, or dflt where it is absent or 0. */
u64 cmdline_num(const char *key, u64 dflt)
{
	u64 len = 0, n = 0;
	const char *v = arg(ucmdline, key, &len);

	for (u64 i = 0; v && i < len && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (u64)(v[i] - '0');
	return n ? n : dflt;
}

void ustart(const char *cmd)
{
	const char *name = "hello", *v;
	u64 len = 5, nlen = 0, n = 0;
	char buf[32];

	v = arg(cmd, "prog", &len);
	if (v)
		name = v;
	else
		len = 5;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, name, len);
	buf[len] = 0;
	/* its own length: len still measures the program name compared below */
	v = arg(cmd, "n", &nlen);
	for (u64 i = 0; v && i < nlen && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (u64)(v[i] - '0');

	put_str("INFO cmdline: ");
	put_str(cmd);
	put_char('\n');
	put_str("prog ");
	put_str(buf);
	put_char('\n');
	for (u64 i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (!memcmp(progs[i].name, buf, len + 1)) {
			int rc = progs[i].fn(n);

			flush();
			sys1(SYS_POWEROFF, rc ? 1 : 0);
		}
	}
	fail(buf, "unknown-program");
	flush();
	sys1(SYS_POWEROFF, 2);
}
