/*
 * pe.c — PE images for Authenticode (pe.h has the layout and the rules).
 *
 * Every offset read from the file is a u32 and the file is at most
 * PE_IMAGE_MAX (2^31) bytes, so a sum of two of them fits in a 64-bit
 * size_t; the bounds checks still subtract (`off > len || n > len - off`)
 * so that they hold on a 32-bit size_t too.  Nothing is read before the
 * check that it lies inside the file.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "pe.h"
#include "util.h"

#define DOS_HDR_LEN      64   /* IMAGE_DOS_HEADER */
#define DOS_LFANEW_OFF   0x3c /* e_lfanew */
#define LFANEW_ALIGN     4
#define PE_SIG_LEN       4  /* "PE\0\0" */
#define COFF_HDR_LEN     20 /* IMAGE_FILE_HEADER */
#define COFF_NSECT_OFF   2  /* NumberOfSections, from the COFF header */
#define COFF_OPTSIZE_OFF 16 /* SizeOfOptionalHeader */
#define OPT_MAGIC_PE32   0x10b
#define OPT_MAGIC_PE32P  0x20b
#define OPT_FIXED_PE32   96  /* optional header bytes before the data directories */
#define OPT_FIXED_PE32P  112 /* the same for PE32+ */
#define OPT_HDRSIZE_OFF  60  /* SizeOfHeaders, from the optional header (both kinds) */
#define OPT_CHECKSUM_OFF 64  /* CheckSum */
#define OPT_SUBSYS_OFF   68  /* Subsystem */
#define DATA_DIR_LEN     8   /* one data directory entry: address, size */
#define SECT_HDR_LEN     40  /* IMAGE_SECTION_HEADER */
#define SECT_NAME_LEN    8
#define SECT_RAWSIZE_OFF 16 /* SizeOfRawData */
#define SECT_RAWPTR_OFF  20 /* PointerToRawData */

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* n rounded up to a multiple of 8; callers pass at most PE_IMAGE_MAX + 8
 * (or a dwLength already checked against the table), so it cannot wrap. */
static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* The section's name for messages: up to 8 bytes, stopping at a NUL,
 * anything but printable ASCII shown as '?'. */
static void
section_name(const uint8_t *hdr, char out[SECT_NAME_LEN + 1])
{
	size_t i;

	for (i = 0; i < SECT_NAME_LEN && hdr[i] != 0; i++)
		out[i] = hdr[i] >= 0x20 && hdr[i] < 0x7f ? (char)hdr[i] : '?';
	out[i] = 0;
}

/* Checks the certificate table [off, off + n) of buf (already known to lie
 * inside it, 8-aligned, and to end the file): the WIN_CERTIFICATE entries.
 * Sets *count on success. */
static int
check_cert_table(
    const uint8_t *buf, size_t off, size_t n, unsigned *count, char *why, size_t whylen)
{
	size_t pos = 0;
	unsigned i = 0;

	while (pos < n) {
		size_t left = n - pos, dwlen, padded, k;
		const uint8_t *e = buf + off + pos;

		i++;
		if (left < PE_WIN_CERT_HDR) {
			errbuf_set(why, whylen,
			    "certificate entry %u at 0x%zx is truncated: %zu bytes left in the "
			    "table",
			    i, off + pos, left);
			return SG_ERR_PARSE;
		}
		dwlen = le32(e);
		if (dwlen < PE_WIN_CERT_HDR) {
			errbuf_set(why, whylen,
			    "certificate entry %u at 0x%zx: dwLength %zu is less than 8", i,
			    off + pos, dwlen);
			return SG_ERR_PARSE;
		}
		if (dwlen > left) {
			errbuf_set(why, whylen,
			    "certificate entry %u at 0x%zx: dwLength %zu runs past the end of the "
			    "certificate table (%zu bytes left)",
			    i, off + pos, dwlen, left);
			return SG_ERR_PARSE;
		}
		if (le16(e + 4) != PE_WIN_CERT_REV2) {
			errbuf_set(why, whylen,
			    "certificate entry %u at 0x%zx: wRevision 0x%04x is not 0x0200", i,
			    off + pos, (unsigned)le16(e + 4));
			return SG_ERR_PARSE;
		}
		if (le16(e + 6) != PE_WIN_CERT_PKCS7) {
			errbuf_set(why, whylen,
			    "certificate entry %u at 0x%zx: wCertificateType 0x%04x is not "
			    "PKCS_SIGNED_DATA (0x0002)",
			    i, off + pos, (unsigned)le16(e + 6));
			return SG_ERR_PARSE;
		}
		padded = align8(dwlen);
		if (padded > left) {
			errbuf_set(why, whylen,
			    "certificate entry %u at 0x%zx: the table ends before its padding to 8 "
			    "bytes",
			    i, off + pos);
			return SG_ERR_PARSE;
		}
		/* Bytes outside every entry are not covered by any signature: they
		 * must be nothing but the zeros of the padding. */
		for (k = dwlen; k < padded; k++) {
			if (e[k] != 0) {
				errbuf_set(why, whylen,
				    "certificate entry %u at 0x%zx: non-zero padding after "
				    "dwLength %zu",
				    i, off + pos, dwlen);
				return SG_ERR_PARSE;
			}
		}
		pos += padded;
	}
	*count = i;
	return 0;
}

/* Checks the section table at sect_off (inside the file) and the raw data
 * of each section; sets *ret_end to the end of the last raw data (at least
 * headers_len). */
static int
check_sections(const uint8_t *buf, size_t len, size_t sect_off, unsigned nsect, size_t headers_len,
    size_t *ret_end, char *why, size_t whylen)
{
	size_t end = headers_len;
	unsigned i, j;

	for (i = 0; i < nsect; i++) {
		const uint8_t *s = buf + sect_off + (size_t)i * SECT_HDR_LEN;
		size_t size = le32(s + SECT_RAWSIZE_OFF), ptr = le32(s + SECT_RAWPTR_OFF);
		char name[SECT_NAME_LEN + 1];

		/* A section without raw data (.bss) has nothing in the file; its
		 * PointerToRawData means nothing. */
		if (size == 0)
			continue;
		section_name(s, name);
		if (ptr > len || size > len - ptr) {
			errbuf_set(why, whylen,
			    "section %u (%s) lies outside the file: raw data at 0x%zx, 0x%zx "
			    "bytes, the file ends at 0x%zx",
			    i + 1, name, ptr, size, len);
			return SG_ERR_PARSE;
		}
		if (ptr < headers_len) {
			errbuf_set(why, whylen,
			    "section %u (%s) starts at 0x%zx, inside the headers (SizeOfHeaders "
			    "0x%zx)",
			    i + 1, name, ptr, headers_len);
			return SG_ERR_PARSE;
		}
		/* At most 96 sections: the quadratic check costs nothing. */
		for (j = 0; j < i; j++) {
			const uint8_t *t = buf + sect_off + (size_t)j * SECT_HDR_LEN;
			size_t tsize = le32(t + SECT_RAWSIZE_OFF), tptr = le32(t + SECT_RAWPTR_OFF);
			char tname[SECT_NAME_LEN + 1];

			if (tsize == 0 || ptr >= tptr + tsize || tptr >= ptr + size)
				continue;
			section_name(t, tname);
			errbuf_set(why, whylen, "sections %u (%s) and %u (%s) overlap in the file",
			    j + 1, tname, i + 1, name);
			return SG_ERR_PARSE;
		}
		if (ptr + size > end)
			end = ptr + size;
	}
	*ret_end = end;
	return 0;
}

int
pe_parse(const uint8_t *buf, size_t len, struct pe_image *ret, char *why, size_t whylen)
{
	struct pe_image img;
	size_t lfanew, opt_off, opt_len, fixed, nrva, headers_len, sect_off, sect_len, cert_off,
	    cert_len;
	unsigned nsect, ncerts = 0;
	uint16_t magic;
	int r = SG_ERR_PARSE;

	if (buf == NULL || ret == NULL) {
		errbuf_set(why, whylen, "no image");
		return SG_ERR_INVALID_ARGUMENT;
	}
	if (len > PE_IMAGE_MAX) {
		errbuf_set(why, whylen, "the file is %zu bytes, more than the %zu bytes accepted",
		    len, PE_IMAGE_MAX);
		return SG_ERR_LIMIT;
	}
	memset(&img, 0, sizeof(img));
	img.len = len;

	/* 1. DOS header and PE signature. */
	if (len < DOS_HDR_LEN) {
		errbuf_set(
		    why, whylen, "truncated: the DOS header needs 64 bytes, the file has %zu", len);
		goto out;
	}
	if (buf[0] != 'M' || buf[1] != 'Z') {
		errbuf_set(why, whylen, "no MZ signature at offset 0: not a PE image");
		goto out;
	}
	lfanew = le32(buf + DOS_LFANEW_OFF);
	if (lfanew < DOS_HDR_LEN) {
		errbuf_set(why, whylen, "e_lfanew 0x%zx points inside the DOS header", lfanew);
		goto out;
	}
	if (lfanew % LFANEW_ALIGN != 0) {
		errbuf_set(why, whylen, "e_lfanew 0x%zx is not a multiple of 4", lfanew);
		goto out;
	}
	if (lfanew > len || PE_SIG_LEN + COFF_HDR_LEN > len - lfanew) {
		errbuf_set(why, whylen,
		    "truncated: the PE header at offset 0x%zx runs past the end of the file (%zu "
		    "bytes)",
		    lfanew, len);
		goto out;
	}
	if (memcmp(buf + lfanew, "PE\0\0", PE_SIG_LEN) != 0) {
		errbuf_set(why, whylen, "no PE signature at offset 0x%zx (e_lfanew)", lfanew);
		goto out;
	}

	/* 2. COFF and optional headers. */
	img.machine = le16(buf + lfanew + PE_SIG_LEN);
	nsect = le16(buf + lfanew + PE_SIG_LEN + COFF_NSECT_OFF);
	opt_len = le16(buf + lfanew + PE_SIG_LEN + COFF_OPTSIZE_OFF);
	if (nsect == 0) {
		errbuf_set(why, whylen, "NumberOfSections is 0: the image has no sections");
		goto out;
	}
	if (nsect > PE_SECTIONS_MAX) {
		errbuf_set(
		    why, whylen, "NumberOfSections %u is more than %u", nsect, PE_SECTIONS_MAX);
		goto out;
	}
	opt_off = lfanew + PE_SIG_LEN + COFF_HDR_LEN;
	if (len - opt_off < 2) {
		errbuf_set(why, whylen,
		    "truncated: the optional header at offset 0x%zx runs past the end of the file "
		    "(%zu bytes)",
		    opt_off, len);
		goto out;
	}
	magic = le16(buf + opt_off);
	if (magic == OPT_MAGIC_PE32) {
		fixed = OPT_FIXED_PE32;
	} else if (magic == OPT_MAGIC_PE32P) {
		fixed = OPT_FIXED_PE32P;
		img.pe32plus = 1;
	} else {
		errbuf_set(why, whylen,
		    "optional header magic 0x%04x is neither PE32 (0x10b) nor PE32+ (0x20b)",
		    (unsigned)magic);
		goto out;
	}
	if (opt_len < fixed) {
		errbuf_set(why, whylen,
		    "SizeOfOptionalHeader %zu is too small for a %s optional header (%zu bytes and "
		    "the data directories)",
		    opt_len, img.pe32plus ? "PE32+" : "PE32", fixed);
		goto out;
	}
	if (opt_len > len - opt_off) {
		errbuf_set(why, whylen,
		    "truncated: the optional header at offset 0x%zx (%zu bytes) runs past the end "
		    "of the file (%zu bytes)",
		    opt_off, opt_len, len);
		goto out;
	}
	nrva = le32(buf + opt_off + fixed - 4);
	if (nrva <= PE_CERT_DIR_INDEX) {
		errbuf_set(
		    why, whylen, "NumberOfRvaAndSizes %zu has no certificate table entry", nrva);
		goto out;
	}
	if (nrva > PE_DATA_DIRS_MAX) {
		errbuf_set(
		    why, whylen, "NumberOfRvaAndSizes %zu is more than %u", nrva, PE_DATA_DIRS_MAX);
		goto out;
	}
	if (opt_len != fixed + nrva * DATA_DIR_LEN) {
		errbuf_set(why, whylen,
		    "SizeOfOptionalHeader %zu does not match NumberOfRvaAndSizes %zu (%zu bytes "
		    "expected)",
		    opt_len, nrva, fixed + nrva * DATA_DIR_LEN);
		goto out;
	}
	img.checksum_off = opt_off + OPT_CHECKSUM_OFF;
	img.checksum = le32(buf + img.checksum_off);
	img.subsystem = le16(buf + opt_off + OPT_SUBSYS_OFF);
	img.certdir_off = opt_off + fixed + PE_CERT_DIR_INDEX * DATA_DIR_LEN;

	/* 3. The headers and the section table. */
	headers_len = le32(buf + opt_off + OPT_HDRSIZE_OFF);
	if (headers_len > len) {
		errbuf_set(why, whylen,
		    "SizeOfHeaders 0x%zx is past the end of the file (%zu bytes)", headers_len,
		    len);
		goto out;
	}
	sect_off = opt_off + opt_len;
	sect_len = (size_t)nsect * SECT_HDR_LEN;
	if (sect_len > len - sect_off) {
		errbuf_set(why, whylen,
		    "truncated: the section table (%u entries at 0x%zx) runs past the end of the "
		    "file (%zu bytes)",
		    nsect, sect_off, len);
		goto out;
	}
	if (sect_off + sect_len > headers_len) {
		errbuf_set(why, whylen,
		    "the section table (%u entries at 0x%zx) runs past SizeOfHeaders 0x%zx", nsect,
		    sect_off, headers_len);
		goto out;
	}
	img.nsections = nsect;
	img.headers_len = headers_len;

	/* 4. The sections' raw data. */
	r = check_sections(buf, len, sect_off, nsect, headers_len, &img.sections_end, why, whylen);
	if (r != 0)
		goto out;
	r = SG_ERR_PARSE;

	/* 5. The certificate table. */
	cert_off = le32(buf + img.certdir_off);
	cert_len = le32(buf + img.certdir_off + 4);
	if (cert_off != 0 || cert_len != 0) {
		if (cert_off == 0 || cert_len == 0) {
			errbuf_set(why, whylen,
			    "the certificate table entry is half empty (offset 0x%zx, %zu bytes)",
			    cert_off, cert_len);
			goto out;
		}
		if (cert_off < img.sections_end) {
			errbuf_set(why, whylen,
			    "the certificate table at 0x%zx overlaps the headers or the section "
			    "data, which end at 0x%zx",
			    cert_off, img.sections_end);
			goto out;
		}
		if (cert_off % PE_CERT_ALIGN != 0) {
			errbuf_set(why, whylen,
			    "the certificate table at 0x%zx is not 8-byte aligned", cert_off);
			goto out;
		}
		if (cert_off > len || cert_len > len - cert_off) {
			errbuf_set(why, whylen,
			    "the certificate table at 0x%zx of %zu bytes runs past the end of the "
			    "file (%zu bytes)",
			    cert_off, cert_len, len);
			goto out;
		}
		if (cert_len != len - cert_off) {
			errbuf_set(why, whylen,
			    "data after the certificate table: the table ends at 0x%zx, the file "
			    "at 0x%zx",
			    cert_off + cert_len, len);
			goto out;
		}
		/* 6. Its entries. */
		r = check_cert_table(buf, cert_off, cert_len, &ncerts, why, whylen);
		if (r != 0)
			goto out;
		img.is_signed = 1;
		img.cert_off = cert_off;
		img.cert_len = cert_len;
		img.ncerts = ncerts;
		img.hashed_end = cert_off;
	} else {
		img.hashed_end = len;
	}

	*ret = img;
	r = 0;
out:
	return r;
}

int
pe_authenticode_digest(const uint8_t *buf, const struct pe_image *img, uint8_t ret[SHA256_LEN])
{
	static const uint8_t zeros[PE_CERT_ALIGN];
	EVP_MD_CTX *md = NULL;
	uint8_t out[SHA256_LEN];
	size_t after_sum, after_dir, pad;
	int r = SG_ERR_INVALID_ARGUMENT;

	if (buf == NULL || img == NULL || img->checksum_off > img->certdir_off ||
	    img->certdir_off > img->hashed_end || img->hashed_end - img->certdir_off < 8 ||
	    img->certdir_off - img->checksum_off < 4)
		goto out;
	after_sum = img->checksum_off + 4;
	after_dir = img->certdir_off + 8;
	/* Signing pads an unsigned image to 8 bytes; the digest covers that
	 * padding (a signed image's hashed bytes end 8-aligned already). */
	pad = img->is_signed ? 0 : align8(img->hashed_end) - img->hashed_end;
	r = SG_ERR_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, buf, img->checksum_off) != 1 ||
	    EVP_DigestUpdate(md, buf + after_sum, img->certdir_off - after_sum) != 1 ||
	    EVP_DigestUpdate(md, buf + after_dir, img->hashed_end - after_dir) != 1 ||
	    EVP_DigestUpdate(md, zeros, pad) != 1 || EVP_DigestFinal_ex(md, out, NULL) != 1) {
		r = crypto_err(SG_ERR_CRYPTO);
		goto out;
	}
	memcpy(ret, out, SHA256_LEN);
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

int
pe_signature(const uint8_t *buf, const struct pe_image *img, const uint8_t **ret, size_t *ret_len)
{
	const uint8_t *cert;
	size_t dwlen, der_len, i;
	int r = SG_ERR_INVALID_ARGUMENT;

	if (buf == NULL || img == NULL || ret == NULL || ret_len == NULL)
		goto out;
	r = SG_ERR_NOT_FOUND;
	if (!img->is_signed)
		goto out;
	r = SG_ERR_PARSE;
	/* pe_parse() checked that the first entry lies inside the table. */
	if (img->cert_len < PE_WIN_CERT_HDR)
		goto out;
	dwlen = le32(buf + img->cert_off);
	if (dwlen < PE_WIN_CERT_HDR || dwlen > img->cert_len)
		goto out;
	cert = buf + img->cert_off + PE_WIN_CERT_HDR;
	dwlen -= PE_WIN_CERT_HDR;
	if (der_sequence_len(cert, dwlen, &der_len) != 0 || dwlen - der_len >= PE_CERT_ALIGN)
		goto out;
	for (i = der_len; i < dwlen; i++)
		if (cert[i] != 0)
			goto out;
	*ret = cert;
	*ret_len = der_len;
	r = 0;
out:
	return r;
}

uint32_t
pe_checksum(const uint8_t *buf, size_t len, size_t checksum_off)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < len; i += 2) {
		uint32_t lo = buf[i], hi = i + 1 < len ? buf[i + 1] : 0;

		/* Unsigned: i - checksum_off wraps to a large value below it. */
		if (i - checksum_off < 4)
			lo = 0;
		if (i + 1 - checksum_off < 4)
			hi = 0;
		sum += lo | hi << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)(sum + (uint32_t)len);
}

int
pe_embed(const uint8_t *buf, const struct pe_image *img, const uint8_t *pkcs7, size_t plen,
    uint8_t **ret, size_t *ret_len)
{
	uint8_t *out = NULL;
	size_t table_off, entry_len, table_len, total, der_len;
	int r = SG_ERR_INVALID_ARGUMENT;

	if (buf == NULL || img == NULL || pkcs7 == NULL || ret == NULL || ret_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (der_sequence_len(pkcs7, plen, &der_len) != 0 || der_len != plen)
		goto out;
	if (img->hashed_end > PE_IMAGE_MAX || img->checksum_off > img->hashed_end ||
	    img->hashed_end - img->checksum_off < 4 || img->certdir_off > img->hashed_end ||
	    img->hashed_end - img->certdir_off < 8)
		goto out;
	r = SG_ERR_LIMIT;
	table_off = align8(img->hashed_end);
	if (plen > PE_IMAGE_MAX)
		goto out;
	entry_len = PE_WIN_CERT_HDR + plen;
	table_len = align8(entry_len);
	if (table_off > PE_IMAGE_MAX || table_len > PE_IMAGE_MAX - table_off)
		goto out;
	total = table_off + table_len;
	r = SG_ERR_ALLOC;
	/* calloc: the padding before and after the entry is zeros. */
	if ((out = calloc(1, total)) == NULL)
		goto out;
	memcpy(out, buf, img->hashed_end);
	put_le32(out + table_off, (uint32_t)entry_len);
	put_le16(out + table_off + 4, PE_WIN_CERT_REV2);
	put_le16(out + table_off + 6, PE_WIN_CERT_PKCS7);
	memcpy(out + table_off + PE_WIN_CERT_HDR, pkcs7, plen);
	put_le32(out + img->certdir_off, (uint32_t)table_off);
	put_le32(out + img->certdir_off + 4, (uint32_t)table_len);
	put_le32(out + img->checksum_off, pe_checksum(out, total, img->checksum_off));
	*ret = out;
	*ret_len = total;
	out = NULL;
	r = 0;
out:
	free(out);
	return r;
}
