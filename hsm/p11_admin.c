/*
 * p11_admin.c — p11.h's p11_admin_*: key provisioning for signet-admin.
 *
 * The agent only ever signs; the operator's tool also creates objects.  An
 * admin handle reuses p11_open() for everything it already does right
 * (loading the module from its absolute path, finding the one token by
 * label, reading the owner-only PIN file and wiping it after C_Login), and
 * then opens one read-write session of its own on the same slot.  The login
 * belongs to the application and the token, so that session is logged in
 * too.  The function list is reached with dlopen(RTLD_NOLOAD) of the module
 * that p11_open() loaded: the same library instance, the same table.
 *
 * Key generation asks for what the agent demands (p11.c refuses
 * anything else) and then reads the new private key back: a token that
 * silently ignored CKA_SENSITIVE or CKA_EXTRACTABLE would otherwise leave an
 * exportable signing key behind.  Such a key pair is destroyed at once.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "util.h"

/* Last: see p11.c (it #defines lowercase words). */
#include <p11-kit/pkcs11.h>

#include "p11_slot.h"

#define ADMIN_TOKEN_LABEL_LEN   32   /* bytes of CK_TOKEN_INFO.label */
#define ADMIN_ATTR_MAX          1024 /* bytes of a label or an id we read */
#define ADMIN_FIND_BATCH        64   /* handles per C_FindObjects call */
#define ADMIN_RSA_BITS          3072
#define ADMIN_CERT_DER_MAX      (64 * 1024) /* bytes of a certificate we store */
#define ADMIN_CERTS_PER_KEY_MAX 16          /* old certificate objects of a key we replace */

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7), as CKA_EC_PARAMS holds it. */
static const uint8_t admin_p256_params[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07 };
static const uint8_t admin_rsa_e65537[] = { 0x01, 0x00, 0x01 };

struct p11_admin {
	struct p11 *p11;        /* from p11_open(): the login and cfg's keys */
	void *dl;               /* our reference to the same module */
	CK_FUNCTION_LIST_PTR f; /* its function list */
	CK_SESSION_HANDLE rw;   /* our read-write session */
	int has_rw;
	char token[ADMIN_TOKEN_LABEL_LEN + 1];
};

/* The error for a failed call: the device going away, or anything else. */
static int
admin_rv_error(CK_RV rv, int otherwise)
{
	return hsm_rv_error(rv) == SG_ERR_HSM_UNAVAILABLE ? SG_ERR_HSM_UNAVAILABLE : otherwise;
}

int
p11_admin_open(const struct hsm_config *cfg, struct p11_admin **ret, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	struct p11_admin *a = NULL;
	CK_C_GetFunctionList get_function_list;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	void *sym;
	char rvbuf[32];

	_Static_assert(
	    sizeof(sym) == sizeof(get_function_list), "function and object pointers differ");

	if (cfg == NULL || ret == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	r = p11_open(cfg, &a->p11, errbuf, errlen);
	if (r < 0)
		goto out;
	/* p11_open() checked the token label's length. */
	snprintf(a->token, sizeof(a->token), "%s", cfg->token);
	a->dl = dlopen(cfg->module, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	sym = a->dl != NULL ? dlsym(a->dl, "C_GetFunctionList") : NULL;
	if (sym == NULL) {
		errbuf_set(errbuf, errlen, "PKCS#11 module %s: not loaded", cfg->module);
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	memcpy(&get_function_list, &sym, sizeof(get_function_list));
	rv = get_function_list(&a->f);
	if (rv != CKR_OK || a->f == NULL) {
		errbuf_set(errbuf, errlen, "C_GetFunctionList: %s", hsm_rv_name(rv, rvbuf));
		a->f = NULL;
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	/* The one slot with this token (p11_open() made sure there is one). */
	r = p11_token_slot(a->f, cfg->token, &slot, errbuf, errlen);
	if (r < 0)
		goto out;
	rv = a->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &a->rw);
	if (rv != CKR_OK) {
		errbuf_set(
		    errbuf, errlen, "C_OpenSession (read-write): %s", hsm_rv_name(rv, rvbuf));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	a->has_rw = 1;
	*ret = a;
	a = NULL;
	r = 0;
out:
	p11_admin_close(a);
	return r;
}

struct p11 *
p11_admin_p11(struct p11_admin *a)
{
	return a != NULL ? a->p11 : NULL;
}

void
p11_admin_close(struct p11_admin *a)
{
	CK_RV rv;
	char rvbuf[32];

	if (a == NULL)
		return;
	/* Our session first, while the module is still initialized. */
	if (a->has_rw && a->f != NULL) {
		rv = a->f->C_CloseSession(a->rw);
		if (rv != CKR_OK)
			log_debug("C_CloseSession: %s", hsm_rv_name(rv, rvbuf));
	}
	p11_close(a->p11);
	if (a->dl != NULL)
		dlclose(a->dl);
	explicit_bzero(a, sizeof(*a));
	free(a);
}

/* ---- attributes ---- */

static CK_RV
admin_get_attr(struct p11_admin *a, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, void *buf,
    size_t cap, size_t *ret_len)
{
	CK_ATTRIBUTE at = { type, buf, (CK_ULONG)cap };
	CK_RV rv;

	rv = a->f->C_GetAttributeValue(a->rw, o, &at, 1);
	if (rv != CKR_OK)
		return rv;
	if (at.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (at.ulValueLen > cap)
		return CKR_BUFFER_TOO_SMALL;
	*ret_len = at.ulValueLen;
	return CKR_OK;
}

/* A CK_BBOOL; one the object lacks (or hides) reads as dflt. */
static int
admin_get_bool(struct p11_admin *a, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, int dflt)
{
	CK_BBOOL b = CK_FALSE;
	size_t len = 0;

	if (admin_get_attr(a, o, type, &b, sizeof(b), &len) != CKR_OK || len != sizeof(b))
		return dflt;
	return b != CK_FALSE;
}

/* Fills *ki from the private key o.  Returns the CK_RV of the first
 * attribute that every private key has (CKA_KEY_TYPE); the rest are best
 * effort and read as "absent" or "false" (extractable as "true") when the
 * token will not say. */
static CK_RV
admin_key_info(struct p11_admin *a, CK_OBJECT_HANDLE o, struct p11_key_info *ki)
{
	uint8_t buf[ADMIN_ATTR_MAX];
	size_t len = 0, i;
	CK_ULONG ktype = 0, mbits = 0;
	CK_RV rv;

	memset(ki, 0, sizeof(*ki));
	ki->handle = o;
	rv = admin_get_attr(a, o, CKA_KEY_TYPE, &ktype, sizeof(ktype), &len);
	if (rv == CKR_OK && len != sizeof(ktype))
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if (rv != CKR_OK)
		return rv;
	ki->key_type = ktype;
	ki->is_ec = ktype == CKK_EC;
	ki->is_rsa = ktype == CKK_RSA;
	if (admin_get_attr(a, o, CKA_LABEL, buf, sizeof(buf), &len) == CKR_OK) {
		ki->has_label = 1;
		if (len > P11_SHOWN_MAX)
			len = P11_SHOWN_MAX;
		for (i = 0; i < len; i++)
			ki->label[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?';
		ki->label[len] = '\0';
	}
	if (admin_get_attr(a, o, CKA_ID, buf, sizeof(buf), &len) == CKR_OK &&
	    len <= sizeof(ki->id)) {
		memcpy(ki->id, buf, len);
		ki->id_len = len;
	}
	ki->is_sensitive = admin_get_bool(a, o, CKA_SENSITIVE, 0);
	ki->is_extractable = admin_get_bool(a, o, CKA_EXTRACTABLE, 1);
	ki->is_always_sensitive = admin_get_bool(a, o, CKA_ALWAYS_SENSITIVE, 0);
	ki->is_never_extractable = admin_get_bool(a, o, CKA_NEVER_EXTRACTABLE, 0);
	ki->can_sign = admin_get_bool(a, o, CKA_SIGN, 0);
	ki->is_always_authenticate = admin_get_bool(a, o, CKA_ALWAYS_AUTHENTICATE, 0);
	if (ktype == CKK_EC) {
		if (admin_get_attr(a, o, CKA_EC_PARAMS, buf, sizeof(buf), &len) == CKR_OK &&
		    len == sizeof(admin_p256_params) && memcmp(buf, admin_p256_params, len) == 0) {
			ki->is_p256 = 1;
			ki->bits = 256;
		}
	} else if (ktype == CKK_RSA) {
		if (admin_get_attr(a, o, CKA_MODULUS, buf, sizeof(buf), &len) == CKR_OK &&
		    len > 0) {
			/* The modulus is big-endian; its top byte is nonzero in
			 * any sane token, but count its bits to be exact. */
			for (i = 0; i < len && buf[i] == 0; i++)
				;
			if (i < len) {
				unsigned top = buf[i], nb = 0;

				while (top != 0) {
					nb++;
					top >>= 1;
				}
				ki->bits = (int)((len - i - 1) * 8 + nb);
			}
		} else if (admin_get_attr(a, o, CKA_MODULUS_BITS, &mbits, sizeof(mbits), &len) ==
			CKR_OK &&
		    len == sizeof(mbits) && mbits <= (CK_ULONG)HSM_SIG_MAX * 8) {
			ki->bits = (int)mbits;
		}
	}
	return CKR_OK;
}

/* ---- search ---- */

/* Up to cap handles of objects matching tmpl into objs; *ret_n how many
 * were stored, *ret_more whether there were more. */
static CK_RV
admin_find(struct p11_admin *a, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *objs,
    size_t cap, size_t *ret_n, int *ret_more)
{
	CK_OBJECT_HANDLE extra;
	CK_ULONG got = 0;
	size_t n = 0;
	CK_RV rv, rv_final;
	int more = 0;

	rv = a->f->C_FindObjectsInit(a->rw, tmpl, ntmpl);
	if (rv != CKR_OK)
		return rv;
	while (n < cap) {
		CK_ULONG want = cap - n > ADMIN_FIND_BATCH ? ADMIN_FIND_BATCH : (CK_ULONG)(cap - n);

		rv = a->f->C_FindObjects(a->rw, objs + n, want, &got);
		if (rv != CKR_OK || got == 0)
			break;
		if (got > want) {
			rv = CKR_GENERAL_ERROR; /* a module that overran our array */
			break;
		}
		n += got;
	}
	if (rv == CKR_OK && n == cap) {
		rv = a->f->C_FindObjects(a->rw, &extra, 1, &got);
		more = rv == CKR_OK && got > 0;
	}
	rv_final = a->f->C_FindObjectsFinal(a->rw);
	if (rv == CKR_OK)
		rv = rv_final;
	if (rv != CKR_OK)
		return rv;
	*ret_n = n;
	*ret_more = more;
	return CKR_OK;
}

int
p11_admin_list(struct p11_admin *a, struct p11_key_info **ret, size_t *ret_n, int *ret_truncated,
    char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE *objs = NULL;
	struct p11_key_info *keys = NULL;
	size_t n = 0, i, nkeys = 0;
	int more = 0;
	CK_RV rv;
	char rvbuf[32];

	if (a == NULL || ret == NULL || ret_n == NULL || ret_truncated == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	objs = calloc(P11_LIST_MAX, sizeof(*objs));
	if (objs == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	rv = admin_find(a, tmpl, 1, objs, P11_LIST_MAX, &n, &more);
	if (rv != CKR_OK) {
		errbuf_set(
		    errbuf, errlen, "searching the private keys: %s", hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_HSM_UNAVAILABLE);
		goto out;
	}
	if (n > 0) {
		keys = calloc(n, sizeof(*keys));
		if (keys == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		rv = admin_key_info(a, objs[i], &keys[nkeys]);
		if (rv == CKR_OK) {
			nkeys++;
			continue;
		}
		if (hsm_rv_error(rv) == SG_ERR_HSM_UNAVAILABLE) {
			errbuf_set(
			    errbuf, errlen, "reading a private key: %s", hsm_rv_name(rv, rvbuf));
			r = SG_ERR_HSM_UNAVAILABLE;
			goto out;
		}
		log_debug(
		    "private key object %lu: %s", (unsigned long)objs[i], hsm_rv_name(rv, rvbuf));
	}
	if (nkeys == 0) {
		free(keys);
		keys = NULL;
	}
	*ret = keys;
	keys = NULL;
	*ret_n = nkeys;
	*ret_truncated = more;
	r = 0;
out:
	free(keys);
	free(objs);
	return r;
}

int
p11_admin_find(
    struct p11_admin *a, const char *uri, struct p11_key_info *ret, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	struct hsm_uri *u = NULL;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG ntmpl = 0;
	CK_OBJECT_HANDLE objs[2];
	size_t n = 0;
	int more = 0;
	CK_RV rv;
	char rvbuf[32];

	if (a == NULL || uri == NULL || ret == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	r = hsm_uri_parse(uri, &u);
	if (r < 0) {
		errbuf_set(errbuf, errlen, "invalid PKCS#11 URI %.200s: %s", uri, sg_strerror(r));
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (u->token != NULL && strcmp(u->token, a->token) != 0) {
		errbuf_set(errbuf, errlen, "URI %.200s names token \"%.64s\", not \"%s\"", uri,
		    u->token, a->token);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (u->type != NULL && strcmp(u->type, "private") != 0) {
		errbuf_set(errbuf, errlen, "URI %.200s names a %s object, not a private key", uri,
		    u->type);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (u->object == NULL && !u->has_id) {
		errbuf_set(errbuf, errlen, "URI %.200s names neither object= nor id=", uri);
		r = SG_ERR_CONFIG;
		goto out;
	}
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	if (u->object != NULL)
		tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_LABEL, u->object, strlen(u->object) };
	if (u->has_id)
		tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_ID, u->id, u->id_len };
	rv = admin_find(a, tmpl, ntmpl, objs, 2, &n, &more);
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "searching %.200s: %s", uri, hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_CONFIG);
		goto out;
	}
	if (n != 1) {
		errbuf_set(errbuf, errlen, "%s private key matches %.200s",
		    n == 0 ? "no" : "more than one", uri);
		r = SG_ERR_CONFIG;
		goto out;
	}
	rv = admin_key_info(a, objs[0], ret);
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "reading %.200s: %s", uri, hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_CONFIG);
		goto out;
	}
	r = 0;
out:
	hsm_uri_free(u);
	return r;
}

/* ---- generation ---- */

static int
admin_label_ok(const char *label)
{
	size_t i, len;

	if (label == NULL)
		return 0;
	len = strlen(label);
	if (len == 0 || len > P11_LABEL_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = label[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Whether any key or certificate object already has this label or id:
 * 0 (none), SG_ERR_EXISTS (with a reason), or the error of the search. */
static int
admin_check_free(struct p11_admin *a, const char *label, const uint8_t *id, size_t id_len,
    char *errbuf, size_t errlen)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
		CKO_CERTIFICATE };
	static const char *const class_names[] = { "private key", "public key", "certificate" };
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE tmpl[2];
	CK_OBJECT_HANDLE obj;
	size_t c, n = 0;
	int more = 0, by_id;
	CK_RV rv;
	char rvbuf[32];

	for (c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
		for (by_id = 0; by_id < 2; by_id++) {
			cls = classes[c];
			tmpl[0] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
			if (by_id)
				tmpl[1] = (CK_ATTRIBUTE){ CKA_ID, (void *)(uintptr_t)id, id_len };
			else
				tmpl[1] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)(uintptr_t)label,
					strlen(label) };
			rv = admin_find(a, tmpl, 2, &obj, 1, &n, &more);
			if (rv != CKR_OK) {
				errbuf_set(errbuf, errlen, "searching the token: %s",
				    hsm_rv_name(rv, rvbuf));
				return admin_rv_error(rv, SG_ERR_HSM_UNAVAILABLE);
			}
			if (n > 0) {
				errbuf_set(errbuf, errlen,
				    "a %s with this %s already exists on the token", class_names[c],
				    by_id ? "id" : "label");
				return SG_ERR_EXISTS;
			}
		}
	}
	return 0;
}

int
p11_admin_generate(struct p11_admin *a, enum p11_key_kind kind, const char *label,
    const uint8_t *id, size_t id_len, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = ADMIN_RSA_BITS;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_ATTRIBUTE pub[10], priv[14];
	CK_ULONG npub = 0, npriv = 0;
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	struct p11_key_info ki;
	CK_RV rv;
	char rvbuf[32];

	if (a == NULL || id == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (!admin_label_ok(label)) {
		errbuf_set(errbuf, errlen, "a key label is 1 to %d characters of A-Z a-z 0-9 . _ -",
		    P11_LABEL_MAX);
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (id_len == 0 || id_len > HSM_ID_MAX) {
		errbuf_set(errbuf, errlen, "a key id is 1 to %d bytes", HSM_ID_MAX);
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (kind != P11_KEY_EC_P256 && kind != P11_KEY_RSA_3072) {
		errbuf_set(errbuf, errlen, "unknown key type");
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	r = admin_check_free(a, label, id, id_len, errbuf, errlen);
	if (r < 0)
		goto out;

	/* Casts: PKCS#11 templates take void *, the module only reads them. */
	pub[npub++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	pub[npub++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof(no) };
	pub[npub++] = (CK_ATTRIBUTE){ CKA_VERIFY, &yes, sizeof(yes) };
	pub[npub++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) };
	pub[npub++] = (CK_ATTRIBUTE){ CKA_ID, (void *)(uintptr_t)id, id_len };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &no, sizeof(no) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_SIGN, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_ID, (void *)(uintptr_t)id, id_len };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_DECRYPT, &no, sizeof(no) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_UNWRAP, &no, sizeof(no) };
	if (kind == P11_KEY_EC_P256) {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		pub[npub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)(uintptr_t)admin_p256_params,
			sizeof(admin_p256_params) };
		priv[npriv++] = (CK_ATTRIBUTE){ CKA_DERIVE, &no, sizeof(no) };
	} else {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pub[npub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof(bits) };
		pub[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT,
			(void *)(uintptr_t)admin_rsa_e65537, sizeof(admin_rsa_e65537) };
		pub[npub++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &no, sizeof(no) };
		pub[npub++] = (CK_ATTRIBUTE){ CKA_WRAP, &no, sizeof(no) };
	}
	rv = a->f->C_GenerateKeyPair(a->rw, &mech, pub, npub, priv, npriv, &hpub, &hpriv);
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "C_GenerateKeyPair: %s", hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_CRYPTO);
		hpub = hpriv = CK_INVALID_HANDLE;
		goto out;
	}
	/* Read back what the token made of our template. */
	rv = admin_key_info(a, hpriv, &ki);
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "reading the new key: %s", hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_CRYPTO);
		goto out;
	}
	if (!ki.is_sensitive || ki.is_extractable || !ki.is_always_sensitive ||
	    !ki.is_never_extractable || !ki.can_sign || ki.is_always_authenticate) {
		errbuf_set(errbuf, errlen,
		    "the token made a key that is not as asked (sensitive %d, extractable %d, "
		    "always "
		    "sensitive %d, never extractable %d, sign %d): destroyed",
		    ki.is_sensitive, ki.is_extractable, ki.is_always_sensitive,
		    ki.is_never_extractable, ki.can_sign);
		r = SG_ERR_CRYPTO;
		goto out;
	}
	if ((kind == P11_KEY_EC_P256 && (ki.key_type != CKK_EC || !ki.is_p256)) ||
	    (kind == P11_KEY_RSA_3072 && (ki.key_type != CKK_RSA || ki.bits != ADMIN_RSA_BITS))) {
		errbuf_set(
		    errbuf, errlen, "the token made a key of another type or size: destroyed");
		r = SG_ERR_CRYPTO;
		goto out;
	}
	log_debug("generated key pair \"%s\" (%s)", label,
	    kind == P11_KEY_EC_P256 ? "EC P-256" : "RSA-3072");
	hpub = hpriv = CK_INVALID_HANDLE; /* keep them */
	r = 0;
out:
	if (hpriv != CK_INVALID_HANDLE && (rv = a->f->C_DestroyObject(a->rw, hpriv)) != CKR_OK)
		log_debug("C_DestroyObject (private key): %s", hsm_rv_name(rv, rvbuf));
	if (hpub != CK_INVALID_HANDLE && (rv = a->f->C_DestroyObject(a->rw, hpub)) != CKR_OK)
		log_debug("C_DestroyObject (public key): %s", hsm_rv_name(rv, rvbuf));
	return r;
}

/* ---- certificates ---- */

/* DER of an OpenSSL object into a new buffer; *ret_len its length. */
static int
admin_der(int len, uint8_t **ret, size_t *ret_len)
{
	if (len <= 0 || len > ADMIN_CERT_DER_MAX)
		return SG_ERR_CRYPTO;
	*ret = malloc((size_t)len);
	if (*ret == NULL)
		return SG_ERR_ALLOC;
	*ret_len = (size_t)len;
	return 0;
}

int
p11_admin_store_cert(
    struct p11_admin *a, const struct p11_key_info *key, X509 *cert, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE find_tmpl[2], tmpl[10];
	CK_ULONG ntmpl = 0;
	CK_OBJECT_HANDLE old[ADMIN_CERTS_PER_KEY_MAX], obj = CK_INVALID_HANDLE;
	uint8_t *der = NULL, *subj = NULL, *iss = NULL, *serial = NULL;
	size_t der_len = 0, subj_len = 0, iss_len = 0, serial_len = 0, n = 0, i;
	unsigned char *p;
	int more = 0;
	CK_RV rv;
	char rvbuf[32];

	if (a == NULL || key == NULL || cert == NULL) {
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (key->id_len == 0) {
		errbuf_set(errbuf, errlen, "the key has no CKA_ID to pair its certificate with");
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if ((r = admin_der(i2d_X509(cert, NULL), &der, &der_len)) < 0 ||
	    (r = admin_der(i2d_X509_NAME(X509_get_subject_name(cert), NULL), &subj, &subj_len)) <
		0 ||
	    (r = admin_der(i2d_X509_NAME(X509_get_issuer_name(cert), NULL), &iss, &iss_len)) < 0 ||
	    (r = admin_der(
		 i2d_ASN1_INTEGER(X509_get_serialNumber(cert), NULL), &serial, &serial_len)) < 0)
		goto out;
	if ((p = der, i2d_X509(cert, &p)) != (int)der_len ||
	    (p = subj, i2d_X509_NAME(X509_get_subject_name(cert), &p)) != (int)subj_len ||
	    (p = iss, i2d_X509_NAME(X509_get_issuer_name(cert), &p)) != (int)iss_len ||
	    (p = serial, i2d_ASN1_INTEGER(X509_get_serialNumber(cert), &p)) != (int)serial_len) {
		r = SG_ERR_CRYPTO;
		goto out;
	}

	/* The old certificates of this key go first. */
	find_tmpl[0] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	find_tmpl[1] = (CK_ATTRIBUTE){ CKA_ID, (void *)(uintptr_t)key->id, key->id_len };
	rv = admin_find(a, find_tmpl, 2, old, sizeof(old) / sizeof(old[0]), &n, &more);
	if (rv != CKR_OK) {
		errbuf_set(
		    errbuf, errlen, "searching certificate objects: %s", hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_HSM_UNAVAILABLE);
		goto out;
	}
	if (more) {
		errbuf_set(
		    errbuf, errlen, "more than %zu certificate objects have this key's id", n);
		r = SG_ERR_LIMIT;
		goto out;
	}

	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof(no) };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_ID, (void *)(uintptr_t)key->id, key->id_len };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_VALUE, der, der_len };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_SUBJECT, subj, subj_len };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_ISSUER, iss, iss_len };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_SERIAL_NUMBER, serial, serial_len };
	if (key->has_label && strchr(key->label, '?') == NULL)
		tmpl[ntmpl++] =
		    (CK_ATTRIBUTE){ CKA_LABEL, (void *)(uintptr_t)key->label, strlen(key->label) };
	rv = a->f->C_CreateObject(a->rw, tmpl, ntmpl, &obj);
	if (rv != CKR_OK) {
		errbuf_set(
		    errbuf, errlen, "C_CreateObject (certificate): %s", hsm_rv_name(rv, rvbuf));
		r = admin_rv_error(rv, SG_ERR_CRYPTO);
		goto out;
	}
	for (i = 0; i < n; i++) {
		rv = a->f->C_DestroyObject(a->rw, old[i]);
		if (rv != CKR_OK) {
			errbuf_set(errbuf, errlen, "C_DestroyObject (old certificate): %s",
			    hsm_rv_name(rv, rvbuf));
			r = admin_rv_error(rv, SG_ERR_CRYPTO);
			goto out;
		}
	}
	r = 0;
out:
	free(der);
	free(subj);
	free(iss);
	free(serial);
	return r;
}
