/*
 * config_live.c — the configuration in force, swapped on SIGHUP while
 * workers use it (config_live.h).
 */
#include <pthread.h>
#include <stdlib.h>

#include "config.h"
#include "config_live.h"

/*
 * config_live: the current configuration and the retired ones still held
 * by a worker.  Each node counts its holders; the current one is never
 * freed, a retired one is freed by its last put.
 */
struct live_node {
	const struct agent_config *cfg;
	int owned;
	size_t refs;
	struct live_node *next;
};

struct config_live {
	pthread_mutex_t lock;
	struct live_node *current;
	struct live_node *retired;
};

int
config_live_new(const struct agent_config *initial, struct config_live **ret)
{
	struct config_live *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SG_ERR_ALLOC;
	if ((l->current = calloc(1, sizeof(*l->current))) == NULL) {
		free(l);
		return SG_ERR_ALLOC;
	}
	l->current->cfg = initial;
	pthread_mutex_init(&l->lock, NULL);
	*ret = l;
	return 0;
}

const struct agent_config *
config_live_get(struct config_live *l)
{
	const struct agent_config *c;

	pthread_mutex_lock(&l->lock);
	l->current->refs++;
	c = l->current->cfg;
	pthread_mutex_unlock(&l->lock);
	return c;
}

static void
live_node_free(struct live_node *n)
{
	if (n->owned)
		config_free((struct agent_config *)(uintptr_t)n->cfg);
	free(n);
}

void
config_live_put(struct config_live *l, const struct agent_config *c)
{
	struct live_node **pp, *dead = NULL;

	pthread_mutex_lock(&l->lock);
	if (l->current->cfg == c) {
		l->current->refs--;
	} else {
		for (pp = &l->retired; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->cfg == c) {
				if (--(*pp)->refs == 0) {
					dead = *pp;
					*pp = dead->next;
				}
				break;
			}
		}
	}
	pthread_mutex_unlock(&l->lock);
	if (dead != NULL)
		live_node_free(dead);
}

int
config_live_swap(struct config_live *l, struct agent_config *c)
{
	struct live_node *n, *old = NULL;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return SG_ERR_ALLOC;
	n->cfg = c;
	n->owned = 1;
	pthread_mutex_lock(&l->lock);
	if (l->current->refs == 0) {
		old = l->current;
	} else {
		l->current->next = l->retired;
		l->retired = l->current;
	}
	l->current = n;
	pthread_mutex_unlock(&l->lock);
	if (old != NULL)
		live_node_free(old);
	return 0;
}

void
config_live_free(struct config_live *l)
{
	struct live_node *n, *next;

	if (l == NULL)
		return;
	for (n = l->retired; n != NULL; n = next) {
		next = n->next;
		live_node_free(n);
	}
	live_node_free(l->current);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
