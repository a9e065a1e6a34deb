/*
 * libFuzzer target for the edit core. The first byte picks an image
 * name, which values to set and whether to create a missing entry; the
 * rest is the YAML. Besides not crashing or leaking, an edit that
 * succeeds must satisfy the core's promises: the result parses, the
 * entry now pins the requested values, an edit of one value changes
 * bytes of one input line only (a value replaced, or lines inserted at
 * one point), and the same edit again is "unchanged".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpin.h"

static const char *const names[] = { "app", "web", "a", "ghcr.io/x/app" };
static const char *const digests[] = {
	"sha256:0000000000000000000000000000000000000000000000000000000000000000",
	"sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};
static const char *const tags[] = { "v1.2.3", "1.10", "yes" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does field @f hold exactly @want? */
static int holds(const struct kpin_field *f, const char *want)
{
	return f->value && f->len == strlen(want) &&
	       !memcmp(f->value, want, f->len);
}

/*
 * Or, where newTag held "tag@digest" before (a form kpin keeps), does it
 * hold "@tag@..." with @digest, or with the old digest when @digest is
 * NULL?
 */
static int holds_pinned_tag(const struct kpin_field *f, const char *tag,
			    const char *digest)
{
	size_t t = strlen(tag);

	if (!f->value || f->len <= t || memcmp(f->value, tag, t) ||
	    f->value[t] != '@')
		return 0;
	return !digest || (f->len == t + 1 + strlen(digest) &&
			   !memcmp(f->value + t + 1, digest, f->len - t - 1));
}

/* Byte offset of 1-based @line and @col (characters) in @s. */
static size_t offset_of(const char *s, size_t len, int line, int col)
{
	size_t i = 0;

	for (; line > 1 && i < len; i++)
		if (s[i] == '\n')
			line--;
	for (; col > 1 && i < len; i++)
		if (i + 1 >= len || ((unsigned char)s[i + 1] & 0xc0) != 0x80)
			col--;
	return i;
}

/*
 * Did the edit of one value change only that value, or insert at one
 * point? The bytes of @in between the common prefix and suffix with @out
 * hold no line break, or they start where the old value @f (which may
 * span lines) does, its opening quote included.
 */
static int one_value_changed(const char *in, size_t len, const char *out,
			     size_t outlen, const struct kpin_field *f)
{
	size_t pre = 0, suf = 0;

	while (pre < len && pre < outlen && in[pre] == out[pre])
		pre++;
	while (suf < len - pre && suf < outlen - pre &&
	       in[len - 1 - suf] == out[outlen - 1 - suf])
		suf++;
	if (!memchr(in + pre, '\n', len - pre - suf))
		return 1;
	return f && f->style != KPIN_STYLE_NONE &&
	       pre + 1 >= offset_of(in, len, f->line, f->col);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpin_buf out = KPIN_BUF_INIT, again = KPIN_BUF_INIT;
	struct kpin_change c;
	struct kpin_kust *k = NULL;
	const struct kpin_image *img;
	const char *in;
	size_t len, dlen;
	unsigned op;
	int rc;

	if (size < 1)
		return 0;
	op = data[0];
	in = (const char *)data + 1;
	len = size - 1;
	memset(&c, 0, sizeof(c));
	c.image = names[op & 3];
	c.digest = (op & 4) ? NULL : digests[(op >> 3) & 1];
	c.tag = (op & 0x30) ? tags[((op >> 4) & 3) % 3] : NULL;
	if (!c.digest && !c.tag)
		c.digest = digests[0];
	rc = kpin_kust_set(&out, in, len, &c, 1,
			   (op & 0x40) ? KPIN_KUST_CREATE : 0);
	if (rc == KPIN_EVERIFY)
		abort();	/* the planner made an edit its verifier refused */
	if (rc == 0) {
		const char *d;

		/* the result parses and pins what was asked */
		if (kpin_kust_open(&k, out.ptr, out.len, 0) ||
		    kpin_kust_find(&img, k, c.image))
			abort();
		d = kpin_kust_effective_digest(img, &dlen);
		if (c.digest && (!d || dlen != strlen(c.digest) ||
				 memcmp(d, c.digest, dlen)))
			abort();
		if (c.tag && !holds(&img->new_tag, c.tag) &&
		    !holds_pinned_tag(&img->new_tag, c.tag, c.digest))
			abort();
		kpin_kust_free(k);
		/* one value asked for: that value, or one insertion */
		if (!c.digest || !c.tag) {
			const struct kpin_field *f = NULL;

			k = NULL;
			if (!kpin_kust_open(&k, in, len, 0) &&
			    !kpin_kust_find(&img, k, c.image))
				f = c.digest ? &img->digest : &img->new_tag;
			if (f && f->style == KPIN_STYLE_NONE && c.digest)
				f = &img->new_tag;	/* "tag@digest" */
			if (!one_value_changed(in, len, out.ptr, out.len, f))
				abort();
			kpin_kust_free(k);
		}
		/* and the same edit again changes nothing */
		if (kpin_kust_set(&again, out.ptr, out.len, &c, 1, 0) !=
		    KPIN_EUNCHANGED)
			abort();
	}
	kpin_buf_release(&out);
	kpin_buf_release(&again);
	return 0;
}
