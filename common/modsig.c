/*
 * modsig.c — the kernel module signature trailer (modsig.h has the
 * layout).  The module is at most MODSIG_MODULE_MAX bytes and sig_len a
 * u32; the checks subtract so that they also hold on a 32-bit size_t.
 */
#include <stdlib.h>
#include <string.h>

#include "modsig.h"
#include "util.h"

#define TRAILER_LEN (MODSIG_INFO_LEN + MODSIG_MARKER_LEN)

/* struct module_signature */
#define INFO_ID_TYPE_OFF 2
#define INFO_SIG_LEN_OFF 8

/* ELF identification (e_ident) and the header lengths by class. */
#define EI_CLASS       4
#define EI_DATA        5
#define EI_VERSION     6
#define ELFCLASS32     1
#define ELFCLASS64     2
#define ELFDATA2LSB    1
#define ELFDATA2MSB    2
#define EV_CURRENT     1
#define ELF32_EHDR_LEN 52
#define ELF64_EHDR_LEN 64

static const char *const info_fields[] = {
	"algo",
	"hash",
	"id_type",
	"signer_len",
	"key_id_len",
	"pad[0]",
	"pad[1]",
	"pad[2]",
};

static int
ends_with_marker(const uint8_t *buf, size_t len)
{
	return len >= MODSIG_MARKER_LEN &&
	    memcmp(buf + len - MODSIG_MARKER_LEN, MODSIG_MARKER, MODSIG_MARKER_LEN) == 0;
}

/* NULL if the len bytes at buf begin like an ELF file, else what is wrong. */
static const char *
elf_problem(const uint8_t *buf, size_t len)
{
	static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };

	if (len < sizeof(magic) || memcmp(buf, magic, sizeof(magic)) != 0)
		return "not an ELF file (no \\x7fELF at offset 0)";
	if (len < ELF32_EHDR_LEN)
		return "not an ELF file (shorter than an ELF header)";
	if (buf[EI_CLASS] != ELFCLASS32 && buf[EI_CLASS] != ELFCLASS64)
		return "not an ELF file (unknown class)";
	if (buf[EI_CLASS] == ELFCLASS64 && len < ELF64_EHDR_LEN)
		return "not an ELF file (shorter than an ELF64 header)";
	if (buf[EI_DATA] != ELFDATA2LSB && buf[EI_DATA] != ELFDATA2MSB)
		return "not an ELF file (unknown byte order)";
	if (buf[EI_VERSION] != EV_CURRENT)
		return "not an ELF file (unknown version)";
	return NULL;
}

/* Whether the n bytes at p are exactly one DER SEQUENCE (util.h). */
static int
is_one_der_sequence(const uint8_t *p, size_t n)
{
	size_t len;

	return der_sequence_len(p, n, &len) == 0 && len == n;
}

int
modsig_split(const uint8_t *buf, size_t len, size_t *ret_unsigned_len, int *ret_signed,
    const uint8_t **ret_sig, size_t *ret_sig_len, char *why, size_t whylen)
{
	const uint8_t *info, *sig = NULL;
	size_t sig_len = 0, mod_len = len, i;
	const char *problem;
	int is_signed = 0;

	if (buf == NULL || ret_unsigned_len == NULL || ret_signed == NULL || ret_sig == NULL ||
	    ret_sig_len == NULL) {
		errbuf_set(why, whylen, "no module");
		return SG_ERR_INVALID_ARGUMENT;
	}
	if (len > MODSIG_MODULE_MAX) {
		errbuf_set(why, whylen, "the module is %zu bytes, more than the %zu bytes accepted",
		    len, MODSIG_MODULE_MAX);
		return SG_ERR_LIMIT;
	}
	if (ends_with_marker(buf, len)) {
		if (len - MODSIG_MARKER_LEN < MODSIG_INFO_LEN) {
			errbuf_set(why, whylen,
			    "truncated signature trailer: the marker without the 12 bytes of "
			    "struct module_signature before it");
			return SG_ERR_PARSE;
		}
		info = buf + len - TRAILER_LEN;
		for (i = 0; i < nitems(info_fields); i++) {
			unsigned want = i == INFO_ID_TYPE_OFF ? MODSIG_PKEY_ID_PKCS7 : 0;

			if (info[i] != want) {
				errbuf_set(why, whylen,
				    "struct module_signature: %s is %u, not %u (PKCS#7 signatures "
				    "have id_type 2 and every other field 0)",
				    info_fields[i], (unsigned)info[i], want);
				return SG_ERR_PARSE;
			}
		}
		sig_len = (size_t)info[INFO_SIG_LEN_OFF] << 24 |
		    (size_t)info[INFO_SIG_LEN_OFF + 1] << 16 |
		    (size_t)info[INFO_SIG_LEN_OFF + 2] << 8 | (size_t)info[INFO_SIG_LEN_OFF + 3];
		if (sig_len == 0) {
			errbuf_set(why, whylen, "struct module_signature: sig_len is 0");
			return SG_ERR_PARSE;
		}
		if (sig_len > len - TRAILER_LEN) {
			errbuf_set(why, whylen,
			    "struct module_signature: sig_len %zu is more than the %zu bytes "
			    "before it",
			    sig_len, len - TRAILER_LEN);
			return SG_ERR_PARSE;
		}
		mod_len = len - TRAILER_LEN - sig_len;
		sig = buf + mod_len;
		if (!is_one_der_sequence(sig, sig_len)) {
			errbuf_set(why, whylen,
			    "the %zu bytes of signature are not one DER SEQUENCE (a PKCS#7 "
			    "SignedData)",
			    sig_len);
			return SG_ERR_PARSE;
		}
		if (ends_with_marker(buf, mod_len)) {
			errbuf_set(why, whylen,
			    "the module is signed twice: the part before the signature ends with "
			    "the marker too");
			return SG_ERR_PARSE;
		}
		is_signed = 1;
	}
	if ((problem = elf_problem(buf, mod_len)) != NULL) {
		errbuf_set(why, whylen, "%s%s",
		    is_signed ? "the module before the signature: " : "", problem);
		return SG_ERR_PARSE;
	}
	*ret_unsigned_len = mod_len;
	*ret_signed = is_signed;
	*ret_sig = sig;
	*ret_sig_len = sig_len;
	return 0;
}

int
modsig_append(const uint8_t *mod, size_t len, const uint8_t *pkcs7, size_t plen, uint8_t **ret,
    size_t *ret_len)
{
	uint8_t *out = NULL, *info;
	size_t total;
	int r = SG_ERR_INTERNAL;

	if (mod == NULL || pkcs7 == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	/* The sizes first: the checks below read the ends of both buffers. */
	r = SG_ERR_LIMIT;
	if (len > MODSIG_MODULE_MAX || plen > MODSIG_MODULE_MAX - len ||
	    TRAILER_LEN > MODSIG_MODULE_MAX - len - plen)
		goto out;
	r = SG_ERR_INVALID_ARGUMENT;
	if (elf_problem(mod, len) != NULL || ends_with_marker(mod, len) ||
	    !is_one_der_sequence(pkcs7, plen))
		goto out;
	total = len + plen + TRAILER_LEN;
	r = SG_ERR_ALLOC;
	if ((out = malloc(total)) == NULL)
		goto out;
	memcpy(out, mod, len);
	memcpy(out + len, pkcs7, plen);
	info = out + len + plen;
	memset(info, 0, MODSIG_INFO_LEN);
	info[INFO_ID_TYPE_OFF] = MODSIG_PKEY_ID_PKCS7;
	/* plen < 2^31: it fits sig_len's 32 bits. */
	info[INFO_SIG_LEN_OFF] = (uint8_t)(plen >> 24);
	info[INFO_SIG_LEN_OFF + 1] = (uint8_t)(plen >> 16);
	info[INFO_SIG_LEN_OFF + 2] = (uint8_t)(plen >> 8);
	info[INFO_SIG_LEN_OFF + 3] = (uint8_t)plen;
	memcpy(info + MODSIG_INFO_LEN, MODSIG_MARKER, MODSIG_MARKER_LEN);
	*ret = out;
	*ret_len = total;
	out = NULL;
	r = 0;
out:
	free(out);
	return r;
}
