#!/usr/bin/env python3
"""Writes the PE test images of signet (python3, standard library only).

    mkhostile.py                    tiny32.exe, tiny64.efi, hostile/ and
                                    hostile/README here (tests/data/pe/)
    mkhostile.py --corpus DIR       also the generated seeds of fuzz_pe in DIR
                                    (fuzz/corpus/pe/)

tiny32.exe is a PE32 i386 console program and tiny64.efi a PE32+ x86-64
UEFI application (subsystem 10); each has a .text section whose code
returns 0 and a .data section, 1536 bytes in all, and both are accepted by
`osslsigncode sign` and `verify` (and tiny64.efi by sbsign and sbverify).

Every file in hostile/ is a variant of one of them that common/pe.c must
refuse; hostile/README says what is wrong with each, and
tests/unit/test_pe.c checks that each is refused.  The output is the same
on every run (no time stamps, no randomness), so a rerun that changes a
committed file is a change to review.
"""

import os
import struct
import sys

LFANEW = 0x80
FILE_ALIGN = 0x200
SECT_ALIGN = 0x1000
HDR_LEN = 0x200

# "ret 0": xor eax, eax; ret.  The same bytes on i386 and x86-64.
CODE = b"\x31\xc0\xc3"

# A stand-in for a PKCS#7 SignedData in the hostile files that need a
# certificate table: one DER SEQUENCE holding an OID (1.2.840.113549.1.7.2),
# enough for the parser, which does not look inside.
FAKE_PKCS7 = bytes.fromhex("300b06092a864886f70d010702")

# Windows' DOS stub: prints "This program cannot be run in DOS mode."
DOS_STUB = bytes.fromhex(
    "0e1fba0e00b409cd21b8014ccd21") + b"This program cannot be run in DOS mode.\r\r\n$"


def align(n, a):
    return (n + a - 1) // a * a


def pe_checksum(data, checksum_off):
    """The PE image checksum (CheckSumMappedFile); checksum_off is even."""
    n = len(data)
    if n % 2:
        data = data + b"\0"
    s = 0
    for i in range(0, len(data), 2):
        if checksum_off <= i < checksum_off + 4:
            continue
        s += data[i] | data[i + 1] << 8
        s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (s + n) & 0xFFFFFFFF


class Layout:
    """Offsets inside an image that build() wrote."""

    def __init__(self, plus):
        self.plus = plus
        self.coff = LFANEW + 4
        self.nsect = self.coff + 2
        self.optsize = self.coff + 16
        self.opt = self.coff + 20
        self.fixed = 112 if plus else 96
        self.hdrsize = self.opt + 60
        self.checksum = self.opt + 64
        self.nrva = self.opt + self.fixed - 4
        self.certdir = self.opt + self.fixed + 4 * 8
        self.sections = self.opt + self.fixed + 16 * 8

    def section(self, i):
        return self.sections + 40 * i


def build(plus, tail=b"", checksum=True):
    """A valid image: PE32 i386 console program, or PE32+ x86-64 EFI app."""
    lay = Layout(plus)
    text = CODE.ljust(FILE_ALIGN, b"\0")
    data = b"signet test image\0".ljust(FILE_ALIGN, b"\0")
    sections = [(b".text", text, 0x60000020), (b".data", data, 0xC0000040)]
    nsect = len(sections)
    size_of_image = SECT_ALIGN * (nsect + 1)

    img = bytearray(HDR_LEN + FILE_ALIGN * nsect)
    struct.pack_into("<2s", img, 0, b"MZ")
    # e_cblp, e_cp, e_crlc, e_cparhdr, e_minalloc, e_maxalloc, e_ss, e_sp,
    # e_csum, e_ip, e_cs, e_lfarlc as Microsoft's linker writes them.
    struct.pack_into("<13H", img, 2, 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0, 0x40, 0)
    struct.pack_into("<I", img, 0x3C, LFANEW)
    img[0x40:0x40 + len(DOS_STUB)] = DOS_STUB
    img[LFANEW:LFANEW + 4] = b"PE\0\0"
    machine = 0x8664 if plus else 0x14C
    # Characteristics: executable image; 32-bit machine for PE32, large
    # address aware for PE32+.
    characteristics = 0x0022 if plus else 0x0102
    struct.pack_into("<HHIIIHH", img, lay.coff, machine, nsect, 0, 0, 0,
                     lay.fixed + 16 * 8, characteristics)
    o = lay.opt
    entry = SECT_ALIGN
    if plus:
        struct.pack_into("<HBBIIIII", img, o, 0x20B, 14, 0, FILE_ALIGN, FILE_ALIGN, 0,
                         entry, SECT_ALIGN)
        struct.pack_into("<Q", img, o + 24, 0x140000000)
    else:
        struct.pack_into("<HBBIIIIII", img, o, 0x10B, 14, 0, FILE_ALIGN, FILE_ALIGN, 0,
                         entry, SECT_ALIGN, 2 * SECT_ALIGN)
        struct.pack_into("<I", img, o + 28, 0x400000)
    # SectionAlignment, FileAlignment, OS 6.0, image 0.0, subsystem 6.0 /
    # EFI 0.0, Win32VersionValue, SizeOfImage, SizeOfHeaders, CheckSum,
    # Subsystem (3 console, 10 EFI application), DllCharacteristics.
    subsystem = 10 if plus else 3
    struct.pack_into("<IIHHHHHHIIIIHH", img, o + 32, SECT_ALIGN, FILE_ALIGN, 6, 0, 0, 0,
                     0 if plus else 6, 0, 0, size_of_image, HDR_LEN, 0, subsystem, 0)
    if plus:
        struct.pack_into("<QQQQII", img, o + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    else:
        struct.pack_into("<IIIIII", img, o + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    for i, (name, raw, chars) in enumerate(sections):
        struct.pack_into("<8sIIIIIIHHI", img, lay.section(i), name, len(raw.rstrip(b"\0")) or 1,
                         SECT_ALIGN * (i + 1), len(raw), HDR_LEN + FILE_ALIGN * i, 0, 0, 0, 0,
                         chars)
        img[HDR_LEN + FILE_ALIGN * i:HDR_LEN + FILE_ALIGN * (i + 1)] = raw
    img += tail
    if checksum:
        struct.pack_into("<I", img, lay.checksum, pe_checksum(bytes(img), lay.checksum))
    return img


def sign(img, plus, entries=None):
    """img with a certificate table of the given WIN_CERTIFICATE entries
    (each bytes, written as they are, padded with zeros to 8), by default one
    well-formed entry holding FAKE_PKCS7."""
    lay = Layout(plus)
    if entries is None:
        entries = [win_cert(FAKE_PKCS7)]
    img = bytearray(img)
    img += b"\0" * (align(len(img), 8) - len(img))
    off = len(img)
    for e in entries:
        img += e + b"\0" * (align(len(e), 8) - len(e))
    struct.pack_into("<II", img, lay.certdir, off, len(img) - off)
    struct.pack_into("<I", img, lay.checksum, pe_checksum(bytes(img), lay.checksum))
    return img


def win_cert(blob, length=None, revision=0x0200, ctype=0x0002):
    if length is None:
        length = 8 + len(blob)
    return struct.pack("<IHH", length, revision, ctype) + blob


def put(img, fmt, off, *values):
    img = bytearray(img)
    struct.pack_into(fmt, img, off, *values)
    return img


def hostile():
    """(file name, what is wrong, bytes) for each hostile image."""
    t32, t64 = build(False), build(True)
    l32, l64 = Layout(False), Layout(True)
    s64 = sign(t64, True)
    cert_off = len(t64)  # 1536: already a multiple of 8
    out = []

    def add(name, why, data):
        assert len(data) <= 4096, name
        out.append((name, why, bytes(data)))

    add("truncated-dos-header.exe", "40 bytes: the DOS header needs 64", t32[:40])
    add("no-mz.exe", "starts with \"ZM\" instead of \"MZ\"", put(t32, "<2s", 0, b"ZM"))
    add("lfanew-past-end.exe", "e_lfanew 0x10000 points past the end of the file",
        put(t32, "<I", 0x3C, 0x10000))
    add("lfanew-huge.exe", "e_lfanew 0xfffffff8, where e_lfanew + 24 wraps around 32 bits",
        put(t32, "<I", 0x3C, 0xFFFFFFF8))
    add("lfanew-in-dos-header.exe", "e_lfanew 0x20 points inside the DOS header",
        put(t32, "<I", 0x3C, 0x20))
    add("lfanew-unaligned.exe", "e_lfanew 0x82 is not a multiple of 4",
        put(t32, "<I", 0x3C, 0x82))
    add("truncated-pe-header.exe", "cut at 0x90, inside the COFF header", t32[:0x90])
    add("no-pe-signature.exe", "\"PE\\0\\1\" instead of \"PE\\0\\0\" at e_lfanew",
        put(t32, "<4s", LFANEW, b"PE\0\1"))
    add("truncated-optional-header.efi", "cut at 0x100, inside the optional header",
        t64[:0x100])
    add("bad-optional-magic.exe", "optional header magic 0x107 (ROM image)",
        put(t32, "<H", l32.opt, 0x107))
    add("pe32plus-magic-in-pe32.exe",
        "PE32 layout with the PE32+ magic: NumberOfRvaAndSizes is read where it is not",
        put(t32, "<H", l32.opt, 0x20B))
    add("optional-header-size-mismatch.efi",
        "SizeOfOptionalHeader 232 while NumberOfRvaAndSizes 16 needs 240",
        put(t64, "<H", l64.optsize, 232))
    add("optional-header-size-small.efi", "SizeOfOptionalHeader 16, less than the fixed fields",
        put(t64, "<H", l64.optsize, 16))
    add("nrva-4.efi", "NumberOfRvaAndSizes 4 (and SizeOfOptionalHeader to match): no "
        "certificate table entry",
        put(put(t64, "<I", l64.nrva, 4), "<H", l64.optsize, l64.fixed + 32))
    add("nrva-huge.efi", "NumberOfRvaAndSizes 0xffffffff", put(t64, "<I", l64.nrva, 0xFFFFFFFF))
    add("nsections-zero.exe", "NumberOfSections 0", put(t32, "<H", l32.nsect, 0))
    add("nsections-huge.exe", "NumberOfSections 65535 (at most 96 are allowed)",
        put(t32, "<H", l32.nsect, 0xFFFF))
    add("nsections-97.exe", "NumberOfSections 97, one more than allowed",
        put(t32, "<H", l32.nsect, 97))
    add("section-table-past-end.efi",
        "NumberOfSections 60: the section table runs past the end of the file",
        put(t64, "<H", l64.nsect, 60))
    add("section-table-past-headers.efi",
        "NumberOfSections 5: the section table runs past SizeOfHeaders 0x200",
        put(t64, "<H", l64.nsect, 5))
    add("size-of-headers-past-end.efi", "SizeOfHeaders 0x10000 in a file of 1536 bytes",
        put(t64, "<I", l64.hdrsize, 0x10000))
    add("section-past-end.efi", "section 2 (.data): SizeOfRawData 0x400 runs past the end",
        put(t64, "<I", l64.section(1) + 16, 0x400))
    add("section-offset-huge.efi",
        "section 1 (.text): PointerToRawData 0xfffffe00, SizeOfRawData 0x400 (the sum "
        "wraps around 32 bits)",
        put(put(t64, "<I", l64.section(0) + 20, 0xFFFFFE00), "<I", l64.section(0) + 16, 0x400))
    add("section-in-headers.efi", "section 1 (.text) starts at 0x100, inside the headers",
        put(t64, "<I", l64.section(0) + 20, 0x100))
    add("sections-overlap.efi", "sections 1 and 2 share their raw data at 0x200",
        put(t64, "<I", l64.section(1) + 20, 0x200))
    add("truncated-section.efi", "cut at 0x500, inside section 2 (.data)", t64[:0x500])
    add("cert-past-end.efi", "the certificate table at 0x600 claims 0x10000 bytes",
        put(s64, "<I", l64.certdir + 4, 0x10000))
    add("cert-size-huge.efi",
        "the certificate table at 0x600 claims 0xfffffff8 bytes (the end wraps around 32 bits)",
        put(s64, "<I", l64.certdir + 4, 0xFFFFFFF8))
    add("cert-offset-huge.efi", "the certificate table at 0xfffffff8",
        put(s64, "<I", l64.certdir, 0xFFFFFFF8))
    add("cert-misaligned.efi", "the certificate table at 0x604, not 8-byte aligned",
        put(put(s64 + b"\0" * 4, "<I", l64.certdir, cert_off + 4), "<I", l64.certdir + 4,
            len(s64) - cert_off))
    add("cert-not-at-end.efi", "8 bytes of data after the certificate table", s64 + b"X" * 8)
    add("cert-in-section.efi", "the certificate table at 0x400, inside section 2's raw data",
        put(put(s64, "<I", l64.certdir, 0x400), "<I", l64.certdir + 4, len(s64) - 0x400))
    add("cert-half-empty.efi", "certificate table offset 0x600 with size 0",
        put(s64, "<I", l64.certdir + 4, 0))
    add("wincert-bad-revision.efi", "WIN_CERTIFICATE wRevision 0x0100",
        sign(t64, True, [win_cert(FAKE_PKCS7, revision=0x0100)]))
    add("wincert-bad-type.efi", "WIN_CERTIFICATE wCertificateType 0x0001 (X.509)",
        sign(t64, True, [win_cert(FAKE_PKCS7, ctype=0x0001)]))
    add("wincert-short-length.efi", "WIN_CERTIFICATE dwLength 4, less than its own header",
        sign(t64, True, [win_cert(FAKE_PKCS7, length=4)]))
    add("wincert-length-past-table.efi", "WIN_CERTIFICATE dwLength 0x1000 in a table of 24 bytes",
        sign(t64, True, [win_cert(FAKE_PKCS7, length=0x1000)]))
    add("wincert-nonzero-padding.efi", "non-zero bytes in the padding after dwLength",
        sign(t64, True, [win_cert(FAKE_PKCS7) + b"\xff\xff\xff"]))
    add("wincert-truncated.efi", "a second WIN_CERTIFICATE of only 8 bytes of zeros",
        sign(t64, True, [win_cert(FAKE_PKCS7), b"\0" * 8]))
    return out


def corpus(directory):
    """A few seeds for fuzz_pe: valid, odd, signed and broken images."""
    t32, t64 = build(False), build(True)
    seeds = {
        "tiny32.exe": t32,
        "tiny64.efi": t64,
        "tiny64-overlay-odd.efi": build(True, tail=b"overlay"),
        "tiny64-signed-fake.efi": sign(t64, True),
        "tiny32-two-certs.exe": sign(t32, False, [win_cert(FAKE_PKCS7)] * 2),
        "tiny32-padded-dwlength.exe": sign(t32, False, [win_cert(FAKE_PKCS7 + b"\0" * 3)]),
    }
    for name, _, data in hostile():
        if name in ("truncated-pe-header.exe", "section-past-end.efi", "cert-not-at-end.efi",
                    "wincert-bad-type.efi", "nrva-4.efi"):
            seeds["bad-" + name] = data
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "tiny32.exe"), "wb") as f:
        f.write(build(False))
    with open(os.path.join(here, "tiny64.efi"), "wb") as f:
        f.write(build(True))
    hdir = os.path.join(here, "hostile")
    os.makedirs(hdir, exist_ok=True)
    lines = ["Hostile PE images, written by ../mkhostile.py: every one must be refused.",
             "Each is tiny32.exe or tiny64.efi with one thing wrong.", ""]
    for name, why, data in hostile():
        with open(os.path.join(hdir, name), "wb") as f:
            f.write(data)
        lines.append("%s: %s" % (name, why))
    with open(os.path.join(hdir, "README"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if len(sys.argv) == 3 and sys.argv[1] == "--corpus":
        corpus(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.exit("usage: mkhostile.py [--corpus DIR]")


if __name__ == "__main__":
    main()
