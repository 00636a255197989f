/* What stops a run of the replay under gdb: breakpoints and the three kinds of watchpoint. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tools/gdb_server.h"
#include "tools/gdb_target.h"

void gdb_watch_refresh(struct gdb_server *s, struct machine *m)
{
	for (unsigned i = 0; i < s->nwp; i++) {
		memset(s->wp[i].value, 0, sizeof(s->wp[i].value));
		gdb_read_memory(m, s->wp[i].addr, s->wp[i].value, s->wp[i].len);
	}
}

/* The first watched value that changed since the last boundary (all are brought up to
 * date); -1 none. */
int gdb_watch_changed(struct gdb_server *s, struct machine *m)
{
	int hit = -1;
	for (unsigned i = 0; i < s->nwp; i++) {
		uint8_t now[8] = { 0 };
		gdb_read_memory(m, s->wp[i].addr, now, s->wp[i].len);
		if (memcmp(now, s->wp[i].value, s->wp[i].len) && hit < 0)
			hit = (int)i;
		memcpy(s->wp[i].value, now, sizeof(now));
	}
	return hit;
}

int gdb_at_breakpoint(struct gdb_server *s, struct machine *m)
{
	uint64_t rip = m->kvm.run->s.regs.regs.rip;
	for (unsigned i = 0; i < s->nbp; i++)
		if (s->bp[i] == rip)
			return 1;
	return 0;
}

/* The read or access watchpoint the instruction just run touched (-1 none), and which one
 * the next will: decoded only where the guest is stepped, instruction by instruction. */
int gdb_accessed(struct gdb_server *s, struct machine *m, int stepping, char *why, size_t len)
{
	int a = s->access_next;
	s->access_next = stepping && s->naw ? gdb_access_next(s->aw, s->naw, m) : -1;
	if (a >= 0)
		snprintf(why, len, "%s:%" PRIx64 ";", s->aw[a].kinds & GDB_ACCESS_WRITE ? "awatch" : "rwatch",
			 s->aw[a].addr);
	return a;
}
