#define ETCD_LIBS_TABLE
#include "ft/etcd_libs.h"

#include <pthread.h>

#include "vmm/lazy_lib.h"

struct etcd_libs etcd_libs;

#define ETCD_LIB_SYM(f) LAZY_SYM(etcd_libs, f)
static const struct lazy_sym curl_syms[] = { ETCD_CURL_FUNCS(ETCD_LIB_SYM) },
			     json_syms[] = { ETCD_JSON_FUNCS(ETCD_LIB_SYM) };
static struct lazy_lib curl = { .soname = "libcurl.so.4", .package = "libcurl4", .user = "an etcd arbiter",
				.syms = curl_syms, .nsyms = sizeof(curl_syms) / sizeof(curl_syms[0]) },
		       json = { .soname = "libjson-c.so.5", .package = "libjson-c5", .user = "an etcd arbiter",
				.syms = json_syms, .nsyms = sizeof(json_syms) / sizeof(json_syms[0]) };

static void init_curl(void)
{
	etcd_libs.curl_global_init(CURL_GLOBAL_DEFAULT);
}

int etcd_libs_load(char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (lazy_lib_load(&curl, err, errlen) || lazy_lib_load(&json, err, errlen))
		return -1;
	pthread_once(&once, init_curl);
	return 0;
}
