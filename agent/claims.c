/*
 * claims.c — the job ids this process holds a claim on (claims.h): a small
 * array under a mutex; at most one entry per worker is in it at a time.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"

struct claims {
	pthread_mutex_t lock;
	size_t n;
	char ids[CLAIMS_MAX][JOB_ID_LEN + 1];
};

struct claims *
claims_new(void)
{
	struct claims *c = calloc(1, sizeof(*c));

	if (c != NULL && pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

void
claims_free(struct claims *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int
claims_add(struct claims *c, const char *id)
{
	int r = SG_ERR_LIMIT;

	if (c == NULL || id == NULL || strlen(id) != JOB_ID_LEN)
		return SG_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&c->lock);
	if (c->n < CLAIMS_MAX) {
		memcpy(c->ids[c->n++], id, JOB_ID_LEN + 1);
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void
claims_remove(struct claims *c, const char *id)
{
	size_t i;

	if (c == NULL || id == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (strcmp(c->ids[i], id) == 0) {
			c->n--;
			if (i != c->n)
				memcpy(c->ids[i], c->ids[c->n], JOB_ID_LEN + 1);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

size_t
claims_list(struct claims *c, char (*ids)[JOB_ID_LEN + 1], size_t max)
{
	size_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->n < max ? c->n : max;
	memcpy(ids, c->ids, n * sizeof(*ids));
	pthread_mutex_unlock(&c->lock);
	return n;
}
