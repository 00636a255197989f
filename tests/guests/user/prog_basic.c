// SPDX-License-Identifier: MIT
/* Programs that need no virtio device: hello, ticks, race, spin, kspin, talk, memtouch,
 * memhot, memrate, tsc. */
#include "ulib.h"

int prog_hello(u64 n)
{
	static const char msg[] = "hello from ring 3";

	put_str("detvm test guest\n");
	put_str(msg);
	put_char('\n');
	return pass("hello", fnv_str(FNV_INIT, msg));
}

static int bcd_ok(u8 v)
{
	return (v & 0xf) <= 9 && (v >> 4) <= 9;
}

/* Convert per register B (bit 2 set = binary); -1 if not valid BCD. */
static int rtc_val(u8 v, u8 reg_b)
{
	if (reg_b & 4)
		return v;
	if (!bcd_ok(v))
		return -1;
	return (v >> 4) * 10 + (v & 0xf);
}

static void put2(int v)
{
	put_char((char)('0' + v / 10 % 10));
	put_char((char)('0' + v % 10));
}

/*
 * ticks: wait for n (default 20) timer interrupts while sleeping (the kernel
 * idles in hlt), then read and check the CMOS clock.  Tick counts and the
 * time are run-dependent: INFO lines only.
 */
int prog_ticks(u64 n)
{
	struct guest_rtc r;
	u64 t0, t1;
	int sec, min, hour, mday, mon, year, pm = 0;

	if (!n)
		n = 20;
	t0 = uticks();
	while (uticks() < t0 + n)
		usleep_ticks(1);
	t1 = uticks();
	sys1(SYS_RTC, &r);
	put_str("INFO ticks t0=");
	put_dec(t0);
	put_str(" t1=");
	put_dec(t1);
	put_char('\n');
	if (t1 < t0 + n)
		return fail("ticks", "ticks-did-not-advance");
	put_str("ticks waited ");
	put_dec(n);
	put_char('\n');

	if (!(r.reg_b & 2)) {		/* 12-hour mode: bit 7 of hour = PM */
		pm = r.hour & 0x80;
		r.hour &= 0x7f;
	}
	sec = rtc_val(r.sec, r.reg_b);
	min = rtc_val(r.min, r.reg_b);
	hour = rtc_val(r.hour, r.reg_b);
	mday = rtc_val(r.mday, r.reg_b);
	mon = rtc_val(r.mon, r.reg_b);
	year = rtc_val(r.year, r.reg_b);
	put_str("INFO rtc ");
	put2(year);
	put_char('-');
	put2(mon);
	put_char('-');
	put2(mday);
	put_char(' ');
	put2(hour);
	put_char(':');
	put2(min);
	put_char(':');
	put2(sec);
	put_str(pm ? " pm" : "");
	put_str(" regB=");
	put_hexn(r.reg_b);
	put_char('\n');
	if (sec < 0 || sec > 59 || min < 0 || min > 59 || mday < 1 || mday > 31 ||
	    mon < 1 || mon > 12 || year < 0 || year > 99)
		return fail("ticks", "rtc-invalid");
	if (r.reg_b & 2 ? hour < 0 || hour > 23 : hour < 1 || hour > 12)
		return fail("ticks", "rtc-invalid-hour");
	put_str("rtc fields valid\n");
	return pass("ticks", fnv_u64(fnv_str(FNV_INIT, "ticks"), n));
}

/*
 * race: two tasks each do k (default 2000) unlocked increments of a shared
 * counter with a system call (an OUT to port 0x80, i.e. a VM exit) between
 * the load and the store.  The timer interrupt, delivered at that exit's
 * return to ring 3, preempts a task between load and store, so increments get
 * lost; the final count depends on timing and is INFO.
 */
static volatile u64 race_counter;
static volatile int race_done[2];
__attribute__((aligned(16))) static u8 race_stack[2][8192];
static u64 race_k;

static void race_worker(u64 id)
{
	for (u64 i = 0; i < race_k; i++) {
		u64 v = race_counter;

		sys0(SYS_PORTNOP);
		race_counter = v + 1;
	}
	race_done[id] = 1;
	uexit(0);
}

int prog_race(u64 n)
{
	u64 c;

	race_k = n ? n : 2000;
	for (u64 i = 0; i < 2; i++)
		if (sys3(SYS_SPAWN, race_worker, i, race_stack[i] + sizeof(race_stack[i])) < 0)
			return fail("race", "spawn");
	while (!race_done[0] || !race_done[1])
		usleep_ticks(1);
	c = race_counter;
	put_str("race tasks=2 iterations=");
	put_dec(race_k);
	put_char('\n');
	put_str("INFO race counter=");
	put_dec(c);
	put_char('\n');
	if (c == 0 || c > 2 * race_k)
		return fail("race", "counter-out-of-range");
	return pass("race", fnv_u64(fnv_str(FNV_INIT, "race"), race_k));
}

/*
 * spin: 2^n (default n=30) dependent multiply-adds with no exit at all.  Under
 * sync delivery no timer interrupt can land during the loop; the number of
 * ticks seen meanwhile is INFO.  The loop result is deterministic.
 */
int prog_spin(u64 n)
{
	u64 iters, x = 1, t0, t1;

	if (!n || n > 40)
		n = 30;
	iters = 1UL << n;
	t0 = uticks();
	for (u64 i = 0; i < iters; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		__asm__ __volatile__("" : "+r"(x));
	}
	t1 = uticks();
	put_str("spin iterations=2^");
	put_dec(n);
	put_str(" result=");
	put_hex(x);
	put_char('\n');
	put_str("INFO spin ticks during loop=");
	put_dec(t1 - t0);
	put_char('\n');
	return pass("spin", fnv_u64(FNV_INIT, x));
}

/*
 * kspin: the kernel spins in ring 0 with interrupts enabled and no VM exit
 * until n (default 5) timer ticks have passed (SYS_KSPIN), so the timer
 * interrupt must be delivered while the guest makes no exits.  The iteration
 * count depends on timing and is INFO.
 */
int prog_kspin(u64 n)
{
	u64 t0, t1;
	s64 iters;

	if (!n)
		n = 5;
	t0 = uticks();
	iters = sys1(SYS_KSPIN, n);
	t1 = uticks();
	if (iters < 0)
		return fail("kspin", "syscall");
	if (t1 < t0 + n)
		return fail("kspin", "ticks-did-not-advance");
	put_str("kspin waited ");
	put_dec(n);
	put_str(" ticks in ring 0\n");
	put_str("INFO kspin iterations=");
	put_dec((u64)iters);
	put_char('\n');
	return pass("kspin", fnv_u64(fnv_str(FNV_INIT, "kspin"), n));
}

/*
 * talk: one console line per timer tick for n ticks (default 100): output that keeps
 * coming while the guest runs, for the FT output rule's test.
 */
int prog_talk(u64 n)
{
	if (!n)
		n = 100;
	for (u64 i = 1; i <= n; i++) {
		usleep_ticks(1);
		put_str("talk ");
		put_dec(i);
		put_char('\n');
	}
	return pass("talk", fnv_u64(fnv_str(FNV_INIT, "talk"), n));
}

/*
 * memtouch: n MiB (default 64) of RAM from USER_SCRATCH (16 MiB) dirtied every timer
 * tick for 2000 ticks: a new pattern word in every 4 KiB page (a page is dirty for KVM's
 * log all the same), an exit every 256 KiB (so a pass that faults its pages, the first or
 * one under dirty logging, does not run 10 ms without one). A guest whose whole
 * working set stays hot, for the FT re-protection benchmark's pre-copy. How many passes
 * fit depends on the host's speed: INFO lines. The last pass is read back.
 * memhot: the same n MiB written once, then only its first n/8 MiB every tick: a guest
 * with much memory in use and a smaller hot set, as most are.
 */
static int touch(const char *name, u64 n, u64 hot_div)
{
	volatile u64 *mem = (volatile u64 *)USER_SCRATCH;
	u64 t0, passes = 0, pages, pat = 0, hot;

	if (!n)
		n = 64;
	if (USER_SCRATCH + (n << 20) > (u64)sys0(SYS_RAM_TOP))
		return fail(name, "range-past-ram");
	pages = n << 8;
	t0 = uticks();
	while (uticks() - t0 < 2000) {
		pat = ++passes * 0x9e3779b97f4a7c15UL;
		hot = passes == 1 ? pages : pages / hot_div;
		for (u64 i = 0; i < hot; i++) {
			mem[i << 9 | (passes & 511)] = pat ^ i;
			if ((i & 63) == 63)
				sys0(SYS_PORTNOP);
		}
		put_str("INFO ");
		put_str(name);
		put_str(" pass ");
		put_dec(passes);
		put_char('\n');
		usleep_ticks(1);
	}
	for (u64 i = 0; i < pages / hot_div; i++)
		if (mem[i << 9 | (passes & 511)] != (pat ^ i))
			return fail(name, "read-back");
	put_str(name);
	put_str(" dirtied ");
	put_dec(n / hot_div);
	put_str(" of ");
	put_dec(n);
	put_str(" MiB every tick\n");
	return pass(name, fnv_u64(fnv_str(FNV_INIT, name), n));
}

int prog_memtouch(u64 n)
{
	return touch("memtouch", n, 1);
}

int prog_memhot(u64 n)
{
	return touch("memhot", n, 8);
}

/*
 * memrate: n MiB (default 16) of fresh words written every guest second from ring 3, with
 * no exit between timer ticks, for 4 guest seconds: each tick's share (n MiB / hz) round
 * robin over a 4 MiB window from USER_SCRATCH, then a wait for the next tick (a system
 * call, no exit). Its ticks reach it through `step` delivery points, which carry what it
 * wrote since its last exit: the step-point benchmark's ring-3 workload. The words come
 * from an LCG, so no compression or delta finds less in them than was written. A host too
 * slow for the rate writes on into the next tick; the rate reached is INFO.
 */
int prog_memrate(u64 n)
{
	volatile u64 *mem = (volatile u64 *)USER_SCRATCH;
	u64 hz = cmdline_num("hz", 100), window = (4UL << 20) / 8, at = 0, x = 1, written = 0;
	u64 t0, t, share;

	if (!n)
		n = 16;
	if (USER_SCRATCH + (4UL << 20) > (u64)sys0(SYS_RAM_TOP))
		return fail("memrate", "range-past-ram");
	share = (n << 20) / 8 / hz;
	t0 = uticks();
	while ((t = uticks()) - t0 < 4 * hz) {
		/* what is due by the end of this tick */
		for (u64 due = (t - t0 + 1) * share; written < due; written++) {
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			mem[at] = x;
			at = at + 1 == window ? 0 : at + 1;
		}
		while (uticks() == t)
			;
	}
	put_str("memrate asked ");
	put_dec(n);
	put_str(" MiB/s for 4 s\n");
	put_str("INFO memrate words=");
	put_dec(written);
	put_str(" last=");
	put_hex(x);
	put_char('\n');
	return pass("memrate", fnv_u64(fnv_str(FNV_INIT, "memrate"), n));
}

static u64 rdtsc3(void)
{
	u32 lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/*
 * tsc: reads the TSC in ring 3 until n timer ticks (default 10) have passed, and in
 * ring 0 (SYS_RDTSC) before and after, so the console depends on every value read:
 * the values are INFO (they differ run to run) and a replay repeats them only where the
 * TSC is a logged input. Every read must be later than the one before it.
 */
int prog_tsc(u64 n)
{
	u64 t0, k0, k1, first, prev, reads = 0, sum = 0;

	if (!n)
		n = 10;
	t0 = uticks();
	k0 = (u64)sys0(SYS_RDTSC);
	first = prev = rdtsc3();
	if (first <= k0)
		return fail("tsc", "ring3-not-after-ring0");
	while (uticks() < t0 + n) {
		u64 v = rdtsc3();

		if (v <= prev)
			return fail("tsc", "went-backwards");
		sum = fnv_u64(sum, v - prev);
		prev = v;
		reads++;
	}
	k1 = (u64)sys0(SYS_RDTSC);
	if (k1 <= prev)
		return fail("tsc", "ring0-not-after-ring3");
	put_str("tsc rose in ring 0 and ring 3 over ");
	put_dec(n);
	put_str(" ticks\n");
	put_str("INFO tsc ring0 ");
	put_dec(k0);
	put_str(" .. ");
	put_dec(k1);
	put_str(" ring3 reads=");
	put_dec(reads);
	put_str(" deltas=");
	put_hex(sum);
	put_char('\n');
	return pass("tsc", fnv_u64(fnv_str(FNV_INIT, "tsc"), n));
}
