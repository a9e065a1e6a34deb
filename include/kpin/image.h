/*
 * Image references: split "name[:tag][@digest]" the way kustomize does and
 * format the reference an images[] entry renders. Included by kust, check
 * and the CLI.
 */
#ifndef KPIN_IMAGE_H
#define KPIN_IMAGE_H

#include <stddef.h>
#include "buf.h"

/*
 * struct kpin_imageref - Parts of a reference, borrowed from the input
 * @name: registry and repository path
 * @tag: the tag without ':', len 0 when absent
 * @digest: the digest without '@', len 0 when absent
 */
struct kpin_imageref {
	struct kpin_span name;
	struct kpin_span tag;
	struct kpin_span digest;
};

/*
 * kpin_image_split() - Split a reference into name, tag and digest
 *
 * Like kustomize's image.Split, ':' and '@' are looked for only after the
 * last '/', so a registry port is never taken for a tag.
 */
void kpin_image_split(struct kpin_imageref *out, const char *ref, size_t len);

/*
 * kpin_image_render() - The reference kustomize renders for an entry
 * @out: receives "name[:tag][@digest]"
 * @name: the entry's name
 * @new_name: newName, or NULL
 * @new_tag: newTag, or NULL
 * @digest: digest, or NULL
 *
 * With only @new_tag the result has no digest, with only @digest no tag,
 * with both "name:tag@digest" (kustomize >= 4.5.3).
 */
void kpin_image_render(struct kpin_buf *out, const char *name,
		       const char *new_name, const char *new_tag,
		       const char *digest);

#endif
