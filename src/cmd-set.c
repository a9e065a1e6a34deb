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
	"[--ref ref] [--keep-digest] [--new-name name] [--create] [--dry-run] "
	"[--json] [--max-size bytes]\n"
	"kpin set --app app --env env --image name [--digest digest] "
	"[--tag tag] [--ref ref] [--keep-digest] [--new-name name] [--create] "
	CLI_COMMIT_USAGE;

static const char set_help[] =
	"  -f, --file file       the kustomization file to edit (file mode)\n"
	"  --app app             the overlay's directory name (repository mode)\n"
	"  --env env             the overlay's environment (repository mode)\n"
	"  --image name          the images entry to change (its name, as written)\n"
	"  --digest digest       the new digest (sha256:<64 hex> or sha512:<128 hex>)\n"
	"  --tag tag             the new newTag\n"
	"  --ref ref             tag and digest from name[:tag]@digest\n"
	"  --keep-digest         with --tag alone: keep the pinned digest\n"
	"  --new-name name       the new newName\n"
	"  --create              add the entry (or images:) when it is missing\n"
	"  --max-size bytes      refuse a file larger than bytes (default: 4M)\n"
	CLI_COMMIT_HELP;

struct set_opts {
	const char *file;
	const char *app;
	const char *env;
	struct kpin_change change;
	unsigned flags;		/* enum kpin_kust_edit_flags */
	size_t max_size;
	bool repo_only;		/* a commit option other than --dry-run/--json */
	struct cli_commit commit;
};

/* The result as one JSON object; a dry run's has its @diff (else NULL). */
static void print_json(const struct set_opts *o, bool changed,
		       const struct kpin_pin *old, const struct kpin_buf *diff)
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
	if (o->change.new_name) {
		kpin_buf_adds(&b, ",\"new_name\":");
		kpin_buf_add_json(&b, o->change.new_name);
	}
	if (diff) {
		kpin_buf_adds(&b, ",\"dry_run\":true,\"diff\":");
		kpin_buf_add_json(&b, kpin_buf_cstr(diff));
	}
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
	struct kpin_pin old = { NULL, NULL };
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
	kpin_pin_of(&old, img);
	rc = kpin_kust_edit(&out, kust, &o->change, 1, o->flags);
	if (rc == KPIN_EUNCHANGED) {
		cli_note("%s: image '%s' unchanged (already %s)", o->file,
			 o->change.image,
			 cli_short_digest(old.digest ? old.digest : old.tag,
					  tmp, sizeof(tmp)));
		if (o->commit.json)
			print_json(o, false, &old, o->commit.dry_run ? &diff :
				   NULL);
		status = EXIT_OK;
		goto out;
	}
	if (rc) {
		status = cli_fail(o->file);
		goto out;
	}
	if (o->commit.dry_run) {
		kpin_buf_addf(&la, "a/%s", o->file);
		kpin_buf_addf(&lb, "b/%s", o->file);
		if (kpin_diff_unified(&diff, in.ptr, in.len, out.ptr, out.len,
				      la.ptr, lb.ptr)) {
			status = cli_fail(o->file);
		} else if (o->commit.json) {
			print_json(o, true, &old, &diff);
			status = EXIT_OK;
		} else {
			status = cli_print_buf(&diff);
		}
		goto out;
	}
	rc = kpin_file_replace(o->file, out.ptr, out.len, &st);
	if (rc) {
		status = cli_fail(o->file);
		goto out;
	}
	if (o->commit.json)
		print_json(o, true, &old, NULL);
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
	kpin_pin_release(&old);
	kpin_kust_free(kust);
	kpin_buf_release(&in);
	kpin_buf_release(&out);
	kpin_buf_release(&diff);
	kpin_buf_release(&la);
	kpin_buf_release(&lb);
	return status;
}

/* Repository mode: one target through the shared commit path. */
static int set_repo(struct set_opts *o)
{
	struct kpin_target t;
	int status;

	memset(&t, 0, sizeof(t));
	t.app = o->app;
	t.env = o->env;
	t.changes = &o->change;
	t.nchanges = 1;
	t.flags = o->flags;
	o->commit.meta.promoted_by = cli_actor();
	status = cli_commit_run(&o->commit, &t, 1);
	kpin_target_release(&t);
	return status;
}

/* The parts of a --ref, owned. */
struct ref_parts {
	char *name;
	char *tag;
	char *digest;
};

/*
 * Split --ref @ref (name[:tag]@digest, what "crane digest --full-ref"
 * prints) into @c's tag and digest; the entry must render its name, and
 * it is the image looked up when --image is not given.
 */
static int split_ref(struct ref_parts *rp, struct kpin_change *c,
		     const char *ref)
{
	struct kpin_imageref parts;

	kpin_image_split(&parts, ref, strlen(ref));
	if (!parts.digest.len || !parts.name.len)
		return kpin_error_set(KPIN_EINVALID, "--ref '%s' has no "
				      "digest: give name[:tag]@digest", ref);
	rp->name = xstrndup(parts.name.ptr, parts.name.len);
	rp->digest = xstrndup(parts.digest.ptr, parts.digest.len);
	if (parts.tag.len)
		rp->tag = xstrndup(parts.tag.ptr, parts.tag.len);
	c->ref_name = rp->name;
	c->digest = rp->digest;
	c->tag = rp->tag;
	if (!c->image)
		c->image = rp->name;
	return kpin_grammar_check(KPIN_GRAMMAR_NAME, "name in --ref",
				  rp->name);
}

enum {
	OPT_IMAGE = 256, OPT_DIGEST, OPT_TAG, OPT_NEW_NAME, OPT_CREATE,
	OPT_MAX_SIZE, OPT_APP, OPT_ENV, OPT_REF, OPT_KEEP_DIGEST
};

static const struct option set_options[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "app", required_argument, NULL, OPT_APP },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "keep-digest", no_argument, NULL, OPT_KEEP_DIGEST },
	{ "new-name", required_argument, NULL, OPT_NEW_NAME },
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "help", no_argument, NULL, 'h' },
	CLI_COMMIT_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static int cmd_set(int argc, char **argv)
{
	struct set_opts o;
	struct ref_parts rp = { NULL, NULL, NULL };
	const char *ref = NULL;
	int c, status;

	memset(&o, 0, sizeof(o));
	o.max_size = KPIN_MAX_SIZE_DEFAULT;
	cli_commit_init(&o.commit);
	while ((c = cli_getopt(argc, argv, "+f:h", set_options)) != -1) {
		switch (c) {
		case 'f':
			o.file = optarg;
			continue;
		case OPT_APP:
			o.app = optarg;
			continue;
		case OPT_ENV:
			o.env = optarg;
			continue;
		case OPT_IMAGE:
			o.change.image = optarg;
			continue;
		case OPT_DIGEST:
			o.change.digest = optarg;
			continue;
		case OPT_TAG:
			o.change.tag = optarg;
			continue;
		case OPT_NEW_NAME:
			o.change.new_name = optarg;
			continue;
		case OPT_CREATE:
			o.flags |= KPIN_KUST_CREATE;
			continue;
		case OPT_KEEP_DIGEST:
			o.flags |= KPIN_KUST_KEEP_DIGEST;
			continue;
		case OPT_REF:
			ref = optarg;
			continue;
		case OPT_MAX_SIZE:
			if (cli_parse_size(optarg, &o.max_size) < 0) {
				status = cli_usage_error(&cmd_set_entry,
					"invalid --max-size '%s'", optarg);
				goto out;
			}
			continue;
		case 'h':
			status = cli_usage(&cmd_set_entry, true);
			goto out;
		}
		status = cli_commit_option(&o.commit, &cmd_set_entry, c, optarg,
					   argc, argv);
		if (status)
			goto out;
		if (c != OPT_DRY_RUN_C && c != OPT_JSON_C)
			o.repo_only = true;
	}
	if (ref && (o.change.digest || o.change.tag))
		status = cli_usage_error(&cmd_set_entry, "--ref gives the tag "
					 "and digest: not with --tag or "
					 "--digest");
	else if (ref && split_ref(&rp, &o.change, ref))
		status = cli_fail(NULL);
	else if (optind < argc)
		status = cli_no_operands(&cmd_set_entry, argc, argv);
	else if (o.file && (o.app || o.env))
		status = cli_usage_error(&cmd_set_entry, "give either -f file "
					 "or --app and --env, not both");
	else if (!o.file && (!o.app || !o.env))
		status = cli_usage_error(&cmd_set_entry, "give -f file, or "
					 "--app and --env");
	else if (o.app && o.max_size != KPIN_MAX_SIZE_DEFAULT)
		status = cli_usage_error(&cmd_set_entry, "--max-size is for -f "
					 "file");
	else if (o.file && o.repo_only)
		status = cli_usage_error(&cmd_set_entry, "--branch, --root, "
					 "--author, --message, --trailer, "
					 "--push, --token-env, --retries, "
					 "--timeout and --force need --app and "
					 "--env");
	else if (!o.change.image)
		status = cli_usage_error(&cmd_set_entry, "--image (or --ref) is "
					 "required");
	else if (!o.change.digest && !o.change.tag && !o.change.new_name)
		status = cli_usage_error(&cmd_set_entry, "nothing to set: give "
					 "--digest, --tag or --new-name");
	else if (kpin_kust_check_change(&o.change))
		status = cli_fail(NULL);
	else
		status = o.file ? set_file(&o) : set_repo(&o);
out:
	free(rp.name);
	free(rp.tag);
	free(rp.digest);
	cli_commit_release(&o.commit);
	return status;
}

const struct kpin_cmd cmd_set_entry = {
	.name = "set",
	.usage = set_usage,
	.options = set_help,
	.summary = "set an image's digest (and tag) in an overlay",
	.exec = cmd_set,
	.flags = 0,
};
