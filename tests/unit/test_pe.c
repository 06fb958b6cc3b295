/*
 * test_pe.c — pe.h: PE32 and PE32+ images built here (DOS header, PE
 * header, optional header, section table, sections), the parser's
 * refusals with their reasons, the Authenticode digest, pe_embed() and
 * pe_signature(), the checksum; and the images of tests/data/pe/, among
 * them copies signed by osslsigncode and sbsign.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pe.h"
#include "testlib.h"
#include "util.h"

int main(void);

#define TEST_TIMEOUT_S 120
#define PE_DATA        TEST_DATA_DIR "/pe"
#define DATA_FILE_MAX  (64 * 1024)
#define SENTINEL_PTR   ((void *)0x5a5a)

/* Where build() puts things. */
#define T_LFANEW     0x80
#define T_COFF       (T_LFANEW + 4)
#define T_NSECT      (T_COFF + 2)
#define T_OPTSIZE    (T_COFF + 16)
#define T_OPT        (T_COFF + 20)
#define T_HDRSIZE    (T_OPT + 60)
#define T_CHECKSUM   (T_OPT + 64)
#define T_SUBSYS     (T_OPT + 68)
#define T_FIXED(p)   ((p) ? 112u : 96u)
#define T_NRVA(p)    (T_OPT + T_FIXED(p) - 4)
#define T_CERTDIR(p) (T_OPT + T_FIXED(p) + 32)
/* The section table with NumberOfRvaAndSizes n. */
#define T_SECT(p, n) (T_OPT + T_FIXED(p) + 8 * (n))

/* The Authenticode digests that osslsigncode 2.9 prints for the images of
 * tests/data/pe/ (tests/data/pe/README). */
#define TINY32_DIGEST "a6a7458d71a65a270ac2d540f6e3d31cbb881a2149cffd8b8adbaf07aca21706"
#define TINY64_DIGEST "24a45ab8dc58a30539644272b510baed2da5113e88ff8ebe4c26b9c2e811e1d7"

/* A stand-in PKCS#7: one DER SEQUENCE (an OID inside), 13 bytes. */
static const uint8_t fake_p7[] = { 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x07, 0x02 };

/* What build() makes. */
struct shape {
	int plus;       /* PE32+ */
	unsigned nsect; /* sections */
	unsigned nrva;  /* NumberOfRvaAndSizes (SizeOfOptionalHeader follows) */
	size_t hdr_len; /* SizeOfHeaders */
	size_t raw_len; /* raw bytes of each section (0: no raw data) */
	size_t tail;    /* bytes after the last section */
};

static const struct shape pe32 = { 0, 2, 16, 0x200, 0x200, 0 };
static const struct shape pe32plus = { 1, 2, 16, 0x200, 0x200, 0 };

static void
w16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void
w32(uint8_t *p, size_t off, uint32_t v)
{
	w16(p, off, (uint16_t)v);
	w16(p, off + 2, (uint16_t)(v >> 16));
}

static uint32_t
r32(const uint8_t *p, size_t off)
{
	return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
	    (uint32_t)p[off + 3] << 24;
}

/*
 * A minimal valid image of that shape: DOS header with e_lfanew 0x80, "PE",
 * the COFF header (i386 or x86-64), the optional header (console program
 * or EFI application), the section table, each section's raw data in turn
 * after the headers (filled with a pattern), then the tail.  The caller
 * frees it.
 */
static uint8_t *
build(const struct shape *sh, size_t *ret_len)
{
	size_t fixed = T_FIXED(sh->plus), len = sh->hdr_len + sh->nsect * sh->raw_len + sh->tail;
	size_t sect = T_SECT(sh->plus, sh->nrva), i;
	uint8_t *b = calloc(1, len);

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_le(sect + 40 * sh->nsect, sh->hdr_len);
	b[0] = 'M';
	b[1] = 'Z';
	w32(b, 0x3c, T_LFANEW);
	memcpy(b + T_LFANEW, "PE\0\0", 4);
	w16(b, T_COFF, sh->plus ? 0x8664 : 0x14c);
	w16(b, T_NSECT, (uint16_t)sh->nsect);
	w16(b, T_OPTSIZE, (uint16_t)(fixed + 8 * sh->nrva));
	w16(b, T_COFF + 18, sh->plus ? 0x22 : 0x102);
	w16(b, T_OPT, sh->plus ? 0x20b : 0x10b);
	w32(b, T_OPT + 16, 0x1000);                   /* AddressOfEntryPoint */
	w32(b, T_OPT + 32, 0x1000);                   /* SectionAlignment */
	w32(b, T_OPT + 36, 0x200);                    /* FileAlignment */
	w32(b, T_OPT + 56, 0x1000 * (sh->nsect + 1)); /* SizeOfImage */
	w32(b, T_HDRSIZE, (uint32_t)sh->hdr_len);
	w16(b, T_SUBSYS, sh->plus ? 10 : 3);
	w32(b, T_NRVA(sh->plus), sh->nrva);
	for (i = 0; i < sh->nsect; i++) {
		uint8_t *s = b + sect + 40 * i;
		char name[24];

		snprintf(name, sizeof(name), ".s%zu", i + 1);
		memcpy(s, name, strlen(name) < 8 ? strlen(name) : 8);
		w32(s, 8, 0x200);                         /* VirtualSize */
		w32(s, 12, (uint32_t)(0x1000 * (i + 1))); /* VirtualAddress */
		w32(s, 16, (uint32_t)sh->raw_len);
		w32(s, 20, sh->raw_len ? (uint32_t)(sh->hdr_len + i * sh->raw_len) : 0);
		w32(s, 36, 0x60000020);
	}
	for (i = sh->hdr_len; i < len; i++)
		b[i] = (uint8_t)(i * 7 + 3);
	*ret_len = len;
	return b;
}

/* buf (len bytes, unsigned) with zeros to 8 and the table bytes as its
 * certificate table, the directory entry pointed at it.  Caller frees. */
static uint8_t *
with_table(
    const uint8_t *buf, size_t len, int plus, const uint8_t *table, size_t tlen, size_t *ret_len)
{
	size_t off = (len + 7) & ~(size_t)7;
	uint8_t *b = calloc(1, off + tlen);

	ck_assert_ptr_nonnull(b);
	memcpy(b, buf, len);
	memcpy(b + off, table, tlen);
	w32(b, T_CERTDIR(plus), (uint32_t)off);
	w32(b, T_CERTDIR(plus) + 4, (uint32_t)tlen);
	*ret_len = off + tlen;
	return b;
}

/* A WIN_CERTIFICATE of fake_p7 at t (24 bytes with its padding) with these
 * header fields. */
static void
win_cert(uint8_t t[24], uint32_t dwlen, uint16_t rev, uint16_t type)
{
	memset(t, 0, 24);
	w32(t, 0, dwlen);
	w16(t, 4, rev);
	w16(t, 6, type);
	memcpy(t + 8, fake_p7, sizeof(fake_p7));
}

/* The digest computed the slow way: copy what is hashed, then SHA-256. */
static void
ref_digest(const uint8_t *b, size_t hashed_end, size_t checksum_off, size_t certdir_off, size_t pad,
    uint8_t out[SHA256_LEN])
{
	uint8_t *c = calloc(1, hashed_end + pad + 1);
	size_t i, n = 0;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < hashed_end; i++) {
		if (i - checksum_off < 4 || i - certdir_off < 8)
			continue;
		c[n++] = b[i];
	}
	n += pad; /* calloc: zeros */
	ck_assert_int_eq(EVP_Digest(c, n, out, NULL, EVP_sha256(), NULL), 1);
	free(c);
}

static void
digest_hex(const uint8_t *b, const struct pe_image *img, char hex[SHA256_HEX_LEN + 1])
{
	uint8_t d[SHA256_LEN];

	ck_assert_int_eq(pe_authenticode_digest(b, img, d), 0);
	hex_encode(d, SHA256_LEN, hex);
}

static void
parse_ok(const uint8_t *b, size_t len, struct pe_image *img)
{
	char why[PE_WHY_MAX] = "";
	int r = pe_parse(b, len, img, why, sizeof(why));

	ck_assert_msg(r == 0, "pe_parse: %d: %s", r, why);
}

/* pe_parse() must refuse with code r, `want` in its reason, and leave
 * its output alone. */
static void
refused(const uint8_t *b, size_t len, int r, const char *want)
{
	struct pe_image img, before;
	char why[PE_WHY_MAX] = "";

	memset(&img, 0x5a, sizeof(img));
	before = img;
	ck_assert_int_eq(pe_parse(b, len, &img, why, sizeof(why)), r);
	ck_assert_msg(strstr(why, want) != NULL, "why \"%s\" lacks \"%s\"", why, want);
	ck_assert(memcmp(&img, &before, sizeof(img)) == 0);
}

/* build(sh), then v written as a u32 (size 4) or u16 (size 2) at off,
 * then refused() with want. */
static void
refused_with(const struct shape *sh, size_t off, int size, uint32_t v, const char *want)
{
	size_t len;
	uint8_t *b = build(sh, &len);

	if (size == 2)
		w16(b, off, (uint16_t)v);
	else
		w32(b, off, v);
	refused(b, len, SG_ERR_PARSE, want);
	free(b);
}

static uint8_t *
data_file(const char *name, size_t *ret_len)
{
	char path[512];
	char *b = NULL;

	snprintf(path, sizeof(path), "%s/%s", PE_DATA, name);
	ck_assert_msg(read_file(path, DATA_FILE_MAX, &b, ret_len) == 0, "%s", path);
	return (uint8_t *)b;
}

START_TEST(test_parse_pe32)
{
	struct pe_image img;
	size_t len;
	uint8_t *b = build(&pe32, &len);

	parse_ok(b, len, &img);
	ck_assert_uint_eq(img.len, len);
	ck_assert_int_eq(img.pe32plus, 0);
	ck_assert_uint_eq(img.machine, 0x14c);
	ck_assert_uint_eq(img.subsystem, 3);
	ck_assert_uint_eq(img.nsections, 2);
	ck_assert_uint_eq(img.headers_len, 0x200);
	ck_assert_uint_eq(img.sections_end, 0x600);
	ck_assert_uint_eq(img.checksum_off, T_CHECKSUM);
	ck_assert_uint_eq(img.certdir_off, T_OPT + 96 + 32);
	ck_assert_int_eq(img.is_signed, 0);
	ck_assert_uint_eq(img.cert_off, 0);
	ck_assert_uint_eq(img.cert_len, 0);
	ck_assert_uint_eq(img.ncerts, 0);
	ck_assert_uint_eq(img.hashed_end, len);
	free(b);
}
END_TEST

START_TEST(test_parse_pe32plus)
{
	struct shape sh = pe32plus;
	struct pe_image img;
	size_t len;
	uint8_t *b;

	sh.tail = 100; /* data after the sections is part of the image */
	b = build(&sh, &len);
	w32(b, T_CHECKSUM, 0x12345678);
	parse_ok(b, len, &img);
	ck_assert_int_eq(img.pe32plus, 1);
	ck_assert_uint_eq(img.machine, 0x8664);
	ck_assert_uint_eq(img.subsystem, 10);
	ck_assert_uint_eq(img.checksum, 0x12345678);
	ck_assert_uint_eq(img.certdir_off, T_OPT + 112 + 32);
	ck_assert_uint_eq(img.sections_end, 0x600);
	ck_assert_uint_eq(img.hashed_end, 0x600 + 100);
	free(b);
}
END_TEST

/* Each limit at its edge and one past it. */
START_TEST(test_parse_limits)
{
	struct shape sh = pe32plus;
	struct pe_image img;
	uint8_t *b;
	size_t len;

	/* 96 sections (without raw data, so their pointers mean nothing). */
	sh.nsect = PE_SECTIONS_MAX;
	sh.hdr_len = 0x1200;
	sh.raw_len = 0;
	b = build(&sh, &len);
	parse_ok(b, len, &img);
	ck_assert_uint_eq(img.nsections, 96);
	ck_assert_uint_eq(img.sections_end, 0x1200);
	w16(b, T_NSECT, 97);
	refused(b, len, SG_ERR_PARSE, "NumberOfSections 97 is more than 96");
	w16(b, T_NSECT, 0xffff);
	refused(b, len, SG_ERR_PARSE, "NumberOfSections 65535 is more than 96");
	w16(b, T_NSECT, 0);
	refused(b, len, SG_ERR_PARSE, "the image has no sections");
	free(b);

	/* 96 sections with 8 bytes of raw data each. */
	sh.raw_len = 8;
	b = build(&sh, &len);
	parse_ok(b, len, &img);
	ck_assert_uint_eq(img.sections_end, 0x1200 + 96 * 8);
	free(b);

	/* NumberOfRvaAndSizes 5 (the certificate table is the last entry) and 16. */
	for (unsigned n = 5; n <= 16; n += 11) {
		sh = pe32;
		sh.nrva = n;
		b = build(&sh, &len);
		parse_ok(b, len, &img);
		ck_assert_uint_eq(img.certdir_off, T_OPT + 96 + 32);
		free(b);
	}
	sh = pe32;
	sh.nrva = 4;
	b = build(&sh, &len);
	refused(b, len, SG_ERR_PARSE, "NumberOfRvaAndSizes 4 has no certificate table entry");
	w32(b, T_NRVA(0), 0);
	refused(b, len, SG_ERR_PARSE, "NumberOfRvaAndSizes 0 has no certificate table entry");
	free(b);
	sh.nrva = 16;
	refused_with(&sh, T_NRVA(0), 4, 17, "NumberOfRvaAndSizes 17 is more than 16");
	refused_with(
	    &sh, T_NRVA(0), 4, 0xffffffff, "NumberOfRvaAndSizes 4294967295 is more than 16");
}
END_TEST

START_TEST(test_refuse_dos_header)
{
	size_t len;
	uint8_t *b = build(&pe32, &len);

	refused(b, 0, SG_ERR_PARSE, "truncated: the DOS header needs 64 bytes, the file has 0");
	refused(b, 63, SG_ERR_PARSE, "truncated: the DOS header needs 64 bytes, the file has 63");
	b[1] = 'Y';
	refused(b, len, SG_ERR_PARSE, "no MZ signature");
	free(b);
	refused_with(&pe32, 0x3c, 4, 0x3c, "e_lfanew 0x3c points inside the DOS header");
	refused_with(&pe32, 0x3c, 4, 0x82, "e_lfanew 0x82 is not a multiple of 4");
	refused_with(&pe32, 0x3c, 4, 0x10000,
	    "truncated: the PE header at offset 0x10000 runs past the end of the file (1536 "
	    "bytes)");
	refused_with(
	    &pe32, 0x3c, 4, 0xfffffffc, "the PE header at offset 0xfffffffc runs past the end");
	/* e_lfanew 0x40, right after the DOS header: no "PE" there. */
	refused_with(&pe32, 0x3c, 4, 0x40, "no PE signature at offset 0x40");
	refused_with(&pe32, T_LFANEW, 4, 0x01004550, "no PE signature at offset 0x80");
}
END_TEST

START_TEST(test_refuse_truncated_headers)
{
	size_t len;
	uint8_t *b = build(&pe32plus, &len);

	/* The PE signature and COFF header end at 0x98. */
	refused(b, 0x97, SG_ERR_PARSE,
	    "truncated: the PE header at offset 0x80 runs past the end of the file (151 bytes)");
	refused(b, 0x99, SG_ERR_PARSE, "truncated: the optional header at offset 0x98");
	refused(b, 0x98 + 239, SG_ERR_PARSE,
	    "the optional header at offset 0x98 (240 bytes) runs past the end of the file");
	/* Then SizeOfHeaders (0x200) is past the end. */
	refused(b, 0x98 + 240, SG_ERR_PARSE, "SizeOfHeaders 0x200 is past the end of the file");
	free(b);
}
END_TEST

START_TEST(test_refuse_optional_header)
{
	refused_with(&pe32, T_OPT, 2, 0x107,
	    "optional header magic 0x0107 is neither PE32 (0x10b) nor PE32+ (0x20b)");
	/* A PE32 header with the PE32+ magic reads NumberOfRvaAndSizes from
	 * the data directories. */
	refused_with(
	    &pe32, T_OPT, 2, 0x20b, "NumberOfRvaAndSizes 0 has no certificate table entry");
	refused_with(&pe32plus, T_OPTSIZE, 2, 111,
	    "SizeOfOptionalHeader 111 is too small for a PE32+ optional header");
	refused_with(&pe32, T_OPTSIZE, 2, 0,
	    "SizeOfOptionalHeader 0 is too small for a PE32 optional header");
	refused_with(&pe32plus, T_OPTSIZE, 2, 232,
	    "SizeOfOptionalHeader 232 does not match NumberOfRvaAndSizes 16 (240 bytes expected)");
	refused_with(&pe32, T_OPTSIZE, 2, 232,
	    "SizeOfOptionalHeader 232 does not match NumberOfRvaAndSizes 16 (224 bytes expected)");
	refused_with(
	    &pe32, T_OPTSIZE, 2, 0xffff, "the optional header at offset 0x98 (65535 bytes)");
}
END_TEST

START_TEST(test_refuse_section_table)
{
	struct shape sh = pe32plus;

	/* 40 sections: the table runs past the file (0x188 + 1600). */
	refused_with(&pe32plus, T_NSECT, 2, 40,
	    "truncated: the section table (40 entries at 0x188) runs past the end of the file");
	/* 3 sections end at 0x200 exactly (accepted below); 4 do not fit. */
	sh.nsect = 3;
	refused_with(&sh, T_NSECT, 2, 4,
	    "the section table (4 entries at 0x188) runs past "
	    "SizeOfHeaders 0x200");
	refused_with(&pe32plus, T_HDRSIZE, 4, 0x1d0, "runs past SizeOfHeaders 0x1d0");
	refused_with(&pe32plus, T_HDRSIZE, 4, 0x601,
	    "SizeOfHeaders 0x601 is past the end of the file (1536 bytes)");
	refused_with(
	    &pe32plus, T_HDRSIZE, 4, 0xffffffff, "SizeOfHeaders 0xffffffff is past the end");
	{
		struct pe_image img;
		size_t len;
		uint8_t *b = build(&sh, &len);

		parse_ok(b, len, &img);
		ck_assert_uint_eq(img.nsections, 3);
		w32(b, T_HDRSIZE, 0x600);
		refused(
		    b, len, SG_ERR_PARSE, "section 1 (.s1) starts at 0x200, inside the headers");
		free(b);
	}
}
END_TEST

START_TEST(test_refuse_sections)
{
	size_t s1 = T_SECT(1, 16), s2 = s1 + 40, len;
	struct pe_image img;
	uint8_t *b;

	refused_with(&pe32plus, s2 + 16, 4, 0x201,
	    "section 2 (.s2) lies outside the file: raw data at 0x400, 0x201 bytes, the file ends "
	    "at 0x600");
	refused_with(&pe32plus, s2 + 20, 4, 0x401, "section 2 (.s2) lies outside the file");
	refused_with(&pe32plus, s1 + 20, 4, 0xfffffe00,
	    "section 1 (.s1) lies outside the file: raw data at 0xfffffe00");
	refused_with(&pe32plus, s2 + 16, 4, 0xffffffff, "section 2 (.s2) lies outside the file");
	refused_with(&pe32plus, s1 + 20, 4, 0x1f8,
	    "section 1 (.s1) starts at 0x1f8, inside the headers (SizeOfHeaders 0x200)");
	refused_with(
	    &pe32plus, s2 + 20, 4, 0x3ff, "sections 1 (.s1) and 2 (.s2) overlap in the file");
	refused_with(&pe32plus, s2 + 20, 4, 0x200, "sections 1 (.s1) and 2 (.s2) overlap");
	/* A name that is not printable is shown with '?'. */
	b = build(&pe32plus, &len);
	memcpy(b + s2, "\x01\xff.x\0\0\0\0", 8);
	w32(b, s2 + 20, 0x300);
	refused(b, len, SG_ERR_PARSE, "sections 1 (.s1) and 2 (??.x) overlap");
	/* Every truncation of the image (which ends with a section) is refused. */
	w32(b, s2 + 20, 0x400);
	parse_ok(b, len, &img);
	for (size_t n = 0; n < len; n++) {
		char why[PE_WHY_MAX];

		ck_assert_int_eq(pe_parse(b, n, &img, why, sizeof(why)), SG_ERR_PARSE);
	}
	/* A section without raw data may point anywhere. */
	w32(b, s2 + 16, 0);
	w32(b, s2 + 20, 0xffffffff);
	parse_ok(b, len, &img);
	ck_assert_uint_eq(img.sections_end, 0x400);
	free(b);
}
END_TEST

START_TEST(test_refuse_cert_table)
{
	size_t len, slen, dir = T_CERTDIR(1);
	uint8_t *u = build(&pe32plus, &len), *s, t[24];
	struct pe_image img;

	win_cert(t, 21, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	parse_ok(s, slen, &img);
	ck_assert_int_eq(img.is_signed, 1);
	ck_assert_uint_eq(img.cert_off, 0x600);
	ck_assert_uint_eq(img.cert_len, 24);
	ck_assert_uint_eq(img.ncerts, 1);
	ck_assert_uint_eq(img.hashed_end, 0x600);

	w32(s, dir + 4, 0);
	refused(s, slen, SG_ERR_PARSE,
	    "the certificate table entry is half empty (offset 0x600, 0 bytes)");
	w32(s, dir, 0);
	w32(s, dir + 4, 24);
	refused(s, slen, SG_ERR_PARSE, "the certificate table entry is half empty (offset 0x0, 24");
	w32(s, dir, 0x5f8);
	refused(s, slen, SG_ERR_PARSE,
	    "the certificate table at 0x5f8 overlaps the headers or the section data, which end "
	    "at 0x600");
	w32(s, dir, 0x604);
	refused(s, slen, SG_ERR_PARSE, "the certificate table at 0x604 is not 8-byte aligned");
	w32(s, dir, 0x608);
	refused(s, slen, SG_ERR_PARSE,
	    "the certificate table at 0x608 of 24 bytes runs past the end of the file (1560 "
	    "bytes)");
	w32(s, dir, 0xfffffff8);
	refused(s, slen, SG_ERR_PARSE, "the certificate table at 0xfffffff8 of 24 bytes runs past");
	w32(s, dir, 0x600);
	w32(s, dir + 4, 0xfffffff8);
	refused(
	    s, slen, SG_ERR_PARSE, "the certificate table at 0x600 of 4294967288 bytes runs past");
	w32(s, dir + 4, 16);
	refused(s, slen, SG_ERR_PARSE,
	    "data after the certificate table: the table ends at 0x610, the file at 0x618");
	w32(s, dir + 4, 24);
	parse_ok(s, slen, &img);
	free(s);

	/* The WIN_CERTIFICATE fields. */
	win_cert(t, 7, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	refused(s, slen, SG_ERR_PARSE, "certificate entry 1 at 0x600: dwLength 7 is less than 8");
	free(s);
	win_cert(t, 25, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	refused(s, slen, SG_ERR_PARSE,
	    "certificate entry 1 at 0x600: dwLength 25 runs past the end of the certificate table "
	    "(24 bytes left)");
	free(s);
	win_cert(t, 0xffffffff, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	refused(s, slen, SG_ERR_PARSE, "dwLength 4294967295 runs past the end");
	free(s);
	win_cert(t, 21, 0x0100, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	refused(s, slen, SG_ERR_PARSE, "wRevision 0x0100 is not 0x0200");
	free(s);
	win_cert(t, 21, PE_WIN_CERT_REV2, 0x0001);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	refused(s, slen, SG_ERR_PARSE, "wCertificateType 0x0001 is not PKCS_SIGNED_DATA (0x0002)");
	free(s);
	win_cert(t, 21, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	t[23] = 1;
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	refused(s, slen, SG_ERR_PARSE,
	    "certificate entry 1 at 0x600: non-zero padding after dwLength 21");
	free(s);
	/* dwLength may count the padding (osslsigncode does). */
	win_cert(t, 24, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, sizeof(t), &slen);
	parse_ok(s, slen, &img);
	free(s);
	/* A table that ends before the padding of its last entry. */
	win_cert(t, 21, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 1, t, 21, &slen);
	w32(s, dir + 4, 21);
	ck_assert_uint_eq(slen, 0x600 + 21);
	refused(s, slen, SG_ERR_PARSE,
	    "certificate entry 1 at 0x600: the table ends before its padding to 8 bytes");
	free(s);
	free(u);
}
END_TEST

START_TEST(test_cert_table_entries)
{
	size_t len, slen;
	uint8_t *u = build(&pe32, &len), *s, t[52];
	struct pe_image img;
	const uint8_t *sig;
	size_t sig_len;

	/* Two entries. */
	win_cert(t, 21, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	win_cert(t + 24, 24, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 0, t, 48, &slen);
	parse_ok(s, slen, &img);
	ck_assert_uint_eq(img.ncerts, 2);
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), 0);
	ck_assert_ptr_eq(sig, s + 0x600 + 8);
	ck_assert_uint_eq(sig_len, sizeof(fake_p7));
	free(s);
	/* The second one is 8 bytes of zeros: dwLength 0. */
	memset(t + 24, 0, 8);
	s = with_table(u, len, 0, t, 32, &slen);
	refused(s, slen, SG_ERR_PARSE, "certificate entry 2 at 0x618: dwLength 0 is less than 8");
	free(s);
	/* The table has 4 bytes after the first entry. */
	s = with_table(u, len, 0, t, 28, &slen);
	refused(s, slen, SG_ERR_PARSE,
	    "certificate entry 2 at 0x618 is truncated: 4 bytes left in the table");
	free(s);
	free(u);
}
END_TEST

/* Every bit of the certificate table's directory entry and of the
 * WIN_CERTIFICATE's revision and type matters; and every truncation of a
 * signed image is refused. */
START_TEST(test_signed_mutations)
{
	size_t len, slen, dir = T_CERTDIR(0);
	uint8_t *u = build(&pe32, &len), *s;
	struct pe_image img;
	char why[PE_WHY_MAX];

	ck_assert_int_eq(pe_parse(u, len, &img, why, sizeof(why)), 0);
	ck_assert_int_eq(pe_embed(u, &img, fake_p7, sizeof(fake_p7), &s, &slen), 0);
	parse_ok(s, slen, &img);
	for (size_t bit = 0; bit < 8 * 8; bit++) {
		s[dir + bit / 8] ^= (uint8_t)(1u << bit % 8);
		ck_assert_int_eq(pe_parse(s, slen, &img, why, sizeof(why)), SG_ERR_PARSE);
		s[dir + bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	for (size_t bit = 4 * 8; bit < 8 * 8; bit++) {
		s[0x600 + bit / 8] ^= (uint8_t)(1u << bit % 8);
		ck_assert_int_eq(pe_parse(s, slen, &img, why, sizeof(why)), SG_ERR_PARSE);
		s[0x600 + bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	for (size_t n = 0; n < slen; n++)
		ck_assert_int_eq(pe_parse(s, n, &img, why, sizeof(why)), SG_ERR_PARSE);
	parse_ok(s, slen, &img);
	free(s);
	free(u);
}
END_TEST

START_TEST(test_refuse_arguments)
{
	static const uint8_t small[64] = { 'M', 'Z' };
	struct pe_image img;
	char why[PE_WHY_MAX];

	/* The length is checked before anything is read. */
	refused(small, PE_IMAGE_MAX + 1, SG_ERR_LIMIT, "more than the 2147483648 bytes accepted");
	refused(small, SIZE_MAX, SG_ERR_LIMIT, "more than the");
	ck_assert_int_eq(pe_parse(NULL, 0, &img, why, sizeof(why)), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    pe_parse(small, sizeof(small), NULL, why, sizeof(why)), SG_ERR_INVALID_ARGUMENT);
	/* why may be NULL, or too short for the whole reason. */
	ck_assert_int_eq(pe_parse(small, 10, &img, NULL, 0), SG_ERR_PARSE);
	ck_assert_int_eq(pe_parse(small, 10, &img, why, 5), SG_ERR_PARSE);
	ck_assert_str_eq(why, "trun");
}
END_TEST

START_TEST(test_digest)
{
	uint8_t d[SHA256_LEN], want[SHA256_LEN];
	struct pe_image img;
	size_t len;
	uint8_t *b = build(&pe32plus, &len);

	parse_ok(b, len, &img);
	ck_assert_int_eq(pe_authenticode_digest(b, &img, d), 0);
	ref_digest(b, len, T_CHECKSUM, T_CERTDIR(1), 0, want);
	ck_assert(memcmp(d, want, SHA256_LEN) == 0);
	/* The CheckSum field is not hashed; the bytes around it are. */
	w32(b, T_CHECKSUM, 0xdeadbeef);
	ck_assert_int_eq(pe_authenticode_digest(b, &img, want), 0);
	ck_assert(memcmp(d, want, SHA256_LEN) == 0);
	b[T_CHECKSUM - 1] ^= 1;
	ck_assert_int_eq(pe_authenticode_digest(b, &img, want), 0);
	ck_assert(memcmp(d, want, SHA256_LEN) != 0);
	b[T_CHECKSUM - 1] ^= 1;
	b[T_CHECKSUM + 4] ^= 1;
	ck_assert_int_eq(pe_authenticode_digest(b, &img, want), 0);
	ck_assert(memcmp(d, want, SHA256_LEN) != 0);
	b[T_CHECKSUM + 4] ^= 1;
	b[len - 1] ^= 1;
	ck_assert_int_eq(pe_authenticode_digest(b, &img, want), 0);
	ck_assert(memcmp(d, want, SHA256_LEN) != 0);
	b[len - 1] ^= 1;
	b[T_CERTDIR(1) + 8] ^= 1;
	ck_assert_int_eq(pe_authenticode_digest(b, &img, want), 0);
	ck_assert(memcmp(d, want, SHA256_LEN) != 0);
	free(b);
}
END_TEST

/* An unsigned image whose length is not a multiple of 8 is hashed with
 * the zeros that pad it to 8: like the same image with those zeros. */
START_TEST(test_digest_padding)
{
	struct shape sh = pe32;
	uint8_t d[SHA256_LEN], want[SHA256_LEN], nopad[SHA256_LEN];
	struct pe_image img;
	size_t len;
	uint8_t *b;

	for (size_t tail = 1; tail <= 8; tail++) {
		size_t pad = (8 - tail % 8) % 8;

		sh.tail = tail;
		b = build(&sh, &len);
		parse_ok(b, len, &img);
		ck_assert_int_eq(pe_authenticode_digest(b, &img, d), 0);
		ref_digest(b, len, T_CHECKSUM, T_CERTDIR(0), pad, want);
		ck_assert(memcmp(d, want, SHA256_LEN) == 0);
		ref_digest(b, len, T_CHECKSUM, T_CERTDIR(0), 0, nopad);
		ck_assert_int_eq(memcmp(d, nopad, SHA256_LEN) == 0, pad == 0);
		free(b);
		/* The same image with its zeros written out. */
		sh.tail = tail + pad;
		b = build(&sh, &len);
		memset(b + len - pad, 0, pad);
		parse_ok(b, len, &img);
		ck_assert_int_eq(pe_authenticode_digest(b, &img, want), 0);
		ck_assert(memcmp(d, want, SHA256_LEN) == 0);
		free(b);
		sh.tail = tail;
	}
}
END_TEST

/* pe_embed(): the output parses, carries the signature where it says, has
 * a right checksum and the input's digest. */
static void
check_embed(const struct shape *sh, const uint8_t *p7, size_t plen)
{
	uint8_t d_in[SHA256_LEN], d_out[SHA256_LEN], *b, *out = NULL;
	struct pe_image in, img;
	const uint8_t *sig = NULL;
	size_t len, out_len = 0, sig_len = 0, table_off, i;

	b = build(sh, &len);
	w32(b, T_CHECKSUM, 0x11111111);
	parse_ok(b, len, &in);
	ck_assert_int_eq(pe_embed(b, &in, p7, plen, &out, &out_len), 0);
	table_off = (len + 7) & ~(size_t)7;
	ck_assert_uint_eq(out_len, table_off + ((8 + plen + 7) & ~(size_t)7));
	parse_ok(out, out_len, &img);
	ck_assert_int_eq(img.is_signed, 1);
	ck_assert_uint_eq(img.ncerts, 1);
	ck_assert_uint_eq(img.cert_off, table_off);
	ck_assert_uint_eq(img.cert_len, out_len - table_off);
	ck_assert_uint_eq(img.hashed_end, table_off);
	/* WIN_CERTIFICATE {dwLength 8 + plen, 0x0200, 0x0002}, then zeros. */
	ck_assert_uint_eq(r32(out, table_off), 8 + plen);
	ck_assert_uint_eq(r32(out, table_off + 4), 0x00020200);
	for (i = table_off + 8 + plen; i < out_len; i++)
		ck_assert_uint_eq(out[i], 0);
	/* Everything else is the input, the padding zeros. */
	for (i = 0; i < table_off; i++) {
		if (i - T_CHECKSUM < 4 || i - T_CERTDIR(sh->plus) < 8)
			continue;
		ck_assert_uint_eq(out[i], i < len ? b[i] : 0);
	}
	ck_assert_uint_eq(img.checksum, pe_checksum(out, out_len, img.checksum_off));
	ck_assert_uint_ne(img.checksum, 0x11111111);
	ck_assert_int_eq(pe_signature(out, &img, &sig, &sig_len), 0);
	ck_assert_ptr_eq(sig, out + table_off + 8);
	ck_assert_uint_eq(sig_len, plen);
	ck_assert(memcmp(sig, p7, plen) == 0);
	/* The Authenticode property. */
	ck_assert_int_eq(pe_authenticode_digest(b, &in, d_in), 0);
	ck_assert_int_eq(pe_authenticode_digest(out, &img, d_out), 0);
	ck_assert(memcmp(d_in, d_out, SHA256_LEN) == 0);
	free(out);
	free(b);
}

START_TEST(test_embed_round_trip)
{
	/* DER SEQUENCEs of 2 (empty), 13, 131 (long form) and 300 bytes. */
	uint8_t p7[300];
	struct shape sh;

	memset(p7, 0xa5, sizeof(p7));
	p7[0] = 0x30;
	p7[1] = 0;
	check_embed(&pe32, p7, 2);
	check_embed(&pe32plus, fake_p7, sizeof(fake_p7));
	p7[1] = 0x81;
	p7[2] = 128;
	check_embed(&pe32, p7, 131);
	p7[1] = 0x82;
	p7[2] = 0x01;
	p7[3] = 0x28;
	check_embed(&pe32plus, p7, 300);
	for (size_t tail = 1; tail < 8; tail++) {
		sh = tail % 2 ? pe32 : pe32plus;
		sh.tail = tail;
		check_embed(&sh, fake_p7, sizeof(fake_p7));
	}
}
END_TEST

/* Signing a signed image replaces its table: the result is the same as
 * signing the unsigned image. */
START_TEST(test_embed_replace)
{
	static const uint8_t other[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	struct shape sh = pe32plus;
	struct pe_image img;
	uint8_t *b, *a = NULL, *ab = NULL, *just_b = NULL;
	size_t len, a_len, ab_len, b_len;
	uint8_t d1[SHA256_LEN], d2[SHA256_LEN];

	sh.tail = 3;
	b = build(&sh, &len);
	parse_ok(b, len, &img);
	ck_assert_int_eq(pe_embed(b, &img, other, sizeof(other), &just_b, &b_len), 0);
	ck_assert_int_eq(pe_embed(b, &img, fake_p7, sizeof(fake_p7), &a, &a_len), 0);
	ck_assert_int_eq(pe_authenticode_digest(b, &img, d1), 0);
	parse_ok(a, a_len, &img);
	ck_assert_int_eq(pe_embed(a, &img, other, sizeof(other), &ab, &ab_len), 0);
	ck_assert_uint_eq(ab_len, b_len);
	ck_assert(memcmp(ab, just_b, b_len) == 0);
	parse_ok(ab, ab_len, &img);
	ck_assert_int_eq(pe_authenticode_digest(ab, &img, d2), 0);
	ck_assert(memcmp(d1, d2, SHA256_LEN) == 0);
	free(ab);
	free(a);
	free(just_b);
	free(b);
}
END_TEST

START_TEST(test_embed_refusals)
{
	static const uint8_t trailing[] = { 0x30, 0x00, 0x00 };
	static const uint8_t indefinite[] = { 0x30, 0x80, 0x00, 0x00 };
	static const uint8_t not_minimal[] = { 0x30, 0x81, 0x01, 0x00 };
	static const uint8_t not_seq[] = { 0x31, 0x00 };
	struct pe_image img, huge;
	uint8_t *b, *out = (uint8_t *)SENTINEL_PTR;
	size_t len, out_len = 77;

	b = build(&pe32, &len);
	parse_ok(b, len, &img);
	ck_assert_int_eq(pe_embed(b, &img, fake_p7, 0, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pe_embed(b, &img, fake_p7, 1, &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pe_embed(b, &img, fake_p7, sizeof(fake_p7) - 1, &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    pe_embed(b, &img, trailing, sizeof(trailing), &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pe_embed(b, &img, indefinite, sizeof(indefinite), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pe_embed(b, &img, not_minimal, sizeof(not_minimal), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    pe_embed(b, &img, not_seq, sizeof(not_seq), &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(pe_embed(NULL, &img, fake_p7, sizeof(fake_p7), &out, &out_len),
	    SG_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    pe_embed(b, NULL, fake_p7, sizeof(fake_p7), &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	/* An output past PE_IMAGE_MAX: refused before buf is read. */
	huge = img;
	huge.hashed_end = PE_IMAGE_MAX - 8;
	ck_assert_int_eq(
	    pe_embed(b, &huge, fake_p7, sizeof(fake_p7), &out, &out_len), SG_ERR_LIMIT);
	huge.hashed_end = PE_IMAGE_MAX + 1;
	ck_assert_int_eq(
	    pe_embed(b, &huge, fake_p7, sizeof(fake_p7), &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	/* An img whose fields lie past its hashed bytes. */
	huge = img;
	huge.hashed_end = img.certdir_off + 7;
	ck_assert_int_eq(
	    pe_embed(b, &huge, fake_p7, sizeof(fake_p7), &out, &out_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_eq(out, SENTINEL_PTR);
	ck_assert_uint_eq(out_len, 77);
	free(b);
}
END_TEST

START_TEST(test_signature)
{
	const uint8_t *sig = (const uint8_t *)SENTINEL_PTR;
	size_t len, slen, sig_len = 77;
	uint8_t *u = build(&pe32, &len), *s, t[32];
	struct pe_image img;

	parse_ok(u, len, &img);
	ck_assert_int_eq(pe_signature(u, &img, &sig, &sig_len), SG_ERR_NOT_FOUND);
	ck_assert_int_eq(pe_signature(NULL, &img, &sig, &sig_len), SG_ERR_INVALID_ARGUMENT);
	ck_assert_ptr_eq(sig, SENTINEL_PTR);
	ck_assert_uint_eq(sig_len, 77);

	/* bCertificate of 16 bytes: the DER element, then 3 zeros. */
	win_cert(t, 24, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 0, t, 24, &slen);
	parse_ok(s, slen, &img);
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), 0);
	ck_assert_uint_eq(sig_len, sizeof(fake_p7));
	/* Not zeros after it. */
	sig = (const uint8_t *)SENTINEL_PTR;
	sig_len = 77;
	s[0x600 + 8 + 13] = 1;
	parse_ok(s, slen, &img);
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), SG_ERR_PARSE);
	ck_assert_ptr_eq(sig, SENTINEL_PTR);
	ck_assert_uint_eq(sig_len, 77);
	s[0x600 + 8 + 13] = 0;
	/* Not a SEQUENCE, an indefinite length, a length past bCertificate. */
	s[0x600 + 8] = 0x31;
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), SG_ERR_PARSE);
	s[0x600 + 8] = 0x30;
	s[0x600 + 9] = 0x80;
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), SG_ERR_PARSE);
	s[0x600 + 9] = 0x0f;
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), SG_ERR_PARSE);
	s[0x600 + 9] = 0x0b;
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), 0);
	free(s);
	/* 8 zeros or more after the DER element are not padding. */
	memset(t, 0, sizeof(t));
	win_cert(t, 32, PE_WIN_CERT_REV2, PE_WIN_CERT_PKCS7);
	s = with_table(u, len, 0, t, 32, &slen);
	parse_ok(s, slen, &img);
	ck_assert_int_eq(pe_signature(s, &img, &sig, &sig_len), SG_ERR_PARSE);
	free(s);
	free(u);
}
END_TEST

START_TEST(test_checksum)
{
	static const uint8_t a[] = { 0x01, 0x00, 0xff, 0xff, 0x02, 0x00 };
	static const uint8_t odd[] = { 0x01, 0x00, 0x05 };
	static const uint8_t ones[] = { 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00 };
	size_t len;
	uint8_t *b;

	/* 0x0001 + 0xffff = 0x10000, folded to 0x0001; + 2; + the length 6. */
	ck_assert_uint_eq(pe_checksum(a, sizeof(a), 100), 9);
	/* An odd last byte is a word of its own; the length is 3. */
	ck_assert_uint_eq(pe_checksum(odd, sizeof(odd), 100), 1 + 5 + 3);
	/* The 4 bytes at checksum_off count as zero. */
	ck_assert_uint_eq(pe_checksum(ones, sizeof(ones), 0), 1 + 8);
	ck_assert_uint_eq(pe_checksum(ones, sizeof(ones), 4), 0xffff + 8);
	ck_assert_uint_eq(pe_checksum(ones, sizeof(ones), 2), 0xffff + 8);
	ck_assert_uint_eq(pe_checksum(ones, 4, 100), 0xffff + 4);
	ck_assert_uint_eq(pe_checksum(ones, 0, 0), 0);
	/* The field itself never changes the sum. */
	b = build(&pe32plus, &len);
	{
		uint32_t c = pe_checksum(b, len, T_CHECKSUM);

		w32(b, T_CHECKSUM, 0xffffffff);
		ck_assert_uint_eq(pe_checksum(b, len, T_CHECKSUM), c);
	}
	free(b);
}
END_TEST

/* tests/data/pe: the tiny images (whose checksum mkhostile.py computed),
 * the copies signed by osslsigncode and sbsign, and the hostile ones. */
START_TEST(test_data_tiny)
{
	static const char *const names[] = { "tiny32.exe", "tiny64.efi" };
	static const char *const digests[] = { TINY32_DIGEST, TINY64_DIGEST };
	char hex[SHA256_HEX_LEN + 1];
	struct pe_image img;
	size_t len;

	for (size_t i = 0; i < nitems(names); i++) {
		uint8_t *b = data_file(names[i], &len);

		parse_ok(b, len, &img);
		ck_assert_int_eq(img.pe32plus, (int)i);
		ck_assert_uint_eq(img.subsystem, i ? 10 : 3);
		ck_assert_uint_eq(img.checksum, pe_checksum(b, len, img.checksum_off));
		digest_hex(b, &img, hex);
		ck_assert_str_eq(hex, digests[i]);
		free(b);
	}
}
END_TEST

START_TEST(test_data_osslsigncode)
{
	char hex[SHA256_HEX_LEN + 1];
	struct pe_image img;
	const uint8_t *sig;
	size_t len, sig_len;
	uint8_t *b = data_file("tiny32-osslsigncode.exe", &len);

	parse_ok(b, len, &img);
	ck_assert_int_eq(img.is_signed, 1);
	ck_assert_uint_eq(img.cert_off, 0x600);
	ck_assert_uint_eq(img.checksum, 0x3a7c);
	ck_assert_uint_eq(pe_checksum(b, len, img.checksum_off), 0x3a7c);
	digest_hex(b, &img, hex);
	ck_assert_str_eq(hex, TINY32_DIGEST);
	/* Its dwLength counts the padding; the signature does not. */
	ck_assert_int_eq(pe_signature(b, &img, &sig, &sig_len), 0);
	ck_assert_uint_eq(r32(b, img.cert_off), img.cert_len);
	ck_assert_uint_lt(sig_len, img.cert_len - 8);
	ck_assert_uint_eq(sig_len, 4 + ((size_t)sig[2] << 8 | sig[3]));
	free(b);
}
END_TEST

/* pe_embed() writes exactly what sbsign writes. */
START_TEST(test_data_sbsign)
{
	char hex[SHA256_HEX_LEN + 1];
	struct pe_image img, signed_img;
	const uint8_t *sig;
	uint8_t *out = NULL;
	size_t len, slen, sig_len, out_len;
	uint8_t *u = data_file("tiny64.efi", &len), *s = data_file("tiny64-sbsign.efi", &slen);

	parse_ok(u, len, &img);
	parse_ok(s, slen, &signed_img);
	digest_hex(s, &signed_img, hex);
	ck_assert_str_eq(hex, TINY64_DIGEST);
	ck_assert_int_eq(pe_signature(s, &signed_img, &sig, &sig_len), 0);
	ck_assert_uint_eq(r32(s, signed_img.cert_off), 8 + sig_len);
	ck_assert_int_eq(pe_embed(u, &img, sig, sig_len, &out, &out_len), 0);
	ck_assert_uint_eq(out_len, slen);
	ck_assert(memcmp(out, s, slen) == 0);
	free(out);
	free(s);
	free(u);
}
END_TEST

START_TEST(test_data_hostile)
{
	DIR *d = opendir(PE_DATA "/hostile");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char name[300], why[PE_WHY_MAX] = "";
		struct pe_image img;
		uint8_t *b;
		size_t len;
		int r;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		snprintf(name, sizeof(name), "hostile/%s", de->d_name);
		b = data_file(name, &len);
		ck_assert_uint_le(len, 4096);
		r = pe_parse(b, len, &img, why, sizeof(why));
		ck_assert_msg(r == SG_ERR_PARSE, "%s: %d", name, r);
		ck_assert_msg(why[0] != 0, "%s: no reason", name);
		free(b);
		n++;
	}
	closedir(d);
	ck_assert_int_ge(n, 30);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pe");

	test_add(s, "/pe/parse/pe32", test_parse_pe32, TEST_TIMEOUT_S);
	test_add(s, "/pe/parse/pe32plus", test_parse_pe32plus, TEST_TIMEOUT_S);
	test_add(s, "/pe/parse/limits", test_parse_limits, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/dos-header", test_refuse_dos_header, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/truncated-headers", test_refuse_truncated_headers, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/optional-header", test_refuse_optional_header, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/section-table", test_refuse_section_table, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/sections", test_refuse_sections, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/cert-table", test_refuse_cert_table, TEST_TIMEOUT_S);
	test_add(s, "/pe/refuse/arguments", test_refuse_arguments, TEST_TIMEOUT_S);
	test_add(s, "/pe/cert-table/entries", test_cert_table_entries, TEST_TIMEOUT_S);
	test_add(s, "/pe/cert-table/mutations", test_signed_mutations, TEST_TIMEOUT_S);
	test_add(s, "/pe/digest/excluded-fields", test_digest, TEST_TIMEOUT_S);
	test_add(s, "/pe/digest/padding", test_digest_padding, TEST_TIMEOUT_S);
	test_add(s, "/pe/embed/round-trip", test_embed_round_trip, TEST_TIMEOUT_S);
	test_add(s, "/pe/embed/replace", test_embed_replace, TEST_TIMEOUT_S);
	test_add(s, "/pe/embed/refusals", test_embed_refusals, TEST_TIMEOUT_S);
	test_add(s, "/pe/signature", test_signature, TEST_TIMEOUT_S);
	test_add(s, "/pe/checksum", test_checksum, TEST_TIMEOUT_S);
	test_add(s, "/pe/data/tiny", test_data_tiny, TEST_TIMEOUT_S);
	test_add(s, "/pe/data/osslsigncode", test_data_osslsigncode, TEST_TIMEOUT_S);
	test_add(s, "/pe/data/sbsign", test_data_sbsign, TEST_TIMEOUT_S);
	test_add(s, "/pe/data/hostile", test_data_hostile, TEST_TIMEOUT_S);

	return test_run(s);
}
