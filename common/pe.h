/*
 * pe.h — PE32 and PE32+ images (Windows .exe, .dll, .sys and UEFI .efi)
 * for Authenticode (the `authenticode` format, SPEC §4): a strict parser,
 * the Authenticode image digest, and the embedding of a PKCS#7 SignedData
 * in the image's certificate table.  Bytes in, results out: no I/O.
 *
 * The layout, as far as Authenticode cares (offsets from the start of the
 * file, all integers little-endian):
 *
 *     0            DOS header: "MZ" ... e_lfanew (u32 at 0x3c)
 *     e_lfanew     "PE\0\0", then the COFF header (20 bytes): Machine,
 *                  NumberOfSections, ..., SizeOfOptionalHeader
 *     e_lfanew+24  the optional header: Magic 0x10b (PE32) or 0x20b
 *                  (PE32+); CheckSum at +64 in both; NumberOfRvaAndSizes
 *                  at +92 (PE32) or +108 (PE32+), then that many data
 *                  directory entries (8 bytes each: address, size); entry
 *                  4 is the certificate table, whose address is a FILE
 *                  offset, not an RVA
 *     ...          the section table (40 bytes per section), inside
 *                  SizeOfHeaders
 *     ...          the sections' raw data, perhaps data after it
 *     cert_off     the certificate table: WIN_CERTIFICATE entries
 *                  {u32 dwLength, u16 wRevision, u16 wCertificateType,
 *                  bCertificate[dwLength - 8]}, each starting 8-aligned
 *
 * The image digest is the SHA-256 of the file from 0 to the certificate
 * table (the whole file when there is none) without the CheckSum field and
 * without the certificate table's directory entry; an unsigned file whose
 * length is not a multiple of 8 is hashed as if padded with zeros to 8,
 * because signing pads it so.  This is the digest that osslsigncode,
 * sbsign and signtool compute (hashing the file linearly, not section by
 * section as the old Authenticode paper describes: the two agree on images
 * whose sections follow each other, and Windows itself hashes linearly).
 *
 * What pe_parse() accepts, checked in this order (the first failure is the
 * one reported in `why`; sections are numbered from 1):
 *
 *   1. at most PE_IMAGE_MAX bytes (else SG_ERR_LIMIT), a whole DOS header
 *      with "MZ", e_lfanew at or past the DOS header (64), a multiple of
 *      4, with the PE signature and COFF header inside the file, "PE\0\0";
 *   2. 1 to PE_SECTIONS_MAX sections; an optional header inside the file
 *      with magic 0x10b or 0x20b, NumberOfRvaAndSizes from
 *      PE_CERT_DIR_INDEX + 1 to PE_DATA_DIRS_MAX, and SizeOfOptionalHeader
 *      exactly the fixed part plus 8 bytes per data directory entry;
 *   3. SizeOfHeaders inside the file, the section table inside the file
 *      and inside SizeOfHeaders;
 *   4. each section with raw data: at or past SizeOfHeaders, inside the
 *      file, overlapping no other section's raw data;
 *   5. the certificate table entry: both zero (unsigned), or a table that
 *      starts at or past the end of the headers and of every section's raw
 *      data, 8-aligned, and ends exactly at the end of the file (nothing
 *      may follow it: that is where unsigned data used to hide, MS12-024);
 *   6. the table holds one or more WIN_CERTIFICATE entries, each with
 *      dwLength >= 8 inside the table, wRevision 0x0200, wCertificateType
 *      0x0002 (PKCS_SIGNED_DATA), followed by zero padding to 8 bytes; the
 *      last entry's padding ends the table.
 *
 * dwLength may count the padding (osslsigncode, signtool) or not (sbsign);
 * both are accepted.  pe_embed() writes dwLength without the padding, as
 * the PE specification describes it; pe_signature() returns the DER
 * SignedData without any padding either way.
 */
#ifndef SG_PE_H
#define SG_PE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define PE_IMAGE_MAX      ((size_t)1 << 31) /* bytes of an image we accept */
#define PE_SECTIONS_MAX   96                /* sections (the Windows loader's limit) */
#define PE_DATA_DIRS_MAX  16                /* data directory entries */
#define PE_CERT_DIR_INDEX 4                 /* IMAGE_DIRECTORY_ENTRY_SECURITY */
#define PE_CERT_ALIGN     8                 /* bytes: alignment of the certificate table */
#define PE_WIN_CERT_HDR   8                 /* bytes of a WIN_CERTIFICATE before bCertificate */
#define PE_WIN_CERT_REV2  0x0200            /* WIN_CERT_REVISION_2_0 */
#define PE_WIN_CERT_PKCS7 0x0002            /* WIN_CERT_TYPE_PKCS_SIGNED_DATA */
#define PE_WHY_MAX        192               /* bytes: enough for any of pe_parse()'s reasons */

/* What pe_parse() found.  Every offset is a file offset in bytes, every
 * length a number of bytes; all lie inside the parsed file. */
struct pe_image {
	size_t len;          /* length of the parsed file */
	int pe32plus;        /* 0: PE32 (magic 0x10b), 1: PE32+ (0x20b) */
	uint16_t machine;    /* COFF Machine (0x14c i386, 0x8664 x86-64, ...) */
	uint16_t subsystem;  /* optional header Subsystem (2 GUI, 3 console, 10 EFI app...) */
	unsigned nsections;  /* NumberOfSections, 1..PE_SECTIONS_MAX */
	size_t headers_len;  /* SizeOfHeaders */
	size_t sections_end; /* end of the headers and of every section's raw data */
	size_t checksum_off; /* OptionalHeader.CheckSum (4 bytes) */
	uint32_t checksum;   /* its value as found (0 in many images: not checked) */
	size_t certdir_off;  /* the certificate table's data directory entry (8 bytes) */
	int is_signed;       /* 1 if the image has a certificate table */
	size_t cert_off;     /* the certificate table; 0 when unsigned */
	size_t cert_len;     /* its length; 0 when unsigned (cert_off + cert_len == len) */
	unsigned ncerts;     /* WIN_CERTIFICATE entries in the table; 0 when unsigned */
	size_t hashed_end;   /* where the hashed bytes end: cert_off if signed, else len */
};

/*
 * Parses the len bytes at buf as a PE32 or PE32+ image (the checks above).
 * On success *ret describes it.  On failure *ret is untouched and why (if
 * not NULL, whylen bytes, PE_WHY_MAX is enough) holds one line saying what
 * is wrong, e.g. "section 3 (.data) lies outside the file: raw data at
 * 0x1000, 0x2000 bytes, the file ends at 0x2800".  SG_ERR_PARSE, SG_ERR_LIMIT (more
 * than PE_IMAGE_MAX bytes; buf is not read), SG_ERR_INVALID_ARGUMENT (NULL
 * buf or ret).
 */
int pe_parse(
    const uint8_t *buf, size_t len, struct pe_image *ret, char *why, size_t whylen) SG_MUST_CHECK;

/*
 * The Authenticode image digest (SHA-256, see above) of buf, which img
 * describes (pe_parse() of the same bytes).  The digest of an image signed
 * by pe_embed() equals that of its input.  SG_ERR_CRYPTO (OpenSSL failed,
 * in practice out of memory); ret is written only on success.
 */
int pe_authenticode_digest(
    const uint8_t *buf, const struct pe_image *img, uint8_t ret[SHA256_LEN]) SG_MUST_CHECK;

/*
 * The PKCS#7 SignedData of the first WIN_CERTIFICATE of a signed image:
 * *ret points into buf (borrowed for as long as buf lives), *ret_len is
 * the length of its outer DER element, without the padding that may
 * follow it inside bCertificate.  SG_ERR_NOT_FOUND (unsigned image),
 * SG_ERR_PARSE (bCertificate does not hold one definite-length DER
 * SEQUENCE followed by at most 7 zero bytes).  Outputs set only on success.
 */
int pe_signature(const uint8_t *buf, const struct pe_image *img, const uint8_t **ret,
    size_t *ret_len) SG_MUST_CHECK;

/*
 * Builds the signed image: buf[0..img->hashed_end) (an image that was
 * already signed loses its certificate table), zeros to the next multiple
 * of 8, then one WIN_CERTIFICATE {dwLength = 8 + plen, wRevision 0x0200,
 * wCertificateType 0x0002, the plen bytes at pkcs7} and zeros to a
 * multiple of 8; the certificate table's directory entry points at it and
 * CheckSum is recomputed (pe_checksum()).  The output parses, and its
 * pe_authenticode_digest() equals that of the input; pkcs7 must be exactly
 * one DER SEQUENCE (what pe_signature() gives back).  Caller frees *ret
 * with free().  SG_ERR_INVALID_ARGUMENT (NULL argument, pkcs7 not one DER
 * SEQUENCE of plen bytes, or an img whose offsets do not fit inside its
 * hashed bytes), SG_ERR_LIMIT (the
 * output would exceed PE_IMAGE_MAX), SG_ERR_ALLOC.  Outputs set only on
 * success.
 */
int pe_embed(const uint8_t *buf, const struct pe_image *img, const uint8_t *pkcs7, size_t plen,
    uint8_t **ret, size_t *ret_len) SG_MUST_CHECK;

/*
 * The PE image checksum of buf[0..len) as Windows' CheckSumMappedFile
 * computes it: the file as 16-bit little-endian words (an odd last byte
 * is a word of its own), the 4 bytes at checksum_off counted as zero,
 * added with the carries folded back into 16 bits, plus len.  (osslsigncode
 * ignores an odd last byte instead; the images pe_embed() writes have an
 * even length, where the two agree.)  Never fails.
 */
uint32_t pe_checksum(const uint8_t *buf, size_t len, size_t checksum_off);

#endif
