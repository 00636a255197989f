/* The formats `detvm trace` writes: one record per instruction (README: Execution traces). */
#include <inttypes.h>
#include <string.h>

#include "tools/trace_insn.h"

static void hex_bytes(char *out, const struct trace_record *r, const char *sep)
{
	size_t n = 0;
	out[0] = 0;
	for (unsigned i = 0; i < r->nbytes; i++)
		n += (size_t)sprintf(out + n, "%s%02x", i ? sep : "", r->bytes[i]);
}

static void text_begin(FILE *f, int regs)
{
	fprintf(f, "# position cpl mode rip bytes instruction [mem=ADDRESS...] [int=VECTOR] [loaded] [unstepped=RING]%s\n",
		regs ? " [| REGISTER=VALUE... changed since the previous line]" : "");
}

static void text_record(FILE *f, const struct trace_record *r)
{
	char pos[48], bytes[64];
	snprintf(pos, sizeof(pos), "%" PRIu64 "+%" PRIu64, r->pos.exit, r->pos.step);
	hex_bytes(bytes, r, " ");
	fprintf(f, "%-12s %u %2u %016" PRIx64 "  %-32s %s%s%s", pos, r->cpl, r->mode, r->rip, bytes,
		r->mnemonic ? r->mnemonic : (r->nbytes ? "(bad)" : "(unreadable)"),
		r->operands && *r->operands ? " " : "", r->operands ? r->operands : "");
	for (unsigned i = 0; i < r->nmem; i++)
		fprintf(f, " mem=0x%" PRIx64, r->mem[i]);
	if (r->event >= 0)
		fprintf(f, " int=%#x", (unsigned)r->event);
	else if (r->event == TRACER_EXCEPTION)
		fprintf(f, " int=exception");
	if (r->loaded)
		fputs(" loaded", f);
	if (r->unstepped >= 0)
		fprintf(f, " unstepped=%d", r->unstepped);
	if (r->nregs)
		fprintf(f, " |");
	for (unsigned i = 0; i < r->nregs; i++)
		fprintf(f, " %s=0x%" PRIx64, r->reg_name[i], r->reg_value[i]);
	fputc('\n', f);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void jsonl_begin(FILE *f, int regs)
{
}

static void jsonl_record(FILE *f, const struct trace_record *r)
{
	char bytes[64];
	hex_bytes(bytes, r, "");
	fprintf(f, "{\"exit\":%" PRIu64 ",\"step\":%" PRIu64 ",\"cpl\":%u,\"mode\":%u,\"rip\":\"0x%" PRIx64
		   "\",\"bytes\":\"%s\",\"insn\":", r->pos.exit, r->pos.step, r->cpl, r->mode, r->rip, bytes);
	if (r->mnemonic) {
		char insn[256];
		snprintf(insn, sizeof(insn), "%s%s%s", r->mnemonic, *r->operands ? " " : "", r->operands);
		json_string(f, insn);
	} else {
		fputs("null", f);
	}
	fputs(",\"mem\":[", f);
	for (unsigned i = 0; i < r->nmem; i++)
		fprintf(f, "%s\"0x%" PRIx64 "\"", i ? "," : "", r->mem[i]);
	fputc(']', f);
	if (r->event >= 0)
		fprintf(f, ",\"interrupt\":%d", r->event);
	else if (r->event == TRACER_EXCEPTION)
		fputs(",\"interrupt\":\"exception\"", f);
	if (r->loaded)
		fputs(",\"loaded\":true", f);
	if (r->unstepped >= 0)
		fprintf(f, ",\"unstepped\":%d", r->unstepped);
	if (r->with_regs) {
		fputs(",\"regs\":{", f);
		for (unsigned i = 0; i < r->nregs; i++)
			fprintf(f, "%s\"%s\":\"0x%" PRIx64 "\"", i ? "," : "", r->reg_name[i], r->reg_value[i]);
		fputc('}', f);
	}
	fputs("}\n", f);
}

static const struct trace_format formats[] = {
	{ "text", text_begin, text_record },
	{ "jsonl", jsonl_begin, jsonl_record },
};

const struct trace_format *trace_format_find(const char *name)
{
	for (unsigned i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(formats[i].name, name))
			return &formats[i];
	return NULL;
}
