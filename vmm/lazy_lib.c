#include "vmm/lazy_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int open_lib(struct lazy_lib *l)
{
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(l->why, sizeof(l->why), "%s needs %s (Debian package %s): %s", l->user, l->soname,
			 l->package, dlerror());
		return -1;
	}
	for (size_t i = 0; i < l->nsyms; i++) {
		*l->syms[i].slot = dlsym(h, l->syms[i].name);
		if (!*l->syms[i].slot) {
			snprintf(l->why, sizeof(l->why), "%s needs %s from %s (Debian package %s), which lacks it",
				 l->user, l->syms[i].name, l->soname, l->package);
			dlclose(h);
			return -1;
		}
	}
	return 1;
}

int lazy_lib_load(struct lazy_lib *l, char *err, size_t errlen)
{
	pthread_mutex_lock(&mu);
	if (!l->state)
		l->state = open_lib(l);
	pthread_mutex_unlock(&mu);
	if (l->state > 0)
		return 0;
	if (errlen)
		snprintf(err, errlen, "%s", l->why);
	return -1;
}
