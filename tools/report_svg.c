/*
 * The report's timeline: one SVG with a row of bars per series (exits, interrupts, disk
 * and network I/O), each bar the series' rate in events per guest second over a bin of
 * guest time, marks for checkpoints and landmarks, and a red line where a replay
 * diverged. Bins are the shortest of 1-2-5 steps that cut the run into at most
 * SVG_MAX_BINS, so a 0.2 s test guest gets 10 ms bins and a long run whole seconds.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/report.h"
#include "tools/trace_walk.h"

#define SVG_MAX_BINS 100
#define SVG_WIDTH 960
#define SVG_LEFT 150		/* room for the row labels */
#define SVG_RIGHT 36
#define SVG_ROW 80
#define SVG_TOP 24
#define SVG_AXIS 40

static const char *const series_names[RS_COUNT] = {
	[RS_EXITS] = "exits", [RS_IRQ] = "interrupts", [RS_DISK] = "disk I/O",
	[RS_NET] = "network I/O", [RS_CHECKPOINT] = "checkpoints", [RS_LANDMARK] = "landmarks",
};
static const char *const series_colors[RS_COUNT] = {
	[RS_EXITS] = "#4e79a7", [RS_IRQ] = "#f28e2b", [RS_DISK] = "#59a14f",
	[RS_NET] = "#b07aa1", [RS_CHECKPOINT] = "#555", [RS_LANDMARK] = "#e15759",
};

static uint64_t bin_width_ns(uint64_t end_ns)
{
	static const uint64_t steps[] = { 1, 2, 5 };
	uint64_t scale = 1000000;	/* 1 ms at least */

	for (;;) {
		for (unsigned i = 0; i < 3; i++) {
			uint64_t w = steps[i] * scale;

			if (end_ns / w < SVG_MAX_BINS)
				return w;
		}
		scale *= 10;
	}
}

static double x_of(uint64_t ns, uint64_t span_ns)
{
	double plot = SVG_WIDTH - SVG_LEFT - SVG_RIGHT;

	return SVG_LEFT + plot * (double)ns / (double)span_ns;
}

static void put_bars(FILE *f, int s, const uint64_t *bins, size_t nbins,
		     uint64_t width_ns, int row)
{
	uint64_t max = 0, span = width_ns * nbins;
	double base = SVG_TOP + (row + 1) * SVG_ROW - 8, height = SVG_ROW - 24;
	double per_s = 1e9 / (double)width_ns;

	for (size_t i = 0; i < nbins; i++)
		if (bins[i] > max)
			max = bins[i];
	fprintf(f, "<g class=\"row\" data-series=\"%s\">\n", series_names[s]);
	fprintf(f, "<text class=\"label\" x=\"8\" y=\"%.0f\">%s</text>\n", base - height / 2,
		series_names[s]);
	fprintf(f, "<text class=\"scale\" x=\"8\" y=\"%.0f\">max %.0f/s</text>\n",
		base - height / 2 + 16, (double)max * per_s);
	fprintf(f, "<line class=\"base\" x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\"/>\n", SVG_LEFT,
		base, SVG_WIDTH - SVG_RIGHT, base);
	for (size_t i = 0; max && i < nbins; i++) {
		double x0 = x_of(i * width_ns, span), x1 = x_of((i + 1) * width_ns, span);
		double h = height * (double)bins[i] / (double)max;

		if (!bins[i])
			continue;
		fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"%s\"><title>%s: %" PRIu64 " in %.3f..%.3f s (%.0f/s)</title></rect>\n",
			x0, base - h, x1 - x0 > 1.5 ? x1 - x0 - 0.5 : 1.0, h, series_colors[s],
			series_names[s], bins[i], (double)(i * width_ns) / 1e9,
			(double)((i + 1) * width_ns) / 1e9, (double)bins[i] * per_s);
	}
	fputs("</g>\n", f);
}

static void put_marks(FILE *f, const struct report *r, uint64_t span, double top, double bottom)
{
	for (size_t i = 0; i < r->nsteps; i++) {
		for (int s = RS_CHECKPOINT; s < RS_COUNT; s++) {
			double x = x_of(r->steps[i].ns, span);

			if (!r->steps[i].count[s])
				continue;
			fprintf(f, "<path class=\"mark\" data-series=\"%s\" d=\"M%.1f %.0f l-4 -8 h8 z\" "
				"fill=\"%s\"><title>%" PRIu64 " %s at %.6f s</title></path>\n",
				series_names[s], x, s == RS_CHECKPOINT ? top : bottom, series_colors[s],
				r->steps[i].count[s], series_names[s], (double)r->steps[i].ns / 1e9);
		}
	}
	if (r->div.diverged && r->div.located) {
		double x = x_of(r->div.guest_ns, span);

		fprintf(f, "<g id=\"divergence\"><line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
			"style=\"stroke:#d00;stroke-width:2\"/><text x=\"%.1f\" y=\"%.0f\" fill=\"#d00\">"
			"diverged at exit %" PRIu64 "</text></g>\n", x, top - 10, x, bottom, x + 4,
			top - 12, r->div.position);
	}
}

static void put_axis(FILE *f, uint64_t span, double y)
{
	fprintf(f, "<g class=\"axis\"><line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\"/>\n",
		SVG_LEFT, y, SVG_WIDTH - SVG_RIGHT, y);
	for (int i = 0; i <= 5; i++) {
		uint64_t ns = span / 5 * (uint64_t)i;
		double x = x_of(ns, span);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>"
			"<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.3f s</text>\n", x, y, x,
			y + 5, x, y + 18, (double)ns / 1e9);
	}
	fprintf(f, "<text x=\"%d\" y=\"%.0f\">guest time</text></g>\n", SVG_LEFT, y + 34);
}

void report_svg(FILE *f, const struct report *r)
{
	uint64_t width = bin_width_ns(r->end_ns);
	size_t nbins = (size_t)(r->end_ns / width) + 1;
	uint64_t *bins = calloc(nbins * RS_BARS, sizeof(*bins));
	double bottom = SVG_TOP + RS_BARS * SVG_ROW;

	if (!bins) {
		fputs("<p>(no memory for the timeline)</p>\n", f);
		return;
	}
	for (size_t i = 0; i < r->nsteps; i++)
		for (int s = 0; s < RS_BARS; s++)
			bins[s * nbins + r->steps[i].ns / width] += r->steps[i].count[s];
	fprintf(f, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%.0f\" viewBox=\"0 0 %d %.0f\" data-bin-ns=\"%" PRIu64 "\">\n", SVG_WIDTH,
		bottom + SVG_AXIS, SVG_WIDTH, bottom + SVG_AXIS, width);
	for (int s = 0; s < RS_BARS; s++)
		put_bars(f, s, &bins[s * nbins], nbins, width, s);
	put_marks(f, r, width * nbins, SVG_TOP, bottom);
	put_axis(f, width * nbins, bottom);
	fputs("</svg>\n", f);
	fprintf(f, "<p class=\"note\">Bars: events per guest second in bins of %.0f ms. "
		"Triangles: checkpoints (top) and landmarks (bottom).</p>\n", (double)width / 1e6);
	free(bins);
}
