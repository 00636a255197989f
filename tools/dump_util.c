/* Names and escaping for `detvm dump`: everything printed from a trace goes through here. */
#include "tools/dump_priv.h"

#include <string.h>

static const char *const kind_names[DUMP_KIND_SLOTS] = {
	[0] = "unknown",
	[DETVM__EVENT__PAYLOAD_EXIT] = "exit",
	[DETVM__EVENT__PAYLOAD_CLOCK] = "clock",
	[DETVM__EVENT__PAYLOAD_WALLCLOCK] = "wallclock",
	[DETVM__EVENT__PAYLOAD_INTERRUPT] = "irq",
	[DETVM__EVENT__PAYLOAD_TIMER] = "timer",
	[DETVM__EVENT__PAYLOAD_CONSOLE] = "console",
	[DETVM__EVENT__PAYLOAD_NET_RX] = "net_rx",
	[DETVM__EVENT__PAYLOAD_DISK] = "disk",
	[DETVM__EVENT__PAYLOAD_PIO_READ] = "pio_read",
	[DETVM__EVENT__PAYLOAD_MMIO_READ] = "mmio_read",
	[DETVM__EVENT__PAYLOAD_CHECKPOINT] = "checkpoint",
	[DETVM__EVENT__PAYLOAD_LANDMARK] = "landmark",
	[DETVM__EVENT__PAYLOAD_END] = "end",
};

const char *dump_kind_name(unsigned int kind)
{
	if (kind < DUMP_KIND_SLOTS && kind_names[kind])
		return kind_names[kind];
	return "unknown";
}

unsigned int dump_event_kind(const Detvm__Event *ev)
{
	unsigned int k = (unsigned int)ev->payload_case;

	return k < DUMP_KIND_SLOTS && kind_names[k] && k ? k : 0;
}

uint32_t dump_unknown_kind(const Detvm__Event *ev)
{
	/* protobuf-c keeps fields it does not know; the payload is the one numbered >= 16 */
	for (unsigned int i = 0; i < ev->base.n_unknown_fields; i++)
		if (ev->base.unknown_fields[i].tag >= DUMP_KIND_SLOTS)
			return ev->base.unknown_fields[i].tag;
	return 0;
}

static const char *enum_name(const char *const *names, size_t n, int v, const char *what,
			     char *buf, size_t len)
{
	if (v >= 0 && (size_t)v < n && names[v])
		return names[v];
	snprintf(buf, len, "%s#%d", what, v);
	return buf;
}

#define ENUM_NAME(names, v, what, buf, len) \
	enum_name(names, sizeof(names) / sizeof(names[0]), v, what, buf, len)

const char *dump_exit_kind_name(int v, char *buf, size_t len)
{
	static const char *const names[] = {
		"unknown", "pio", "mmio", "hlt", "irq_window", "shutdown", "debug",
		"internal_error", "msr",
	};

	return ENUM_NAME(names, v, "exit", buf, len);
}

const char *dump_clock_source_name(int v, char *buf, size_t len)
{
	static const char *const names[] = { "unknown", "pit", "rtc", "uart", "virtio", "vmm" };

	return ENUM_NAME(names, v, "source", buf, len);
}

const char *dump_delivery_name(int v, char *buf, size_t len)
{
	static const char *const names[] = { "sync", "step", "precise" };

	return ENUM_NAME(names, v, "policy", buf, len);
}

const char *dump_end_reason_name(int v, char *buf, size_t len)
{
	static const char *const names[] = {
		"unknown", "guest_shutdown", "user_stop", "error", "diverged", "failover",
	};

	return ENUM_NAME(names, v, "reason", buf, len);
}

const char *dump_error_name(int err)
{
	switch (err) {
	case TRACE_ERR_EMPTY:
		return "empty";
	case TRACE_ERR_MAGIC:
		return "magic";
	case TRACE_ERR_VERSION:
		return "version";
	case TRACE_ERR_CRC:
		return "crc";
	case TRACE_ERR_TRUNCATED:
		return "truncated";
	case TRACE_ERR_CORRUPT:
		return "corrupt";
	default:
		return "io";
	}
}

void dump_put_hex(FILE *out, const uint8_t *p, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len < max ? len : max;

	for (size_t i = 0; i < n; i++) {
		putc(hex[p[i] >> 4], out);
		putc(hex[p[i] & 15], out);
	}
	if (n < len)
		fputs("...", out);
}

void dump_put_quoted(FILE *out, const uint8_t *p, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	putc('"', out);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		switch (c) {
		case '\r':
			fputs("\\r", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '"':
			fputs("\\\"", out);
			break;
		default:
			/* guest bytes never reach the terminal raw: no escape sequences */
			if (c >= 0x20 && c < 0x7f)
				putc(c, out);
			else
				fprintf(out, "\\x%02x", c);
		}
	}
	putc('"', out);
	if (n < len)
		fputs("...", out);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs or surrogates), or 0. */
static size_t utf8_len(const uint8_t *p, size_t avail)
{
	size_t n;
	uint32_t cp, min;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void dump_put_json_bytes_str(FILE *out, const uint8_t *p, size_t len)
{
	size_t i = 0;

	putc('"', out);
	while (i < len) {
		uint8_t c = p[i];
		size_t n;

		switch (c) {
		case '"':
			fputs("\\\"", out);
			i++;
			continue;
		case '\\':
			fputs("\\\\", out);
			i++;
			continue;
		case '\n':
			fputs("\\n", out);
			i++;
			continue;
		case '\r':
			fputs("\\r", out);
			i++;
			continue;
		case '\t':
			fputs("\\t", out);
			i++;
			continue;
		}
		n = utf8_len(p + i, len - i);
		if (c < 0x20 || c == 0x7f || n == 0) {
			/*
			 * Control characters must be escaped; a byte that is not UTF-8 (proto3
			 * strings are not validated by protobuf-c) is shown as its Latin-1 code
			 * point so every line stays valid JSON.
			 */
			fprintf(out, "\\u%04x", c);
			i++;
			continue;
		}
		fwrite(p + i, 1, n, out);
		i += n;
	}
	putc('"', out);
}

void dump_put_json_str(FILE *out, const char *s)
{
	if (!s)
		s = "";
	dump_put_json_bytes_str(out, (const uint8_t *)s, strlen(s));
}
