// SPDX-License-Identifier: MIT
/*
 * blk and badqueue.
 *
 * Disk contract: any virtio-blk disk of at least 1 MiB (2048 sectors).  The
 * programs save every sector they touch and write it back afterwards, so the
 * result does not depend on, and does not change, the disk's contents.
 */
#include "ulib.h"

#define SECT		512
#define MAXN		8
#define MIN_SECTORS	2048

static u8 saved[MAXN * SECT] __attribute__((aligned(512)));
static u8 pattern[MAXN * SECT] __attribute__((aligned(512)));
static u8 readback[MAXN * SECT] __attribute__((aligned(512)));

static void fill_pattern(u64 sector, u64 nsect)
{
	for (u64 i = 0; i < nsect * SECT; i++) {
		u64 s = sector + i / SECT, o = i % SECT;

		pattern[i] = (u8)(s * 131 + o * 7 + (o >> 8) * 29 + 0x5a);
	}
}

/*
 * Save [sector, sector+nsect), write a pattern, read it back and compare, fold
 * the read-back bytes into *digest, then restore and check the restore.
 */
int blk_roundtrip(const char *prog, u64 sector, u64 nsect, u64 *digest)
{
	u64 bytes = nsect * SECT;

	if (sys4(SYS_BLK_IO, 0, sector, saved, nsect))
		return fail(prog, "read-original");
	fill_pattern(sector, nsect);
	if (sys4(SYS_BLK_IO, 1, sector, pattern, nsect))
		return fail(prog, "write-pattern");
	memset(readback, 0, bytes);
	if (sys4(SYS_BLK_IO, 0, sector, readback, nsect))
		return fail(prog, "read-pattern");
	if (memcmp(readback, pattern, bytes))
		return fail(prog, "pattern-mismatch");
	*digest = fnv(fnv_u64(*digest, sector), readback, bytes);
	if (sys4(SYS_BLK_IO, 1, sector, saved, nsect))
		return fail(prog, "restore");
	if (sys4(SYS_BLK_IO, 0, sector, readback, nsect))
		return fail(prog, "read-restored");
	if (memcmp(readback, saved, bytes))
		return fail(prog, "restore-mismatch");
	return 0;
}

static int need_disk(const char *prog)
{
	s64 cap = sys0(SYS_BLK_INFO);

	if (cap < 0)
		return fail(prog, "no-virtio-blk");
	put_str("INFO disk sectors=");
	put_dec((u64)cap);
	put_char('\n');
	if (cap < MIN_SECTORS)
		return fail(prog, "disk-smaller-than-1MiB");
	return 0;
}

/* Single sectors at the start, middle and end of the first MiB, then a run. */
static const struct {
	u64 sector, nsect;
} blk_plan[] = {
	{ 0, 1 }, { 1, 1 }, { 7, 1 }, { 100, 1 }, { 513, 1 }, { 2047, 1 },
	{ 1000, 8 },
};

/* n: how many times to go through the plan (default once; benchmarks use more) */
int prog_blk(u64 n)
{
	const u64 plan_len = sizeof(blk_plan) / sizeof(blk_plan[0]);
	u64 d = fnv_str(FNV_INIT, "blk"), total = 0;

	if (!n)
		n = 1;
	if (need_disk("blk"))
		return 1;
	for (u64 round = 0; round < n; round++) {
		for (u64 i = 0; i < plan_len; i++) {
			if (blk_roundtrip("blk", blk_plan[i].sector, blk_plan[i].nsect, &d))
				return 1;
			total += blk_plan[i].nsect;
		}
	}
	put_str("blk verified ");
	put_dec(total);
	put_str(" sectors in ");
	put_dec(plan_len * n);
	put_str(" requests, contents restored\n");
	return pass("blk", d);
}

static const char *const kind_names[HOSTILE_NKINDS] = {
	"out-of-ram", "wrapping-address", "huge-length", "looping-chain",
	"next-out-of-range", "head-out-of-range", "avail-index-jump",
};

/*
 * badqueue: for each kind of malformed chain, post it on the device, kick,
 * let the VMM chew on it for a few ticks, then reset the device (it may
 * rightly have marked itself broken).  Passing means the VM is still here and
 * a normal request works afterwards.
 */
static int hostile_dev(int dev, const char *name)
{
	for (int k = 0; k < HOSTILE_NKINDS; k++) {
		s64 r = sys2(SYS_HOSTILE, dev, k);

		if (r < 0)
			return fail("badqueue", "hostile-post");
		usleep_ticks(3);
		if (sys1(SYS_DEV_RESET, dev))
			return fail("badqueue", "reset-after-hostile");
		put_str("badqueue ");
		put_str(name);
		put_char(' ');
		put_str(kind_names[k]);
		put_str(" posted, device reset\n");
	}
	return 0;
}

int prog_badqueue(u64 n)
{
	u64 d = fnv_str(FNV_INIT, "badqueue");

	if (need_disk("badqueue"))
		return 1;
	if (hostile_dev(GDEV_BLK, "blk"))
		return 1;
	if (sys0(SYS_NET_INFO) == 0 && hostile_dev(GDEV_NET, "net"))
		return 1;
	if (blk_roundtrip("badqueue", 42, 2, &d))
		return 1;
	put_str("badqueue vm alive, normal blk request ok\n");
	return pass("badqueue", d);
}

/*
 * journal: n ticks (default 200), each writing one sector of a 64-sector ring at
 * sector 100 with the tick's record, reading it back, and printing a line; at the end
 * the ring is read whole into the digest. Console and disk output that keep coming,
 * for the FT failover tests: the disk a run leaves behind is the same for every run.
 */
#define JOURNAL_BASE	100
#define JOURNAL_SLOTS	64

int prog_journal(u64 n)
{
	u64 d = fnv_str(FNV_INIT, "journal");

	if (!n)
		n = 200;
	if (need_disk("journal"))
		return 1;
	for (u64 i = 1; i <= n; i++) {
		usleep_ticks(1);
		for (u64 o = 0; o < SECT; o++)
			pattern[o] = (u8)(i * 37 + o * 11 + (o >> 5));
		u64 sector = JOURNAL_BASE + i % JOURNAL_SLOTS;
		if (sys4(SYS_BLK_IO, 1, sector, pattern, 1))
			return fail("journal", "write");
		if (sys4(SYS_BLK_IO, 0, sector, readback, 1) || memcmp(readback, pattern, SECT))
			return fail("journal", "read-back");
		put_str("journal ");
		put_dec(i);
		put_str(" sector ");
		put_dec(sector);
		put_char('\n');
	}
	for (u64 s = 0; s < JOURNAL_SLOTS; s++) {
		if (sys4(SYS_BLK_IO, 0, JOURNAL_BASE + s, readback, 1))
			return fail("journal", "read-ring");
		d = fnv(d, readback, SECT);
	}
	return pass("journal", d);
}
