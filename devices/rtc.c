/*
 * MC146818 RTC. The calendar is never stored while it runs: every read of a time
 * register converts hostio_wallclock_ns() plus a whole-second offset (what the guest
 * set) into the register's format, so nothing ticks behind the guest's back. SET
 * freezes the calendar into the CMOS bytes; clearing it turns them back into an offset.
 *
 * The periodic divider runs from VM start on the monotonic clock (32768 Hz base), so
 * periodic interrupt times are a pure function of hostio_clock_ns(). The interrupt line
 * follows IRQF as on the chip: it stays asserted until the guest reads register C,
 * which is what makes the edge-triggered PIC see one edge per flag set.
 */
#include "devices/rtc.h"

#include <string.h>

#include "vmm/guest_mem.h"
#include "vmm/log.h"

#define NS_PER_S 1000000000ll
#define UIP_WINDOW_NS 244000ll	/* UIP is set this long before each second boundary */

enum {
	REG_SEC = 0x00, REG_SEC_ALARM, REG_MIN, REG_MIN_ALARM, REG_HOUR, REG_HOUR_ALARM,
	REG_DOW, REG_DAY, REG_MONTH, REG_YEAR, REG_A, REG_B, REG_C, REG_D,
	REG_CENTURY = 0x32,
};

#define A_UIP 0x80
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM 0x04	/* 1: binary, 0: BCD */
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80

struct rtc_time {
	int64_t year;
	int month, day, hour, min, sec, dow;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_seconds(int64_t secs, struct rtc_time *t)
{
	int64_t days = floor_div(secs, 86400), sod = floor_mod(secs, 86400);
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	t->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	t->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	t->year = yoe + era * 400 + (t->month <= 2);
	t->hour = (int)(sod / 3600);
	t->min = (int)(sod / 60 % 60);
	t->sec = (int)(sod % 60);
	t->dow = (int)floor_mod(days + 4, 7) + 1;	/* 1970-01-01 was a Thursday; Sunday = 1 */
}

static int binary_mode(const struct rtc *r)
{
	return r->cmos[REG_B] & B_DM;
}

static uint8_t enc(const struct rtc *r, int v)
{
	return binary_mode(r) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static int dec(struct rtc *r, uint8_t b)
{
	if (binary_mode(r))
		return b;
	if ((b >> 4) > 9 || (b & 15) > 9)
		log_guest_error(&r->guest_errors, "rtc: bad BCD value %#x", b);
	return (b >> 4) * 10 + (b & 15);
}

static uint8_t enc_hour(const struct rtc *r, int h)
{
	if (r->cmos[REG_B] & B_24H)
		return enc(r, h);
	return enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

static int dec_hour(struct rtc *r, uint8_t b)
{
	if (r->cmos[REG_B] & B_24H)
		return dec(r, b);
	int h = dec(r, b & 0x7f) % 12;
	return b & 0x80 ? h + 12 : h;
}

static int clamp(struct rtc *r, int v, int lo, int hi)
{
	if (v >= lo && v <= hi)
		return v;
	log_guest_error(&r->guest_errors, "rtc: time field %d outside %d-%d", v, lo, hi);
	return v < lo ? lo : hi;
}

static int64_t guest_ns_parts(struct rtc *r, int64_t *sub)
{
	int64_t wall = hostio_wallclock_ns(r->io);
	*sub = floor_mod(wall, NS_PER_S);
	return floor_div(wall, NS_PER_S) + r->offset_s;
}

static int64_t guest_seconds(struct rtc *r)
{
	int64_t sub;
	return guest_ns_parts(r, &sub);
}

/* The register's value for a running clock at guest time secs. */
static uint8_t time_reg(struct rtc *r, unsigned idx, int64_t secs)
{
	struct rtc_time t;
	civil_from_seconds(secs, &t);
	switch (idx) {
	case REG_SEC:
		return enc(r, t.sec);
	case REG_MIN:
		return enc(r, t.min);
	case REG_HOUR:
		return enc_hour(r, t.hour);
	case REG_DOW:
		return enc(r, t.dow);
	case REG_DAY:
		return enc(r, t.day);
	case REG_MONTH:
		return enc(r, t.month);
	case REG_YEAR:
		return enc(r, (int)floor_mod(t.year, 100));
	default:
		return enc(r, (int)floor_mod(floor_div(t.year, 100), 100));
	}
}

static int is_time_reg(unsigned idx)
{
	return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR ||
	       (idx >= REG_DOW && idx <= REG_YEAR) || idx == REG_CENTURY;
}

static void snapshot(struct rtc *r)
{
	static const uint8_t regs[] = { REG_SEC, REG_MIN, REG_HOUR, REG_DOW, REG_DAY, REG_MONTH,
					REG_YEAR, REG_CENTURY };
	int64_t secs = guest_seconds(r);
	for (unsigned i = 0; i < sizeof(regs); i++)
		r->cmos[regs[i]] = time_reg(r, regs[i], secs);
}

/* The frozen bytes become the running calendar, ticking from the next host second. */
static void commit(struct rtc *r)
{
	int64_t year = clamp(r, dec(r, r->cmos[REG_CENTURY]), 0, 99) * 100 +
		       clamp(r, dec(r, r->cmos[REG_YEAR]), 0, 99);
	int month = clamp(r, dec(r, r->cmos[REG_MONTH]), 1, 12);
	int day = clamp(r, dec(r, r->cmos[REG_DAY]), 1, 31);
	int hour = clamp(r, dec_hour(r, r->cmos[REG_HOUR]), 0, 23);
	int min = clamp(r, dec(r, r->cmos[REG_MIN]), 0, 59);
	int sec = clamp(r, dec(r, r->cmos[REG_SEC]), 0, 59);
	int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
	int64_t wall = hostio_wallclock_ns(r->io);
	r->offset_s = secs - floor_div(wall, NS_PER_S);
	r->uf_seen = secs;
}

/* Periodic rate in 32768 Hz ticks, 0 when off. */
static uint64_t period_ticks(const struct rtc *r)
{
	unsigned rs = r->cmos[REG_A] & 15;
	if (rs == 0)
		return 0;
	if (rs < 3)
		return 64ull << rs;	/* rates 1 and 2 repeat 256 Hz and 128 Hz */
	return 1ull << (rs - 1);
}

static uint64_t ns_to_ticks32(uint64_t ns)
{
	return (ns / NS_PER_S) * 32768 + (ns % NS_PER_S) * 32768 / NS_PER_S;
}

static uint64_t ticks32_to_ns(uint64_t t)
{
	return (t >> 15) * NS_PER_S + ((t & 32767) * NS_PER_S + 32767) / 32768;
}

static void update_irq(struct rtc *r)
{
	uint8_t pending = r->cmos[REG_C] & r->cmos[REG_B] & (C_PF | C_AF | C_UF);
	if (pending)
		r->cmos[REG_C] |= C_IRQF;
	int level = !!(r->cmos[REG_C] & C_IRQF);
	if (level == r->irq_level)
		return;
	r->irq_level = level;
	if (level)
		r->irqs++;
	irq_set(&r->irq, r->irq_line, level);
}

static int alarm_match(struct rtc *r, int64_t secs)
{
	static const uint8_t pairs[3][2] = { { REG_SEC_ALARM, REG_SEC }, { REG_MIN_ALARM, REG_MIN },
					     { REG_HOUR_ALARM, REG_HOUR } };
	for (unsigned i = 0; i < 3; i++) {
		uint8_t a = r->cmos[pairs[i][0]];
		if ((a & 0xc0) == 0xc0)
			continue;	/* don't care */
		if (a != time_reg(r, pairs[i][1], secs))
			return 0;
	}
	return 1;
}

/* Raise the flags whose events happened by now (clock) and guest second secs. */
static void catch_up(struct rtc *r, uint64_t now, int have_secs, int64_t secs)
{
	uint64_t p = period_ticks(r);
	if (p) {
		uint64_t n = ns_to_ticks32(now) / p;
		if (n > r->pf_seen) {
			r->cmos[REG_C] |= C_PF;
			r->pf_seen = n;
		}
	}
	if (have_secs && r->uf_seen == INT64_MIN)
		r->uf_seen = secs;	/* first look at the calendar: no update seen yet */
	if (have_secs && !(r->cmos[REG_B] & B_SET) && secs != r->uf_seen) {
		r->cmos[REG_C] |= C_UF;
		if (alarm_match(r, secs))
			r->cmos[REG_C] |= C_AF;
		r->uf_seen = secs;
	}
}

static void rtc_schedule(struct rtc *r, uint64_t now)
{
	uint64_t deadline = HOSTIO_TIMER_OFF;
	uint64_t p = period_ticks(r);
	uint8_t b = r->cmos[REG_B];

	/*
	 * While IRQF is set the line cannot change, and the flags are caught up when
	 * register C is read: no timer events (and nothing in the trace) until then.
	 */
	if (r->cmos[REG_C] & C_IRQF) {
		hostio_timer_arm(r->io, HOSTIO_TIMER_RTC, HOSTIO_TIMER_OFF);
		return;
	}
	if ((b & B_PIE) && p)
		deadline = ticks32_to_ns((ns_to_ticks32(now) / p + 1) * p);
	if ((b & (B_UIE | B_AIE)) && !(b & B_SET)) {
		int64_t sub;
		guest_ns_parts(r, &sub);
		uint64_t next = now + (uint64_t)(NS_PER_S - sub);
		if (next < deadline)
			deadline = next;
	}
	hostio_timer_arm(r->io, HOSTIO_TIMER_RTC, deadline);
}

static void rtc_timer(void *opaque, const struct hostio_event *ev)
{
	struct rtc *r = opaque;
	uint8_t b = r->cmos[REG_B];
	int want_secs = (b & (B_UIE | B_AIE)) && !(b & B_SET);
	catch_up(r, ev->time_ns, want_secs, want_secs ? guest_seconds(r) : 0);
	update_irq(r);
	rtc_schedule(r, ev->time_ns);
}

static uint8_t reg_read(struct rtc *r, unsigned idx)
{
	switch (idx) {
	case REG_A: {
		int64_t sub;
		guest_ns_parts(r, &sub);
		int uip = !(r->cmos[REG_B] & B_SET) && sub >= NS_PER_S - UIP_WINDOW_NS;
		return (r->cmos[REG_A] & 0x7f) | (uip ? A_UIP : 0);
	}
	case REG_C: {
		/* a guest polling C without interrupts still sees the flags it expects */
		int running = !(r->cmos[REG_B] & B_SET);
		uint64_t now = hostio_clock_ns(r->io);
		catch_up(r, now, running, running ? guest_seconds(r) : 0);
		uint8_t v = r->cmos[REG_C];
		/* computed, not raised: raising the line here would be a false edge */
		if (v & r->cmos[REG_B] & (C_PF | C_AF | C_UF))
			v |= C_IRQF;
		r->cmos[REG_C] = 0;
		update_irq(r);
		if (v & C_IRQF)
			rtc_schedule(r, now);	/* the timer was parked while IRQF was set */
		return v;
	}
	case REG_D:
		return D_VRT;
	default:
		if (is_time_reg(idx) && !(r->cmos[REG_B] & B_SET))
			return time_reg(r, idx, guest_seconds(r));
		return r->cmos[idx];
	}
}

static void reg_write(struct rtc *r, unsigned idx, uint8_t val)
{
	switch (idx) {
	case REG_A: {
		uint64_t old_p = period_ticks(r);
		r->cmos[REG_A] = val & 0x7f;
		uint64_t p = period_ticks(r);
		uint64_t now = hostio_clock_ns(r->io);
		if (p != old_p && p)
			r->pf_seen = ns_to_ticks32(now) / p;
		rtc_schedule(r, now);
		break;
	}
	case REG_B: {
		uint8_t old = r->cmos[REG_B];
		if ((old & B_SET) && !(val & B_SET))
			commit(r);	/* in the format the bytes were written in */
		if (val & B_SET)
			val &= ~B_UIE;	/* the chip clears UIE while SET */
		r->cmos[REG_B] = val;
		if (!(old & B_SET) && (val & B_SET))
			snapshot(r);
		update_irq(r);
		rtc_schedule(r, hostio_clock_ns(r->io));
		break;
	}
	case REG_C:
	case REG_D:
		break;		/* read-only */
	default:
		if (is_time_reg(idx) && !(r->cmos[REG_B] & B_SET)) {
			/* setting one field of a running clock: freeze, change, restart */
			snapshot(r);
			r->cmos[idx] = val;
			commit(r);
		} else {
			r->cmos[idx] = val;
		}
		break;
	}
}

static void rtc_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
	struct rtc *r = opaque;
	for (unsigned i = 0; i < size; i++) {
		if (((offset + i) & 1) == 0)
			data[i] = 0xff;	/* the index register is write-only */
		else
			data[i] = reg_read(r, r->index & (RTC_CMOS_SIZE - 1));
	}
}

static void rtc_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
	struct rtc *r = opaque;
	for (unsigned i = 0; i < size; i++) {
		if (((offset + i) & 1) == 0) {
			r->index = data[i] & 0x7f;
			r->nmi_masked = data[i] >> 7;
		} else {
			reg_write(r, r->index & (RTC_CMOS_SIZE - 1), data[i]);
		}
	}
}

static const struct io_handler rtc_ops = { rtc_read, rtc_write };

void rtc_init(struct rtc *r, struct hostio *io, const struct irq_sink *irq, unsigned irq_line)
{
	memset(r, 0, sizeof(*r));
	r->io = io;
	if (irq)
		r->irq = *irq;
	r->irq_line = irq_line;
	r->cmos[REG_A] = 0x26;	/* 32768 Hz time base, 1024 Hz periodic rate */
	r->cmos[REG_B] = B_24H;
	r->cmos[REG_D] = D_VRT;
	r->uf_seen = INT64_MIN;
}

int rtc_attach(struct rtc *r, struct bus *pio)
{
	int ret = bus_register(pio, 0x70, 2, &rtc_ops, r, "rtc");
	if (ret)
		return ret;
	ret = hostio_subscribe(r->io, HOSTIO_EV_TIMER, HOSTIO_TIMER_RTC, rtc_timer, r);
	if (ret)
		bus_unregister(pio, 0x70);
	return ret;
}

static void put16(struct rtc *r, unsigned idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	r->cmos[idx] = (uint8_t)v;
	r->cmos[idx + 1] = (uint8_t)(v >> 8);
}

void rtc_set_mem_size(struct rtc *r, uint64_t ram_bytes)
{
	const uint64_t mib = 1024 * 1024;
	uint64_t low = ram_bytes < GUEST_MEM_HOLE_START ? ram_bytes : GUEST_MEM_HOLE_START;
	uint64_t high = ram_bytes - low;

	put16(r, 0x15, 640);				/* base memory, KiB */
	put16(r, 0x17, low > mib ? (low - mib) / 1024 : 0);	/* above 1 MiB, KiB */
	put16(r, 0x30, low > mib ? (low - mib) / 1024 : 0);
	put16(r, 0x34, low > 16 * mib ? (low - 16 * mib) / 65536 : 0);	/* above 16 MiB */
	/* above 4 GiB in 64 KiB units, 24 bits (the SeaBIOS/QEMU convention) */
	uint64_t hi = high / 65536;
	if (hi > 0xffffff)
		hi = 0xffffff;
	r->cmos[0x5b] = (uint8_t)hi;
	r->cmos[0x5c] = (uint8_t)(hi >> 8);
	r->cmos[0x5d] = (uint8_t)(hi >> 16);
	/* standard checksum over 0x10-0x2d, big-endian at 0x2e */
	unsigned sum = 0;
	for (unsigned i = 0x10; i <= 0x2d; i++)
		sum += r->cmos[i];
	r->cmos[0x2e] = (uint8_t)(sum >> 8);
	r->cmos[0x2f] = (uint8_t)sum;
}

/* The fields after the wiring (io, irq, irq_line), in declaration order. */
#define RTC_STATE_FIELDS(X) X(cmos) X(index) X(nmi_masked) X(irq_level) X(offset_s) \
	X(pf_seen) X(uf_seen) X(irqs) X(guest_errors)

void rtc_save(const struct rtc *r, struct state_out *o)
{
#define RTC_PUT(f) state_put(o, &r->f, sizeof(r->f));
	RTC_STATE_FIELDS(RTC_PUT)
}

void rtc_load(struct rtc *r, struct state_in *in)
{
	struct rtc n = *r;
#define RTC_GET(f) state_get(in, &n.f, sizeof(n.f));
	RTC_STATE_FIELDS(RTC_GET)
	state_check(in, n.index < RTC_CMOS_SIZE && (n.irq_level == 0 || n.irq_level == 1), "the RTC's registers");
	if (!in->err)
		*r = n;
}
