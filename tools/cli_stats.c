/*
 * `detvm stats TRACE [--json]`: what a trace holds over guest time -- events per kind in
 * each guest second, bytes per kind, how well it compressed, and the longest stretches
 * of guest time between two exits (where the guest halted or ran without exiting).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/dump.h"
#include "tools/tool_args.h"
#include "tools/trace_walk.h"

#define STATS_PROG "detvm stats"
#define STATS_GAPS 5

static const struct tool_spec spec = {
	.prog = STATS_PROG,
	.accepts = TOOL_JSON,
	.files = 1,
	.help = "usage: " STATS_PROG " [--json] TRACE\n"
		"\n"
		"Summarize a detvm trace over guest time: events per kind in each guest second,\n"
		"encoded bytes per kind, file bytes against the uncompressed event records\n"
		"(compression ratio), and the longest gaps in guest time between two consecutive\n"
		"exits, with their positions (exit numbers), from the first guest clock value on.\n"
		"\n"
		"Guest time is the guest clock as the trace last saw it (clock reads, timer\n"
		"fires, checkpoints): an event's second is the one that clock was in.\n"
		"\n"
		"  --json      one JSON object\n"
		"  -h, --help  this text\n"
		"\n"
		"Exit status: 0; 2 usage error; 7 the trace cannot be read to its clean end\n"
		"(one line on stderr, nothing on stdout); 10 output error.\n",
};

struct second_row {
	uint64_t second;
	uint64_t count[DUMP_KIND_SLOTS];
};

struct gap {
	uint64_t ns, from_pos, to_pos, at_ns;
	int from_kind;		/* what the guest did at the first exit (hlt: it waited) */
};

struct stats {
	struct second_row *rows;
	size_t nrows, cap;
	struct gap gaps[STATS_GAPS];	/* longest first */
	size_t ngaps;
	bool last_exit_timed;
	uint64_t last_exit_pos, last_exit_ns;
	int last_exit_kind;
	uint64_t exits;
	uint64_t guest_ns;
};

static int add_row(struct stats *s, uint64_t second)
{
	struct second_row *rows;

	rows = grow_array(s->rows, &s->cap, s->nrows, sizeof(*rows), 16);
	if (!rows)
		return -1;
	s->rows = rows;
	memset(&s->rows[s->nrows], 0, sizeof(s->rows[0]));
	s->rows[s->nrows++].second = second;
	return 0;
}

static void add_gap(struct stats *s, const struct gap *g)
{
	size_t i = s->ngaps < STATS_GAPS ? s->ngaps++ : STATS_GAPS;

	/* insertion into a short list sorted longest first; the earliest wins a tie */
	while (i > 0 && s->gaps[i - 1].ns < g->ns) {
		if (i < STATS_GAPS)
			s->gaps[i] = s->gaps[i - 1];
		i--;
	}
	if (i < STATS_GAPS)
		s->gaps[i] = *g;
}

static int account(void *ctx, const struct trace_walk *w)
{
	struct stats *s = ctx;
	uint64_t second = w->guest_ns / 1000000000;
	unsigned int k = dump_event_kind(w->te.ev);

	/* guest time never goes back, so the rows come in order */
	if ((!s->nrows || s->rows[s->nrows - 1].second != second) && add_row(s, second))
		return -1;
	s->rows[s->nrows - 1].count[k]++;
	s->guest_ns = w->guest_ns;
	if (k != DETVM__EVENT__PAYLOAD_EXIT)
		return 0;
	/* before the first clock value the time is unknown, not 0: no gap starts there */
	if (s->last_exit_timed) {
		struct gap g = { w->guest_ns - s->last_exit_ns, s->last_exit_pos, w->te.position,
				 s->last_exit_ns, s->last_exit_kind };
		add_gap(s, &g);
	}
	s->last_exit_timed = w->guest_known;
	s->exits++;
	s->last_exit_pos = w->te.position;
	s->last_exit_ns = w->guest_ns;
	s->last_exit_kind = w->te.ev->exit->kind;
	return 0;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static void print_text(const struct stats *s, const struct trace_walk *w)
{
	const struct trace_tally *t = &w->tally;
	char nb[DUMP_NAME_BUF];

	fputs("trace: ", stdout);
	dump_put_quoted(stdout, (const uint8_t *)w->path, strlen(w->path), SIZE_MAX);
	fputs("\nguest time: ", stdout);
	trace_put_guest_time(stdout, s->guest_ns);
	printf(", %" PRIu64 " exits, %" PRIu64 " events\n\nevents per guest second:\n%-8s",
	       s->exits, t->events, "second");
	for (unsigned int k = 1; k <= DUMP_KIND_SLOTS; k++)
		if (t->count[k % DUMP_KIND_SLOTS])
			printf(" %10s", dump_kind_name(k % DUMP_KIND_SLOTS));
	putchar('\n');
	for (size_t i = 0; i < s->nrows; i++) {
		printf("%-8" PRIu64, s->rows[i].second);
		for (unsigned int k = 1; k <= DUMP_KIND_SLOTS; k++)
			if (t->count[k % DUMP_KIND_SLOTS])
				printf(" %10" PRIu64, s->rows[i].count[k % DUMP_KIND_SLOTS]);
		putchar('\n');
	}

	printf("\n%-12s %12s %14s %12s\n", "kind", "events", "bytes", "bytes/event");
	for (unsigned int i = 1; i <= DUMP_KIND_SLOTS; i++) {
		unsigned int k = i % DUMP_KIND_SLOTS;

		if (t->count[k])
			printf("%-12s %12" PRIu64 " %14" PRIu64 " %12.1f\n", dump_kind_name(k),
			       t->count[k], t->bytes[k], ratio(t->bytes[k], t->count[k]));
	}
	printf("%-12s %12" PRIu64 " %14" PRIu64 " %12.1f\n\n", "total", t->events,
	       t->packed_bytes, ratio(t->packed_bytes, t->events));
	printf("%-20s %14" PRIu64 "\n", "file bytes", w->file_bytes);
	printf("%-20s %14" PRIu64 "  (uncompressed: events + length prefixes)\n",
	       "event record bytes", t->record_bytes);
	printf("%-20s %14.2f  (event record bytes / file bytes)\n\n", "compression ratio",
	       ratio(t->record_bytes, w->file_bytes));

	puts("longest gaps between exits (guest time):");
	for (size_t i = 0; i < s->ngaps; i++) {
		printf("  %12.6f ms  exit %" PRIu64 " (%s) -> %" PRIu64 "  from ",
		       (double)s->gaps[i].ns / 1e6, s->gaps[i].from_pos,
		       dump_exit_kind_name(s->gaps[i].from_kind, nb, sizeof(nb)), s->gaps[i].to_pos);
		trace_put_guest_time(stdout, s->gaps[i].at_ns);
		putchar('\n');
	}
	if (!s->ngaps)
		puts("  none (fewer than two exits)");
}

static void print_json(const struct stats *s, const struct trace_walk *w)
{
	const struct trace_tally *t = &w->tally;
	char nb[DUMP_NAME_BUF];
	bool first = true;

	fputs("{\"type\":\"stats\",\"path\":", stdout);
	dump_put_json_str(stdout, w->path);
	printf(",\"guest_ns\":%" PRIu64 ",\"exits\":%" PRIu64 ",\"total_events\":%" PRIu64
	       ",\"seconds\":[", s->guest_ns, s->exits, t->events);
	for (size_t i = 0; i < s->nrows; i++) {
		bool f = true;

		printf("%s{\"second\":%" PRIu64 ",\"events\":{", i ? "," : "", s->rows[i].second);
		for (unsigned int k = 0; k < DUMP_KIND_SLOTS; k++) {
			if (!s->rows[i].count[k])
				continue;
			printf("%s\"%s\":%" PRIu64, f ? "" : ",", dump_kind_name(k),
			       s->rows[i].count[k]);
			f = false;
		}
		fputs("}}", stdout);
	}
	fputs("],\"kinds\":{", stdout);
	for (unsigned int k = 0; k < DUMP_KIND_SLOTS; k++) {
		if (!t->count[k])
			continue;
		printf("%s\"%s\":{\"events\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", first ? "" : ",",
		       dump_kind_name(k), t->count[k], t->bytes[k]);
		first = false;
	}
	printf("},\"event_bytes\":%" PRIu64 ",\"record_bytes\":%" PRIu64 ",\"file_bytes\":%"
	       PRIu64 ",\"compression_ratio\":%.3f,\"longest_gaps\":[", t->packed_bytes,
	       t->record_bytes, w->file_bytes, ratio(t->record_bytes, w->file_bytes));
	for (size_t i = 0; i < s->ngaps; i++)
		printf("%s{\"gap_ns\":%" PRIu64 ",\"from_position\":%" PRIu64 ",\"to_position\":%"
		       PRIu64 ",\"at_ns\":%" PRIu64 ",\"from_exit\":\"%s\"}", i ? "," : "",
		       s->gaps[i].ns, s->gaps[i].from_pos, s->gaps[i].to_pos, s->gaps[i].at_ns,
		       dump_exit_kind_name(s->gaps[i].from_kind, nb, sizeof(nb)));
	fputs("]}\n", stdout);
}

int cli_stats(int argc, char **argv)
{
	struct stats s = { 0 };
	struct tool_opts o;
	struct trace_walk w;
	int code = tool_open_trace(&spec, argc, argv, &o, &w);

	if (code >= 0)
		return code;
	code = trace_walk_each(&w, account, &s);
	if (!code) {
		if (o.json)
			print_json(&s, &w);
		else
			print_text(&s, &w);
	}
	trace_walk_close(&w);
	free(s.rows);
	return code ? code : tool_finish_stdout(STATS_PROG, DUMP_EXIT_OK);
}
