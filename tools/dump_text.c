/* `detvm dump` text rendering: the header as `name: value` lines, one line per event. */
#include "tools/dump_priv.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

/* Frames and blobs are shown as their first bytes; digests in full up to this size. */
#define TEXT_FRAME_BYTES 16
#define TEXT_DIGEST_BYTES 64
#define TEXT_DATA_BYTES 32
#define TEXT_CONSOLE_BYTES 256

static void put_str(FILE *out, const char *s)
{
	if (!s)
		s = "";
	dump_put_quoted(out, (const uint8_t *)s, strlen(s), SIZE_MAX);
}

static void put_image(FILE *out, const char *what, const Detvm__ImageRef *img)
{
	fprintf(out, "%s: ", what);
	if (!img || !img->path || !img->path[0]) {
		fputs("none\n", out);
		return;
	}
	put_str(out, img->path);
	if (img->sha256.len) {
		fputs(" sha256=", out);
		dump_put_hex(out, img->sha256.data, img->sha256.len, TEXT_DIGEST_BYTES);
	}
	putc('\n', out);
}

static void put_utc(FILE *out, int64_t s)
{
	time_t t = (time_t)s;
	struct tm tm;
	char buf[64];

	if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		fprintf(out, " (%s)", buf);
}

static void put_config(FILE *out, const Detvm__VmConfig *c)
{
	fprintf(out, "mem: %" PRIu64 " bytes (%" PRIu64 " MiB)\n", c->mem_bytes,
		c->mem_bytes >> 20);
	fputs("cmdline: ", out);
	put_str(out, c->cmdline);
	putc('\n', out);
	put_image(out, "kernel", c->kernel);
	put_image(out, "initrd", c->initrd);
	put_image(out, "start state", c->start_state);
	fprintf(out, "disks: %zu\n", c->n_disks);
	for (size_t i = 0; i < c->n_disks; i++) {
		const Detvm__DiskConfig *d = c->disks[i];

		fprintf(out, "  disk %zu: ", i);
		put_str(out, d->path);
		if (d->sha256.len) {
			fputs(" sha256=", out);
			dump_put_hex(out, d->sha256.data, d->sha256.len, TEXT_DIGEST_BYTES);
		}
		if (d->overlay_path && d->overlay_path[0]) {
			fputs(" overlay=", out);
			put_str(out, d->overlay_path);
		}
		fputs(d->read_only ? " ro\n" : " rw\n", out);
	}
	fprintf(out, "nics: %zu\n", c->n_nics);
	for (size_t i = 0; i < c->n_nics; i++) {
		const Detvm__NicConfig *n = c->nics[i];

		fprintf(out, "  nic %zu: ", i);
		put_str(out, n->backend);
		if (n->mac.len) {
			fputs(" mac=", out);
			for (size_t k = 0; k < n->mac.len && k < 16; k++)
				fprintf(out, "%s%02x", k ? ":" : "", n->mac.data[k]);
		}
		putc('\n', out);
	}
	fprintf(out, "cpuid: %zu entries (policy version %" PRIu32 ")\n", c->n_cpuid,
		c->cpuid_policy_version);
	fprintf(out, "vcpus: %" PRIu32 "\n", c->vcpus);
	if (c->tsc_khz)
		fprintf(out, "tsc: virtual, %" PRIu32 " kHz (RDTSC exits to detvm)\n", c->tsc_khz);
	else
		fprintf(out, "tsc: the host's (not logged)\n");
}

void dump_text_header(FILE *out, const char *path, uint32_t version,
		      const Detvm__TraceHeader *h)
{
	char nb[DUMP_NAME_BUF];

	fputs("trace: ", out);
	put_str(out, path);
	fprintf(out, "\nformat: version %" PRIu32 "\n", version);
	fputs("recorded by: ", out);
	put_str(out, h->detvm_version);
	fputs("\nhost: ", out);
	put_str(out, h->host);
	fprintf(out, "\ncreated: %" PRIu64, h->created_unix_s);
	if (h->created_unix_s && h->created_unix_s < INT64_MAX)
		put_utc(out, (int64_t)h->created_unix_s);
	putc('\n', out);
	if (h->config)
		put_config(out, h->config);
	else
		fputs("config: none\n", out);
	fprintf(out, "delivery: %s\n", dump_delivery_name(h->delivery, nb, sizeof(nb)));
	if (h->checkpoint_interval)
		fprintf(out, "checkpoint interval: %" PRIu64 " exits\n", h->checkpoint_interval);
	else
		fputs("checkpoint interval: none\n", out);
	fprintf(out, "digest version: %" PRIu32 "\n", h->digest_version);
	if (h->chaos)
		fprintf(out, "chaos: seed %" PRIu64 ", max delay %" PRIu32 " exits, max pause %" PRIu32 " us\n",
			h->chaos->seed, h->chaos->max_delay, h->chaos->max_pause_us);
	fputs("events:\n", out);
}

static void put_exit(FILE *out, const Detvm__ExitRecord *x)
{
	char nb[DUMP_NAME_BUF];

	fprintf(out, " %s", dump_exit_kind_name(x->kind, nb, sizeof(nb)));
	switch (x->kind) {
	case DETVM__EXIT_KIND__EXIT_PIO:
		fprintf(out, " %s port=0x%" PRIx64, x->is_write ? "out" : "in", x->addr);
		break;
	case DETVM__EXIT_KIND__EXIT_MMIO:
		fprintf(out, " %s addr=0x%" PRIx64, x->is_write ? "write" : "read", x->addr);
		break;
	case DETVM__EXIT_KIND__EXIT_MSR:
		fprintf(out, " %s index=0x%" PRIx64, x->is_write ? "wrmsr" : "rdmsr", x->addr);
		break;
	default:
		/* other exits carry no access; show whatever the recorder filled in */
		if (x->is_write)
			fputs(" write", out);
		if (x->addr)
			fprintf(out, " addr=0x%" PRIx64, x->addr);
		break;
	}
	if (x->size)
		fprintf(out, " size=%" PRIu32, x->size);
	if (x->data.len) {
		fputs(" data=", out);
		dump_put_hex(out, x->data.data, x->data.len, TEXT_DATA_BYTES);
	}
	if (x->count > 1)
		fprintf(out, " count=%" PRIu32, x->count);
	if (x->landmark.len) {
		fputs(" landmark=", out);
		dump_put_hex(out, x->landmark.data, x->landmark.len, TEXT_DIGEST_BYTES);
		fprintf(out, " elapsed=%" PRIu64 "ns", x->elapsed_ns);
	}
}

static void put_digest(FILE *out, const char *name, const ProtobufCBinaryData *d)
{
	fprintf(out, " %s=", name);
	if (d->len)
		dump_put_hex(out, d->data, d->len, TEXT_DIGEST_BYTES);
	else
		putc('-', out);
}

void dump_text_event(FILE *out, const struct trace_event *te)
{
	const Detvm__Event *ev = te->ev;
	unsigned int kind = dump_event_kind(ev);
	char nb[DUMP_NAME_BUF];

	fprintf(out, "%" PRIu64 " @%" PRIu64 " %s", te->seq, te->position, dump_kind_name(kind));
	switch (kind) {
	case DETVM__EVENT__PAYLOAD_EXIT:
		put_exit(out, ev->exit);
		break;
	case DETVM__EVENT__PAYLOAD_CLOCK:
		fprintf(out, " source=%s value=%" PRIu64 "ns",
			dump_clock_source_name(ev->clock->source, nb, sizeof(nb)),
			ev->clock->value_ns);
		break;
	case DETVM__EVENT__PAYLOAD_WALLCLOCK:
		fprintf(out, " source=%s value=%" PRId64 "ns",
			dump_clock_source_name(ev->wallclock->source, nb, sizeof(nb)),
			ev->wallclock->value_ns);
		/* floor division so times before 1970 print the right second too */
		put_utc(out, ev->wallclock->value_ns / 1000000000 -
			(ev->wallclock->value_ns % 1000000000 < 0));
		break;
	case DETVM__EVENT__PAYLOAD_INTERRUPT:
		fprintf(out, " vector=0x%" PRIx32 " line=%" PRIu32, ev->interrupt->vector,
			ev->interrupt->irq);
		break;
	case DETVM__EVENT__PAYLOAD_TIMER:
		fprintf(out, " id=%" PRIu32 " t=%" PRIu64 "ns", ev->timer->timer,
			ev->timer->time_ns);
		break;
	case DETVM__EVENT__PAYLOAD_CONSOLE:
		fprintf(out, " id=%" PRIu32 " ", ev->console->console);
		dump_put_quoted(out, ev->console->data.data, ev->console->data.len,
				TEXT_CONSOLE_BYTES);
		if (ev->console->data.len > TEXT_CONSOLE_BYTES)
			fprintf(out, " (%zu bytes)", ev->console->data.len);
		break;
	case DETVM__EVENT__PAYLOAD_NET_RX:
		fprintf(out, " nic=%" PRIu32 " len=%zu", ev->net_rx->nic, ev->net_rx->frame.len);
		if (ev->net_rx->frame.len) {
			fputs(" data=", out);
			dump_put_hex(out, ev->net_rx->frame.data, ev->net_rx->frame.len,
				     TEXT_FRAME_BYTES);
		}
		break;
	case DETVM__EVENT__PAYLOAD_DISK:
		fprintf(out, " id=%" PRIu32 " req=%" PRIu64 " status=%" PRId32 " len=%zu",
			ev->disk->disk, ev->disk->request, ev->disk->status, ev->disk->data.len);
		if (ev->disk->data.len) {
			fputs(" data=", out);
			dump_put_hex(out, ev->disk->data.data, ev->disk->data.len,
				     TEXT_FRAME_BYTES);
		}
		break;
	case DETVM__EVENT__PAYLOAD_PIO_READ:
		fprintf(out, " port=0x%" PRIx32 " size=%" PRIu32 " value=0x%" PRIx64,
			ev->pio_read->port, ev->pio_read->size, ev->pio_read->value);
		break;
	case DETVM__EVENT__PAYLOAD_MMIO_READ:
		fprintf(out, " addr=0x%" PRIx64 " size=%" PRIu32 " value=0x%" PRIx64,
			ev->mmio_read->addr, ev->mmio_read->size, ev->mmio_read->value);
		break;
	case DETVM__EVENT__PAYLOAD_CHECKPOINT:
		put_digest(out, "regs", &ev->checkpoint->regs_digest);
		put_digest(out, "mem", &ev->checkpoint->mem_digest);
		fprintf(out, " t=%" PRIu64 "ns", ev->checkpoint->guest_time_ns);
		break;
	case DETVM__EVENT__PAYLOAD_LANDMARK:
		fprintf(out, " last_exit=%" PRIu64 " stop_rip=0x%" PRIx64 " elapsed=%" PRIu64 "ns",
			ev->landmark->last_exit, ev->landmark->rip, ev->landmark->elapsed_ns);
		put_digest(out, "regs", &ev->landmark->regs_digest);
		put_digest(out, "mem", &ev->landmark->mem_digest);
		break;
	case DETVM__EVENT__PAYLOAD_END:
		fprintf(out, " reason=%s exit_code=%" PRId32 " message=",
			dump_end_reason_name(ev->end->reason, nb, sizeof(nb)),
			ev->end->exit_code);
		put_str(out, ev->end->message);
		break;
	default:
		/* a kind from a newer detvm: the reader decodes it without a payload */
		fprintf(out, " kind=%" PRIu32, dump_unknown_kind(ev));
		break;
	}
	if (ev->rip)
		fprintf(out, " rip=0x%" PRIx64, ev->rip);
	putc('\n', out);
}

void dump_text_footer(FILE *out, const Detvm__TraceFooter *f)
{
	char nb[DUMP_NAME_BUF];

	fprintf(out, "footer: events=%" PRIu64 " blocks=%" PRIu64 " final_position=%" PRIu64
		" clean_exit=%s reason=%s message=", f->total_events, f->total_blocks,
		f->final_position, f->clean_exit ? "yes" : "no",
		dump_end_reason_name(f->reason, nb, sizeof(nb)));
	put_str(out, f->message);
	putc('\n', out);
	fputs("footer kinds:", out);
	for (size_t i = 0; i < f->n_kinds; i++) {
		uint32_t k = f->kinds[i]->kind;

		if (strcmp(dump_kind_name(k), "unknown"))
			fprintf(out, " %s=%" PRIu64, dump_kind_name(k), f->kinds[i]->count);
		else
			fprintf(out, " kind%" PRIu32 "=%" PRIu64, k, f->kinds[i]->count);
	}
	if (!f->n_kinds)
		fputs(" none", out);
	putc('\n', out);
	if (f->final_digest.len) {
		fputs("final digest: ", out);
		dump_put_hex(out, f->final_digest.data, f->final_digest.len, TEXT_DIGEST_BYTES);
		putc('\n', out);
	}
}
