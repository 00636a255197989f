/*
 * `detvm dump`: reads a trace sequentially with the logs/ reader and prints it as text,
 * JSON Lines or a size summary. Everything the reader returns is printed before an error
 * is reported, so a truncated trace (a killed recorder) still shows its complete blocks.
 */
#include "tools/dump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/dump_priv.h"
#include "tools/trace_walk.h"

#define DUMP_PROG "detvm dump"
/* How often (in events) a failed output stream is noticed, to stop early on e.g. ENOSPC. */
#define DUMP_CHECK_EVERY 4096

struct dump_opts {
	bool json;
	bool stats;
	const char *path;
};

struct dump_stats {
	struct trace_tally t;
	uint64_t header_end, body_end, file_bytes;
	uint64_t blocks;
};

static void usage(FILE *out)
{
	fputs("usage: " DUMP_PROG " [--json] [--stats] TRACE\n"
	      "\n"
	      "Print a detvm trace: the header (VM config, delivery policy, checkpoint\n"
	      "interval), every event as `<seq> @<position> <kind> <fields>`, then the footer.\n"
	      "\n"
	      "  --json      JSON Lines: a header object, one object per event, then a footer\n"
	      "              object (or an error object); bytes as hex strings\n"
	      "  --stats     instead of the events: count and encoded bytes per event kind,\n"
	      "              blocks, file bytes, compression ratio, positions, events per\n"
	      "              1000 exits, guest seconds, step points and the pages they carry\n"
	      "              (a JSON object with --json)\n"
	      "  -h, --help  this text\n"
	      "\n"
	      "Exit status: 0 complete trace; 2 usage error; 7 the trace cannot be opened or is\n"
	      "damaged or truncated (everything readable is printed first); 10 output error.\n",
	      out);
}

static int usage_error(FILE *err, const char *what, const char *arg)
{
	fprintf(err, DUMP_PROG ": %s%s%s%s (try `" DUMP_PROG " --help`)\n", what,
		arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return DUMP_EXIT_USAGE;
}

/* Returns -1 to go on, or the exit code to return now. */
static int parse_args(int argc, char **argv, struct dump_opts *o, FILE *out, FILE *err)
{
	bool opts_done = false;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && a[0] == '-' && a[1]) {
			if (!strcmp(a, "--")) {
				opts_done = true;
			} else if (!strcmp(a, "--json")) {
				o->json = true;
			} else if (!strcmp(a, "--stats")) {
				o->stats = true;
			} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
				usage(out);
				return DUMP_EXIT_OK;
			} else {
				return usage_error(err, "unknown option", a);
			}
			continue;
		}
		if (o->path)
			return usage_error(err, "more than one trace file given:", a);
		o->path = a;
	}
	if (!o->path)
		return usage_error(err, "no trace file given", NULL);
	return -1;
}

/* The denominator of "events per 1000 exits": the footer's exit count, else the last position. */
static uint64_t stats_exits(const struct dump_stats *s, const Detvm__TraceFooter *f)
{
	uint64_t exits = f ? f->final_position : 0;

	return exits > s->t.last_pos ? exits : s->t.last_pos;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static void stats_text(FILE *out, const struct dump_opts *o, uint32_t version,
		       const struct dump_stats *s, const Detvm__TraceFooter *f)
{
	uint64_t body = s->body_end - s->header_end, exits = stats_exits(s, f);

	fputs("trace: ", out);
	dump_put_quoted(out, (const uint8_t *)o->path, strlen(o->path), SIZE_MAX);
	fprintf(out, " (format version %" PRIu32 ")\n\n", version);
	fprintf(out, "%-12s %12s %7s %14s %12s\n", "kind", "events", "share", "bytes",
		"bytes/event");
	/* known kinds in field-number order, then anything from a newer writer */
	for (unsigned int i = 1; i <= DUMP_KIND_SLOTS; i++) {
		unsigned int k = i % DUMP_KIND_SLOTS;

		if (!s->t.count[k])
			continue;
		fprintf(out, "%-12s %12" PRIu64 " %6.1f%% %14" PRIu64 " %12.1f\n",
			dump_kind_name(k), s->t.count[k], 100.0 * ratio(s->t.count[k], s->t.events),
			s->t.bytes[k], ratio(s->t.bytes[k], s->t.count[k]));
	}
	fprintf(out, "%-12s %12" PRIu64 " %6.1f%% %14" PRIu64 " %12.1f\n\n", "total",
		s->t.events, s->t.events ? 100.0 : 0.0, s->t.packed_bytes,
		ratio(s->t.packed_bytes, s->t.events));

	fprintf(out, "%-20s %14" PRIu64 "\n", "blocks", s->blocks);
	fprintf(out, "%-20s %14" PRIu64 "\n", "file bytes", s->file_bytes);
	fprintf(out, "%-20s %14" PRIu64 "\n", "header bytes", s->header_end);
	fprintf(out, "%-20s %14" PRIu64 "  (blocks on disk: block headers + LZ4 frames)\n",
		"body bytes", body);
	fprintf(out, "%-20s %14" PRIu64 "  (uncompressed: events + length prefixes)\n",
		"event record bytes", s->t.record_bytes);
	fprintf(out, "%-20s %14.2f\n", "compression ratio", ratio(s->t.record_bytes, body));
	if (s->t.events)
		fprintf(out, "%-20s %14" PRIu64 "  (%" PRIu64 " .. %" PRIu64 ")\n",
			"positions spanned", s->t.last_pos - s->t.first_pos, s->t.first_pos,
			s->t.last_pos);
	else
		fprintf(out, "%-20s %14s\n", "positions spanned", "-");
	fprintf(out, "%-20s %14" PRIu64 "\n", "exits", exits);
	if (exits)
		fprintf(out, "%-20s %14.1f\n", "events/1000 exits",
			1000.0 * ratio(s->t.events, exits));
	else
		fprintf(out, "%-20s %14s\n", "events/1000 exits", "-");
	fprintf(out, "%-20s %14.3f\n", "guest seconds", s->t.guest_ns / 1e9);
	fprintf(out, "%-20s %14.0f\n", "file bytes/guest s", ratio(s->file_bytes, s->t.guest_ns) * 1e9);
	fprintf(out, "%-20s %14" PRIu64 "\n", "step points", s->t.step_points);
	fprintf(out, "%-20s %14" PRIu64 "  (%.1f a point; %" PRIu64 " as changes)\n", "step pages",
		s->t.step_pages, ratio(s->t.step_pages, s->t.step_points), s->t.step_changes);
	fprintf(out, "%-20s %14" PRIu64 "  (%.0f a point; uncompressed, in the events)\n",
		"step page bytes", s->t.step_page_bytes, ratio(s->t.step_page_bytes, s->t.step_points));
}

static void stats_json(FILE *out, const struct dump_opts *o, uint32_t version,
		       const struct dump_stats *s, const Detvm__TraceFooter *f)
{
	uint64_t body = s->body_end - s->header_end, exits = stats_exits(s, f);
	bool first = true;

	fputs("{\"type\":\"stats\",\"path\":", out);
	dump_put_json_str(out, o->path);
	fprintf(out, ",\"version\":%" PRIu32 ",\"kinds\":{", version);
	for (unsigned int i = 1; i <= DUMP_KIND_SLOTS; i++) {
		unsigned int k = i % DUMP_KIND_SLOTS;

		if (!s->t.count[k])
			continue;
		fprintf(out, "%s\"%s\":{\"events\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
			first ? "" : ",", dump_kind_name(k), s->t.count[k], s->t.bytes[k]);
		first = false;
	}
	fprintf(out, "},\"total_events\":%" PRIu64 ",\"event_bytes\":%" PRIu64
		",\"record_bytes\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"file_bytes\":%" PRIu64
		",\"header_bytes\":%" PRIu64 ",\"body_bytes\":%" PRIu64
		",\"compression_ratio\":%.3f", s->t.events, s->t.packed_bytes, s->t.record_bytes,
		s->blocks, s->file_bytes, s->header_end, body, ratio(s->t.record_bytes, body));
	if (s->t.events)
		fprintf(out, ",\"first_position\":%" PRIu64 ",\"last_position\":%" PRIu64
			",\"position_span\":%" PRIu64, s->t.first_pos, s->t.last_pos,
			s->t.last_pos - s->t.first_pos);
	else
		fputs(",\"first_position\":null,\"last_position\":null,\"position_span\":0", out);
	fprintf(out, ",\"guest_ns\":%" PRIu64 ",\"step_points\":%" PRIu64 ",\"step_pages\":%" PRIu64
		",\"step_changes\":%" PRIu64 ",\"step_page_bytes\":%" PRIu64, s->t.guest_ns, s->t.step_points,
		s->t.step_pages, s->t.step_changes, s->t.step_page_bytes);
	fprintf(out, ",\"exits\":%" PRIu64 ",\"events_per_1000_exits\":", exits);
	if (exits)
		fprintf(out, "%.3f}\n", 1000.0 * ratio(s->t.events, exits));
	else
		fputs("null}\n", out);
}

/* The reader's verdict on stdout (after what was readable) and one line on stderr. */
static void report_error(FILE *out, FILE *err, const struct dump_opts *o, int ret,
			 const char *msg, uint64_t blocks, uint64_t events)
{
	if (o->json) {
		fprintf(out, "{\"type\":\"error\",\"error\":\"%s\",\"message\":",
			dump_error_name(ret));
		dump_put_json_str(out, msg);
		fprintf(out, ",\"complete_blocks\":%" PRIu64 ",\"events\":%" PRIu64 "}\n",
			blocks, events);
	} else if (ret == TRACE_ERR_TRUNCATED) {
		/* the reader's own words (offset, what was cut) go to stderr below */
		fprintf(out, "truncated: no footer after %" PRIu64 " complete blocks (%" PRIu64
			" events)\n", blocks, events);
	} else {
		fprintf(out, "error: %s\n", msg);
	}
	fprintf(err, DUMP_PROG ": %s\n", msg);
}

static int finish_output(FILE *out, FILE *err, int code)
{
	if (fflush(out) || ferror(out)) {
		/* a reader that stopped early (dump | head) is not an error worth a message */
		if (errno != EPIPE)
			fprintf(err, DUMP_PROG ": writing the output failed: %s\n", strerror(errno));
		return DUMP_EXIT_IO;
	}
	return code;
}

int dump_run(int argc, char **argv, FILE *out, FILE *err)
{
	const Detvm__TraceFooter *footer = NULL;
	struct dump_stats st = { 0 };
	struct trace_reader *r;
	struct trace_event te;
	struct dump_opts o;
	char msg[512];
	struct stat sb;
	uint32_t version;
	int ret, code;

	code = parse_args(argc, argv, &o, out, err);
	if (code >= 0)
		return finish_output(out, err, code);

	ret = trace_reader_open(&r, o.path, msg, sizeof(msg));
	if (ret) {
		/* nothing was printed yet: text mode says it once, on stderr */
		if (o.json)
			report_error(out, err, &o, ret, msg, 0, 0);
		else
			fprintf(err, DUMP_PROG ": %s\n", msg);
		return finish_output(out, err, DUMP_EXIT_TRACE);
	}
	version = trace_reader_version(r);
	st.header_end = trace_reader_offset(r);
	if (stat(o.path, &sb) == 0)
		st.file_bytes = (uint64_t)sb.st_size;

	if (!o.stats) {
		if (o.json)
			dump_json_header(out, o.path, version, trace_reader_header(r));
		else
			dump_text_header(out, o.path, version, trace_reader_header(r));
	}
	while ((ret = trace_reader_next(r, &te)) == 1) {
		trace_tally_add(&st.t, &te);
		if (!o.stats) {
			if (o.json)
				dump_json_event(out, &te);
			else
				dump_text_event(out, &te);
		}
		if (st.t.events % DUMP_CHECK_EVERY == 0 && ferror(out))
			break;
	}
	if (ret == 0)
		footer = trace_reader_footer(r);
	st.blocks = trace_reader_blocks(r);
	st.body_end = trace_reader_offset(r);

	if (o.stats) {
		if (o.json)
			stats_json(out, &o, version, &st, footer);
		else
			stats_text(out, &o, version, &st, footer);
	} else if (footer) {
		if (o.json)
			dump_json_footer(out, footer);
		else
			dump_text_footer(out, footer);
	}
	code = DUMP_EXIT_OK;
	if (ret < 0) {
		report_error(out, err, &o, ret, trace_reader_error(r), st.blocks, st.t.events);
		code = DUMP_EXIT_TRACE;
	}
	trace_reader_close(r);
	return finish_output(out, err, code);
}

int dump_main(int argc, char **argv)
{
	return dump_run(argc, argv, stdout, stderr);
}
