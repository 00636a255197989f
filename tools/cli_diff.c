/*
 * `detvm diff [--json] A B`: where two traces of the same machine part. Events are
 * compared in order by position, RIP and payload (their encoding with the position
 * delta left out, which depends on where blocks begin); the first pair that differs is
 * shown as `detvm dump` shows events. Both traces are read to their end either way, so
 * a verdict is never given on a trace that turns out to be damaged.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/dump.h"
#include "tools/tool_args.h"
#include "tools/trace_header_cmp.h"
#include "tools/trace_walk.h"

#define DIFF_PROG "detvm diff"
#define DIFF_EXIT_DIFFER 1

static const struct tool_spec spec = {
	.prog = DIFF_PROG,
	.accepts = TOOL_JSON,
	.files = 2,
	.help = "usage: " DIFF_PROG " [--json] A B\n"
		"\n"
		"Compare two traces of the same machine and show the first position (exit\n"
		"number) where they differ, both events as `detvm dump` prints them, and the\n"
		"guest time there. Header fields that say the machines differ are listed too:\n"
		"memory, command line, kernel/initrd/disks by SHA-256, NIC MACs, CPUID, vCPUs,\n"
		"delivery policy, checkpoint interval, digest version (host paths, creation\n"
		"time and host are not compared). Footers are compared when the events agree.\n"
		"\n"
		"  --json      one JSON object: equal, header_differences, first_difference\n"
		"              (events as `detvm dump --json` objects), footer_differences\n"
		"  -h, --help  this text\n"
		"\n"
		"Exit status: 0 the traces are the same; 1 they differ; 2 usage error; 7 a trace\n"
		"cannot be read to its clean end (one line on stderr, nothing on stdout); 10\n"
		"output error.\n",
};

/* One side of the first difference: the event as text and as JSON, NULL past the end. */
struct side {
	char *text, *json;
	uint64_t guest_ns;
};

struct verdict {
	struct header_difference header[HEADER_FIELDS];
	int nheader;
	bool events_differ;
	uint64_t seq, position, agreed;
	struct side a, b;
	const char *footer_field;	/* the first footer field that differs, or NULL */
};

/* The event's encoding without its position delta (which depends on block boundaries). */
static uint8_t *pack_event(const Detvm__Event *ev, size_t *len)
{
	Detvm__Event copy = *ev;
	uint8_t *buf;

	copy.position_delta = 0;
	*len = protobuf_c_message_get_packed_size(&copy.base);
	buf = malloc(*len ? *len : 1);
	if (buf)
		protobuf_c_message_pack(&copy.base, buf);
	return buf;
}

/* 1 same, 0 different, -1 out of memory */
static int same_event(const struct trace_event *a, const struct trace_event *b)
{
	size_t la, lb;
	uint8_t *pa, *pb;
	int same;

	if (a->position != b->position)
		return 0;
	pa = pack_event(a->ev, &la);
	pb = pack_event(b->ev, &lb);
	same = pa && pb ? la == lb && !memcmp(pa, pb, la) : -1;
	free(pa);
	free(pb);
	return same;
}

static int capture(struct side *s, const struct trace_walk *w)
{
	size_t n;
	FILE *f = open_memstream(&s->text, &n);

	if (!f)
		return -1;
	dump_text_event(f, &w->te);
	if (fclose(f))
		return -1;
	f = open_memstream(&s->json, &n);
	if (!f)
		return -1;
	dump_json_event(f, &w->te);
	if (fclose(f))
		return -1;
	/* both renderers end the event with a newline; the verdict places it */
	s->text[strcspn(s->text, "\n")] = 0;
	s->json[strcspn(s->json, "\n")] = 0;
	s->guest_ns = w->guest_ns;
	return 0;
}

static const char *footer_difference(const Detvm__TraceFooter *a, const Detvm__TraceFooter *b)
{
	if (a->final_position != b->final_position)
		return "final position";
	if (a->final_digest.len != b->final_digest.len ||
	    memcmp(a->final_digest.data, b->final_digest.data, a->final_digest.len))
		return "final digest";
	if (a->clean_exit != b->clean_exit || a->reason != b->reason)
		return "how the run ended";
	return NULL;
}

/* Reads both traces to their end; 0, or an exit code after one line on stderr. */
static int compare(struct trace_walk *wa, struct trace_walk *wb, struct verdict *v)
{
	int ra = 1, rb = 1;

	while (ra == 1 || rb == 1) {
		if (ra == 1)
			ra = trace_walk_next(wa);
		if (rb == 1)
			rb = trace_walk_next(wb);
		if (ra < 0 || rb < 0)
			return DUMP_EXIT_TRACE;
		if (v->events_differ || (ra != 1 && rb != 1))
			continue;
		int same = ra == 1 && rb == 1 ? same_event(&wa->te, &wb->te) : 0;

		if (same < 0)
			goto oom;
		if (same) {
			v->agreed++;
			continue;
		}
		v->events_differ = true;
		v->seq = ra == 1 ? wa->te.seq : wb->te.seq;
		v->position = ra == 1 ? wa->te.position : wb->te.position;
		if (ra == 1 && rb == 1 && wb->te.position < v->position)
			v->position = wb->te.position;
		if ((ra == 1 && capture(&v->a, wa)) || (rb == 1 && capture(&v->b, wb)))
			goto oom;
		/* the side that ended: its guest time at the end */
		if (ra != 1)
			v->a.guest_ns = wa->guest_ns;
		if (rb != 1)
			v->b.guest_ns = wb->guest_ns;
	}
	if (!v->events_differ)
		v->footer_field = footer_difference(trace_walk_footer(wa), trace_walk_footer(wb));
	return 0;
oom:
	fprintf(stderr, DIFF_PROG ": out of memory\n");
	return DUMP_EXIT_IO;
}

static void text_side(const char *name, const struct side *s, const struct trace_walk *w)
{
	printf("  %s: ", name);
	if (s->text)
		printf("%s\n", s->text);
	else
		printf("(ends after %" PRIu64 " events)\n", w->tally.events);
}

static void print_text(const struct verdict *v, const struct trace_walk *wa,
		       const struct trace_walk *wb)
{
	for (int i = 0; i < v->nheader; i++)
		printf("header %s differs:\n  A: %s\n  B: %s\n", v->header[i].field, v->header[i].a,
		       v->header[i].b);
	if (v->events_differ) {
		printf("first difference at position %" PRIu64 " (event %" PRIu64 ", guest time A ",
		       v->position, v->seq);
		trace_put_guest_time(stdout, v->a.guest_ns);
		fputs(", B ", stdout);
		trace_put_guest_time(stdout, v->b.guest_ns);
		printf("), after %" PRIu64 " equal events:\n", v->agreed);
		text_side("A", &v->a, wa);
		text_side("B", &v->b, wb);
	} else if (v->footer_field) {
		printf("the %" PRIu64 " events are the same; the footers differ in %s\n", v->agreed,
		       v->footer_field);
	}
	if (!v->nheader && !v->events_differ && !v->footer_field)
		printf("the traces are the same: %" PRIu64 " events\n", v->agreed);
}

static void json_side(const char *name, const struct side *s)
{
	printf(",\"%s\":%s,\"%s_guest_ns\":%" PRIu64, name, s->json ? s->json : "null", name,
	       s->guest_ns);
}

static void print_json(const struct verdict *v, bool equal)
{
	printf("{\"type\":\"diff\",\"equal\":%s,\"equal_events\":%" PRIu64
	       ",\"header_differences\":[", equal ? "true" : "false", v->agreed);
	for (int i = 0; i < v->nheader; i++) {
		printf("%s{\"field\":\"%s\",\"a\":", i ? "," : "", v->header[i].field);
		dump_put_json_str(stdout, v->header[i].a);
		fputs(",\"b\":", stdout);
		dump_put_json_str(stdout, v->header[i].b);
		putchar('}');
	}
	fputs("],\"first_difference\":", stdout);
	if (v->events_differ) {
		printf("{\"position\":%" PRIu64 ",\"seq\":%" PRIu64, v->position, v->seq);
		json_side("a", &v->a);
		json_side("b", &v->b);
		putchar('}');
	} else {
		fputs("null", stdout);
	}
	fputs(",\"footer_difference\":", stdout);
	if (v->footer_field)
		printf("\"%s\"}\n", v->footer_field);
	else
		fputs("null}\n", stdout);
}

int cli_diff(int argc, char **argv)
{
	struct verdict v = { 0 };
	struct trace_walk wa, wb;
	struct tool_opts o;
	bool equal;
	int code = tool_parse(&spec, argc, argv, &o);

	if (code >= 0)
		return code;
	code = trace_walk_open(&wa, DIFF_PROG, o.files[0], stderr);
	if (code)
		return code;
	code = trace_walk_open(&wb, DIFF_PROG, o.files[1], stderr);
	if (code) {
		trace_walk_close(&wa);
		return code;
	}
	v.nheader = header_compare(trace_walk_header(&wa), trace_walk_header(&wb), v.header,
				   HEADER_FIELDS);
	if (v.nheader < 0) {
		fprintf(stderr, DIFF_PROG ": out of memory\n");
		code = DUMP_EXIT_IO;
	} else {
		code = compare(&wa, &wb, &v);
	}
	if (!code) {
		equal = !v.nheader && !v.events_differ && !v.footer_field;
		if (o.json)
			print_json(&v, equal);
		else
			print_text(&v, &wa, &wb);
		code = tool_finish_stdout(DIFF_PROG, equal ? DUMP_EXIT_OK : DIFF_EXIT_DIFFER);
	}
	if (v.nheader > 0)
		header_differences_free(v.header, (size_t)v.nheader);
	free(v.a.text);
	free(v.a.json);
	free(v.b.text);
	free(v.b.json);
	trace_walk_close(&wa);
	trace_walk_close(&wb);
	return code;
}
