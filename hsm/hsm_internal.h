/*
 * hsm_internal.h — for tests only: a look behind hsm.h.
 */
#ifndef SG_HSM_INTERNAL_H
#define SG_HSM_INTERNAL_H

#include <sys/types.h>

#include "hsm.h"

/* The pid of h's signer process; 0 in-process or while none runs. */
pid_t hsm_signer_pid(struct hsm *h);

#endif
