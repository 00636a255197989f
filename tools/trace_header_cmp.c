/* Comparing the machine two trace headers describe (see trace_header_cmp.h). */
#include "tools/trace_header_cmp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/dump_priv.h"

/*
 * One compared field: writes what identifies it to key and what a user reads to show
 * (often the same plus a host path).
 */
struct header_field {
	const char *name;
	void (*render)(const Detvm__TraceHeader *h, FILE *key, FILE *show);
};

static const Detvm__VmConfig empty_config = DETVM__VM_CONFIG__INIT;

static const Detvm__VmConfig *config(const Detvm__TraceHeader *h)
{
	return h->config ? h->config : &empty_config;
}

static void both(FILE *key, FILE *show, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void both(FILE *key, FILE *show, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(key, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vfprintf(show, fmt, ap);
	va_end(ap);
}

static void put_sha(FILE *key, FILE *show, const ProtobufCBinaryData *d)
{
	dump_put_hex(key, d->data, d->len, SIZE_MAX);
	fputs("sha256=", show);
	dump_put_hex(show, d->data, d->len, SIZE_MAX);
}

static void render_mem(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	both(key, show, "%" PRIu64 " bytes", config(h)->mem_bytes);
}

static void render_cmdline(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	const char *s = config(h)->cmdline ? config(h)->cmdline : "";

	dump_put_quoted(key, (const uint8_t *)s, strlen(s), SIZE_MAX);
	dump_put_quoted(show, (const uint8_t *)s, strlen(s), SIZE_MAX);
}

static void render_image(const Detvm__ImageRef *img, FILE *key, FILE *show)
{
	if (!img || !img->path || !img->path[0]) {
		both(key, show, "none");
		return;
	}
	dump_put_quoted(show, (const uint8_t *)img->path, strlen(img->path), SIZE_MAX);
	putc(' ', show);
	put_sha(key, show, &img->sha256);
}

static void render_kernel(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	render_image(config(h)->kernel, key, show);
}

static void render_initrd(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	render_image(config(h)->initrd, key, show);
}

static void render_disks(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	const Detvm__VmConfig *c = config(h);

	both(key, show, "%zu", c->n_disks);
	for (size_t i = 0; i < c->n_disks; i++) {
		const Detvm__DiskConfig *d = c->disks[i];

		both(key, show, "; disk %zu ", i);
		if (d->path)
			dump_put_quoted(show, (const uint8_t *)d->path, strlen(d->path), SIZE_MAX);
		putc(' ', show);
		put_sha(key, show, &d->sha256);
		both(key, show, d->read_only ? " ro" : " rw");
	}
}

static void render_nics(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	const Detvm__VmConfig *c = config(h);

	both(key, show, "%zu", c->n_nics);
	for (size_t i = 0; i < c->n_nics; i++) {
		both(key, show, "; nic %zu mac=", i);
		dump_put_hex(key, c->nics[i]->mac.data, c->nics[i]->mac.len, SIZE_MAX);
		dump_put_hex(show, c->nics[i]->mac.data, c->nics[i]->mac.len, SIZE_MAX);
	}
}

static void render_cpuid(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	const Detvm__VmConfig *c = config(h);
	uint64_t fnv = 0xcbf29ce484222325ull;

	/* the entries in full are the key; a user reads their count and a hash */
	for (size_t i = 0; i < c->n_cpuid; i++) {
		const Detvm__CpuidEntry *e = c->cpuid[i];
		uint32_t v[7] = { e->function, e->index, e->flags, e->eax, e->ebx, e->ecx, e->edx };

		for (int k = 0; k < 7; k++) {
			fprintf(key, "%08" PRIx32 "%c", v[k], k == 6 ? ';' : ',');
			fnv = (fnv ^ v[k]) * 0x100000001b3ull;
		}
	}
	fprintf(show, "%zu entries, policy version %" PRIu32 ", fnv64 %016" PRIx64, c->n_cpuid,
		c->cpuid_policy_version, fnv);
	fprintf(key, "v%" PRIu32, c->cpuid_policy_version);
}

static void render_vcpus(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	both(key, show, "%" PRIu32, config(h)->vcpus);
}

static void render_delivery(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	char nb[DUMP_NAME_BUF];

	both(key, show, "%s", dump_delivery_name(h->delivery, nb, sizeof(nb)));
}

static void render_interval(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	both(key, show, "%" PRIu64 " exits", h->checkpoint_interval);
}

static void render_digest_version(const Detvm__TraceHeader *h, FILE *key, FILE *show)
{
	both(key, show, "%" PRIu32, h->digest_version);
}

static const struct header_field fields[] = {
	{ "memory", render_mem },
	{ "cmdline", render_cmdline },
	{ "kernel", render_kernel },
	{ "initrd", render_initrd },
	{ "disks", render_disks },
	{ "nics", render_nics },
	{ "cpuid", render_cpuid },
	{ "vcpus", render_vcpus },
	{ "delivery", render_delivery },
	{ "checkpoint interval", render_interval },
	{ "digest version", render_digest_version },
};
_Static_assert(sizeof(fields) / sizeof(fields[0]) <= HEADER_FIELDS, "HEADER_FIELDS too small");

/* key and show of one side; 0 or -1 */
static int render(const struct header_field *f, const Detvm__TraceHeader *h, char **key,
		  char **show)
{
	size_t kl, sl;
	FILE *k = open_memstream(key, &kl), *s = open_memstream(show, &sl);
	int bad = !k || !s;

	if (!bad)
		f->render(h, k, s);
	bad |= (k && fclose(k)) | (s && fclose(s));
	return bad ? -1 : 0;
}

int header_compare(const Detvm__TraceHeader *a, const Detvm__TraceHeader *b,
		   struct header_difference *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *ka = NULL, *kb = NULL, *sa = NULL, *sb = NULL;
		int bad = render(&fields[i], a, &ka, &sa) | render(&fields[i], b, &kb, &sb);
		bool same = !bad && !strcmp(ka, kb);

		free(ka);
		free(kb);
		if (bad || same || n == max) {
			free(sa);
			free(sb);
			if (bad) {
				header_differences_free(out, n);
				return -1;
			}
			continue;
		}
		out[n].field = fields[i].name;
		out[n].a = sa;
		out[n].b = sb;
		n++;
	}
	return (int)n;
}

void header_differences_free(struct header_difference *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].a);
		free(d[i].b);
	}
}
