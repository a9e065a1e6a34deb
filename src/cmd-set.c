/*
 * kpin set: change one image's digest (and tag, or name) in a
 * kustomization file, byte-exactly, and replace the file atomically.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char set_usage[] =
	"kpin set -f file --image name [--digest digest] [--tag tag] "
	"[--new-name name] [--create] [--dry-run] [--json] [--max-size bytes]";

struct set_opts {
	const char *file;
	struct kpin_change change;
	unsigned flags;		/* enum kpin_kust_edit_flags */
	bool dry_run;
	bool json;
	size_t max_size;
};

/*
 * struct pin - An entry's effective digest and tag
 * @digest: the digest key, or the part after '@' of a "tag@digest" newTag
 * @tag: newTag up to any '@'
 */
struct pin {
	char *digest;
	char *tag;
};

static void pin_of(struct pin *p, const struct kpin_image *img)
{
	size_t len;
	const char *d = img ? kpin_kust_effective_digest(img, &len) : NULL;
	const char *t = img ? img->new_tag.value : NULL;

	p->digest = d ? xstrndup(d, len) : NULL;
	p->tag = t ? xstrndup(t, strcspn(t, "@")) : NULL;
}

static void pin_release(struct pin *p)
{
	free(p->digest);
	free(p->tag);
}

static void print_json(const struct set_opts *o, bool changed,
		       const struct pin *old)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	const char *nd = o->change.digest ? o->change.digest : old->digest;
	const char *nt = o->change.tag ? o->change.tag : old->tag;

	kpin_buf_addf(&b, "{\"changed\":%s,\"commit\":null,\"branch\":null,"
		      "\"file\":", changed ? "true" : "false");
	kpin_buf_add_json(&b, o->file);
	kpin_buf_adds(&b, ",\"image\":");
	kpin_buf_add_json(&b, o->change.image);
	kpin_buf_adds(&b, ",\"old_digest\":");
	kpin_buf_add_json(&b, old->digest);
	kpin_buf_adds(&b, ",\"new_digest\":");
	kpin_buf_add_json(&b, nd);
	kpin_buf_adds(&b, ",\"old_tag\":");
	kpin_buf_add_json(&b, old->tag);
	kpin_buf_adds(&b, ",\"new_tag\":");
	kpin_buf_add_json(&b, nt);
	kpin_buf_adds(&b, "}\n");
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

static int set_file(const struct set_opts *o)
{
	struct kpin_buf in = KPIN_BUF_INIT, out = KPIN_BUF_INIT;
	struct kpin_buf diff = KPIN_BUF_INIT, la = KPIN_BUF_INIT;
	struct kpin_buf lb = KPIN_BUF_INIT;
	struct kpin_kust *kust = NULL;
	const struct kpin_image *img = NULL;
	struct pin old = { NULL, NULL };
	struct stat st;
	char tmp[32];
	int rc, status;

	rc = kpin_file_read(&in, o->file, o->max_size, &st);
	if (rc)
		return cli_fail(o->file);
	rc = kpin_kust_open(&kust, in.ptr, in.len, 0);
	if (rc) {
		status = cli_fail(o->file);
		goto out;
	}
	if (kpin_kust_find(&img, kust, o->change.image) == KPIN_EAMBIGUOUS) {
		status = cli_fail(o->file);
		goto out;
	}
	pin_of(&old, img);
	rc = kpin_kust_edit(&out, kust, &o->change, 1, o->flags);
	if (rc == KPIN_EUNCHANGED) {
		cli_note("%s: image '%s' unchanged (already %s)", o->file,
			 o->change.image,
			 cli_short_digest(old.digest ? old.digest : old.tag,
					  tmp, sizeof(tmp)));
		if (o->json)
			print_json(o, false, &old);
		status = EXIT_OK;
		goto out;
	}
	if (rc) {
		status = cli_fail(o->file);
		goto out;
	}
	if (o->dry_run) {
		kpin_buf_addf(&la, "a/%s", o->file);
		kpin_buf_addf(&lb, "b/%s", o->file);
		kpin_diff_unified(&diff, in.ptr, in.len, out.ptr, out.len,
				  la.ptr, lb.ptr);
		status = cli_print_buf(&diff);
		goto out;
	}
	rc = kpin_file_replace(o->file, out.ptr, out.len, &st);
	if (rc) {
		status = cli_fail(o->file);
		goto out;
	}
	if (o->json)
		print_json(o, true, &old);
	if (!img)
		cli_note("%s: added image '%s'", o->file, o->change.image);
	else if (o->change.digest)
		cli_note("%s: image '%s' digest %s -> %s", o->file,
			 o->change.image, old.digest ? old.digest : "(none)",
			 o->change.digest);
	else
		cli_note("%s: image '%s' updated", o->file, o->change.image);
	status = EXIT_OK;
out:
	pin_release(&old);
	kpin_kust_free(kust);
	kpin_buf_release(&in);
	kpin_buf_release(&out);
	kpin_buf_release(&diff);
	kpin_buf_release(&la);
	kpin_buf_release(&lb);
	return status;
}

enum {
	OPT_IMAGE = 256, OPT_DIGEST, OPT_TAG, OPT_NEW_NAME, OPT_CREATE,
	OPT_DRY_RUN, OPT_JSON, OPT_MAX_SIZE
};

static const struct option set_options[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "new-name", required_argument, NULL, OPT_NEW_NAME },
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int cmd_set(int argc, char **argv)
{
	struct set_opts o;
	int c;

	memset(&o, 0, sizeof(o));
	o.max_size = KPIN_MAX_SIZE_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+f:h", set_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.file = optarg;
			break;
		case OPT_IMAGE:
			o.change.image = optarg;
			break;
		case OPT_DIGEST:
			o.change.digest = optarg;
			break;
		case OPT_TAG:
			o.change.tag = optarg;
			break;
		case OPT_NEW_NAME:
			o.change.new_name = optarg;
			break;
		case OPT_CREATE:
			o.flags |= KPIN_KUST_CREATE;
			break;
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_MAX_SIZE:
			if (cli_parse_size(optarg, &o.max_size) < 0)
				return cli_usage_error(&cmd_set_entry,
					"invalid --max-size '%s'", optarg);
			break;
		case 'h':
			return cli_usage(&cmd_set_entry, true);
		default:
			return cli_usage_error(&cmd_set_entry,
					       "unknown or incomplete option "
					       "'%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_set_entry, "unexpected argument "
				       "'%s'", argv[optind]);
	if (!o.file)
		return cli_usage_error(&cmd_set_entry, "-f file is required");
	if (!o.change.image)
		return cli_usage_error(&cmd_set_entry, "--image is required");
	if (!o.change.digest && !o.change.tag && !o.change.new_name)
		return cli_usage_error(&cmd_set_entry, "nothing to set: give "
				       "--digest, --tag or --new-name");
	if (kpin_kust_check_change(&o.change))
		return cli_fail(NULL);
	return set_file(&o);
}

const struct kpin_cmd cmd_set_entry = {
	.name = "set",
	.usage = set_usage,
	.summary = "set an image's digest (and tag) in an overlay",
	.exec = cmd_set,
	.flags = 0,
};
