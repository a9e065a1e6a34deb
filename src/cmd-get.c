/*
 * kpin get: print the digest an images[] entry pins, or the whole entry
 * as JSON with the reference kustomize would render.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char get_usage[] =
	"kpin get -f file --image name [--json] [--max-size bytes]";

static const char get_help[] =
	"  -f, --file file       the kustomization file to read\n"
	"  --image name          the images entry to print\n"
	"  --json                print every field as one JSON object\n"
	"  --max-size bytes      refuse a file larger than bytes (default: 4M)\n";

static void add_field(struct kpin_buf *b, const char *key,
		      const struct kpin_field *f)
{
	kpin_buf_addf(b, ",\"%s\":", key);
	kpin_buf_add_json(b, f->style == KPIN_STYLE_NONE ? NULL : f->value);
}

static int get_file(const char *file, const char *image, bool json,
		    size_t max)
{
	struct kpin_buf in = KPIN_BUF_INIT, out = KPIN_BUF_INIT;
	struct kpin_buf ref = KPIN_BUF_INIT;
	struct kpin_kust *kust = NULL;
	const struct kpin_image *img;
	const char *d;
	size_t len;
	int status;

	if (kpin_file_read(&in, file, max, NULL))
		return cli_fail(file);
	if (kpin_kust_open(&kust, in.ptr, in.len, 0) ||
	    kpin_kust_find(&img, kust, image)) {
		status = cli_fail(file);
		goto out;
	}
	d = kpin_kust_effective_digest(img, &len);
	if (json) {
		kpin_buf_adds(&out, "{\"file\":");
		kpin_buf_add_json(&out, file);
		add_field(&out, "name", &img->name);
		add_field(&out, "newName", &img->new_name);
		add_field(&out, "newTag", &img->new_tag);
		/* without a digest key, the one of newTag: tag@digest */
		kpin_buf_adds(&out, ",\"digest\":");
		kpin_buf_add_json(&out, img->digest.style != KPIN_STYLE_NONE ?
				  img->digest.value : d);
		kpin_image_render(&ref, img->name.value, img->new_name.value,
				  img->new_tag.value, img->digest.value);
		kpin_buf_adds(&out, ",\"reference\":");
		kpin_buf_add_json(&out, ref.ptr);
		kpin_buf_addf(&out, ",\"line\":%d}\n", img->line);
	} else if (d) {
		kpin_buf_add(&out, d, len);
		kpin_buf_addch(&out, '\n');
	}
	status = cli_print_buf(&out);
out:
	kpin_kust_free(kust);
	kpin_buf_release(&in);
	kpin_buf_release(&out);
	kpin_buf_release(&ref);
	return status;
}

static const struct option get_options[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "image", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'j' },
	{ "max-size", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int cmd_get(int argc, char **argv)
{
	const char *file = NULL, *image = NULL;
	size_t max = KPIN_MAX_SIZE_DEFAULT;
	bool json = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, "+f:h", get_options)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'i':
			image = optarg;
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
			return cli_usage_error(&cmd_get_entry,
					       "unknown or incomplete option "
					       "'%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_get_entry, "unexpected argument "
				       "'%s'", argv[optind]);
	if (!file || !image)
		return cli_usage_error(&cmd_get_entry, "-f file and --image "
				       "are required");
	return get_file(file, image, json, max);
}

const struct kpin_cmd cmd_get_entry = {
	.name = "get",
	.usage = get_usage,
	.options = get_help,
	.summary = "print the digest an image is pinned to",
	.exec = cmd_get,
	.flags = 0,
};
