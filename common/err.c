#include <string.h>

#include "err.h"

struct err_info {
	const char *code;
	enum sg_status status;
	const char *text;
};

#define SG_ERR_INFO_(name, c, s, t) [name##_I] = { c, s, t },
static const struct err_info err_table[SG_ERR_COUNT_I] = { SG_ERR_LIST(SG_ERR_INFO_) };
#undef SG_ERR_INFO_

static const struct err_info *
err_lookup(int r)
{
	if (r >= 0 || r <= -(int)SG_ERR_COUNT_I)
		return &err_table[SG_ERR_INTERNAL_I];
	return &err_table[-r];
}

const char *
sg_err_code(int r)
{
	if (r == 0)
		return NULL;
	return err_lookup(r)->code;
}

const char *
sg_strerror(int r)
{
	if (r == 0)
		return "success";
	return err_lookup(r)->text;
}

enum sg_status
sg_err_status(int r)
{
	if (r == 0)
		return SG_STATUS_SIGNED;
	return err_lookup(r)->status;
}

const char *
sg_status_name(enum sg_status s)
{
	switch (s) {
	case SG_STATUS_SIGNED:
		return "signed";
	case SG_STATUS_REJECTED:
		return "rejected";
	case SG_STATUS_FAILED:
		return "failed";
	case SG_STATUS_PENDING:
		return "pending";
	}
	return "failed";
}

int
sg_err_from_code(const char *code)
{
	int i;

	if (code == NULL)
		return 0;
	for (i = 1; i < (int)SG_ERR_COUNT_I; i++) {
		if (strcmp(err_table[i].code, code) == 0)
			return -i;
	}
	return 0;
}
