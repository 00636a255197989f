/*
 * Libraries only some commands use (libcurl and json-c for an etcd arbiter, Capstone for
 * instruction traces and gdb's access watchpoints) are opened when first needed instead
 * of being linked, so a plain `detvm run` neither loads them nor needs them installed.
 *
 * A user of one keeps its functions in a table filled here, and redirects the names it
 * calls to the table (see ft/etcd_libs.h): a name left out of the table does not build,
 * one left out of the redirects does not link.
 */
#ifndef DETVM_VMM_LAZY_LIB_H
#define DETVM_VMM_LAZY_LIB_H

#include <stddef.h>

struct lazy_sym {
	const char *name;
	void **slot;
};

/* One table entry: the symbol's name and where its address goes (POSIX's dlsym idiom). */
#define LAZY_SYM(table, f) { #f, (void **)&(table).f },

struct lazy_lib {
	const char *soname, *package;	/* "libcurl.so.4", "libcurl4" */
	const char *user;		/* what needs it: "an etcd arbiter" */
	const struct lazy_sym *syms;
	size_t nsyms;
	int state;			/* 0 not tried, 1 open, -1 failed with why */
	char why[300];
};

/* Opens the library by its soname and fills every slot, the first time (thread-safe):
 * 0, or -1 with err saying, in one line, what needs it and which Debian package has it.
 * Later calls give the first answer. The library stays open. */
int lazy_lib_load(struct lazy_lib *l, char *err, size_t errlen);

#endif
