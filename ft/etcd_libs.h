/*
 * libcurl and json-c, opened by the first etcd arbiter (vmm/lazy_lib.h) rather than
 * linked: only an FT side with an etcd arbiter uses them. Included instead of their
 * headers, it makes the names below call through the table. curl's compile-time option
 * checks (its curl_easy_setopt macro) go with the redirect.
 */
#ifndef DETVM_FT_ETCD_LIBS_H
#define DETVM_FT_ETCD_LIBS_H

#include <stddef.h>

#include <curl/curl.h>
#include <json-c/json.h>

#define ETCD_CURL_FUNCS(X)                                                                                   \
	X(curl_global_init) X(curl_easy_init) X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_getinfo) \
	X(curl_easy_cleanup) X(curl_easy_strerror) X(curl_slist_append) X(curl_slist_free_all)
#define ETCD_JSON_FUNCS(X)                                                                                 \
	X(json_object_new_object) X(json_object_new_array) X(json_object_new_string) X(json_object_new_int) \
	X(json_object_object_add) X(json_object_array_add) X(json_object_put) X(json_tokener_parse)        \
	X(json_object_to_json_string) X(json_object_is_type) X(json_object_array_length)                   \
	X(json_object_array_get_idx) X(json_object_object_get_ex) X(json_object_get_string)

#define ETCD_LIB_SLOT(f) __typeof__(&f) f;
struct etcd_libs {
	ETCD_CURL_FUNCS(ETCD_LIB_SLOT)
	ETCD_JSON_FUNCS(ETCD_LIB_SLOT)
};
#undef ETCD_LIB_SLOT
extern struct etcd_libs etcd_libs;

/* Opens both (once; curl's global init with them): 0, or -1 with err in one line. */
int etcd_libs_load(char *err, size_t errlen);

#ifndef ETCD_LIBS_TABLE	/* defined by the file that fills the table */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init etcd_libs.curl_global_init
#define curl_easy_init etcd_libs.curl_easy_init
#define curl_easy_setopt etcd_libs.curl_easy_setopt
#define curl_easy_perform etcd_libs.curl_easy_perform
#define curl_easy_getinfo etcd_libs.curl_easy_getinfo
#define curl_easy_cleanup etcd_libs.curl_easy_cleanup
#define curl_easy_strerror etcd_libs.curl_easy_strerror
#define curl_slist_append etcd_libs.curl_slist_append
#define curl_slist_free_all etcd_libs.curl_slist_free_all
#define json_object_new_object etcd_libs.json_object_new_object
#define json_object_new_array etcd_libs.json_object_new_array
#define json_object_new_string etcd_libs.json_object_new_string
#define json_object_new_int etcd_libs.json_object_new_int
#define json_object_object_add etcd_libs.json_object_object_add
#define json_object_array_add etcd_libs.json_object_array_add
#define json_object_put etcd_libs.json_object_put
#define json_tokener_parse etcd_libs.json_tokener_parse
#define json_object_to_json_string etcd_libs.json_object_to_json_string
#define json_object_is_type etcd_libs.json_object_is_type
#define json_object_array_length etcd_libs.json_object_array_length
#define json_object_array_get_idx etcd_libs.json_object_array_get_idx
#define json_object_object_get_ex etcd_libs.json_object_object_get_ex
#define json_object_get_string etcd_libs.json_object_get_string
#endif

#endif
