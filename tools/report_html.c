/* The HTML of `detvm report`: one page, styles inline, nothing fetched. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "tools/dump_priv.h"
#include "tools/report.h"
#include "tools/trace_walk.h"

void report_put_html(FILE *f, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		switch (c) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((c >= 0x20 && c < 0x7f) || c == '\n')
				putc(c, f);
			else
				fprintf(f, "\\x%02x", c);
		}
	}
}

void report_put_html_str(FILE *f, const char *s)
{
	if (s)
		report_put_html(f, (const uint8_t *)s, strlen(s));
}

void report_page_start(FILE *f, const struct report *r)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>detvm report: ",
	      f);
	report_put_html_str(f, r->path);
	fputs("</title>\n<style>\n"
	      "body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1000px}\n"
	      "h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}\n"
	      "table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;"
	      "vertical-align:top}\n"
	      ".mono,#console td{font-family:monospace;white-space:pre-wrap;word-break:break-all}\n"
	      "#console td.num{text-align:right;color:#666}\n"
	      "svg text{font:12px sans-serif}svg .label{font-weight:bold}svg .scale{fill:#666}\n"
	      "svg line{stroke:#999}.note{color:#666;font-size:12px}\n"
	      ".diverged{color:#b00;font-weight:bold}.ok{color:#070}\n"
	      "</style></head><body>\n<h1>detvm trace report: ", f);
	report_put_html_str(f, r->path);
	fputs("</h1>\n", f);
}

static void row(FILE *f, const char *name, const char *value)
{
	fprintf(f, "<tr><th>%s</th><td class=\"mono\">", name);
	report_put_html_str(f, value);
	fputs("</td></tr>\n", f);
}

static void row_hex(FILE *f, const char *name, const char *prefix, const ProtobufCBinaryData *d)
{
	fprintf(f, "<tr><th>%s</th><td class=\"mono\">", name);
	report_put_html_str(f, prefix);
	if (d->len) {
		fputs(prefix && *prefix ? " sha256=" : "", f);
		dump_put_hex(f, d->data, d->len, SIZE_MAX);
	} else if (!prefix || !*prefix) {
		fputs("none", f);
	}
	fputs("</td></tr>\n", f);
}

static void config_rows(FILE *f, const Detvm__VmConfig *c)
{
	char buf[64];

	row_hex(f, "image", c->kernel ? c->kernel->path : "none",
		c->kernel ? &c->kernel->sha256 : &(ProtobufCBinaryData){ 0 });
	if (c->initrd && c->initrd->path && *c->initrd->path)
		row_hex(f, "initrd", c->initrd->path, &c->initrd->sha256);
	row(f, "command line", c->cmdline);
	snprintf(buf, sizeof(buf), "%" PRIu64 " MiB", c->mem_bytes >> 20);
	row(f, "memory", buf);
	for (size_t i = 0; i < c->n_disks; i++) {
		snprintf(buf, sizeof(buf), "disk %zu%s", i, c->disks[i]->read_only ? " (ro)" : "");
		row_hex(f, buf, c->disks[i]->path, &c->disks[i]->sha256);
	}
	for (size_t i = 0; i < c->n_nics; i++) {
		snprintf(buf, sizeof(buf), "nic %zu", i);
		row(f, buf, c->nics[i]->backend);
	}
}

void report_header_section(FILE *f, const Detvm__TraceHeader *h, const Detvm__TraceFooter *ft,
			   const struct trace_tally *t)
{
	char buf[160], nb[DUMP_NAME_BUF];
	time_t created = (time_t)h->created_unix_s;
	struct tm tm;

	fputs("<h2>Recording</h2>\n<table id=\"header\">\n", f);
	if (h->config)
		config_rows(f, h->config);
	row(f, "recorded by", h->detvm_version);
	row(f, "host", h->host);
	if (gmtime_r(&created, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
		row(f, "created", buf);
	row(f, "delivery", dump_delivery_name(h->delivery, nb, sizeof(nb)));
	snprintf(buf, sizeof(buf), "%" PRIu64 " events, exits 1..%" PRIu64 ", %" PRIu64
		 " record bytes", t->events, ft->final_position, t->record_bytes);
	row(f, "trace", buf);
	snprintf(buf, sizeof(buf), "%s, %s", ft->clean_exit ? "clean exit" : "not clean",
		 dump_end_reason_name(ft->reason, nb, sizeof(nb)));
	row(f, "end", buf);
	if (ft->message && *ft->message)
		row(f, "end message", ft->message);
	row_hex(f, "final digest", "", &ft->final_digest);
	fputs("</table>\n<p>Events per kind:", f);
	for (unsigned int k = 1; k <= DUMP_KIND_SLOTS; k++)
		if (t->count[k % DUMP_KIND_SLOTS])
			fprintf(f, " %s %" PRIu64 ";", dump_kind_name(k % DUMP_KIND_SLOTS),
				t->count[k % DUMP_KIND_SLOTS]);
	fputs("</p>\n", f);
}

void report_console_section(FILE *f, const struct console_log *c)
{
	fprintf(f, "<h2>Console</h2>\n<p class=\"note\">%zu lines, %" PRIu64 " bytes, as the guest "
		"wrote them to COM1; position = the exit that wrote the line's first byte.</p>\n"
		"<table id=\"console\"><tr><th>position</th><th>guest time</th><th>line</th></tr>\n",
		c->nlines, c->bytes);
	for (size_t i = 0; i < c->nlines; i++) {
		const struct console_line *l = &c->lines[i];
		size_t n = l->len;

		if (l->newline && n && l->text[n - 1] == '\r')
			n--;
		fprintf(f, "<tr data-position=\"%" PRIu64 "\"><td class=\"num\">%" PRIu64
			"</td><td class=\"num\">", l->position, l->position);
		trace_put_guest_time(f, l->guest_ns);
		fputs("</td><td>", f);
		report_put_html(f, l->text, n);
		if (l->missing)
			fprintf(f, " [%" PRIu64 " bytes not in the trace]", l->missing);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

void report_replay_section(FILE *f, const struct divergence *d)
{
	fputs("<h2>Replay</h2>\n<div id=\"replay\">\n", f);
	if (!d->replayed) {
		fputs("<p>not replayed (give <code>--replay-log</code> the stderr of a "
		      "<code>detvm replay</code> to show where it diverged)</p>\n", f);
	} else if (!d->diverged) {
		fputs("<p class=\"ok\">the replay log names no divergence: ", f);
		report_put_html_str(f, d->message);
		fputs("</p>\n", f);
	} else {
		fprintf(f, "<p class=\"diverged\">diverged at exit %" PRIu64, d->position);
		if (d->located) {
			fputs(", guest time ", f);
			trace_put_guest_time(f, d->guest_ns);
		} else {
			fputs(" (past the end of this trace)", f);
		}
		fputs("</p>\n<p class=\"mono\">", f);
		report_put_html_str(f, d->message);
		fputs("</p>\n<p>The trace around that exit (as <code>detvm dump</code> shows it):</p>\n"
		      "<pre id=\"divergence-context\">", f);
		report_put_html(f, (const uint8_t *)d->context, d->context_len);
		fputs("</pre>\n", f);
	}
	fputs("</div>\n", f);
}

void report_page_end(FILE *f)
{
	fputs("<p class=\"note\">Written by <code>detvm report</code>. Guest time is the guest "
	      "clock as the trace last saw it (clock reads, timer fires, checkpoints).</p>\n"
	      "</body></html>\n", f);
}
