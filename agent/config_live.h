/*
 * config_live.h — the agent's configuration in force.
 */
#ifndef SG_CONFIG_LIVE_H
#define SG_CONFIG_LIVE_H

#include "config.h"

/*
 * The configuration in force, swapped on reload while workers use it.
 * config_live_get() returns the current configuration and holds it until
 * the matching config_live_put(); config_live_swap() makes c current (taking
 * ownership) and frees the previous one once its last holder puts it back.
 * The first configuration is borrowed (the caller keeps and frees it after
 * config_live_free()).  All thread-safe.
 */
struct config_live;
int config_live_new(const struct agent_config *initial, struct config_live **ret) SG_MUST_CHECK;
const struct agent_config *config_live_get(struct config_live *l);
void config_live_put(struct config_live *l, const struct agent_config *c);
int config_live_swap(
    struct config_live *l, struct agent_config *c) SG_MUST_CHECK; /* SG_ERR_ALLOC: c not taken */
void config_live_free(struct config_live *l);

#endif
