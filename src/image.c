/*
 * Image references as kustomize reads them: split name, tag and digest
 * (looking for ':' and '@' only after the last '/', so that a registry port
 * is not a tag) and render what an images[] entry produces.
 */
#include <string.h>

#include "kpin/image.h"

void kpin_image_split(struct kpin_imageref *out, const char *ref, size_t len)
{
	size_t slash = 0, i, at = len, colon = len;

	for (i = 0; i < len; i++)
		if (ref[i] == '/')
			slash = i + 1;
	for (i = slash; i < len; i++) {
		if (ref[i] == '@') {
			at = i;
			break;
		}
	}
	for (i = slash; i < at; i++) {
		if (ref[i] == ':') {
			colon = i;
			break;
		}
	}
	out->name.ptr = ref;
	out->name.len = colon < at ? colon : at;
	out->tag.ptr = colon < at ? ref + colon + 1 : ref + len;
	out->tag.len = colon < at ? at - colon - 1 : 0;
	out->digest.ptr = at < len ? ref + at + 1 : ref + len;
	out->digest.len = at < len ? len - at - 1 : 0;
}

void kpin_image_render(struct kpin_buf *out, const char *name,
		       const char *new_name, const char *new_tag,
		       const char *digest)
{
	kpin_buf_adds(out, new_name && *new_name ? new_name : name);
	if (new_tag && *new_tag) {
		kpin_buf_addch(out, ':');
		kpin_buf_adds(out, new_tag);
	}
	if (digest && *digest) {
		kpin_buf_addch(out, '@');
		kpin_buf_adds(out, digest);
	}
}
