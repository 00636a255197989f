/* The offline tools' trace loop: the logs/ reader, one error line, guest time, sizes. */
#include "tools/trace_walk.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/dump.h"

void trace_tally_add(struct trace_tally *t, const struct trace_event *te)
{
	unsigned int k = dump_event_kind(te->ev);
	size_t n = protobuf_c_message_get_packed_size(&te->ev->base);
	size_t prefix = 1;

	for (size_t v = n; v >= 0x80; v >>= 7)
		prefix++;
	if (!t->events)
		t->first_pos = te->position;
	t->last_pos = te->position;
	t->events++;
	t->count[k]++;
	t->bytes[k] += n;
	t->packed_bytes += n;
	t->record_bytes += n + prefix;
	uint64_t ns;
	if (trace_event_guest_ns(te->ev, &ns) && ns > t->guest_ns)
		t->guest_ns = ns;
	if (k == DETVM__EVENT__PAYLOAD_LANDMARK && te->ev->landmark->state) {
		const Detvm__Landmark *l = te->ev->landmark;
		t->step_points++;
		t->step_pages += l->n_pages;
		for (size_t i = 0; i < l->n_pages; i++) {
			t->step_page_bytes += l->pages[i]->data.len + l->pages[i]->delta.len;
			t->step_changes += !l->pages[i]->data.len;
		}
	}
}

bool trace_event_guest_ns(const Detvm__Event *ev, uint64_t *ns)
{
	switch (dump_event_kind(ev)) {
	case DETVM__EVENT__PAYLOAD_CLOCK:
		*ns = ev->clock->value_ns;
		return true;
	case DETVM__EVENT__PAYLOAD_TIMER:
		*ns = ev->timer->time_ns;
		return true;
	case DETVM__EVENT__PAYLOAD_CHECKPOINT:
		*ns = ev->checkpoint->guest_time_ns;
		return true;
	default:
		return false;
	}
}

int trace_walk_open(struct trace_walk *w, const char *prog, const char *path, FILE *err)
{
	char msg[512];
	struct stat sb;
	int ret;

	memset(w, 0, sizeof(*w));
	w->prog = prog;
	w->path = path;
	w->err = err;
	ret = trace_reader_open(&w->r, path, msg, sizeof(msg));
	if (ret) {
		fprintf(err, "%s: %s\n", prog, msg);
		w->r = NULL;
		return DUMP_EXIT_TRACE;
	}
	w->header_bytes = trace_reader_offset(w->r);
	if (stat(path, &sb) == 0)
		w->file_bytes = (uint64_t)sb.st_size;
	return 0;
}

int trace_walk_next(struct trace_walk *w)
{
	uint64_t ns;
	int ret = trace_reader_next(w->r, &w->te);

	if (ret < 0) {
		fprintf(w->err, "%s: %s\n", w->prog, trace_reader_error(w->r));
		return -DUMP_EXIT_TRACE;
	}
	if (ret == 0)
		return 0;
	/* a clock read can report an earlier value than a timer's deadline; time never goes back */
	if (trace_event_guest_ns(w->te.ev, &ns)) {
		w->guest_known = true;
		if (ns > w->guest_ns)
			w->guest_ns = ns;
	}
	trace_tally_add(&w->tally, &w->te);
	return 1;
}

int trace_walk_each(struct trace_walk *w, int (*on_event)(void *ctx, const struct trace_walk *w),
		    void *ctx)
{
	int ret;

	while ((ret = trace_walk_next(w)) == 1) {
		if (on_event(ctx, w)) {
			fprintf(w->err, "%s: out of memory\n", w->prog);
			return DUMP_EXIT_IO;
		}
	}
	return -ret;
}

const Detvm__TraceHeader *trace_walk_header(const struct trace_walk *w)
{
	return trace_reader_header(w->r);
}

const Detvm__TraceFooter *trace_walk_footer(const struct trace_walk *w)
{
	return trace_reader_footer(w->r);
}

void trace_walk_close(struct trace_walk *w)
{
	if (w->r)
		trace_reader_close(w->r);
	w->r = NULL;
}

void *grow_array(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t want = *cap ? 2 * *cap : first;
	void *p;

	if (n < *cap)
		return arr;
	p = realloc(arr, want * elem);
	if (p)
		*cap = want;
	return p;
}

void trace_put_guest_time(FILE *out, uint64_t ns)
{
	fprintf(out, "%" PRIu64 ".%06" PRIu64 " s", ns / 1000000000, ns % 1000000000 / 1000);
}
