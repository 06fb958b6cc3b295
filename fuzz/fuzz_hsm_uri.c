/*
 * fuzz_hsm_uri.c — hsm_uri_parse() on arbitrary bytes (up to the first NUL,
 * as a C string reaches it), checking the invariants of what it accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hsm_uri *u = NULL;
	char *s;
	int r;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = hsm_uri_parse(s, &u);
	if (r == 0) {
		if (u == NULL || u->id_len > HSM_ID_MAX || (!u->has_id && u->id_len != 0))
			abort();
		if (strlen(s) > HSM_URI_MAX)
			abort();
		if (u->type != NULL && strcmp(u->type, "private") != 0 &&
		    strcmp(u->type, "public") != 0 && strcmp(u->type, "cert") != 0)
			abort();
	} else if (u != NULL) {
		abort();
	}
	hsm_uri_free(u);
	free(s);
	return 0;
}
