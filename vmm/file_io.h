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
/* Copies all of the file src into the empty file out, only its data extents (a sparse
 * image gives a sparse copy); the size copied, or -1 with err holding one line. */
off_t file_copy_sparse(const char *src, int out, char *err, size_t errlen);

#endif
