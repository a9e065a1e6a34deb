/*
 * kpin promote: copy what an app's overlay in one environment pins
 * (digest, and newTag when set) into its overlay in another, as one
 * commit through the same path as set, trailer Promoted-From.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char promote_usage[] =
	"kpin promote --app app --from env --to env [--image name] "
	CLI_COMMIT_USAGE;

static const char promote_help[] =
	"  --app app             the app whose overlays to promote between\n"
	"  --from env            the environment to copy pins from\n"
	"  --to env              the environment to write them to\n"
	"  --image name          promote only this entry\n"
	CLI_COMMIT_HELP;

enum { OPT_APP = 256, OPT_FROM, OPT_TO, OPT_IMAGE };

static const struct option promote_options[] = {
	{ "app", required_argument, NULL, OPT_APP },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "help", no_argument, NULL, 'h' },
	CLI_COMMIT_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

/*
 * A source entry that pins only a tag cannot go onto a target entry that
 * pins a digest: the digest would stay, and run the old image under the
 * new tag. kpin removes no keys, so refuse (exit 3) and say why.
 */
static int check_tag_only(struct kpin_repo *repo, const struct cli_commit *c,
			  const char *root, const char *app, const char *to,
			  const struct kpin_change *changes, size_t n)
{
	struct kpin_buf path = KPIN_BUF_INIT, bytes = KPIN_BUF_INIT;
	struct kpin_kust *k = NULL;
	size_t i, j;
	int status = EXIT_OK;

	for (i = 0; i < n && changes[i].digest; i++)
		;
	if (i == n)
		return EXIT_OK;
	/* a missing target is the commit's to report */
	if (kpin_repo_overlay_path(&path, repo, c->branch, root, app, to) ||
	    kpin_repo_read_file(&bytes, repo, c->branch, path.ptr,
				KPIN_MAX_SIZE_DEFAULT) ||
	    kpin_kust_open(&k, bytes.ptr, bytes.len, 0)) {
		kpin_error_clear();
		goto out;
	}
	for (i = 0; i < n && !status; i++) {
		if (changes[i].digest)
			continue;
		for (j = 0; j < kpin_kust_image_count(k); j++) {
			const struct kpin_image *img = kpin_kust_image(k, j);

			if (!strcmp(img->name.value, changes[i].image) &&
			    img->digest.value && img->digest.len)
				status = cli_error("%s: image '%s' pins a "
						   "digest, but its %s overlay "
						   "pins only tag '%s': the "
						   "digest would stay (kpin "
						   "removes no keys); pin a "
						   "digest in %s first",
						   path.ptr, changes[i].image,
						   to, changes[i].tag, to) + 2;
		}
	}
out:
	kpin_kust_free(k);
	kpin_buf_release(&path);
	kpin_buf_release(&bytes);
	return status;
}

/* Is @a the value @v, by digest when @v has one, else by tag? */
static bool same_value(const struct kpin_pin *a, const struct kpin_pin *v)
{
	if (v->digest)
		return a->digest && !strcmp(a->digest, v->digest);
	return !a->digest && a->tag && v->tag && !strcmp(a->tag, v->tag);
}

/*
 * Has the target held @v, the source's value of @image, since the source
 * took it, and then moved on (a change made in the target, a hotfix)?
 * Then promoting would move the target back. @src and @tgt are both
 * overlays' histories, newest first; on true, @by is the target's commit
 * that replaced @v.
 */
static bool moved_on(const char **by,
		     const struct kpin_history_entry *src, size_t ns,
		     const struct kpin_history_entry *tgt, size_t nt,
		     const char *image, const struct kpin_pin *v)
{
	const struct kpin_history_entry *newer = NULL;
	size_t i, took;

	for (i = 0; i < ns && strcmp(src[i].image, image); i++)
		;
	if (i == ns)
		return false;
	took = src[i].depth;
	for (i = 0; i < nt; i++) {
		if (strcmp(tgt[i].image, image))
			continue;
		/* tgt[i] held its value until newer replaced it */
		if (newer && newer->depth >= took)
			break;	/* replaced before the source took @v */
		if (newer && same_value(&tgt[i].pin, v)) {
			*by = newer->commit;
			return true;
		}
		newer = &tgt[i];
	}
	return false;
}

/*
 * struct left - The entries promote leaves alone, for --json
 * @json: the "left_alone" array's objects, comma-separated
 * @file: the --to overlay, or NULL when it has none
 */
struct left {
	struct kpin_buf json;
	const char *file;
};

/*
 * Record that @image, whose source value is @pin (NULL: none), was left
 * alone for @reason; @commit is the target's commit that moved it on.
 */
static void add_left(struct left *l, const char *app, const char *to,
		     const char *image, const struct kpin_pin *pin,
		     const char *reason, const char *commit)
{
	struct kpin_buf *b = &l->json;

	kpin_buf_adds(b, b->len ? ",{\"file\":" : "{\"file\":");
	kpin_buf_add_json(b, l->file);
	kpin_buf_adds(b, ",\"app\":");
	kpin_buf_add_json(b, app);
	kpin_buf_adds(b, ",\"env\":");
	kpin_buf_add_json(b, to);
	kpin_buf_adds(b, ",\"image\":");
	kpin_buf_add_json(b, image);
	kpin_buf_adds(b, ",\"digest\":");
	kpin_buf_add_json(b, pin ? pin->digest : NULL);
	kpin_buf_adds(b, ",\"tag\":");
	kpin_buf_add_json(b, pin ? pin->tag : NULL);
	kpin_buf_adds(b, ",\"reason\":");
	kpin_buf_add_json(b, reason);
	kpin_buf_adds(b, ",\"commit\":");
	kpin_buf_add_json(b, commit);
	kpin_buf_addch(b, '}');
}

/*
 * Drop from @changes (and @pins) the images whose target moved on from
 * the source's value (moved_on()), saying so for each.
 */
static int leave_moved_on(struct kpin_change *changes, struct kpin_pin *pins,
			  size_t *n, struct kpin_repo *repo,
			  const struct cli_commit *c, const char *root,
			  const char *app, const char *from, const char *to,
			  struct left *left)
{
	struct kpin_history_entry *src = NULL, *tgt = NULL;
	size_t ns = 0, nt = 0, i, kept = 0;
	const char *by;
	char tmp[32];

	if (kpin_repo_history(&src, &ns, repo, c->branch, root, app, from,
			      NULL, 0) ||
	    kpin_repo_history(&tgt, &nt, repo, c->branch, root, app, to,
			      NULL, 0)) {
		kpin_history_free(src, ns);
		return cli_fail(NULL);
	}
	for (i = 0; i < *n; i++) {
		if (!moved_on(&by, src, ns, tgt, nt, changes[i].image,
			      &pins[i])) {
			changes[kept] = changes[i];
			pins[kept++] = pins[i];
			continue;
		}
		cli_note("left '%s' alone: %s held %s after %s had it, and "
			 "commit %.12s changed it since; name it with --image "
			 "to promote it anyway", changes[i].image, to,
			 pins[i].digest ? cli_short_digest(pins[i].digest, tmp,
							   sizeof(tmp)) :
			 pins[i].tag, from, by);
		add_left(left, app, to, changes[i].image, &pins[i], "moved_on",
			 by);
		free((char *)changes[i].image);
		kpin_pin_release(&pins[i]);
	}
	*n = kept;
	kpin_history_free(src, ns);
	kpin_history_free(tgt, nt);
	return EXIT_OK;
}

/*
 * What the @from overlay pins, as changes for the @to overlay: every
 * image with a digest or tag, or only @image. Strings are owned by @pins.
 * The entries left alone go to @left, the branch's ref name to @ref.
 */
static int read_changes(struct kpin_change **out, struct kpin_pin **pins,
			size_t *n, const struct cli_commit *c, const char *app,
			const char *from, const char *to, const char *image,
			struct left *left, struct kpin_buf *ref)
{
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	struct kpin_buf path = KPIN_BUF_INIT, bytes = KPIN_BUF_INIT;
	struct kpin_buf target = KPIN_BUF_INIT;
	struct kpin_kust *k = NULL;
	size_t i, count;
	int status;

	*out = NULL;
	*pins = NULL;
	*n = 0;
	status = cli_open_repo(&repo, &policy, c->branch, c);
	if (status)
		goto out;
	if (kpin_policy_check_env(&policy, from) ||
	    kpin_repo_overlay_path(&path, repo, c->branch,
				   c->root ? c->root : policy.root, app, from) ||
	    kpin_repo_read_file(&bytes, repo, c->branch, path.ptr,
				KPIN_MAX_SIZE_DEFAULT)) {
		status = cli_fail(NULL);
		goto out;
	}
	if (kpin_kust_open(&k, bytes.ptr, bytes.len, 0)) {
		status = cli_fail(path.ptr);
		goto out;
	}
	/* for --json: a missing target is the commit's to report */
	if (kpin_repo_branch_ref(ref, repo, c->branch) ||
	    kpin_repo_overlay_path(&target, repo, c->branch, c->root ? c->root :
				   policy.root, app, to))
		kpin_error_clear();
	left->file = target.len ? target.ptr : NULL;
	count = kpin_kust_image_count(k);
	*out = xcalloc(count + 1, sizeof(**out));
	*pins = xcalloc(count + 1, sizeof(**pins));
	for (i = 0; i < count; i++) {
		const struct kpin_image *img = kpin_kust_image(k, i);
		struct kpin_pin *p = &(*pins)[*n];

		if (image && strcmp(image, img->name.value))
			continue;
		kpin_pin_of(p, img);
		if (!p->digest && !p->tag) {
			add_left(left, app, to, img->name.value, NULL,
				 "nothing_pinned", NULL);
			kpin_pin_release(p);
			continue;
		}
		(*out)[*n].image = img->name.value;
		(*out)[*n].digest = p->digest;
		(*out)[*n].tag = p->tag;
		(*n)++;
	}
	/* names point into the parsed file: keep copies instead */
	for (i = 0; i < *n; i++)
		(*out)[i].image = xstrdup((*out)[i].image);
	if (!*n) {
		status = image ? cli_error("%s: no images entry named '%s' with "
					   "a digest or tag", path.ptr, image) +
				 3 :
			 cli_error("%s pins no image: nothing to promote",
				   path.ptr) + 3;
		goto out;
	}
	if (!image) {
		status = leave_moved_on(*out, *pins, n, repo, c, c->root ?
					c->root : policy.root, app, from, to,
					left);
		if (status || !*n)
			goto out;
	}
	status = check_tag_only(repo, c, c->root ? c->root : policy.root, app,
				to, *out, *n);
out:
	left->file = NULL;
	kpin_kust_free(k);
	kpin_buf_release(&path);
	kpin_buf_release(&target);
	kpin_buf_release(&bytes);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	return status;
}

static int cmd_promote(int argc, char **argv)
{
	const char *app = NULL, *from = NULL, *to = NULL, *image = NULL;
	struct kpin_change *changes = NULL;
	struct kpin_pin *pins = NULL;
	struct kpin_buf subject = KPIN_BUF_INIT, trailer = KPIN_BUF_INIT;
	struct kpin_buf ref = KPIN_BUF_INIT, extra = KPIN_BUF_INIT;
	struct left left = { KPIN_BUF_INIT, NULL };
	struct cli_commit commit;
	struct kpin_target t;
	size_t n = 0, i;
	int c, status;

	cli_commit_init(&commit);
	while ((c = cli_getopt(argc, argv, "+h", promote_options)) != -1) {
		switch (c) {
		case OPT_APP:
			app = optarg;
			continue;
		case OPT_FROM:
			from = optarg;
			continue;
		case OPT_TO:
			to = optarg;
			continue;
		case OPT_IMAGE:
			image = optarg;
			continue;
		case 'h':
			status = cli_usage(&cmd_promote_entry, true);
			goto out;
		}
		status = cli_commit_option(&commit, &cmd_promote_entry, c,
					   optarg, argc, argv);
		if (status)
			goto out;
	}
	status = cli_no_operands(&cmd_promote_entry, argc, argv);
	if (status)
		goto out;
	if (!app || !from || !to) {
		status = cli_usage_error(&cmd_promote_entry, "--app, --from "
					 "and --to are required");
		goto out;
	}
	if (!strcmp(from, to)) {
		status = cli_usage_error(&cmd_promote_entry, "--from and --to "
					 "are the same environment");
		goto out;
	}
	status = read_changes(&changes, &pins, &n, &commit, app, from, to,
			      image, &left, &ref);
	if (status)
		goto out;
	kpin_buf_adds(&extra, ",\"left_alone\":[");
	kpin_buf_add(&extra, left.json.ptr, left.json.len);
	kpin_buf_addch(&extra, ']');
	commit.json_extra = extra.ptr;
	if (!n) {
		cli_note("%s/%s: nothing to promote from %s", app, to, from);
		if (commit.json)
			cli_commit_json_nothing(&commit, ref.len ? ref.ptr :
						NULL);
		goto out;
	}
	if (!commit.message) {
		char tmp[32];

		if (n == 1)
			kpin_buf_addf(&subject, "%s/%s: promote %s from %s (%s)",
				      app, to, changes[0].image, from,
				      changes[0].digest ?
				      cli_short_digest(changes[0].digest, tmp,
						       sizeof(tmp)) :
				      changes[0].tag);
		else
			kpin_buf_addf(&subject, "%s/%s: promote %zu images from "
				      "%s", app, to, n, from);
		commit.message = subject.ptr;
	}
	kpin_buf_addf(&trailer, "Promoted-From: %s", from);
	commit.trailers = xreallocarray(commit.trailers, commit.ntrailers + 1,
					sizeof(*commit.trailers));
	commit.trailers[commit.ntrailers++] = kpin_buf_detach(&trailer, NULL);
	commit.meta.promoted_by = cli_actor();
	memset(&t, 0, sizeof(t));
	t.app = app;
	t.env = to;
	t.changes = changes;
	t.nchanges = n;
	status = cli_commit_run(&commit, &t, 1);
	kpin_target_release(&t);
out:
	for (i = 0; i < n; i++) {
		free((char *)changes[i].image);
		kpin_pin_release(&pins[i]);
	}
	free(changes);
	free(pins);
	kpin_buf_release(&subject);
	kpin_buf_release(&ref);
	kpin_buf_release(&extra);
	kpin_buf_release(&left.json);
	cli_commit_release(&commit);
	return status;
}

const struct kpin_cmd cmd_promote_entry = {
	.name = "promote",
	.usage = promote_usage,
	.options = promote_help,
	.summary = "copy an overlay's digests to the next environment",
	.exec = cmd_promote,
	.flags = KPIN_CMD_NEED_REPO,
};
