/*
 * kpin's entry point: global options (-C, -q, --help, --version) handled
 * by hand as git does, then one subcommand from the table, which parses
 * its own options. The exit status comes from the subcommand; stdout is
 * closed and checked before exiting so that a full disk is an error.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct kpin_cmd *const commands[] = {
	&cmd_set_entry,
	&cmd_get_entry,
	&cmd_apply_entry,
	&cmd_promote_entry,
	&cmd_rollback_entry,
	&cmd_history_entry,
	&cmd_check_entry,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char main_usage[] =
	"usage: kpin [-q] [-C dir] command [args]\n"
	"       kpin --version\n"
	"       kpin help command\n";

static const struct kpin_cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int main_help(FILE *fp)
{
	size_t i;

	fputs(main_usage, fp);
	fputs("\nApply image-digest promotions to Kustomize overlays and "
	      "record them in git.\n\ncommands:\n", fp);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-10s %s\n", commands[i]->name,
			commands[i]->summary);
	fputs("\nglobal options:\n"
	      "  -C dir     run as if started in dir\n"
	      "  -q         no progress or notes on stderr\n"
	      "\n'kpin help command' or 'kpin command -h' shows a command's "
	      "usage; man kpin has the rest.\n", fp);
	return fp == stdout ? EXIT_OK : EXIT_USAGE;
}

static int run(int argc, char **argv)
{
	const struct kpin_cmd *cmd;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			return main_help(stdout);
		} else if (!strcmp(a, "--version")) {
			printf("kpin %s\n", KPIN_VERSION);
			return EXIT_OK;
		} else if (!strcmp(a, "-q")) {
			cli.quiet = true;
		} else if (!strcmp(a, "-C")) {
			if (++i == argc) {
				fputs("kpin: -C needs a directory\n", stderr);
				fputs(main_usage, stderr);
				return EXIT_USAGE;
			}
			if (chdir(argv[i]) < 0)
				return cli_error("cannot change to '%s': %s",
						 argv[i], strerror(errno));
			cli.dir = argv[i];
		} else if (!strncmp(a, "-C", 2)) {
			if (chdir(a + 2) < 0)
				return cli_error("cannot change to '%s': %s",
						 a + 2, strerror(errno));
			cli.dir = a + 2;
		} else {
			fprintf(stderr, "kpin: unknown option '%s'\n", a);
			fputs(main_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (i == argc)
		return main_help(stderr);
	if (!strcmp(argv[i], "help")) {
		if (i + 1 == argc)
			return main_help(stdout);
		cmd = find_command(argv[i + 1]);
		if (!cmd)
			return cli_error("no such command '%s'", argv[i + 1]) +
			       1;
		return cli_usage(cmd, true);
	}
	cmd = find_command(argv[i]);
	if (!cmd) {
		fprintf(stderr, "kpin: no such command '%s'\n", argv[i]);
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	return cmd->exec(argc - i, argv + i);
}

int main(int argc, char **argv)
{
	int status;

	/*
	 * kpin lives for milliseconds: never hand the heap's top back to
	 * the kernel. Otherwise every zlib stream libgit2 opens and closes
	 * (one per object read) trims and refaults it: 15% of a history
	 * walk over 10,000 commits.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	status = run(argc, argv);

	kpin_grammar_cleanup();
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno != EPIPE)
			fprintf(stderr, "kpin: cannot write to stdout: %s\n",
				strerror(errno));
		return status ? status : EXIT_FAIL;
	}
	return status;
}
