/*
 * util.h — small helpers shared by every signet component: hex, checked
 * integer parsing, bounded file reading, secret files and wiping.
 */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

/* Writes 2*len lowercase hex characters and a NUL to out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);

/* Decodes exactly 2*out_len lowercase hex characters from `in` (which must
 * be that long).  Uppercase is refused.  0 or SG_ERR_PARSE. */
int hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len) SG_MUST_CHECK;

/* True if s is exactly n lowercase hex characters. */
int is_lower_hex(const char *s, size_t n);

/* Checked decimal parsing of the whole string (no sign, no spaces, no
 * leading zeros except "0"); 0 or SG_ERR_PARSE; *ret untouched on error. */
int parse_u64(const char *s, uint64_t max, uint64_t *ret) SG_MUST_CHECK;

/*
 * Reads a whole regular file of at most max bytes into a NUL-terminated
 * buffer (O_CLOEXEC).  Caller frees with free() (or freezero for secrets).
 * SG_ERR_NOT_FOUND, SG_ERR_LIMIT (larger than max), SG_ERR_SYSTEM.
 */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * Reads a secret (PIN, password, token) from a file that only its owner may
 * read: a file readable or writable by group or others is refused with
 * SG_ERR_SECRET_FILE.  One trailing newline is dropped.  An empty secret is
 * SG_ERR_CONFIG.  Caller wipes and frees with freezero(ret, ret_len + 1).
 */
int read_secret_file(const char *path, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* explicit_bzero then free; NULL is a no-op. */
void freezero(void *p, size_t len);

/* Writes buf to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory.  mode is the new file's mode. */
int write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode) SG_MUST_CHECK;

/* strdup that returns NULL only on allocation failure of a non-NULL s. */
char *xstrdup(const char *s);

#endif
