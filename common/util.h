/*
 * util.h — small helpers shared by every signet component: hex, checked
 * integer parsing, bounded file reading, secret files and wiping.
 */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64

/* The value of the hexadecimal digit c (0-9, a-f, A-F), or -1. */
int hex_digit(int c);

/*
 * Whether s, given where a path to a key or secret file is expected, is
 * the file's content instead (PEM text, several lines, or longer than any
 * path): 1 if so.  Callers refuse such a value without printing it, since
 * it may be a private key pasted into a CI variable.
 */
int looks_like_file_content(const char *s);

/* The number of elements of an array (not of a pointer). */
#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Percent-decodes (RFC 3986) the n bytes at s into out (cap bytes): "%"
 * must take two hex digits, of either case; every other byte must be one
 * that raw_ok(byte, arg) allows.  No NUL is added.  0 with *ret_len,
 * SG_ERR_PARSE, or SG_ERR_LIMIT when the decoded bytes do not fit in cap.
 */
int pct_decode(const char *s, size_t n, int (*raw_ok)(unsigned char c, void *arg), void *arg,
    uint8_t *out, size_t cap, size_t *ret_len) SG_MUST_CHECK;

/* Writes 2*len lowercase hex characters and a NUL to out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);

/* Decodes exactly 2*out_len lowercase hex characters from `in` (which must
 * be that long).  Uppercase is refused.  0 or SG_ERR_PARSE. */
int hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len) SG_MUST_CHECK;

/* True if the NUL-terminated s is exactly n lowercase hex characters (no
 * more: s[n] must be the NUL).  Reads no further than the first NUL. */
int is_lower_hex(const char *s, size_t n);

/* Checked decimal parsing of the whole string (no sign, no spaces, no
 * leading zeros except "0"); 0 or SG_ERR_PARSE; *ret untouched on error. */
int parse_u64(const char *s, uint64_t max, uint64_t *ret) SG_MUST_CHECK;

/*
 * Reads a whole regular file of at most max bytes into a NUL-terminated
 * buffer (O_CLOEXEC).  Caller frees with free() (or freezero for secrets).
 * SG_ERR_NOT_FOUND, SG_ERR_LIMIT (larger than max), SG_ERR_SYSTEM (also for
 * anything that is not a regular file: directory, FIFO, device),
 * SG_ERR_ALLOC, SG_ERR_INVALID_ARGUMENT (NULL path).
 */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* Bytes of a secret file, its trailing newline included. */
#define SECRET_FILE_MAX 4096

/*
 * Reads a secret (PIN, password, token) from a file that only its owner may
 * read: a file with any group or other permission bit (checked with fstat
 * on the opened file) is refused with SG_ERR_SECRET_FILE.  One trailing
 * "\n" is dropped.  An empty secret, or one containing a NUL byte, is
 * SG_ERR_CONFIG; more than SECRET_FILE_MAX bytes is SG_ERR_LIMIT; otherwise
 * the errors of read_file().  Buffers are wiped on every path.
 * Caller wipes and frees with freezero(ret, ret_len + 1).
 */
int read_secret_file(const char *path, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* Formats a one-line reason into errbuf (nothing when errbuf is NULL or
 * errlen 0).  Never give it a secret. */
void errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* explicit_bzero then free; NULL is a no-op. */
void freezero(void *p, size_t len);

/* Writes buf to path atomically: temp file (path + ".tmp.XXXXXX", created
 * exclusively, O_CLOEXEC) in the same directory, fsync, rename, fsync of the
 * directory; the temp file is removed on failure.  mode & 0777 is the new
 * file's mode exactly (the umask does not apply).  SG_ERR_SYSTEM,
 * SG_ERR_ALLOC, SG_ERR_INVALID_ARGUMENT (NULL or empty path, or one that
 * ends in '/'). */
/* The directory part of path ("." when it has none, "/" for "/x") into
 * *ret, which the caller frees.  SG_ERR_ALLOC. */
int path_dir(const char *path, char **ret) SG_MUST_CHECK;

int write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode) SG_MUST_CHECK;

/*
 * The length, header included, of the DER element at p (n bytes): it must
 * be a SEQUENCE with a definite length in its shortest form (at most 4
 * length bytes) that fits in n.  0 and *ret_len, or SG_ERR_PARSE.  A
 * PKCS#7 embedded in a PE image or appended to a kernel module is checked
 * so (common/pe.c, common/modsig.c).
 */
int der_sequence_len(const uint8_t *p, size_t n, size_t *ret_len) SG_MUST_CHECK;

/* strdup that returns NULL only on allocation failure of a non-NULL s. */
char *xstrdup(const char *s);

#endif
