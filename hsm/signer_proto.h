/*
 * signer_proto.h — internal: the protocol between the agent (hsm_client.c)
 * and signet-signer (signer.c), in the manner of OpenSSH's monitor.
 *
 * Why: the agent parses everything hostile (Redis, envelopes, JSON, CMS).
 * The signer holds what is worth stealing (the PIN, a logged-in PKCS#11
 * session) and accepts only a tiny, fixed set of requests, each checked
 * again on arrival; anything unexpected makes it log one line to stderr
 * and exit (fail closed).
 *
 * The signer takes nothing security-relevant from the agent: it is started
 * as `signet-signer -c CONFIG` while the agent still runs with the rights
 * it was started with (before it reads anything hostile and before it drops
 * to its configured user), and reads the PKCS#11 module, token, PIN file
 * and keys with their mechanisms from that configuration itself.  The
 * agent names a key only by its index in that list (configured signing
 * keys in order, then the attestation key), never by a URI or a path.
 * docs/security.md has the whole argument.
 *
 * Transport: `sessions` AF_UNIX SOCK_SEQPACKET socketpairs, one per HSM
 * session; the signer's ends are fds 3, 4, ... (SP_CHANNEL_FD0 + i).
 * Sequenced packets keep message boundaries, so one frame is one packet and
 * a short or overlong packet is seen as such.  Each channel carries one
 * request and its response at a time; parallelism comes from the channels,
 * each served by its own signer thread and PKCS#11 session.
 *
 * Frames (all integers big-endian, every frame at most SP_FRAME_MAX bytes,
 * its 4-byte length prefix included; the prefix must equal the packet size
 * minus 4):
 *   request:  u32 length, u8 type, payload
 *   response: u32 length, i32 status (0 or an enum sg_err), payload
 * Strings: u16 length then the bytes, no NUL inside, at most
 * HSM_SIGNER_STR_MAX bytes; length 0xffff stands for NULL.
 *
 * Requests, in the only order accepted (channel 0 until OPEN succeeds):
 *   OPEN   empty: the signer runs p11_open() on its own configuration.
 *          Response: status, then on success u32 nkeys and per key u8
 *          mech (resolved) and str name, so that the agent can check that
 *          both read the same list; on failure a one-line reason (raw
 *          bytes, no NUL), after which the signer exits
 *          SP_EXIT_OPEN_FAILED.
 *   PUBKEY u32 key_index.  Response: u8 mech (resolved), u16 der_len,
 *          DER SubjectPublicKeyInfo.
 *   SIGN   u32 key_index, u8 job[SP_JOB_LEN] (the job id the signature is
 *          for, as the agent says; all zero for none), u32 digest_len,
 *          digest[digest_len]; key_index < nkeys and digest_len equal to
 *          the mechanism's digest length (32: every mechanism hashes with
 *          SHA-256).  The signer records the request in its journal before
 *          it answers.  Response: status, and on success u64 journal
 *          sequence number and the signature (hsm.h encoding,
 *          1..HSM_SIG_MAX bytes).
 *   PING   empty.  Response: status 0.
 * Type numbers 1 and 2 (an older protocol's INIT and KEY, by which the
 * agent named the module, token, PIN file and key URIs) are unknown now.
 * PUBKEY, SIGN and PING are accepted on every channel after OPEN.
 */
#ifndef SG_SIGNER_PROTO_H
#define SG_SIGNER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hsm.h"

#define SP_FRAME_MAX      4096 /* bytes of any frame, length prefix included */
#define SP_LEN_LEN        4    /* bytes of the length prefix */
#define SP_REQ_HDR_LEN    5    /* bytes of length prefix + type */
#define SP_RESP_HDR_LEN   8    /* bytes of length prefix + status */
#define SP_STR_NULL       0xffffu
#define SP_DIGEST_MAX     64          /* bytes of the largest digest_len a SIGN may name */
#define SP_CHANNEL_FD0    3           /* the signer's channel i is fd SP_CHANNEL_FD0 + i */
#define SP_REASON_MAX     512         /* bytes of an OPEN failure reason */
#define SP_RECV_TIMEOUT_S 30          /* seconds the agent waits for any response */
#define SP_JOB_LEN        HSM_JOB_LEN /* bytes of the job id in a SIGN (128 bits) */

enum sp_type {
	SP_MSG_OPEN = 3,
	SP_MSG_PUBKEY = 4,
	SP_MSG_SIGN = 5,
	SP_MSG_PING = 6,
};

/* Exit status of signet-signer. */
enum sp_exit {
	SP_EXIT_OK = 0,          /* the agent closed the channel */
	SP_EXIT_SYSTEM = 1,      /* a system call failed */
	SP_EXIT_OPEN_FAILED = 2, /* p11_open() failed; the reason was sent */
	SP_EXIT_PROTOCOL = 3,    /* protocol violation */
};

/* A frame being built; any overflow is sticky in `bad`. */
struct sp_wr {
	uint8_t buf[SP_FRAME_MAX];
	size_t len;
	int bad;
};

/* A payload being read; any short read or bad string is sticky in `bad`. */
struct sp_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	int bad;
};

void sp_wr_request(struct sp_wr *w, enum sp_type type);
void sp_wr_response(struct sp_wr *w, int status);
void sp_put_u8(struct sp_wr *w, uint8_t v);
void sp_put_u16(struct sp_wr *w, uint16_t v);
void sp_put_u32(struct sp_wr *w, uint32_t v);
void sp_put_u64(struct sp_wr *w, uint64_t v);
void sp_put_bytes(struct sp_wr *w, const void *p, size_t len);
/* NULL, or a string of at most HSM_SIGNER_STR_MAX bytes (else bad). */
void sp_put_str(struct sp_wr *w, const char *s);
/* Writes the length prefix.  0, or SG_ERR_LIMIT if anything overflowed. */
int sp_wr_finish(struct sp_wr *w) SG_MUST_CHECK;

uint8_t sp_get_u8(struct sp_rd *r);
uint16_t sp_get_u16(struct sp_rd *r);
uint32_t sp_get_u32(struct sp_rd *r);
uint64_t sp_get_u64(struct sp_rd *r);
/* A pointer into the payload, or NULL (and bad) if fewer than len bytes. */
const uint8_t *sp_get_bytes(struct sp_rd *r, size_t len);
/* A string as sp_put_str() wrote it, copied and NUL-terminated into
 * *ret (NULL for the NULL string).  0, SG_ERR_PARSE (and bad), SG_ERR_ALLOC. */
int sp_get_str(struct sp_rd *r, char **ret) SG_MUST_CHECK;
/* 0 if every byte was read and nothing went wrong, else SG_ERR_PARSE. */
int sp_rd_end(const struct sp_rd *r) SG_MUST_CHECK;

/* Frame checks: the prefix matches the packet, the header is there.  The
 * payload reader is set only on success.  SG_ERR_PARSE.  A response's
 * status must be 0 or an enum sg_err value. */
int sp_parse_request(
    const uint8_t *buf, size_t n, uint8_t *ret_type, struct sp_rd *ret_payload) SG_MUST_CHECK;
int sp_parse_response(
    const uint8_t *buf, size_t n, int *ret_status, struct sp_rd *ret_payload) SG_MUST_CHECK;

/* One packet out (MSG_NOSIGNAL, EINTR retried).  0, SG_ERR_LIMIT (the
 * frame overflowed), SG_ERR_SYSTEM (peer gone or other failure). */
int sp_send(int fd, struct sp_wr *w) SG_MUST_CHECK;
/* One packet in, into buf[SP_FRAME_MAX].  0, SG_ERR_NOT_FOUND (end of
 * file), SG_ERR_LIMIT (packet larger than SP_FRAME_MAX: it is discarded),
 * SG_ERR_TIMEOUT (SO_RCVTIMEO elapsed), SG_ERR_SYSTEM. */
int sp_recv(int fd, uint8_t *buf, size_t *ret_len) SG_MUST_CHECK;

/* The SIGN request (also used by the tests); job may be NULL (all zero). */
int sp_build_sign(struct sp_wr *w, uint32_t key_index, const uint8_t *job, const uint8_t *digest,
    uint32_t digest_len) SG_MUST_CHECK;

#endif
