/* Whole transfers on a file descriptor at an offset, retried across EINTR and short I/O. */
#ifndef DETVM_VMM_FILE_IO_H
#define DETVM_VMM_FILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 0 when all len bytes moved; -errno, or -EIO if the file ended first. */
int file_pread_full(int fd, void *buf, size_t len, uint64_t off);
int file_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* At the file position (pipes, sockets, append-only files). */
int file_write_full(int fd, const void *buf, size_t len);
/* Kinds of failure the -errno values cannot say. */
#define FILE_ERR_NOT_REGULAR (-2001)	/* a FIFO, a device, a directory... */

/* Opens path (flags: O_RDONLY or O_RDWR, plus any extra), which must be a regular file: a
 * FIFO or a device (/dev/zero) given as an image would block the open or never end a
 * read. The fd, or -errno, or FILE_ERR_NOT_REGULAR. */
int file_open_regular(const char *path, int flags);
/* Creates (or empties) the output file path, private to its owner: mode 0600 less the
 * umask, never wider; a symbolic link at path is refused, not followed, so a link planted
 * there cannot redirect the write. The fd (write-only), or -errno. */
int file_create_private(const char *path);
/* A new private temp file beside path, "PATH.tmp.XXXXXX" (O_EXCL, so nothing planted at
 * a guessable name is followed or reused), its name into tmp: the caller renames it over
 * path once complete. The fd (read-write), or -errno. */
int file_create_temp(const char *path, char *tmp, size_t len);
/* strerror(-err) that also knows the FILE_ERR_* codes and says why -ELOOP happened. */
const char *file_strerror(int err);
/* Copies all of the file src into the empty file out, only its data extents (a sparse
 * image gives a sparse copy); the size copied, or -1 with err holding one line. */
off_t file_copy_sparse(const char *src, int out, char *err, size_t errlen);

#endif
