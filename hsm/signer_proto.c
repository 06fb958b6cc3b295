/*
 * signer_proto.c — frames of signer_proto.h: a capped writer, a checked
 * reader (sshbuf-style: every getter bounds-checked, errors sticky) and
 * the packet I/O.  No allocation except for the strings handed out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "signer_proto.h"

static void
put_raw(struct sp_wr *w, const void *p, size_t len)
{
	if (w->bad || len > sizeof(w->buf) - w->len) {
		w->bad = 1;
		return;
	}
	if (len > 0)
		memcpy(w->buf + w->len, p, len);
	w->len += len;
}

void
sp_put_u8(struct sp_wr *w, uint8_t v)
{
	put_raw(w, &v, 1);
}

void
sp_put_u16(struct sp_wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put_raw(w, b, sizeof(b));
}

void
sp_put_u32(struct sp_wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put_raw(w, b, sizeof(b));
}

void
sp_put_u64(struct sp_wr *w, uint64_t v)
{
	sp_put_u32(w, (uint32_t)(v >> 32));
	sp_put_u32(w, (uint32_t)v);
}

void
sp_put_bytes(struct sp_wr *w, const void *p, size_t len)
{
	put_raw(w, p, len);
}

void
sp_put_str(struct sp_wr *w, const char *s)
{
	size_t len;

	if (s == NULL) {
		sp_put_u16(w, SP_STR_NULL);
		return;
	}
	len = strlen(s);
	if (len > HSM_SIGNER_STR_MAX) {
		w->bad = 1;
		return;
	}
	sp_put_u16(w, (uint16_t)len);
	put_raw(w, s, len);
}

void
sp_wr_request(struct sp_wr *w, enum sp_type type)
{
	w->len = 0;
	w->bad = 0;
	sp_put_u32(w, 0);
	sp_put_u8(w, (uint8_t)type);
}

void
sp_wr_response(struct sp_wr *w, int status)
{
	w->len = 0;
	w->bad = 0;
	sp_put_u32(w, 0);
	sp_put_u32(w, (uint32_t)status);
}

int
sp_wr_finish(struct sp_wr *w)
{
	uint32_t n;

	if (w->bad || w->len < SP_LEN_LEN)
		return SG_ERR_LIMIT;
	n = (uint32_t)(w->len - SP_LEN_LEN);
	w->buf[0] = (uint8_t)(n >> 24);
	w->buf[1] = (uint8_t)(n >> 16);
	w->buf[2] = (uint8_t)(n >> 8);
	w->buf[3] = (uint8_t)n;
	return 0;
}

const uint8_t *
sp_get_bytes(struct sp_rd *r, size_t len)
{
	const uint8_t *p;

	if (r->bad || len > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += len;
	return p;
}

uint8_t
sp_get_u8(struct sp_rd *r)
{
	const uint8_t *p = sp_get_bytes(r, 1);

	return p != NULL ? p[0] : 0;
}

uint16_t
sp_get_u16(struct sp_rd *r)
{
	const uint8_t *p = sp_get_bytes(r, 2);

	return p != NULL ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t
sp_get_u32(struct sp_rd *r)
{
	const uint8_t *p = sp_get_bytes(r, 4);

	return p != NULL
	    ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
	    : 0;
}

uint64_t
sp_get_u64(struct sp_rd *r)
{
	uint64_t hi = sp_get_u32(r);

	return (hi << 32) | sp_get_u32(r);
}

int
sp_get_str(struct sp_rd *r, char **ret)
{
	uint16_t len = sp_get_u16(r);
	const uint8_t *p;
	char *s;

	*ret = NULL;
	if (r->bad)
		return SG_ERR_PARSE;
	if (len == SP_STR_NULL)
		return 0;
	if (len > HSM_SIGNER_STR_MAX || (p = sp_get_bytes(r, len)) == NULL ||
	    (len > 0 && memchr(p, '\0', len) != NULL)) {
		r->bad = 1;
		return SG_ERR_PARSE;
	}
	if ((s = malloc((size_t)len + 1)) == NULL)
		return SG_ERR_ALLOC;
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	*ret = s;
	return 0;
}

int
sp_rd_end(const struct sp_rd *r)
{
	return r->bad || r->off != r->len ? SG_ERR_PARSE : 0;
}

static uint32_t
peek_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int
sp_parse_request(const uint8_t *buf, size_t n, uint8_t *ret_type, struct sp_rd *ret_payload)
{
	if (buf == NULL || n < SP_REQ_HDR_LEN || n > SP_FRAME_MAX ||
	    peek_u32(buf) != n - SP_LEN_LEN)
		return SG_ERR_PARSE;
	*ret_type = buf[SP_LEN_LEN];
	*ret_payload = (struct sp_rd){ buf + SP_REQ_HDR_LEN, n - SP_REQ_HDR_LEN, 0, 0 };
	return 0;
}

int
sp_parse_response(const uint8_t *buf, size_t n, int *ret_status, struct sp_rd *ret_payload)
{
	int32_t status;
	uint32_t u;

	if (buf == NULL || n < SP_RESP_HDR_LEN || n > SP_FRAME_MAX ||
	    peek_u32(buf) != n - SP_LEN_LEN)
		return SG_ERR_PARSE;
	u = peek_u32(buf + SP_LEN_LEN);
	/* Two's complement by value, without an implementation-defined cast. */
	status = u <= INT32_MAX ? (int32_t)u : -(int32_t)(UINT32_MAX - u) - 1;
	if (status > 0 || status < -(int32_t)(SG_ERR_COUNT_I - 1))
		return SG_ERR_PARSE;
	*ret_status = (int)status;
	*ret_payload = (struct sp_rd){ buf + SP_RESP_HDR_LEN, n - SP_RESP_HDR_LEN, 0, 0 };
	return 0;
}

int
sp_send(int fd, struct sp_wr *w)
{
	ssize_t n;

	if (sp_wr_finish(w) != 0)
		return SG_ERR_LIMIT;
	do
		n = send(fd, w->buf, w->len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	/* A sequenced packet goes whole or not at all. */
	if (n < 0 || (size_t)n != w->len)
		return SG_ERR_SYSTEM;
	return 0;
}

int
sp_recv(int fd, uint8_t *buf, size_t *ret_len)
{
	ssize_t n;

	/* MSG_TRUNC: the packet's real size, so an overlong one is seen. */
	do
		n = recv(fd, buf, SP_FRAME_MAX, MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		return SG_ERR_NOT_FOUND;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? SG_ERR_TIMEOUT : SG_ERR_SYSTEM;
	if ((size_t)n > SP_FRAME_MAX)
		return SG_ERR_LIMIT;
	*ret_len = (size_t)n;
	return 0;
}

int
sp_build_sign(struct sp_wr *w, uint32_t key_index, const uint8_t *job, const uint8_t *digest,
    uint32_t digest_len)
{
	static const uint8_t none[SP_JOB_LEN];

	sp_wr_request(w, SP_MSG_SIGN);
	sp_put_u32(w, key_index);
	sp_put_bytes(w, job != NULL ? job : none, SP_JOB_LEN);
	sp_put_u32(w, digest_len);
	sp_put_bytes(w, digest, digest_len);
	return sp_wr_finish(w);
}
