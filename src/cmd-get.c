/*
 * kpin get: print the digest an images[] entry pins, or the whole entry
 * as JSON with the reference kustomize would render; without --image,
 * every entry. The overlay is a file, a directory (as kustomize takes
 * it), or with --app and --env the overlay at a branch tip.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char get_usage[] =
	"kpin get -f file [--image name] [--json] [--max-size bytes]\n"
	"kpin get --app app --env env [--image name] [--json] "
	"[--branch branch] [--root path]";

static const char get_help[] =
	"  -f, --file file       the kustomization file (or its directory) "
	"to read\n"
	"  --app app             read the overlay of app at the branch tip\n"
	"  --env env             ... in environment env\n"
	"  --image name          the images entry to print (default: all)\n"
	"  --json                print every field as one JSON object\n"
	"  --max-size bytes      refuse a file larger than bytes (default: 4M)\n"
	"  --branch branch       read branch (default: HEAD's branch)\n"
	"  --root path           the overlays' root (default: .kpin.yaml's)\n";

static void add_field(struct kpin_buf *b, const char *key,
		      const struct kpin_field *f)
{
	kpin_buf_addf(b, ",\"%s\":", key);
	kpin_buf_add_json(b, f->style == KPIN_STYLE_NONE ? NULL : f->value);
}

/* One entry as a JSON object. */
static void entry_json(struct kpin_buf *out, const char *file,
		       const struct kpin_image *img)
{
	struct kpin_buf ref = KPIN_BUF_INIT;
	size_t len;

	kpin_buf_adds(out, "{\"file\":");
	kpin_buf_add_json(out, file);
	add_field(out, "name", &img->name);
	add_field(out, "newName", &img->new_name);
	add_field(out, "newTag", &img->new_tag);
	/* without a digest key, the one of newTag: tag@digest */
	kpin_buf_adds(out, ",\"digest\":");
	kpin_buf_add_json(out, img->digest.style != KPIN_STYLE_NONE ?
			  img->digest.value :
			  kpin_kust_effective_digest(img, &len));
	kpin_image_render(&ref, img->name.value, img->new_name.value,
			  img->new_tag.value, img->digest.value);
	kpin_buf_adds(out, ",\"reference\":");
	kpin_buf_add_json(out, ref.ptr);
	kpin_buf_addf(out, ",\"line\":%d}", img->line);
	kpin_buf_release(&ref);
}

/*
 * Print what @file's bytes pin: @image's digest (or entry, with @json),
 * or without @image every entry, one "name  digest  tag" line each ("-"
 * for none), or a JSON array.
 */
static int get_bytes(const char *file, const char *bytes, size_t len,
		     const char *image, bool json)
{
	struct kpin_buf out = KPIN_BUF_INIT;
	struct kpin_kust *kust = NULL;
	const struct kpin_image *img;
	const char *d;
	size_t dlen, i, n;
	int status;

	if (kpin_kust_open(&kust, bytes, len, 0) ||
	    (image && kpin_kust_find(&img, kust, image))) {
		status = cli_fail(file);
		goto out;
	}
	if (image) {
		d = kpin_kust_effective_digest(img, &dlen);
		if (json) {
			entry_json(&out, file, img);
			kpin_buf_addch(&out, '\n');
		} else if (d) {
			kpin_buf_add(&out, d, dlen);
			kpin_buf_addch(&out, '\n');
		}
		status = cli_print_buf(&out);
		goto out;
	}
	n = kpin_kust_image_count(kust);
	if (json)
		kpin_buf_addch(&out, '[');
	for (i = 0; i < n; i++) {
		struct kpin_pin pin;

		img = kpin_kust_image(kust, i);
		if (json) {
			if (i)
				kpin_buf_addch(&out, ',');
			entry_json(&out, file, img);
			continue;
		}
		kpin_pin_of(&pin, img);
		kpin_buf_addf(&out, "%s  %s  %s\n", img->name.value ?
			      img->name.value : "-", pin.digest ? pin.digest :
			      "-", pin.tag ? pin.tag : "-");
		kpin_pin_release(&pin);
	}
	if (json)
		kpin_buf_adds(&out, "]\n");
	status = cli_print_buf(&out);
out:
	kpin_kust_free(kust);
	kpin_buf_release(&out);
	return status;
}

static int get_file(const char *path, const char *image, bool json,
		    size_t max)
{
	struct kpin_buf file = KPIN_BUF_INIT, in = KPIN_BUF_INIT;
	int status;

	if (kpin_file_kustomization(&file, path))
		status = cli_fail(path);
	else if (kpin_file_read(&in, file.ptr, max, NULL))
		status = cli_fail(file.ptr);
	else
		status = get_bytes(file.ptr, in.ptr, in.len, image, json);
	kpin_buf_release(&file);
	kpin_buf_release(&in);
	return status;
}

/* The overlay of @app in @env at the branch tip, never the worktree. */
static int get_repo(const char *app, const char *env, const char *image,
		    bool json, size_t max, const char *branch,
		    const char *root)
{
	struct kpin_buf path = KPIN_BUF_INIT, in = KPIN_BUF_INIT;
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	int status;

	status = cli_open_repo(&repo, &policy, branch, NULL);
	if (status)
		goto out;
	if (kpin_policy_check_env(&policy, env) ||
	    kpin_repo_overlay_path(&path, repo, branch, root ? root :
				   policy.root, app, env) ||
	    kpin_repo_read_file(&in, repo, branch, path.ptr, max)) {
		status = cli_fail(NULL);
		goto out;
	}
	status = get_bytes(path.ptr, in.ptr, in.len, image, json);
out:
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	kpin_buf_release(&path);
	kpin_buf_release(&in);
	return status;
}

static const struct option get_options[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "image", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'j' },
	{ "max-size", required_argument, NULL, 'm' },
	{ "app", required_argument, NULL, 'a' },
	{ "env", required_argument, NULL, 'e' },
	{ "branch", required_argument, NULL, 'b' },
	{ "root", required_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int cmd_get(int argc, char **argv)
{
	const char *file = NULL, *image = NULL, *app = NULL, *env = NULL;
	const char *branch = NULL, *root = NULL;
	size_t max = KPIN_MAX_SIZE_DEFAULT;
	bool json = false;
	int c;

	while ((c = cli_getopt(argc, argv, "+f:h", get_options)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'i':
			image = optarg;
			break;
		case 'a':
			app = optarg;
			break;
		case 'e':
			env = optarg;
			break;
		case 'b':
			branch = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'm':
			if (cli_parse_size(optarg, &max) < 0)
				return cli_usage_error(&cmd_get_entry,
					"invalid --max-size '%s'", optarg);
			break;
		case 'h':
			return cli_usage(&cmd_get_entry, true);
		default:
			return cli_unknown_option(&cmd_get_entry, argv);
		}
	}
	if (cli_no_operands(&cmd_get_entry, argc, argv))
		return EXIT_USAGE;
	if (file && (app || env || branch || root))
		return cli_usage_error(&cmd_get_entry, "-f reads a file; "
				       "--app, --env, --branch and --root read "
				       "the repository: give one or the other");
	if (!file && (!app || !env))
		return cli_usage_error(&cmd_get_entry, "-f file, or --app and "
				       "--env, are required");
	if (file)
		return get_file(file, image, json, max);
	return get_repo(app, env, image, json, max, branch, root);
}

const struct kpin_cmd cmd_get_entry = {
	.name = "get",
	.usage = get_usage,
	.options = get_help,
	.summary = "print the digest an image is pinned to",
	.exec = cmd_get,
	.flags = 0,
};
