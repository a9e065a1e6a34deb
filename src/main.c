/*
 * kpin's entry point: global options (-C, -q, --help, --version) handled
 * by hand as git does, "version" and "help", then one subcommand from the
 * table, which parses its own options (and -q, -C again: cli_getopt()).
 * The exit status comes from the subcommand; with --json a failure is
 * also printed as JSON; stdout is closed and checked before exiting so
 * that a full disk is an error.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef KPIN_MANDIR
#define KPIN_MANDIR "/usr/local/share/man"
#endif

static const struct kpin_cmd *const commands[] = {
	&cmd_set_entry,
	&cmd_get_entry,
	&cmd_apply_entry,
	&cmd_promote_entry,
	&cmd_rollback_entry,
	&cmd_history_entry,
	&cmd_status_entry,
	&cmd_check_entry,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char main_usage[] =
	"usage: kpin [-q] [-C dir] command [args]\n"
	"       kpin version\n"
	"       kpin help [command]\n";

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
	fputs("\nglobal options (before or after the command):\n"
	      "  -C dir     run as if started in dir\n"
	      "  -q         no progress or notes on stderr\n"
	      "\n'kpin command -h' lists a command's options; 'kpin help "
	      "command' also says where its manual is.\n", fp);
	return fp == stdout ? EXIT_OK : EXIT_USAGE;
}

/*
 * "kpin help CMD": the command's usage and options, then its manual. kpin
 * runs no other program (no exec: see DESIGN.md), so it names the page
 * for man(1) and the file it is installed as, rather than opening it.
 */
static int command_help(const struct kpin_cmd *cmd)
{
	struct kpin_buf page = KPIN_BUF_INIT;

	cli_usage(cmd, true);
	kpin_buf_addf(&page, "%s/man1/kpin-%s.1", KPIN_MANDIR, cmd->name);
	printf("\nThe manual: man kpin-%s", cmd->name);
	if (access(page.ptr, R_OK) == 0)
		printf(" (%s)", page.ptr);
	putchar('\n');
	kpin_buf_release(&page);
	return EXIT_OK;
}

/*
 * --json anywhere among a command's arguments (before a "--"): failures,
 * even a usage error found before --json is parsed, are then reported as
 * JSON too.
 */
static bool wants_json(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			return true;
	return false;
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
			if (cli_chdir(argv[i]))
				return EXIT_FAIL;
		} else if (!strncmp(a, "-C", 2)) {
			if (cli_chdir(a + 2))
				return EXIT_FAIL;
		} else {
			fprintf(stderr, "kpin: unknown option '%s'\n", a);
			fputs(main_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (i == argc)
		return main_help(stderr);
	if (!strcmp(argv[i], "version") && i + 1 == argc) {
		printf("kpin %s\n", KPIN_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 == argc)
			return main_help(stdout);
		cmd = find_command(argv[i + 1]);
		if (!cmd || i + 2 < argc) {
			fprintf(stderr, "kpin: no such command '%s'\n",
				argv[i + 1]);
			fputs(main_usage, stderr);
			return EXIT_USAGE;
		}
		return command_help(cmd);
	}
	cmd = find_command(argv[i]);
	if (!cmd) {
		fprintf(stderr, "kpin: no such command '%s'\n", argv[i]);
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	cli.json = wants_json(argc - i, argv + i);
	/* each command parses its words from the first, wording its errors */
	optind = 1;
	opterr = 0;
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
	cli_print_failure(status);

	kpin_grammar_cleanup();
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno != EPIPE)
			fprintf(stderr, "kpin: cannot write to stdout: %s\n",
				strerror(errno));
		return status ? status : EXIT_FAIL;
	}
	return status;
}
