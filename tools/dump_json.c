/*
 * `detvm dump --json`: JSON Lines, one object per line with a "type" of "header",
 * "event", "footer", "stats" or "error". Bytes are lower-case hex strings, enums are
 * names (or "<what>#N" for values from a newer detvm), numbers are JSON integers.
 */
#include "tools/dump_priv.h"

#include <inttypes.h>
#include <string.h>

static void put_key(FILE *out, const char *key)
{
	fprintf(out, ",\"%s\":", key);
}

static void put_str_kv(FILE *out, const char *key, const char *v)
{
	put_key(out, key);
	dump_put_json_str(out, v);
}

static void put_hex_kv(FILE *out, const char *key, const ProtobufCBinaryData *b)
{
	put_key(out, key);
	putc('"', out);
	dump_put_hex(out, b->data, b->len, SIZE_MAX);
	putc('"', out);
}

static void put_u64_kv(FILE *out, const char *key, uint64_t v)
{
	fprintf(out, ",\"%s\":%" PRIu64, key, v);
}

static void put_image(FILE *out, const char *key, const Detvm__ImageRef *img)
{
	put_key(out, key);
	if (!img) {
		fputs("null", out);
		return;
	}
	fputs("{\"path\":", out);
	dump_put_json_str(out, img->path);
	put_hex_kv(out, "sha256", &img->sha256);
	putc('}', out);
}

static void put_config(FILE *out, const Detvm__VmConfig *c)
{
	fprintf(out, "{\"mem_bytes\":%" PRIu64, c->mem_bytes);
	put_str_kv(out, "cmdline", c->cmdline);
	put_image(out, "kernel", c->kernel);
	put_image(out, "initrd", c->initrd);
	put_image(out, "start_state", c->start_state);
	fputs(",\"disks\":[", out);
	for (size_t i = 0; i < c->n_disks; i++) {
		const Detvm__DiskConfig *d = c->disks[i];

		fputs(i ? ",{\"path\":" : "{\"path\":", out);
		dump_put_json_str(out, d->path);
		put_hex_kv(out, "sha256", &d->sha256);
		put_str_kv(out, "overlay_path", d->overlay_path);
		fprintf(out, ",\"read_only\":%s}", d->read_only ? "true" : "false");
	}
	fputs("],\"nics\":[", out);
	for (size_t i = 0; i < c->n_nics; i++) {
		fputs(i ? ",{\"backend\":" : "{\"backend\":", out);
		dump_put_json_str(out, c->nics[i]->backend);
		put_hex_kv(out, "mac", &c->nics[i]->mac);
		putc('}', out);
	}
	fprintf(out, "],\"tsc_khz\":%" PRIu32 ",\"cpuid_policy_version\":%" PRIu32 ",\"cpuid_entries\":%zu,\"cpuid\":[",
		c->tsc_khz, c->cpuid_policy_version, c->n_cpuid);
	for (size_t i = 0; i < c->n_cpuid; i++) {
		const Detvm__CpuidEntry *e = c->cpuid[i];

		fprintf(out, "%s{\"function\":%" PRIu32 ",\"index\":%" PRIu32 ",\"flags\":%" PRIu32
			",\"eax\":%" PRIu32 ",\"ebx\":%" PRIu32 ",\"ecx\":%" PRIu32 ",\"edx\":%"
			PRIu32 "}", i ? "," : "", e->function, e->index, e->flags, e->eax, e->ebx,
			e->ecx, e->edx);
	}
	fprintf(out, "],\"vcpus\":%" PRIu32 "}", c->vcpus);
}

void dump_json_header(FILE *out, const char *path, uint32_t version,
		      const Detvm__TraceHeader *h)
{
	char nb[DUMP_NAME_BUF];

	fputs("{\"type\":\"header\",\"path\":", out);
	dump_put_json_str(out, path);
	fprintf(out, ",\"version\":%" PRIu32, version);
	put_str_kv(out, "detvm_version", h->detvm_version);
	put_u64_kv(out, "created_unix_s", h->created_unix_s);
	put_str_kv(out, "host", h->host);
	put_key(out, "config");
	if (h->config)
		put_config(out, h->config);
	else
		fputs("null", out);
	put_str_kv(out, "delivery", dump_delivery_name(h->delivery, nb, sizeof(nb)));
	put_u64_kv(out, "checkpoint_interval", h->checkpoint_interval);
	put_u64_kv(out, "digest_version", h->digest_version);
	if (h->chaos) {
		put_key(out, "chaos");
		fprintf(out, "{\"seed\":%" PRIu64 ",\"max_delay\":%" PRIu32 ",\"max_pause_us\":%" PRIu32 "}",
			h->chaos->seed, h->chaos->max_delay, h->chaos->max_pause_us);
	}
	fputs("}\n", out);
}

static void put_exit(FILE *out, const Detvm__ExitRecord *x)
{
	char nb[DUMP_NAME_BUF];

	put_str_kv(out, "exit", dump_exit_kind_name(x->kind, nb, sizeof(nb)));
	put_u64_kv(out, "addr", x->addr);
	put_u64_kv(out, "size", x->size);
	fprintf(out, ",\"is_write\":%s", x->is_write ? "true" : "false");
	put_hex_kv(out, "data", &x->data);
	put_u64_kv(out, "count", x->count);
	if (x->landmark.len) {
		put_hex_kv(out, "landmark", &x->landmark);
		put_u64_kv(out, "elapsed_ns", x->elapsed_ns);
	}
}

void dump_json_event(FILE *out, const struct trace_event *te)
{
	const Detvm__Event *ev = te->ev;
	unsigned int kind = dump_event_kind(ev);
	char nb[DUMP_NAME_BUF];

	fprintf(out, "{\"type\":\"event\",\"seq\":%" PRIu64 ",\"position\":%" PRIu64
		",\"block\":%" PRIu64 ",\"rip\":%" PRIu64 ",\"kind\":\"%s\"", te->seq,
		te->position, te->block, ev->rip, dump_kind_name(kind));
	switch (kind) {
	case DETVM__EVENT__PAYLOAD_EXIT:
		put_exit(out, ev->exit);
		break;
	case DETVM__EVENT__PAYLOAD_CLOCK:
		put_str_kv(out, "source",
			   dump_clock_source_name(ev->clock->source, nb, sizeof(nb)));
		put_u64_kv(out, "value_ns", ev->clock->value_ns);
		break;
	case DETVM__EVENT__PAYLOAD_WALLCLOCK:
		put_str_kv(out, "source",
			   dump_clock_source_name(ev->wallclock->source, nb, sizeof(nb)));
		fprintf(out, ",\"value_ns\":%" PRId64, ev->wallclock->value_ns);
		break;
	case DETVM__EVENT__PAYLOAD_INTERRUPT:
		put_u64_kv(out, "vector", ev->interrupt->vector);
		put_u64_kv(out, "irq", ev->interrupt->irq);
		break;
	case DETVM__EVENT__PAYLOAD_TIMER:
		put_u64_kv(out, "timer", ev->timer->timer);
		put_u64_kv(out, "time_ns", ev->timer->time_ns);
		break;
	case DETVM__EVENT__PAYLOAD_CONSOLE:
		put_u64_kv(out, "console", ev->console->console);
		put_hex_kv(out, "data", &ev->console->data);
		break;
	case DETVM__EVENT__PAYLOAD_NET_RX:
		put_u64_kv(out, "nic", ev->net_rx->nic);
		put_u64_kv(out, "len", ev->net_rx->frame.len);
		put_hex_kv(out, "frame", &ev->net_rx->frame);
		break;
	case DETVM__EVENT__PAYLOAD_DISK:
		put_u64_kv(out, "disk", ev->disk->disk);
		put_u64_kv(out, "request", ev->disk->request);
		fprintf(out, ",\"status\":%" PRId32, ev->disk->status);
		put_hex_kv(out, "data", &ev->disk->data);
		break;
	case DETVM__EVENT__PAYLOAD_PIO_READ:
		put_u64_kv(out, "port", ev->pio_read->port);
		put_u64_kv(out, "size", ev->pio_read->size);
		put_u64_kv(out, "value", ev->pio_read->value);
		break;
	case DETVM__EVENT__PAYLOAD_MMIO_READ:
		put_u64_kv(out, "addr", ev->mmio_read->addr);
		put_u64_kv(out, "size", ev->mmio_read->size);
		put_u64_kv(out, "value", ev->mmio_read->value);
		break;
	case DETVM__EVENT__PAYLOAD_CHECKPOINT:
		put_hex_kv(out, "regs_digest", &ev->checkpoint->regs_digest);
		put_hex_kv(out, "mem_digest", &ev->checkpoint->mem_digest);
		put_u64_kv(out, "guest_time_ns", ev->checkpoint->guest_time_ns);
		break;
	case DETVM__EVENT__PAYLOAD_LANDMARK:
		put_u64_kv(out, "last_exit", ev->landmark->last_exit);
		put_u64_kv(out, "stop_rip", ev->landmark->rip);
		put_hex_kv(out, "regs_digest", &ev->landmark->regs_digest);
		put_hex_kv(out, "mem_digest", &ev->landmark->mem_digest);
		put_u64_kv(out, "steps", ev->landmark->steps);
		put_u64_kv(out, "elapsed_ns", ev->landmark->elapsed_ns);
		break;
	case DETVM__EVENT__PAYLOAD_END:
		put_str_kv(out, "reason", dump_end_reason_name(ev->end->reason, nb, sizeof(nb)));
		fprintf(out, ",\"exit_code\":%" PRId32, ev->end->exit_code);
		put_str_kv(out, "message", ev->end->message);
		break;
	default:
		put_u64_kv(out, "field", dump_unknown_kind(ev));
		break;
	}
	fputs("}\n", out);
}

void dump_json_footer(FILE *out, const Detvm__TraceFooter *f)
{
	char nb[DUMP_NAME_BUF];

	fprintf(out, "{\"type\":\"footer\",\"total_events\":%" PRIu64 ",\"total_blocks\":%"
		PRIu64 ",\"kinds\":{", f->total_events, f->total_blocks);
	for (size_t i = 0; i < f->n_kinds; i++) {
		uint32_t k = f->kinds[i]->kind;

		if (strcmp(dump_kind_name(k), "unknown"))
			fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", dump_kind_name(k),
				f->kinds[i]->count);
		else
			fprintf(out, "%s\"kind%" PRIu32 "\":%" PRIu64, i ? "," : "", k,
				f->kinds[i]->count);
	}
	fputs("}", out);
	put_u64_kv(out, "final_position", f->final_position);
	put_hex_kv(out, "final_digest", &f->final_digest);
	fprintf(out, ",\"clean_exit\":%s", f->clean_exit ? "true" : "false");
	put_str_kv(out, "reason", dump_end_reason_name(f->reason, nb, sizeof(nb)));
	put_str_kv(out, "message", f->message);
	fputs("}\n", out);
}
