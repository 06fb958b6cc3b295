/*
 * claims.h — the job ids this process holds a claim on in Redis
 * (<prefix>claim:<id>, docs/reliability.md): added by a worker once it
 * claimed a job, removed once the job is decided; the reader thread
 * refreshes the claims of those listed (touch_inflight in main.c).
 */
#ifndef SG_CLAIMS_H
#define SG_CLAIMS_H

#include <stddef.h>

#include "err.h"
#include "job.h"
#include "workq.h"

#define CLAIMS_MAX INFLIGHT_MAX

struct claims;

struct claims *claims_new(void);
void claims_free(struct claims *c);
/* SG_ERR_LIMIT when CLAIMS_MAX ids are held already. */
int claims_add(struct claims *c, const char *id) SG_MUST_CHECK;
void claims_remove(struct claims *c, const char *id);
/* Copies at most max ids into ids; returns how many. */
size_t claims_list(struct claims *c, char (*ids)[JOB_ID_LEN + 1], size_t max);

#endif
