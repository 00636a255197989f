/* The stub's side of a conversation with gdb while the machine stands still. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gdb_server.h"
#include "tools/capstone_lib.h"
#include "tools/gdb_target.h"
#include "vmm/exitcode.h"
#include "vmm/log.h"

#define REPLY_MAX RSP_MAX_PACKET

static int starts(const char *p, const char *prefix)
{
	return !strncmp(p, prefix, strlen(prefix));
}

static void stop_reply(struct gdb_server *s, char *out)
{
	snprintf(out, REPLY_MAX, "T%02x%sthread:1;", s->signal, s->why);
}

/* "ADDR,LEN" (hex) after a packet's letter(s). */
static int addr_len(const char *p, uint64_t *addr, uint64_t *len)
{
	char *end;
	errno = 0;
	*addr = strtoull(p, &end, 16);
	if (errno || *end != ',')
		return -1;
	*len = strtoull(end + 1, &end, 16);
	return errno || (*end && *end != ':' && *end != ',') ? -1 : 0;
}

static void read_memory(struct machine *m, const char *args, char *out)
{
	uint64_t addr, len;
	if (addr_len(args, &addr, &len)) {
		snprintf(out, REPLY_MAX, "E01");
		return;
	}
	if (len > (REPLY_MAX - 1) / 2)
		len = (REPLY_MAX - 1) / 2;
	uint8_t *buf = malloc(len ? len : 1);
	size_t n = buf ? gdb_read_memory(m, addr, buf, len) : 0;
	if (!n && len)
		snprintf(out, REPLY_MAX, "E14");
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[i]);
	if (!len)
		out[0] = 0;
	free(buf);
}

/* Z/z: breakpoints (0 software, 1 hardware: both by single-step), write watchpoints (2),
 * read (3) and access (4) watchpoints. */
static void breakpoint(struct gdb_server *s, struct machine *m, const char *p, char *out)
{
	int insert = p[0] == 'Z', type = p[1] - '0';
	uint64_t addr, len;
	snprintf(out, REPLY_MAX, "E01");
	if (p[2] != ',' || addr_len(p + 3, &addr, &len))
		return;
	if (type == 0 || type == 1) {
		unsigned i = 0;
		while (i < s->nbp && s->bp[i] != addr)
			i++;
		if (insert && i == s->nbp && s->nbp < GDB_MAX_BREAKPOINTS)
			s->bp[s->nbp++] = addr;
		else if (!insert && i < s->nbp)
			s->bp[i] = s->bp[--s->nbp];
		else if (insert && i == s->nbp)
			return;
		snprintf(out, REPLY_MAX, "OK");
	} else if (type == 2) {
		if (!len || len > 8)
			return;
		unsigned i = 0;
		while (i < s->nwp && (s->wp[i].addr != addr || s->wp[i].len != len))
			i++;
		if (insert && i == s->nwp && s->nwp < GDB_MAX_WATCHPOINTS)
			s->wp[s->nwp++] = (struct gdb_watch){ .addr = addr, .len = (unsigned)len };
		else if (!insert && i < s->nwp)
			s->wp[i] = s->wp[--s->nwp];
		else if (insert && i == s->nwp)
			return;
		gdb_watch_refresh(s, m);
		snprintf(out, REPLY_MAX, "OK");
	} else if (type == 3 || type == 4) {
		unsigned kinds = GDB_ACCESS_READ | (type == 4 ? GDB_ACCESS_WRITE : 0), i = 0;
		char err[300];
		if (!len || len > 64)
			return;
		if (insert && capstone_lib_load(err, sizeof(err))) {
			log_error("%s: no read or access watchpoints", err);
			return;
		}
		while (i < s->naw && (s->aw[i].addr != addr || s->aw[i].len != len || s->aw[i].kinds != kinds))
			i++;
		if (insert && i == s->naw && s->naw < GDB_MAX_WATCHPOINTS)
			s->aw[s->naw++] = (struct gdb_access){ addr, (unsigned)len, kinds };
		else if (!insert && i < s->naw)
			s->aw[i] = s->aw[--s->naw];
		else if (insert && i == s->naw)
			return;
		s->access_next = -1;
		snprintf(out, REPLY_MAX, "OK");
	} else {
		out[0] = 0;
	}
}

static void features(const char *p, char *out)
{
	uint64_t off, len;
	if (!starts(p, "target.xml:") || addr_len(p + 11, &off, &len)) {
		snprintf(out, REPLY_MAX, "E00");
		return;
	}
	size_t total = strlen(gdb_target_xml);
	if (off >= total) {
		snprintf(out, REPLY_MAX, "l");
		return;
	}
	if (len > REPLY_MAX - 2)
		len = REPLY_MAX - 2;
	size_t n = total - off < len ? total - off : len;
	out[0] = off + n >= total ? 'l' : 'm';
	memcpy(out + 1, gdb_target_xml + off, n);
	out[1 + n] = 0;
}

/* The action of a vCont packet for our one thread: 'c' or 's' ('r' range steps by 's'). */
static int vcont_action(const char *p)
{
	char a = p[6];
	if (a == 'C')
		a = 'c';
	if (a == 'S' || a == 'r')
		a = 's';
	return a;
}

static int resume(struct gdb_server *s, enum gdb_mode mode)
{
	s->mode = mode;
	s->gdb_waits = 1;
	return -1;
}

/* One packet: a reply in out ("" = unsupported), or the machine resumed / the replay
 * ended (the return, as gdb_serve's). 1: go on talking. */
static int command(struct gdb_server *s, struct machine *m, const char *p, char *out)
{
	out[0] = 0;
	if (!strcmp(p, "?")) {
		stop_reply(s, out);
	} else if (starts(p, "qSupported")) {
		snprintf(out, REPLY_MAX, "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
			 "ReverseStep+;ReverseContinue+;QStartNoAckMode+", RSP_MAX_PACKET - 16);
	} else if (!strcmp(p, "QStartNoAckMode")) {
		rsp_put(&s->rsp, "OK");
		s->rsp.noack = 1;
		return 2;
	} else if (starts(p, "qXfer:features:read:")) {
		features(p + 20, out);
	} else if (!strcmp(p, "qAttached")) {
		snprintf(out, REPLY_MAX, "1");
	} else if (!strcmp(p, "qC")) {
		snprintf(out, REPLY_MAX, "QC1");
	} else if (!strcmp(p, "qfThreadInfo")) {
		snprintf(out, REPLY_MAX, "m1");
	} else if (!strcmp(p, "qsThreadInfo")) {
		snprintf(out, REPLY_MAX, "l");
	} else if (p[0] == 'H' || p[0] == 'T') {
		snprintf(out, REPLY_MAX, "OK");
	} else if (!strcmp(p, "g")) {
		if (gdb_read_registers(m, out, REPLY_MAX))
			snprintf(out, REPLY_MAX, "E01");
	} else if (p[0] == 'p') {
		int r = gdb_read_register(m, (unsigned)strtoul(p + 1, NULL, 16), out, REPLY_MAX);
		if (r)
			snprintf(out, REPLY_MAX, r == -ENOENT ? "" : "E01");
	} else if (p[0] == 'm') {
		read_memory(m, p + 1, out);
	} else if (p[0] == 'G' || p[0] == 'P' || p[0] == 'M' || p[0] == 'X') {
		snprintf(out, REPLY_MAX, "E01");	/* a replay is read-only */
	} else if ((p[0] == 'Z' || p[0] == 'z') && p[1]) {
		breakpoint(s, m, p, out);
	} else if (!strcmp(p, "vCont?")) {
		snprintf(out, REPLY_MAX, "vCont;c;C;s;S");
	} else if (starts(p, "vCont;")) {
		return resume(s, vcont_action(p) == 's' ? GDB_STEP : GDB_CONTINUE);
	} else if (p[0] == 'c' || p[0] == 'C') {
		return resume(s, GDB_CONTINUE);
	} else if (p[0] == 's' || p[0] == 'S') {
		return resume(s, GDB_STEP);
	} else if (!strcmp(p, "bc") || !strcmp(p, "bs")) {
		int code = gdb_reverse(s, m, p[1] == 's');
		return code ? code : 2;	/* 0: refused, the error sent */
	} else if (p[0] == 'D') {
		rsp_put(&s->rsp, "OK");
		s->mode = GDB_DETACHED;
		return -1;
	} else if (p[0] == 'k' || starts(p, "vKill")) {
		if (p[0] == 'v')
			rsp_put(&s->rsp, "OK");
		log_error("gdb killed the replay at exit %" PRIu64, m->stats.exits);
		return DETVM_EXIT_INTERRUPTED;
	}
	return 1;
}

int gdb_serve(struct gdb_server *s, struct machine *m)
{
	static char in[RSP_MAX_PACKET], out[REPLY_MAX];
	s->rsp.stop = m->stop;	/* detvm's SIGINT or SIGTERM ends any wait for gdb */
	if (s->rsp.fd < 0 && !rsp_accept(&s->rsp, 1)) {
		s->mode = GDB_DETACHED;
		return -1;
	}
	if (s->gdb_waits) {
		s->gdb_waits = 0;
		stop_reply(s, out);
		if (rsp_put(&s->rsp, out) < 0)
			goto gone;
	}
	for (;;) {
		int n = rsp_get(&s->rsp, in, sizeof(in));
		if (n < 0)
			goto gone;
		if (!strcmp(in, "\x03"))
			continue;	/* already stopped */
		int code = command(s, m, in, out);
		if (code != 1 && code != 2)
			return code;
		if (code == 1 && rsp_put(&s->rsp, out) < 0)
			goto gone;
	}
gone:
	log_warn("gdb went away at exit %" PRIu64 "; the replay goes on to its end", m->stats.exits);
	s->mode = GDB_DETACHED;
	return -1;
}
