/*
 * modsig.h — the signature trailer of Linux kernel modules (the `kmod`
 * format, SPEC §4), as the kernel's scripts/sign-file writes it and
 * kernel/module_signing.c reads it (include/linux/module_signature.h):
 *
 *     module bytes (an ELF file)
 *     the PKCS#7 SignedData, DER, sig_len bytes
 *     struct module_signature (12 bytes):
 *         u8 algo, hash, id_type, signer_len, key_id_len, pad[3];
 *         __be32 sig_len;
 *     the marker "~Module signature appended~\n" (28 bytes)
 *
 * With PKCS#7 signatures id_type is 2 (PKEY_ID_PKCS7) and every other
 * field but sig_len is 0; the kernel refuses anything else.  Bytes in,
 * results out: no I/O.
 *
 * The format has no length for the module itself, so two readers agree
 * on where the module ends only if they agree on sig_len; modsig_split()
 * therefore also requires the signature to be exactly one DER SEQUENCE of
 * sig_len bytes (a SignedData always is), and refuses a module that is
 * signed twice (the marker again right before the signature), because
 * replacing the outer signature would leave the inner one in place.
 */
#ifndef SG_MODSIG_H
#define SG_MODSIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MODSIG_MARKER        "~Module signature appended~\n"
#define MODSIG_MARKER_LEN    28                /* bytes, no NUL */
#define MODSIG_INFO_LEN      12                /* bytes of struct module_signature */
#define MODSIG_PKEY_ID_PKCS7 2                 /* module_signature.id_type */
#define MODSIG_MODULE_MAX    ((size_t)1 << 31) /* bytes of a module, signature included */
#define MODSIG_WHY_MAX       160               /* bytes: enough for modsig_split()'s reasons */

/*
 * Splits a module: *ret_unsigned_len is the length of the module without
 * its signature (len when it has none); *ret_signed is 1 if a well-formed
 * signature trailer was found, and then *ret_sig and *ret_sig_len are the
 * PKCS#7 inside buf (borrowed for as long as buf lives), else NULL and 0.
 * The unsigned module must look like an ELF file ("\x7fELF", a known class,
 * byte order and version, at least the ELF header's length).
 * SG_ERR_PARSE with one line in why (whylen bytes, MODSIG_WHY_MAX is
 * enough; why may be NULL) for a marker with a trailer that is not as
 * above, a module that is not ELF, or one signed twice; SG_ERR_LIMIT (more
 * than MODSIG_MODULE_MAX bytes; buf is not read); SG_ERR_INVALID_ARGUMENT
 * (NULL argument).  Outputs set only on success.
 */
int modsig_split(const uint8_t *buf, size_t len, size_t *ret_unsigned_len, int *ret_signed,
    const uint8_t **ret_sig, size_t *ret_sig_len, char *why, size_t whylen) SG_MUST_CHECK;

/*
 * mod[0..len) + pkcs7[0..plen) + struct module_signature {id_type 2,
 * sig_len plen} + the marker: what sign-file writes.  mod must be an
 * unsigned module (as modsig_split() returns it: ELF, not ending with the
 * marker), pkcs7 exactly one DER SEQUENCE, so that modsig_split() of the
 * result gives back mod and pkcs7.  Caller frees *ret with free().
 * SG_ERR_INVALID_ARGUMENT (NULL argument, mod not ELF or already ending
 * with the marker, pkcs7 not one DER SEQUENCE of plen bytes),
 * SG_ERR_LIMIT (the result would exceed MODSIG_MODULE_MAX; checked before
 * either buffer is read), SG_ERR_ALLOC.
 * Outputs set only on success.
 */
int modsig_append(const uint8_t *mod, size_t len, const uint8_t *pkcs7, size_t plen, uint8_t **ret,
    size_t *ret_len) SG_MUST_CHECK;

#endif
