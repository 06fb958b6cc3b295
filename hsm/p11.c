/*
 * p11.c — p11.h: the PKCS#11 v2.40 key holder.
 *
 * Design
 *
 * This file is the key holder of signet: the only code that sees the PIN,
 * a PKCS#11 session or a key handle.  Its whole request surface is
 * p11_sign(h, i, digest): "sign this SHA-256 digest with configured key i",
 * re-checked here (i < nkeys, exactly SHA256_LEN bytes) whatever the caller
 * already checked, in the spirit of OpenSSH's mm_answer_sign().  It runs in
 * the agent when hsm_config.signer is NULL (hsm.c), and otherwise only in
 * the signet-signer process (signer.c), behind the protocol of
 * signer_proto.h; the agent then never links a path to the PIN.
 *
 * Opening (p11_open), in order, failing closed at each step:
 *   1. dlopen(module, RTLD_NOW | RTLD_LOCAL) of the configured absolute path
 *      only (a relative path would go through the loader's search path);
 *      C_GetFunctionList; C_Initialize with CKF_OS_LOCKING_OK, because
 *      several threads sign at once.  CKR_CRYPTOKI_ALREADY_INITIALIZED
 *      (someone else in the process got there first) is accepted, and then
 *      we do not C_Finalize, nor close sessions that are not ours.
 *   2. The token is the one present token whose 32-byte, space-padded label
 *      equals cfg->token; none is SG_ERR_HSM_UNAVAILABLE, several are
 *      SG_ERR_CONFIG.
 *   3. One read-only serial session is opened, the PIN is read from its
 *      owner-only file, C_Login(CKU_USER), and the PIN is wiped at once.
 *      The login belongs to the application and token, so it covers every
 *      session opened afterwards: the other cfg->sessions - 1 are opened
 *      then.
 *   4. Each key spec is resolved once, and everything signing needs is
 *      cached in struct hsm_key: the private key handle (object handles are
 *      valid in every session of the application), the mechanism, the size
 *      of the raw signature and the public key as an EVP_PKEY.  The URI
 *      (hsm_uri.c) must name object= and/or id=, token= must be the
 *      configured token, type= if present must be "private".  Exactly one
 *      CKO_PRIVATE_KEY may match.  It must be CKA_SENSITIVE, not
 *      CKA_EXTRACTABLE, CKA_SIGN, and not CKA_ALWAYS_AUTHENTICATE (we cannot
 *      log in per signature); its type must fit the mechanism (CKK_EC on
 *      P-256 for ECDSA, CKK_RSA of 2048 to 8192 bits for RSA), or, for a
 *      spec with mech_from_key (the attestation key), it picks the
 *      mechanism: ECDSA for EC, RSA-PSS for RSA.  The public key comes
 *      from the one CKO_PUBLIC_KEY of that type with the URI's label/id,
 *      else with the private key's CKA_ID; an RSA private key also carries
 *      CKA_MODULUS and CKA_PUBLIC_EXPONENT, which serve when there is no
 *      public key object and otherwise must agree with it.
 *   5. Self-test: each key signs a fixed digest (SHA-256 of a constant
 *      string nobody ships) and the signature is checked against the cached
 *      public key, so a public key object paired with the wrong private key
 *      stops the start instead of failing every job later.  The signature is
 *      dropped.
 *
 * Signing: the pool is a stack of idle session handles under a mutex; a
 * signer pops one (waiting on a condition variable while all are busy),
 * runs C_SignInit + C_Sign into an HSM_SIG_MAX buffer, and pushes it back.
 * Keys are refused at open unless their raw signature fits that buffer, so
 * the C_Sign size query is never needed and CKR_BUFFER_TOO_SMALL (which
 * would leave the operation active) cannot happen with a conforming module.
 * Mechanisms: CKM_ECDSA over the digest, whose r||s result is re-encoded as
 * a DER ECDSA-Sig-Value; CKM_RSA_PKCS over the SHA-256 DigestInfo; and
 * CKM_RSA_PKCS_PSS with {CKM_SHA256, CKG_MGF1_SHA256, 32} over the digest.
 * CK_RV values become signet errors in hsm_rv.c (hsm_rv_error); the CKR
 * name is logged at debug level.  A session whose device or login went away
 * is put back in the pool all the same: every later call reports
 * SG_ERR_HSM_UNAVAILABLE until the caller closes and reopens the HSM.
 * p11_sign() does not verify what it returns (that costs a verification
 * per job); the caller checks the signature before releasing it
 * (STYLE: fail closed), which also catches a faulty RSA-CRT result.
 *
 * Secrets: the PIN lives from read_secret_file() to just after C_Login and
 * is freed with freezero() on every path; it is never in a message.  Error
 * reasons (errbuf) name the step, the key, its URI or the file, and the
 * CKR name.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "crypto.h"
#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "util.h"

/* Last: in its compatibility mode this header #defines lowercase words such
 * as `value`, `count` and `params` to the standard field names, which would
 * rename members in any header included after it. */
#include <p11-kit/pkcs11.h>

#include "p11_slot.h"

#define HSM_SLOTS_MAX             1024 /* slots with a token we look at */
#define HSM_TOKEN_LABEL_LEN       32   /* bytes of CK_TOKEN_INFO.label */
#define HSM_ATTR_MAX              1024 /* bytes of any attribute we read */
#define HSM_RSA_BITS_MIN          2048 /* bits of the smallest RSA modulus accepted */
#define HSM_P256_COORD_LEN        32   /* bytes of a P-256 coordinate, r or s */
#define HSM_P256_POINT_LEN        65   /* bytes of an uncompressed P-256 point */
#define HSM_DER_OCTET_STRING      0x04 /* DER tag of the CKA_EC_POINT wrapper */
#define HSM_EC_POINT_UNCOMPRESSED 0x04
#define HSM_SELFTEST_TEXT         "signet hsm self-test: this digest is never an artifact"

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7), as CKA_EC_PARAMS holds it. */
static const uint8_t p256_ec_params[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07 };

struct hsm_key {
	CK_OBJECT_HANDLE priv; /* private key object; valid in every pool session */
	enum sg_mech mech;
	size_t raw_sig_len; /* bytes C_Sign returns: 64 (r||s) or the modulus size */
	EVP_PKEY *pub;      /* public half, read from the token at open */
};

struct p11 {
	void *dl;                 /* dlopen() handle of the module */
	CK_FUNCTION_LIST_PTR p11; /* the module's function list */
	int finalize;             /* we ran C_Initialize, so C_Finalize */
	int logout;               /* we logged in, so C_Logout */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sessions[HSM_SESSIONS_MAX]; /* every session we opened */
	unsigned nsessions;
	/* The pool: a stack of idle sessions, guarded by lock; idle_cond is
	 * signalled whenever one is pushed back. */
	CK_SESSION_HANDLE idle[HSM_SESSIONS_MAX];
	unsigned nidle;
	pthread_mutex_t lock;
	pthread_cond_t idle_cond;
	int has_lock, has_cond;
	struct hsm_key *keys; /* keys_alloc (cfg->nkeys) entries, in config order */
	size_t keys_alloc;
	size_t nkeys; /* resolved keys; p11_sign() takes only these */
};

static const char *
key_name(const struct hsm_key_spec *ks)
{
	return ks->name != NULL ? ks->name : "(unnamed)";
}

/* ---- the session pool ---- */

static CK_SESSION_HANDLE
pool_take(struct p11 *h)
{
	CK_SESSION_HANDLE s;

	pthread_mutex_lock(&h->lock);
	while (h->nidle == 0)
		pthread_cond_wait(&h->idle_cond, &h->lock);
	s = h->idle[--h->nidle];
	pthread_mutex_unlock(&h->lock);
	return s;
}

static void
pool_give(struct p11 *h, CK_SESSION_HANDLE s)
{
	pthread_mutex_lock(&h->lock);
	h->idle[h->nidle++] = s;
	pthread_cond_signal(&h->idle_cond);
	pthread_mutex_unlock(&h->lock);
}

/* ---- module, token, login ---- */

static int
load_module(struct p11 *h, const char *module, char *errbuf, size_t errlen)
{
	CK_C_GetFunctionList get_function_list;
	CK_C_INITIALIZE_ARGS init_args;
	CK_RV rv;
	void *sym;
	char rvbuf[32];
	const char *dlerr;

	_Static_assert(
	    sizeof(sym) == sizeof(get_function_list), "function and object pointers differ");

	h->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (h->dl == NULL) {
		dlerr = dlerror();
		errbuf_set(errbuf, errlen, "cannot load PKCS#11 module %s: %s", module,
		    dlerr != NULL ? dlerr : "unknown error");
		return SG_ERR_HSM_UNAVAILABLE;
	}
	sym = dlsym(h->dl, "C_GetFunctionList");
	if (sym == NULL) {
		errbuf_set(
		    errbuf, errlen, "%s is not a PKCS#11 module (no C_GetFunctionList)", module);
		return SG_ERR_HSM_UNAVAILABLE;
	}
	/* POSIX lets a data pointer from dlsym() hold a function address;
	 * memcpy() makes the conversion without what ISO C forbids. */
	memcpy(&get_function_list, &sym, sizeof(get_function_list));
	rv = get_function_list(&h->p11);
	if (rv != CKR_OK || h->p11 == NULL) {
		errbuf_set(errbuf, errlen, "C_GetFunctionList: %s", hsm_rv_name(rv, rvbuf));
		h->p11 = NULL;
		return SG_ERR_HSM_UNAVAILABLE;
	}
	log_debug("PKCS#11 module %s: interface %u.%u", module, (unsigned)h->p11->version.major,
	    (unsigned)h->p11->version.minor);
	memset(&init_args, 0, sizeof(init_args));
	init_args.flags = CKF_OS_LOCKING_OK;
	rv = h->p11->C_Initialize(&init_args);
	if (rv == CKR_OK) {
		h->finalize = 1;
	} else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		errbuf_set(errbuf, errlen, "C_Initialize: %s", hsm_rv_name(rv, rvbuf));
		h->p11 = NULL;
		return SG_ERR_HSM_UNAVAILABLE;
	}
	return 0;
}

/* See p11.h. */
int
p11_token_slot(
    CK_FUNCTION_LIST_PTR f, const char *token, CK_SLOT_ID *ret_slot, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	CK_SLOT_ID *slots = NULL;
	CK_ULONG nslots = 0, i, nfound = 0;
	CK_SLOT_ID slot = 0;
	CK_TOKEN_INFO info;
	CK_RV rv;
	unsigned char label[HSM_TOKEN_LABEL_LEN];
	size_t token_len = strlen(token);
	char rvbuf[32];

	if (token_len == 0 || token_len > HSM_TOKEN_LABEL_LEN) {
		errbuf_set(errbuf, errlen, "token label \"%.64s\" is not 1 to %d bytes", token,
		    HSM_TOKEN_LABEL_LEN);
		r = SG_ERR_CONFIG;
		goto out;
	}
	memset(label, ' ', sizeof(label));
	memcpy(label, token, token_len);

	rv = f->C_GetSlotList(CK_TRUE, NULL, &nslots);
	if (rv == CKR_OK && nslots > HSM_SLOTS_MAX)
		nslots = HSM_SLOTS_MAX;
	if (rv == CKR_OK && nslots > 0) {
		slots = calloc(nslots, sizeof(*slots));
		if (slots == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		/* A token inserted since the first call gives
		 * CKR_BUFFER_TOO_SMALL: then look at the first nslots. */
		rv = f->C_GetSlotList(CK_TRUE, slots, &nslots);
		if (rv == CKR_BUFFER_TOO_SMALL)
			rv = CKR_OK;
	}
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "C_GetSlotList: %s", hsm_rv_name(rv, rvbuf));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	for (i = 0; i < nslots; i++) {
		rv = f->C_GetTokenInfo(slots[i], &info);
		if (rv != CKR_OK) {
			log_debug("C_GetTokenInfo(slot %lu): %s", (unsigned long)slots[i],
			    hsm_rv_name(rv, rvbuf));
			continue;
		}
		if (memcmp(info.label, label, sizeof(label)) != 0)
			continue;
		if (nfound++ == 0)
			slot = slots[i];
	}
	if (nfound == 0) {
		errbuf_set(errbuf, errlen, "no token labelled \"%s\" is present", token);
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	if (nfound > 1) {
		errbuf_set(
		    errbuf, errlen, "%lu tokens are labelled \"%s\"", (unsigned long)nfound, token);
		r = SG_ERR_CONFIG;
		goto out;
	}
	*ret_slot = slot;
	r = 0;
out:
	free(slots);
	return r;
}

static int
find_token(struct p11 *h, const char *token, char *errbuf, size_t errlen)
{
	return p11_token_slot(h->p11, token, &h->slot, errbuf, errlen);
}

static int
open_session(struct p11 *h, char *errbuf, size_t errlen)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_RV rv;
	char rvbuf[32];

	rv = h->p11->C_OpenSession(h->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "C_OpenSession: %s", hsm_rv_name(rv, rvbuf));
		return SG_ERR_HSM_UNAVAILABLE;
	}
	h->sessions[h->nsessions++] = s;
	h->idle[h->nidle++] = s;
	return 0;
}

/* 0 when the PIN looks like one; 1: a CR in it, 2: a line feed (more
 * than one line), 3: leading or trailing blanks. */
static int
pin_check(const char *pin, size_t len)
{
	if (memchr(pin, '\r', len) != NULL)
		return 1;
	if (memchr(pin, '\n', len) != NULL)
		return 2;
	if (len > 0 &&
	    (pin[0] == ' ' || pin[0] == '\t' || pin[len - 1] == ' ' || pin[len - 1] == '\t'))
		return 3;
	return 0;
}

static int
login(struct p11 *h, const char *pin_file, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	char *pin = NULL;
	size_t pin_len = 0;
	CK_RV rv;
	char rvbuf[32];

	r = read_secret_file(pin_file, &pin, &pin_len);
	if (r < 0) {
		errbuf_set(errbuf, errlen, "PIN file %s: %s", pin_file, sg_strerror(r));
		goto out;
	}
	/* A real HSM locks its token after a few wrong PINs: a PIN that an
	 * editor or a copy from Windows has changed is never tried. */
	if ((r = pin_check(pin, pin_len)) != 0) {
		errbuf_set(errbuf, errlen,
		    "PIN file %s: %s; not tried (a token locks after a few wrong PINs): write the "
		    "PIN alone, with at most one trailing newline",
		    pin_file,
		    r == 1       ? "it holds a carriage return (CRLF line ends?)"
			: r == 2 ? "it holds more than one line"
				 : "it begins or ends with a space or a tab");
		r = SG_ERR_CONFIG;
		goto out;
	}
	rv = h->p11->C_Login(h->sessions[0], CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)pin_len);
	freezero(pin, pin_len + 1);
	pin = NULL;
	if (rv == CKR_USER_ALREADY_LOGGED_IN) {
		/* Someone else in this process logged in; it is their login. */
		r = 0;
		goto out;
	}
	if (rv != CKR_OK) {
		errbuf_set(errbuf, errlen, "C_Login: %s", hsm_rv_name(rv, rvbuf));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	h->logout = 1;
	r = 0;
out:
	if (pin != NULL)
		freezero(pin, pin_len + 1);
	return r;
}

/* ---- objects and attributes ---- */

/*
 * Finds the objects matching tmpl; *ret_found is 0, 1 or 2 (two or more),
 * *ret_obj the first match.  0 or SG_ERR_HSM_UNAVAILABLE (with *ret_rv).
 */
static int
find_objects(struct p11 *h, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
    CK_OBJECT_HANDLE *ret_obj, CK_ULONG *ret_found, CK_RV *ret_rv)
{
	CK_OBJECT_HANDLE objs[2];
	CK_ULONG found = 0;
	CK_RV rv, rv_final;

	rv = h->p11->C_FindObjectsInit(s, tmpl, ntmpl);
	if (rv != CKR_OK)
		goto out;
	rv = h->p11->C_FindObjects(s, objs, 2, &found);
	rv_final = h->p11->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		rv = rv_final;
out:
	if (rv != CKR_OK) {
		*ret_rv = rv;
		return SG_ERR_HSM_UNAVAILABLE;
	}
	*ret_obj = found > 0 ? objs[0] : CK_INVALID_HANDLE;
	*ret_found = found > 2 ? 2 : found;
	return 0;
}

/* Reads one attribute of at most cap bytes.  Returns the CK_RV; an
 * attribute the object does not have is CKR_ATTRIBUTE_TYPE_INVALID. */
static CK_RV
get_attr(struct p11 *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, void *buf,
    size_t cap, size_t *ret_len)
{
	CK_ATTRIBUTE a = { type, buf, (CK_ULONG)cap };
	CK_RV rv;

	rv = h->p11->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (a.ulValueLen > cap)
		return CKR_BUFFER_TOO_SMALL;
	*ret_len = a.ulValueLen;
	return CKR_OK;
}

/* A CK_BBOOL attribute; when the object lacks it, *ret = dflt if dflt >= 0,
 * otherwise it is an error.  Returns the CK_RV. */
static CK_RV
get_bool(struct p11 *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, int dflt,
    int *ret)
{
	CK_BBOOL b = CK_FALSE;
	size_t len = 0;
	CK_RV rv;

	rv = get_attr(h, s, o, type, &b, sizeof(b), &len);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID && dflt >= 0) {
		*ret = dflt;
		return CKR_OK;
	}
	if (rv != CKR_OK)
		return rv;
	if (len != sizeof(b))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*ret = b != CK_FALSE;
	return CKR_OK;
}

static CK_RV
get_ulong(
    struct p11 *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *ret)
{
	CK_ULONG v = 0;
	size_t len = 0;
	CK_RV rv;

	rv = get_attr(h, s, o, type, &v, sizeof(v), &len);
	if (rv != CKR_OK)
		return rv;
	if (len != sizeof(v))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*ret = v;
	return CKR_OK;
}

/* ---- public keys ---- */

static int
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
	int r = SG_ERR_INTERNAL;
	OSSL_PARAM *ossl_params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pk = NULL;

	ossl_params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (ossl_params == NULL || ctx == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, ossl_params) != 1) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (check == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (EVP_PKEY_public_check(check) != 1) {
		r = SG_ERR_CRYPTO;
		goto out;
	}
	*ret = pk;
	pk = NULL;
	r = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(ossl_params);
	ERR_clear_error();
	return r;
}

/* P-256 public key from a CKA_EC_POINT value: the DER OCTET STRING that
 * PKCS#11 v2.40 prescribes, or the bare point some modules return. */
static int
pkey_ec_p256(const uint8_t *ec_point, size_t len, EVP_PKEY **ret)
{
	int r = SG_ERR_INTERNAL;
	OSSL_PARAM_BLD *bld = NULL;
	const uint8_t *pt = NULL;

	if (len == 2 + HSM_P256_POINT_LEN && ec_point[0] == HSM_DER_OCTET_STRING &&
	    ec_point[1] == HSM_P256_POINT_LEN)
		pt = ec_point + 2;
	else if (len == HSM_P256_POINT_LEN)
		pt = ec_point;
	if (pt == NULL || pt[0] != HSM_EC_POINT_UNCOMPRESSED) {
		r = SG_ERR_KEY_UNSUPPORTED;
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(
		bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(
		bld, OSSL_PKEY_PARAM_PUB_KEY, pt, HSM_P256_POINT_LEN) != 1) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	r = pkey_from_params("EC", bld, ret);
out:
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return r;
}

static int
pkey_rsa(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, EVP_PKEY **ret)
{
	int r = SG_ERR_INTERNAL;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;

	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	r = pkey_from_params("RSA", bld, ret);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	ERR_clear_error();
	return r;
}

/* ---- keys ---- */

/* Everything resolve_key() holds, so that one out: frees it. */
struct resolve {
	struct hsm_uri *uri;
	uint8_t id[HSM_ATTR_MAX]; /* CKA_ID of the private key */
	size_t id_len;
	uint8_t buf[HSM_ATTR_MAX]; /* CKA_EC_POINT or CKA_MODULUS of the public key */
	size_t buf_len;
	uint8_t n[HSM_ATTR_MAX]; /* RSA: CKA_MODULUS of the private key */
	size_t n_len;
	uint8_t e[HSM_ATTR_MAX]; /* RSA: CKA_PUBLIC_EXPONENT */
	size_t e_len;
};

/* Finds the public key object for the private key: the URI's label/id
 * first, then the private key's CKA_ID.  0 with *ret_found 0, 1 or 2. */
static int
find_public(struct p11 *h, CK_SESSION_HANDLE s, struct resolve *rs, CK_KEY_TYPE ktype,
    CK_OBJECT_HANDLE *ret_obj, CK_ULONG *ret_found, CK_RV *ret_rv)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[4];
	CK_ULONG ntmpl = 0, found = 0;
	int r;

	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &ktype, sizeof(ktype) };
	if (rs->uri->object != NULL)
		tmpl[ntmpl++] =
		    (CK_ATTRIBUTE){ CKA_LABEL, rs->uri->object, strlen(rs->uri->object) };
	if (rs->uri->has_id)
		tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_ID, rs->uri->id, rs->uri->id_len };
	r = find_objects(h, s, tmpl, ntmpl, ret_obj, &found, ret_rv);
	if (r < 0 || found == 1 || rs->id_len == 0) {
		*ret_found = found;
		return r;
	}
	ntmpl = 2;
	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_ID, rs->id, rs->id_len };
	r = find_objects(h, s, tmpl, ntmpl, ret_obj, &found, ret_rv);
	*ret_found = found;
	return r;
}

/* A failed call while resolving a key: the HSM going away is not a
 * configuration problem, anything else about the key is. */
static int
resolve_error(CK_RV rv)
{
	return hsm_rv_error(rv) == SG_ERR_HSM_UNAVAILABLE ? SG_ERR_HSM_UNAVAILABLE : SG_ERR_CONFIG;
}

/* A key refused: the one-line reason, and SG_ERR_CONFIG. */
static int __attribute__((format(printf, 3, 4)))
refuse(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return SG_ERR_CONFIG;
}

/* The key's URI and mechanism, before the token is asked anything. */
static int
check_spec(const struct hsm_config *cfg, const struct hsm_key_spec *ks, struct resolve *rs,
    char *errbuf, size_t errlen)
{
	const char *name = key_name(ks);
	int r;

	if (ks->uri == NULL)
		return refuse(errbuf, errlen, "key %s: no PKCS#11 URI", name);
	if ((r = hsm_uri_parse(ks->uri, &rs->uri)) < 0)
		return refuse(errbuf, errlen, "key %s: invalid PKCS#11 URI %.200s: %s", name,
		    ks->uri, sg_strerror(r));
	if (rs->uri->token != NULL && strcmp(rs->uri->token, cfg->token) != 0)
		return refuse(errbuf, errlen,
		    "key %s: URI %.200s names token \"%.64s\", not the configured \"%.64s\"", name,
		    ks->uri, rs->uri->token, cfg->token);
	if (rs->uri->type != NULL && strcmp(rs->uri->type, "private") != 0)
		return refuse(errbuf, errlen,
		    "key %s: URI %.200s names a %s object, not a private key", name, ks->uri,
		    rs->uri->type);
	if (rs->uri->object == NULL && !rs->uri->has_id)
		return refuse(errbuf, errlen,
		    "key %s: URI %.200s names neither object= nor id=", name, ks->uri);
	if (!ks->mech_from_key && ks->mech != SG_MECH_ECDSA_SHA256 &&
	    ks->mech != SG_MECH_RSA_PKCS1_SHA256 && ks->mech != SG_MECH_RSA_PSS_SHA256)
		return refuse(errbuf, errlen, "key %s: unknown mechanism %d", name, (int)ks->mech);
	return 0;
}

/*
 * The private key: exactly one object, sensitive, not extractable, allowed
 * to sign without a login per signature, of the type the mechanism needs
 * (or, for the attestation key, whose type decides the mechanism: hsm.h).
 * Sets k->priv, k->mech and *ret_type, and reads the key's CKA_ID and its
 * type's parameters into rs.
 */
static int
find_private(struct p11 *h, CK_SESSION_HANDLE s, const struct hsm_key_spec *ks, struct hsm_key *k,
    struct resolve *rs, CK_KEY_TYPE *ret_type, char *errbuf, size_t errlen)
{
	const char *name = key_name(ks);
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG ntmpl = 0, found = 0, ktype = 0;
	CK_KEY_TYPE want_type;
	CK_RV rv = CKR_OK;
	int sensitive = 0, extractable = 1, can_sign = 0, always_auth = 1, r;
	char rvbuf[32];

	tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	if (rs->uri->object != NULL)
		tmpl[ntmpl++] =
		    (CK_ATTRIBUTE){ CKA_LABEL, rs->uri->object, strlen(rs->uri->object) };
	if (rs->uri->has_id)
		tmpl[ntmpl++] = (CK_ATTRIBUTE){ CKA_ID, rs->uri->id, rs->uri->id_len };
	if ((r = find_objects(h, s, tmpl, ntmpl, &k->priv, &found, &rv)) < 0) {
		errbuf_set(errbuf, errlen, "key %s: searching %.200s: %s", name, ks->uri,
		    hsm_rv_name(rv, rvbuf));
		return r;
	}
	if (found != 1)
		return refuse(errbuf, errlen, "key %s: %s private key matches %.200s", name,
		    found == 0 ? "no" : "more than one", ks->uri);
	if ((rv = get_bool(h, s, k->priv, CKA_SENSITIVE, -1, &sensitive)) != CKR_OK ||
	    (rv = get_bool(h, s, k->priv, CKA_EXTRACTABLE, -1, &extractable)) != CKR_OK ||
	    (rv = get_bool(h, s, k->priv, CKA_SIGN, -1, &can_sign)) != CKR_OK ||
	    (rv = get_bool(h, s, k->priv, CKA_ALWAYS_AUTHENTICATE, 0, &always_auth)) != CKR_OK ||
	    (rv = get_ulong(h, s, k->priv, CKA_KEY_TYPE, &ktype)) != CKR_OK) {
		errbuf_set(errbuf, errlen, "key %s (%.200s): reading its attributes: %s", name,
		    ks->uri, hsm_rv_name(rv, rvbuf));
		return resolve_error(rv);
	}
	if (!sensitive || extractable)
		return refuse(errbuf, errlen, "key %s (%.200s) is %s: refused", name, ks->uri,
		    extractable ? "extractable" : "not sensitive");
	if (!can_sign || always_auth)
		return refuse(errbuf, errlen, "key %s (%.200s) %s", name, ks->uri,
		    !can_sign ? "may not sign (CKA_SIGN is false)"
			      : "needs a login per signature (CKA_ALWAYS_AUTHENTICATE)");
	if (ks->mech_from_key) {
		if (ktype != CKK_EC && ktype != CKK_RSA)
			return refuse(errbuf, errlen,
			    "key %s (%.200s) is neither an EC nor an RSA key", name, ks->uri);
		k->mech = ktype == CKK_EC ? SG_MECH_ECDSA_SHA256 : SG_MECH_RSA_PSS_SHA256;
	} else {
		k->mech = ks->mech;
	}
	want_type = k->mech == SG_MECH_ECDSA_SHA256 ? CKK_EC : CKK_RSA;
	if (ktype != want_type)
		return refuse(errbuf, errlen,
		    "key %s (%.200s) is not an %s key, as mechanism %s needs", name, ks->uri,
		    want_type == CKK_EC ? "EC" : "RSA", sg_mech_name(k->mech));
	if (get_attr(h, s, k->priv, CKA_ID, rs->id, sizeof(rs->id), &rs->id_len) != CKR_OK)
		rs->id_len = 0;
	if (want_type == CKK_EC) {
		rv = get_attr(h, s, k->priv, CKA_EC_PARAMS, rs->buf, sizeof(rs->buf), &rs->buf_len);
		if (rv != CKR_OK || rs->buf_len != sizeof(p256_ec_params) ||
		    memcmp(rs->buf, p256_ec_params, sizeof(p256_ec_params)) != 0)
			return refuse(errbuf, errlen,
			    "key %s (%.200s) is not on curve P-256, as %s needs", name, ks->uri,
			    sg_mech_name(k->mech));
	} else if (get_attr(h, s, k->priv, CKA_MODULUS, rs->n, sizeof(rs->n), &rs->n_len) !=
		CKR_OK ||
	    get_attr(h, s, k->priv, CKA_PUBLIC_EXPONENT, rs->e, sizeof(rs->e), &rs->e_len) !=
		CKR_OK) {
		/* Public attributes of an RSA private key: optional in
		 * practice, so their absence is not an error yet. */
		rs->n_len = rs->e_len = 0;
	}
	*ret_type = want_type;
	return 0;
}

/* An EC key's public half: the public key object on P-256 and its point. */
static int
ec_public(struct p11 *h, CK_SESSION_HANDLE s, const struct hsm_key_spec *ks, struct hsm_key *k,
    struct resolve *rs, CK_OBJECT_HANDLE pub_obj, CK_ULONG found, char *errbuf, size_t errlen)
{
	const char *name = key_name(ks);
	char rvbuf[32];
	CK_RV rv;
	int r = 0;

	if (found == 0)
		return refuse(errbuf, errlen,
		    "key %s (%.200s): no public key object with its label or id", name, ks->uri);
	rv = get_attr(h, s, pub_obj, CKA_EC_PARAMS, rs->buf, sizeof(rs->buf), &rs->buf_len);
	if (rv != CKR_OK || rs->buf_len != sizeof(p256_ec_params) ||
	    memcmp(rs->buf, p256_ec_params, sizeof(p256_ec_params)) != 0)
		return refuse(errbuf, errlen,
		    "key %s (%.200s): its public key object is not on P-256", name, ks->uri);
	rv = get_attr(h, s, pub_obj, CKA_EC_POINT, rs->buf, sizeof(rs->buf), &rs->buf_len);
	if (rv == CKR_OK)
		r = pkey_ec_p256(rs->buf, rs->buf_len, &k->pub);
	if (rv != CKR_OK || r < 0) {
		errbuf_set(errbuf, errlen, "key %s (%.200s): unusable CKA_EC_POINT (%s)", name,
		    ks->uri, rv != CKR_OK ? hsm_rv_name(rv, rvbuf) : sg_strerror(r));
		return r == SG_ERR_ALLOC ? r : SG_ERR_CONFIG;
	}
	k->raw_sig_len = 2 * HSM_P256_COORD_LEN;
	return 0;
}

/* An RSA key's public half: from the public key object when there is one
 * (its modulus must be the private key's), else from the private key's
 * public attributes; at least HSM_RSA_BITS_MIN bits. */
static int
rsa_public(struct p11 *h, CK_SESSION_HANDLE s, const struct hsm_key_spec *ks, struct hsm_key *k,
    struct resolve *rs, CK_OBJECT_HANDLE pub_obj, CK_ULONG found, char *errbuf, size_t errlen)
{
	const char *name = key_name(ks);
	char rvbuf[32];
	CK_RV rv = CKR_OK;
	int r, bits;

	if (found == 1) {
		rv = get_attr(h, s, pub_obj, CKA_MODULUS, rs->buf, sizeof(rs->buf), &rs->buf_len);
		if (rv == CKR_OK && rs->n_len != 0 &&
		    (rs->n_len != rs->buf_len || memcmp(rs->n, rs->buf, rs->n_len) != 0))
			return refuse(errbuf, errlen,
			    "key %s (%.200s): public key object has another modulus", name,
			    ks->uri);
		if (rv == CKR_OK) {
			memcpy(rs->n, rs->buf, rs->buf_len);
			rs->n_len = rs->buf_len;
			rv = get_attr(
			    h, s, pub_obj, CKA_PUBLIC_EXPONENT, rs->e, sizeof(rs->e), &rs->e_len);
		}
		if (rv != CKR_OK) {
			errbuf_set(errbuf, errlen, "key %s (%.200s): reading its public key: %s",
			    name, ks->uri, hsm_rv_name(rv, rvbuf));
			return resolve_error(rv);
		}
	}
	if (rs->n_len == 0 || rs->e_len == 0)
		return refuse(errbuf, errlen,
		    "key %s (%.200s): no public key object and no public attributes", name,
		    ks->uri);
	if ((r = pkey_rsa(rs->n, rs->n_len, rs->e, rs->e_len, &k->pub)) < 0) {
		errbuf_set(errbuf, errlen, "key %s (%.200s): unusable RSA public key: %s", name,
		    ks->uri, sg_strerror(r));
		return r == SG_ERR_ALLOC ? r : SG_ERR_CONFIG;
	}
	bits = EVP_PKEY_get_bits(k->pub);
	if (bits < HSM_RSA_BITS_MIN || EVP_PKEY_get_size(k->pub) <= 0 ||
	    (size_t)EVP_PKEY_get_size(k->pub) > HSM_SIG_MAX)
		return refuse(errbuf, errlen, "key %s (%.200s): RSA key of %d bits, not %d to %d",
		    name, ks->uri, bits, HSM_RSA_BITS_MIN, HSM_SIG_MAX * 8);
	k->raw_sig_len = (size_t)EVP_PKEY_get_size(k->pub);
	return 0;
}

/* Configured key i: its URI, its private key, its public key. */
static int
resolve_key(struct p11 *h, CK_SESSION_HANDLE s, const struct hsm_config *cfg, size_t i,
    struct resolve *rs, char *errbuf, size_t errlen)
{
	const struct hsm_key_spec *ks = &cfg->keys[i];
	struct hsm_key *k = &h->keys[i];
	CK_OBJECT_HANDLE pub_obj = CK_INVALID_HANDLE;
	CK_KEY_TYPE type = CKK_EC;
	CK_ULONG found = 0;
	CK_RV rv = CKR_OK;
	char rvbuf[32];
	int r;

	if ((r = check_spec(cfg, ks, rs, errbuf, errlen)) < 0 ||
	    (r = find_private(h, s, ks, k, rs, &type, errbuf, errlen)) < 0)
		return r;
	if ((r = find_public(h, s, rs, type, &pub_obj, &found, &rv)) < 0) {
		errbuf_set(errbuf, errlen, "key %s: searching its public key: %s", key_name(ks),
		    hsm_rv_name(rv, rvbuf));
		return r;
	}
	if (found > 1)
		return refuse(errbuf, errlen,
		    "key %s (%.200s): more than one public key object matches", key_name(ks),
		    ks->uri);
	if (type == CKK_EC)
		return ec_public(h, s, ks, k, rs, pub_obj, found, errbuf, errlen);
	return rsa_public(h, s, ks, k, rs, pub_obj, found, errbuf, errlen);
}

/* ---- signing ---- */

/* r||s (two equal halves) to a DER ECDSA-Sig-Value in out (cap bytes). */
static int
ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *out, size_t cap, size_t *ret_len)
{
	int r = SG_ERR_INTERNAL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *p = out;
	int der_len;

	es = ECDSA_SIG_new();
	br = BN_bin2bn(raw, (int)(raw_len / 2), NULL);
	bs = BN_bin2bn(raw + raw_len / 2, (int)(raw_len / 2), NULL);
	if (es == NULL || br == NULL || bs == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (BN_is_zero(br) || BN_is_zero(bs)) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	if (ECDSA_SIG_set0(es, br, bs) != 1) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	br = bs = NULL; /* owned by es now */
	der_len = i2d_ECDSA_SIG(es, NULL);
	if (der_len <= 0 || (size_t)der_len > cap) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	if (i2d_ECDSA_SIG(es, &p) != der_len) {
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	*ret_len = (size_t)der_len;
	r = 0;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	ERR_clear_error();
	return r;
}

int
p11_sign(struct p11 *h, size_t key_index, const uint8_t *digest, size_t digest_len, uint8_t *sig,
    size_t *ret_sig_len)
{
	int r = SG_ERR_INTERNAL;
	const struct hsm_key *k;
	uint8_t in[SHA256_DIGESTINFO_PREFIX_LEN + SHA256_LEN];
	uint8_t raw[HSM_SIG_MAX];
	CK_ULONG in_len = 0, raw_len = sizeof(raw);
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, SHA256_LEN };
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_SESSION_HANDLE s;
	CK_RV rv;
	size_t len = 0;
	char rvbuf[32];

	/* The request, re-validated: this is the whole surface of the key holder. */
	if (h == NULL || digest == NULL || sig == NULL || ret_sig_len == NULL)
		return SG_ERR_INVALID_ARGUMENT;
	if (key_index >= h->nkeys || digest_len != SHA256_LEN)
		return SG_ERR_INVALID_ARGUMENT;
	k = &h->keys[key_index];

	switch (k->mech) {
	case SG_MECH_ECDSA_SHA256:
		mech.mechanism = CKM_ECDSA;
		memcpy(in, digest, SHA256_LEN);
		in_len = SHA256_LEN;
		break;
	case SG_MECH_RSA_PKCS1_SHA256:
		mech.mechanism = CKM_RSA_PKCS;
		memcpy(in, sha256_digestinfo_prefix, SHA256_DIGESTINFO_PREFIX_LEN);
		memcpy(in + SHA256_DIGESTINFO_PREFIX_LEN, digest, SHA256_LEN);
		in_len = SHA256_DIGESTINFO_PREFIX_LEN + SHA256_LEN;
		break;
	case SG_MECH_RSA_PSS_SHA256:
		mech.mechanism = CKM_RSA_PKCS_PSS;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		memcpy(in, digest, SHA256_LEN);
		in_len = SHA256_LEN;
		break;
	default:
		return SG_ERR_INTERNAL;
	}

	s = pool_take(h);
	rv = h->p11->C_SignInit(s, &mech, k->priv);
	if (rv == CKR_OK)
		rv = h->p11->C_Sign(s, in, in_len, raw, &raw_len);
	pool_give(h, s);
	if (rv != CKR_OK) {
		r = hsm_rv_error(rv);
		log_debug("key %zu: C_Sign: %s", key_index, hsm_rv_name(rv, rvbuf));
		goto out;
	}
	if (raw_len != k->raw_sig_len) {
		log_debug("key %zu: C_Sign returned %lu bytes, expected %zu", key_index,
		    (unsigned long)raw_len, k->raw_sig_len);
		r = SG_ERR_HSM_SIGN_FAILED;
		goto out;
	}
	if (k->mech == SG_MECH_ECDSA_SHA256) {
		r = ecdsa_raw_to_der(raw, raw_len, sig, HSM_SIG_MAX, &len);
		if (r < 0)
			goto out;
	} else {
		memcpy(sig, raw, raw_len);
		len = raw_len;
	}
	*ret_sig_len = len;
	r = 0;
out:
	return r;
}

/* Signs a fixed digest with key i and checks it with the cached public key. */
static int
self_test(struct p11 *h, size_t i, const char *name, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	uint8_t digest[SHA256_LEN];
	uint8_t sig[HSM_SIG_MAX];
	size_t sig_len = 0;

	crypto_sha256(HSM_SELFTEST_TEXT, strlen(HSM_SELFTEST_TEXT), digest);
	r = p11_sign(h, i, digest, sizeof(digest), sig, &sig_len);
	if (r < 0) {
		errbuf_set(
		    errbuf, errlen, "key %s: test signature failed: %s", name, sg_strerror(r));
		goto out;
	}
	r = crypto_verify_digest(h->keys[i].pub, h->keys[i].mech, digest, sig, sig_len);
	if (r < 0) {
		errbuf_set(errbuf, errlen,
		    "key %s: its test signature does not verify with its public key object", name);
		r = SG_ERR_CONFIG;
		goto out;
	}
	r = 0;
out:
	return r;
}

/* ---- open, close, public keys ---- */

int
p11_open(const struct hsm_config *cfg, struct p11 **ret, char *errbuf, size_t errlen)
{
	int r = SG_ERR_INTERNAL;
	struct p11 *h = NULL;
	struct resolve *rs = NULL;
	size_t i;
	unsigned j;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (cfg == NULL || ret == NULL || cfg->module == NULL || cfg->token == NULL ||
	    cfg->pin_file == NULL || (cfg->nkeys > 0 && cfg->keys == NULL)) {
		errbuf_set(errbuf, errlen, "incomplete HSM configuration");
		r = SG_ERR_INVALID_ARGUMENT;
		goto out;
	}
	if (cfg->module[0] != '/') {
		errbuf_set(
		    errbuf, errlen, "PKCS#11 module path %.200s is not absolute", cfg->module);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (cfg->sessions < 1 || cfg->sessions > HSM_SESSIONS_MAX) {
		errbuf_set(
		    errbuf, errlen, "sessions is %u, not 1 to %d", cfg->sessions, HSM_SESSIONS_MAX);
		r = SG_ERR_CONFIG;
		goto out;
	}
	h = calloc(1, sizeof(*h));
	rs = calloc(1, sizeof(*rs));
	if (h == NULL || rs == NULL) {
		r = SG_ERR_ALLOC;
		goto out;
	}
	if (cfg->nkeys > 0) {
		h->keys = calloc(cfg->nkeys, sizeof(*h->keys));
		if (h->keys == NULL) {
			r = SG_ERR_ALLOC;
			goto out;
		}
		h->keys_alloc = cfg->nkeys;
	}
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	h->has_lock = 1;
	if (pthread_cond_init(&h->idle_cond, NULL) != 0) {
		r = SG_ERR_SYSTEM;
		goto out;
	}
	h->has_cond = 1;

	r = load_module(h, cfg->module, errbuf, errlen);
	if (r < 0)
		goto out;
	r = find_token(h, cfg->token, errbuf, errlen);
	if (r < 0)
		goto out;
	r = open_session(h, errbuf, errlen);
	if (r < 0)
		goto out;
	r = login(h, cfg->pin_file, errbuf, errlen);
	if (r < 0)
		goto out;
	for (j = 1; j < cfg->sessions; j++) {
		r = open_session(h, errbuf, errlen);
		if (r < 0)
			goto out;
	}

	for (i = 0; i < cfg->nkeys; i++) {
		memset(rs, 0, sizeof(*rs));
		r = resolve_key(h, h->sessions[0], cfg, i, rs, errbuf, errlen);
		hsm_uri_free(rs->uri);
		rs->uri = NULL;
		if (r < 0)
			goto out;
		h->nkeys = i + 1;
		r = self_test(h, i, key_name(&cfg->keys[i]), errbuf, errlen);
		if (r < 0)
			goto out;
	}
	log_debug("token \"%s\": %u sessions, %zu keys", cfg->token, h->nsessions, h->nkeys);
	*ret = h;
	h = NULL;
	r = 0;
out:
	free(rs);
	p11_close(h);
	return r;
}

size_t
p11_nkeys(const struct p11 *h)
{
	return h != NULL ? h->nkeys : 0;
}

int
p11_mech(const struct p11 *h, size_t key_index, enum sg_mech *ret)
{
	if (h == NULL || ret == NULL || key_index >= h->nkeys)
		return SG_ERR_INVALID_ARGUMENT;
	*ret = h->keys[key_index].mech;
	return 0;
}

int
p11_public_key(struct p11 *h, size_t key_index, EVP_PKEY **ret)
{
	if (h == NULL || ret == NULL || key_index >= h->nkeys)
		return SG_ERR_INVALID_ARGUMENT;
	if (EVP_PKEY_up_ref(h->keys[key_index].pub) != 1)
		return SG_ERR_ALLOC;
	*ret = h->keys[key_index].pub;
	return 0;
}

void
p11_close(struct p11 *h)
{
	unsigned j;
	size_t i;
	CK_RV rv;
	char rvbuf[32];

	if (h == NULL)
		return;
	if (h->p11 != NULL) {
		if (h->logout && h->nsessions > 0) {
			rv = h->p11->C_Logout(h->sessions[0]);
			if (rv != CKR_OK)
				log_debug("C_Logout: %s", hsm_rv_name(rv, rvbuf));
		}
		/* One by one, not C_CloseAllSessions(): when the module was
		 * already initialized, other sessions may not be ours. */
		for (j = 0; j < h->nsessions; j++) {
			rv = h->p11->C_CloseSession(h->sessions[j]);
			if (rv != CKR_OK)
				log_debug("C_CloseSession: %s", hsm_rv_name(rv, rvbuf));
		}
		if (h->finalize) {
			rv = h->p11->C_Finalize(NULL);
			if (rv != CKR_OK)
				log_debug("C_Finalize: %s", hsm_rv_name(rv, rvbuf));
		}
	}
	if (h->dl != NULL)
		dlclose(h->dl);
	if (h->keys != NULL) {
		/* Every slot, not only nkeys: a failed open may have built
		 * the public key of the key it then refused. */
		for (i = 0; i < h->keys_alloc; i++)
			EVP_PKEY_free(h->keys[i].pub);
	}
	free(h->keys);
	if (h->has_cond)
		pthread_cond_destroy(&h->idle_cond);
	if (h->has_lock)
		pthread_mutex_destroy(&h->lock);
	explicit_bzero(h, sizeof(*h));
	free(h);
}
