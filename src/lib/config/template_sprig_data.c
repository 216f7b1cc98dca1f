/* SPDX-License-Identifier: MIT */
/* Sprig's defaults, type tests, OS, file path, encoding and hash functions. */
#include "common.h"
#include "util/base64.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <openssl/evp.h>

/* ---- defaults and flow ---- */

/* default D [GIVEN]: GIVEN unless it is missing or empty (nil, false, 0, "", [], {}). */
TPL_FN(default)
{
	(void)x, (void)cmd, (void)err;
	*out = tpl_vref(argc < 2 || tpl_empty(argv[1]) ? argv[0] : argv[1]);
	return 0;
}

TPL_FN(empty)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vbool(tpl_empty(argv[0]));
	return 0;
}

/* coalesce: the first argument that is not empty, else nil. */
TPL_FN(coalesce)
{
	(void)x, (void)cmd, (void)err;
	for (size_t i = 0; i < argc; i++) {
		if (!tpl_empty(argv[i])) {
			*out = tpl_vref(argv[i]);
			return 0;
		}
	}
	*out = tpl_vnew(V_NIL);
	return 0;
}

/* all and any: whether no argument, or some argument, is empty. */
static void all_any(struct val **out, struct val **argv, size_t argc, bool all)
{
	for (size_t i = 0; i < argc; i++) {
		if (tpl_empty(argv[i]) == all) {
			*out = tpl_vbool(!all);
			return;
		}
	}
	*out = tpl_vbool(all);
}

TPL_FN(all)
{
	(void)x, (void)cmd, (void)err;
	all_any(out, argv, argc, true);
	return 0;
}

TPL_FN(any)
{
	(void)x, (void)cmd, (void)err;
	all_any(out, argv, argc, false);
	return 0;
}

/* ternary TRUE FALSE COND: COND is a Go bool. */
TPL_FN(ternary)
{
	(void)argc;
	if (argv[2]->kind != V_BOOL)
		return tpl_xfail(x, cmd->off, err, "ternary: expected a bool, got %s",
				 tpl_kind_name(argv[2]));
	*out = tpl_vref(argv[2]->b ? argv[0] : argv[1]);
	return 0;
}

/* required MSG VALUE (werf's): VALUE, unless it is nil or "": then MSG is the error. */
TPL_FN(required)
{
	cleanup_val struct val *msg = NULL;
	int ret;

	(void)argc;
	if (argv[1]->kind == V_NIL || (argv[1]->kind == V_STR && !argv[1]->len)) {
		ret = tpl_to_str(x, &msg, argv[0], cmd->off, err);
		if (ret < 0)
			return ret;
		return tpl_xfail(x, cmd->off, err, "%s", msg->s);
	}
	*out = tpl_vref(argv[1]);
	return 0;
}

TPL_FN(fail)
{
	(void)out, (void)argc;
	if (tpl_want_str(x, argv[0], "fail", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	return tpl_xfail(x, cmd->off, err, "%s", argv[0]->s);
}

/* ---- reflection ---- */

static int type_test(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
		     const char *fn, struct cairn_error **err)
{
	const char *got = fn[0] == 'k' ? tpl_go_kind(argv[1]) : tpl_go_type(argv[1]);
	bool like = strcmp(fn, "typeIsLike") == 0;

	if (tpl_want_str(x, argv[0], fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(strcmp(argv[0]->s, got) == 0 ||
			 (like && argv[0]->s[0] == '*' && strcmp(argv[0]->s + 1, got) == 0));
	return 0;
}

TPL_FN(typeIs)
{
	(void)argc;
	return type_test(x, out, argv, cmd, "typeIs", err);
}

TPL_FN(typeIsLike)
{
	(void)argc;
	return type_test(x, out, argv, cmd, "typeIsLike", err);
}

TPL_FN(kindIs)
{
	(void)argc;
	return type_test(x, out, argv, cmd, "kindIs", err);
}

TPL_FN(typeOf)
{
	const char *t = tpl_go_type(argv[0]);

	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vstr(t, strlen(t));
	return 0;
}

TPL_FN(kindOf)
{
	const char *k = tpl_go_kind(argv[0]);

	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vstr(k, strlen(k));
	return 0;
}

/* ---- the environment ---- */

/* env NAME [DEFAULT]: werf v1.2's DEFAULT is taken when NAME is not set or empty */
TPL_FN(env)
{
	const char *v;

	if (tpl_want_str(x, argv[0], "env", cmd->off, err) < 0 ||
	    (argc > 1 && tpl_want_str(x, argv[1], "env", cmd->off, err) < 0))
		return CAIRN_EINVAL;
	v = x->c->getenv_fn(argv[0]->s);
	if ((!v || !*v) && argc > 1) {
		*out = tpl_vref(argv[1]);
		return 0;
	}
	*out = tpl_vstr(v ? v : "", v ? strlen(v) : 0);
	return 0;
}

static bool shell_special(char c)
{
	return strchr("*#$@!?-", c) || (c >= '0' && c <= '9');
}

static bool name_char(char c)
{
	return c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Go's os.getShellName: the name after a '$' in s (n bytes), *w the bytes it takes. */
static size_t shell_name(const char *s, size_t n, size_t *w, const char **name)
{
	size_t i;

	*name = s;
	if (s[0] == '{') {
		*name = s + 1;
		if (n > 2 && shell_special(s[1]) && s[2] == '}') {
			*w = 3;
			return 1;
		}
		for (i = 1; i < n; i++) {
			if (s[i] == '}') {
				*w = i == 1 ? 2 : i + 1;
				return i - 1;
			}
		}
		*w = 1;
		return 0;
	}
	if (shell_special(s[0])) {
		*w = 1;
		return 1;
	}
	for (i = 0; i < n && name_char(s[i]); i++)
		;
	*w = i;
	return i;
}

/* expandenv "s": Go's os.ExpandEnv, $NAME and ${NAME} replaced by their values. */
TPL_FN(expandenv)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	const struct val *s = argv[0];

	(void)argc;
	if (tpl_want_str(x, s, "expandenv", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t j = 0; j < s->len; j++) {
		const char *name;
		size_t w, len;

		if (s->s[j] != '$' || j + 1 >= s->len) {
			cairn_buf_addch(&b, s->s[j]);
			continue;
		}
		len = shell_name(s->s + j + 1, s->len - j - 1, &w, &name);
		if (!len && !w) {
			cairn_buf_addch(&b, '$');
		} else if (len) {
			cleanup_free char *key = xstrndup(name, len);
			const char *v = x->c->getenv_fn(key);

			if (v)
				cairn_buf_addstr(&b, v);
		}
		j += w;
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* ---- file paths, as Go's package path has them ---- */

/* Go's path.Clean of s (n bytes) into b. */
static void clean(struct cairn_buf *b, const char *s, size_t n)
{
	bool rooted = n && s[0] == '/';
	size_t r = rooted, dotdot = rooted;

	cairn_buf_reset(b);
	if (!n) {
		cairn_buf_addch(b, '.');
		return;
	}
	if (rooted)
		cairn_buf_addch(b, '/');
	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (b->len > dotdot) {
				size_t w = b->len - 1;

				while (w > dotdot && b->buf[w] != '/')
					w--;
				cairn_buf_setlen(b, w);
			} else if (!rooted) {
				if (b->len)
					cairn_buf_addch(b, '/');
				cairn_buf_addstr(b, "..");
				dotdot = b->len;
			}
		} else {
			if ((rooted && b->len != 1) || (!rooted && b->len))
				cairn_buf_addch(b, '/');
			for (; r < n && s[r] != '/'; r++)
				cairn_buf_addch(b, s[r]);
		}
	}
	if (!b->len)
		cairn_buf_addch(b, '.');
}

static int path_fn(struct exec *x, struct val **out, struct val *p, const struct cmd *cmd,
		   const char *fn, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const char *s = p->s;
	size_t n = p->len, i;

	if (tpl_want_str(x, p, fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (strcmp(fn, "clean") == 0) {
		clean(&b, s, n);
	} else if (strcmp(fn, "dir") == 0) {
		for (i = n; i > 0 && s[i - 1] != '/'; i--)
			;
		clean(&b, s, i);
	} else if (strcmp(fn, "ext") == 0) {
		for (i = n; i > 0 && s[i - 1] != '/'; i--) {
			if (s[i - 1] == '.') {
				cairn_buf_add(&b, s + i - 1, n - i + 1);
				break;
			}
		}
	} else {
		/* base: the last element, trailing slashes dropped; "" is ".", all slashes "/" */
		while (n > 0 && s[n - 1] == '/')
			n--;
		for (i = n; i > 0 && s[i - 1] != '/'; i--)
			;
		if (!p->len)
			cairn_buf_addch(&b, '.');
		else if (!n)
			cairn_buf_addch(&b, '/');
		else
			cairn_buf_add(&b, s + i, n - i);
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(base)
{
	(void)argc;
	return path_fn(x, out, argv[0], cmd, "base", err);
}

TPL_FN(dir)
{
	(void)argc;
	return path_fn(x, out, argv[0], cmd, "dir", err);
}

TPL_FN(ext)
{
	(void)argc;
	return path_fn(x, out, argv[0], cmd, "ext", err);
}

TPL_FN(clean)
{
	(void)argc;
	return path_fn(x, out, argv[0], cmd, "clean", err);
}

TPL_FN(isAbs)
{
	(void)argc;
	if (tpl_want_str(x, argv[0], "isAbs", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(argv[0]->len && argv[0]->s[0] == '/');
	return 0;
}

/* ---- encodings and hashes ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

TPL_FN(b64enc)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *s = NULL;
	cleanup_free char *enc = NULL;
	int ret;

	(void)argc;
	ret = tpl_to_str(x, &s, argv[0], cmd->off, err);
	if (ret < 0)
		return ret;
	if (s->len > CAIRN_TEMPLATE_OUTPUT_MAX / 4 * 3)
		return tpl_too_big(x, cmd->off, err);
	enc = cairn_base64_encode(s->s, s->len);
	cairn_buf_addstr(&b, enc);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/*
 * Go's base64.StdEncoding.DecodeString: padding required, CR and LF skipped; on bad input
 * Sprig gives the error's text ("illegal base64 data at input byte N") as the value.
 */
static bool b64_decode(struct cairn_buf *b, const char *s, size_t n, size_t *bad)
{
	uint32_t acc = 0;
	size_t k = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p;

		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=' && k >= 2) {
			pad++;
			k++;
		} else if (pad || !s[i] || !(p = strchr(b64, s[i]))) {
			*bad = i;
			return false;
		} else {
			acc = acc << 6 | (uint32_t)(p - b64);
			k++;
		}
		if (k == 4) {
			acc <<= 6 * pad;
			cairn_buf_addch(b, (char)(acc >> 16));
			if (pad < 2)
				cairn_buf_addch(b, (char)(acc >> 8));
			if (pad < 1)
				cairn_buf_addch(b, (char)acc);
			acc = 0;
			k = 0;
			if (pad)
				pad = 4;
		}
	}
	if (k) {
		*bad = n;
		return false;
	}
	return true;
}

TPL_FN(b64dec)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	size_t bad = 0;

	(void)argc;
	if (tpl_want_str(x, argv[0], "b64dec", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (!b64_decode(&b, argv[0]->s, argv[0]->len, &bad)) {
		cairn_buf_reset(&b);
		cairn_buf_addf(&b, "illegal base64 data at input byte %zu", bad);
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static int hash(struct exec *x, struct val **out, struct val *s, const struct cmd *cmd,
		const EVP_MD *md, const char *fn, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (tpl_want_str(x, s, fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (EVP_Digest(s->s, s->len, sum, &n, md, NULL) != 1)
		return tpl_xfail(x, cmd->off, err, "%s: cannot hash", fn);
	for (unsigned int i = 0; i < n; i++)
		cairn_buf_addf(&b, "%02x", sum[i]);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(sha256sum)
{
	(void)argc;
	return hash(x, out, argv[0], cmd, EVP_sha256(), "sha256sum", err);
}

TPL_FN(sha1sum)
{
	(void)argc;
	return hash(x, out, argv[0], cmd, EVP_sha1(), "sha1sum", err);
}

static const struct func funcs[] = {
	{"all", fn_all, 0, -1},
	{"any", fn_any, 0, -1},
	{"b64dec", fn_b64dec, 1, 1},
	{"b64enc", fn_b64enc, 1, 1},
	{"base", fn_base, 1, 1},
	{"clean", fn_clean, 1, 1},
	{"coalesce", fn_coalesce, 0, -1},
	{"default", fn_default, 1, 2},
	{"dir", fn_dir, 1, 1},
	{"empty", fn_empty, 1, 1},
	{"env", fn_env, 1, 2},
	{"expandenv", fn_expandenv, 1, 1},
	{"ext", fn_ext, 1, 1},
	{"fail", fn_fail, 1, 1},
	{"isAbs", fn_isAbs, 1, 1},
	{"kindIs", fn_kindIs, 2, 2},
	{"kindOf", fn_kindOf, 1, 1},
	{"required", fn_required, 2, 2},
	{"sha1sum", fn_sha1sum, 1, 1},
	{"sha256sum", fn_sha256sum, 1, 1},
	{"ternary", fn_ternary, 3, 3},
	{"typeIs", fn_typeIs, 2, 2},
	{"typeIsLike", fn_typeIsLike, 2, 2},
	{"typeOf", fn_typeOf, 1, 1},
};

const struct func_table tpl_sprig_data_funcs = {funcs, ARRAY_SIZE(funcs)};
