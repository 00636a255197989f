/*
 * Re-protection from the command line: a backup that went live takes "protect HOST:PORT
 * [WIRE]" on its control socket (`ft backup --control`), connects to the new backup
 * there, hands it its state (ft/protect.h) and becomes its primary; `ft backup
 * --protect SOCKET` is the new backup's side, which asks for it.
 */
#ifndef DETVM_TOOLS_CLI_FT_PROTECT_H
#define DETVM_TOOLS_CLI_FT_PROTECT_H

#include "ft/golive.h"
#include "ft/protect.h"
#include "replay/record.h"
#include "replay/trace_header.h"
#include "tools/cli_ft.h"
#include "tools/cli_snapshot.h"

struct cli_protect {
	struct cli_ft_side side;
	struct ft_protect p;
	struct recorder rec;
	struct trace_header_buf hb;
	struct ft_golive *g;
	const Detvm__TraceHeader *hdr;	/* the first primary's: the shared disks' paths */
	struct machine *m;
	const char *trace_base;		/* the backup's own trace: the new one is TRACE.pN */
	char trace[4200];
	char peer[256];
	int beat_ms, dead_ms;
	unsigned count;			/* re-protections so far */
	int active;			/* streaming to a new backup */
	int started;			/* the recorder writes a trace */
};

/* cli_control.protect: on the control thread. */
void cli_protect_request(void *ctx, struct cli_control *c, const char *args, char *reply, size_t len);
/* After the run: the trace's footer to the new backup, what waits released. An exit code
 * for how the stream ended (0 fine), code as it was otherwise. */
int cli_protect_finish(struct cli_protect *pr, int code);

/* The new backup's side: asks the VM at control to protect itself to addr over wire. A
 * thread waits for the answer and logs it. 0, or an exit code after saying why. */
int cli_protect_ask(const char *control, const char *addr, const char *wire, int beat_ms, int dead_ms);

#endif
