/*
 * json.h — strict JSON on top of cJSON.
 *
 * cJSON alone is lenient: it does not check UTF-8, truncates strings at an
 * escaped \u0000, accepts raw control characters, silently keeps duplicate
 * members and looks members up ignoring case.  json_parse() first validates
 * the bytes against RFC 8259 itself, then lets cJSON build the tree.  The
 * getters look members up case-sensitively and check types.
 */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

#define JSON_DEPTH_MAX 16                 /* nesting levels of arrays and objects */
#define JSON_INT_MAX   ((int64_t)1 << 53) /* integers are below this */

/* Facts found by json_parse() that are valid JSON but that signet refuses
 * at the model level. */
#define JSON_F_NUL_ESCAPE 0x1 /* a string holds an escaped \u0000 */
#define JSON_F_CONTROL    0x2 /* a string holds an escaped control char (< 0x20 or 0x7f) */
#define JSON_F_DUPLICATE  0x4 /* some object has a member name twice */

/*
 * Parses exactly len bytes (no NUL needed) as one JSON text.  SG_ERR_PARSE
 * when the bytes are not RFC 8259 JSON (raw control characters in strings,
 * trailing data, bad numbers ...), are not valid UTF-8 (overlong forms,
 * surrogates, > U+10FFFF; escaped lone surrogates too), or nest deeper than
 * JSON_DEPTH_MAX.  On success *ret_root is the tree (caller cJSON_Delete()s
 * it) and *ret_flags holds the JSON_F_* facts.
 */
int json_parse(const void *buf, size_t len, cJSON **ret_root, unsigned *ret_flags) SG_MUST_CHECK;

/*
 * Checks that every member of object obj is named in allowed[0..n-1].
 * Returns 0, or SG_ERR_NOT_FOUND with *ret_unknown pointing at the first
 * unknown name (borrowed from obj).  obj must be an object.
 */
int json_check_members(
    const cJSON *obj, const char *const *allowed, size_t n, const char **ret_unknown) SG_MUST_CHECK;

/* Case-sensitive member lookup; NULL when absent or obj is not an object. */
const cJSON *json_get(const cJSON *obj, const char *name);

/*
 * Typed getters.  Each returns 0 and sets *ret, SG_ERR_NOT_FOUND when the
 * member is absent (ret untouched), or SG_ERR_PARSE when it has the wrong
 * type or is out of range.  Strings are borrowed from the tree; *ret_len is
 * their byte length (json_parse() guarantees no embedded NUL unless
 * JSON_F_NUL_ESCAPE was reported, in which case treat strings as invalid).
 */
int json_get_string(
    const cJSON *obj, const char *name, const char **ret, size_t *ret_len) SG_MUST_CHECK;
/* Integer in [min, max]: a JSON number without fraction or exponent part is
 * not checked (cJSON does not keep the lexeme), but the value must be
 * integral and within range. */
int json_get_int(
    const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *ret) SG_MUST_CHECK;
int json_get_bool(const cJSON *obj, const char *name, int *ret) SG_MUST_CHECK;
int json_get_object(const cJSON *obj, const char *name, const cJSON **ret) SG_MUST_CHECK;
int json_get_array(const cJSON *obj, const char *name, const cJSON **ret) SG_MUST_CHECK;
/* A string of exactly n lowercase hex digits, copied into out (n + 1
 * bytes), and an RFC 3339 UTC time with whole seconds (sgtime_parse()).
 * SG_ERR_PARSE for anything else, absent included. */
int json_get_hex(const cJSON *obj, const char *name, size_t n, char *out) SG_MUST_CHECK;
int json_get_time(const cJSON *obj, const char *name, int64_t *ret) SG_MUST_CHECK;

/* Prints a tree compactly; caller frees.  SG_ERR_ALLOC. */
int json_print(const cJSON *root, char **ret, size_t *ret_len) SG_MUST_CHECK;

/* Adds a string member, copying the NUL-terminated s (may hold any bytes
 * except NUL; cJSON escapes them).  SG_ERR_ALLOC. */
int json_add_string(cJSON *obj, const char *name, const char *s) SG_MUST_CHECK;
/* Adds an integer member; |v| must be below JSON_INT_MAX
 * (SG_ERR_INVALID_ARGUMENT otherwise).  The decimal text is added as a raw
 * cJSON node because cJSON 1.7.15 prints some integers near 2^53 rounded
 * ("9.00719925474099e+15"); such a node prints exactly but is not a
 * cJSON_Number, so trees built for printing are not read back with
 * json_get_int().  SG_ERR_ALLOC. */
int json_add_int(cJSON *obj, const char *name, int64_t v) SG_MUST_CHECK;

/* 0 when len bytes are well-formed UTF-8 (no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), SG_ERR_PARSE otherwise.  NUL bytes
 * are well formed here; callers that refuse them check separately. */
int json_check_utf8(const void *buf, size_t len) SG_MUST_CHECK;

/* True (1) when the len bytes at s are text that signet's models accept in
 * a string: well-formed UTF-8, no NUL, no control character (C0
 * U+0000..U+001F, DEL U+007F, C1 U+0080..U+009F).  0 otherwise. */
int json_text_ok(const char *s, size_t len);

#endif
