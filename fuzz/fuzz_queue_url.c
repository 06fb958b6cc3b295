/*
 * fuzz_queue_url.c — queue_url_parse() on arbitrary bytes.  The input is
 * made a C string (an embedded NUL ends it, as it would for a URL taken
 * from argv or a config file).  A URL that parses must describe exactly
 * one endpoint (or a list of sentinels) within the documented ranges;
 * TLS (rediss://, sentinel+tls://) never goes with a unix socket, and its
 * scheme is the only difference from the same URL without TLS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* Longer than QUEUE_URL_MAX so that the length check is reached. */
#define FUZZ_URL_MAX (QUEUE_URL_MAX + 64)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_url *u = NULL;
	char *s;

	if (size > FUZZ_URL_MAX)
		size = FUZZ_URL_MAX;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (queue_url_parse(s, &u) == 0) {
		if (u == NULL)
			abort();
		if (u->is_sentinel) {
			if (u->master == NULL || u->nsentinels < 1 ||
			    u->nsentinels > QUEUE_SENTINELS_MAX || u->host != NULL || u->db < 0 ||
			    u->db > 15)
				abort();
			for (size_t i = 0; i < u->nsentinels; i++)
				if (u->sentinels[i] == NULL || u->sentinels[i]->host == NULL ||
				    u->sentinels[i]->port < 1 || u->sentinels[i]->port > 65535)
					abort();
		} else if (u->is_unix) {
			if (u->is_tls || u->path == NULL || u->path[0] != '/' || u->host != NULL ||
			    u->user != NULL || u->password != NULL || u->db != 0)
				abort();
		} else {
			if (u->host == NULL || u->host[0] == '\0' || u->path != NULL ||
			    u->port < 1 || u->port > 65535 || u->db < 0 || u->db > 15)
				abort();
			if (u->password != NULL && strlen(u->password) > QUEUE_PASSWORD_MAX)
				abort();
		}
		/* Without its TLS scheme the URL parses the same way. */
		if (u->is_tls) {
			const char *tail = strstr(s, "://");
			struct queue_url *p = NULL;
			char *plain = NULL;

			if (tail == NULL ||
			    asprintf(&plain, "%s%s", u->is_sentinel ? "sentinel" : "redis", tail) <
				0)
				abort();
			if (queue_url_parse(plain, &p) != 0 || p->is_tls ||
			    p->is_sentinel != u->is_sentinel || p->port != u->port ||
			    p->db != u->db)
				abort();
			queue_url_free(p);
			free(plain);
		}
		queue_url_free(u);
	} else if (u != NULL) {
		abort();
	}
	free(s);
	return 0;
}
