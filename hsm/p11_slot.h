/*
 * p11_slot.h — finding the token by label, shared by the key holder
 * (p11.c) and the provisioning code (p11_admin.c).  Internal to hsm/.
 */
#ifndef SG_P11_SLOT_H
#define SG_P11_SLOT_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include "err.h"

/*
 * The slot of the one token labelled `token` (at most 32 bytes, compared
 * space-padded as PKCS#11 stores labels), through module functions f.
 * SG_ERR_HSM_UNAVAILABLE when none is present or C_GetSlotList fails,
 * SG_ERR_CONFIG for a bad label or several tokens with it; reason in errbuf.
 */
int p11_token_slot(CK_FUNCTION_LIST_PTR f, const char *token, CK_SLOT_ID *ret_slot, char *errbuf,
    size_t errlen) SG_MUST_CHECK;

#endif
