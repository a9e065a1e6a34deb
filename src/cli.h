/*
 * Shared by main.c, cli.c and the cmd-*.c files: the command table entry,
 * global options, and the helpers that print and map errors to exit codes.
 * Only these files print or exit.
 */
#ifndef KPIN_CLI_H
#define KPIN_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "kpin.h"

/* Exit status, as documented in kpin(1) EXIT STATUS. */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* check found problems, or a generic failure */
	EXIT_USAGE = 2,
	EXIT_INVALID = 3,	/* bad input: digest, name, path, YAML */
	EXIT_NOTFOUND = 4,	/* overlay or image entry missing */
	EXIT_CONFLICT = 5,	/* branch or remote moved; retries ran out */
	EXIT_POLICY = 6,	/* refused by the promotion policy */
	EXIT_AUTH = 7,		/* the remote refused the credentials */
	EXIT_REFUSED = 8,	/* the remote refused the update (a hook...) */
	EXIT_INTERNAL = 70	/* an edit failed its own verification */
};

enum kpin_cmd_flags {
	KPIN_CMD_NEED_REPO = 1 << 0
};

/*
 * struct kpin_cmd - One subcommand
 * @name: as typed after "kpin"
 * @usage: the SYNOPSIS, one form per line, identical to its man page
 * @options: for "kpin name -h": every option of the SYNOPSIS, one per
 *           line, "  --option arg" then a one-line description
 * @summary: one line for "kpin --help"
 * @exec: runs it with argv[0] == name; returns the exit status
 * @flags: enum kpin_cmd_flags
 */
struct kpin_cmd {
	const char *name;
	const char *usage;
	const char *options;
	const char *summary;
	int (*exec)(int argc, char **argv);
	unsigned flags;
};

/* The options every command takes, before or after its name. */
#define CLI_GLOBAL_HELP \
	"  -C dir                run as if kpin was started in dir\n" \
	"  -q                    no progress or notes on stderr\n" \
	"  -h, --help            this help; man kpin-<command> has the rest\n"

/*
 * struct cli_failure - The first failure reported, for --json
 * @message: the text printed after "kpin: ", NULL when none yet
 * @file: the file it is about, or NULL
 * @line: its line, 0 when unknown
 * @col: its column, 0 when unknown
 * @problems: the lines of cli_problem(), as JSON strings separated by ','
 */
struct cli_failure {
	char *message;
	char *file;
	int line;
	int col;
	struct kpin_buf problems;
};

struct cli_globals {
	const char *dir;	/* -C DIR, or NULL */
	bool quiet;		/* -q: no notes on stderr */
	bool json;		/* --json: a failure is also JSON on stdout */
	struct cli_failure failure;
};

extern struct cli_globals cli;

/* cli_error() - Print "kpin: <message>" on stderr; returns EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_usage_error() - Print the message and the usage; returns EXIT_USAGE. */
int cli_usage_error(const struct kpin_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The usage errors every command's getopt loop ends with, worded once:
 * cli_unknown_option() for the option getopt did not know or found
 * without its argument (argv[optind - 1]); cli_no_operands() for a word
 * left after the options (EXIT_OK when there is none); cli_one_format()
 * for --json given with --markdown (EXIT_OK when not). Each returns
 * EXIT_USAGE after the message and the usage.
 */
int cli_unknown_option(const struct kpin_cmd *cmd, char **argv);
int cli_no_operands(const struct kpin_cmd *cmd, int argc, char **argv);
int cli_one_format(const struct kpin_cmd *cmd, bool json, bool markdown);

/*
 * cli_fail() - Report the library's last error and map it to an exit code
 * @path: the file the error is about (NULL when none)
 *
 * Positioned errors print as "path:line:col: error: message", others as
 * "kpin: path: message".
 */
int cli_fail(const char *path);

/*
 * cli_print_failure() - With --json, the first failure as one JSON object
 * @status: the exit status, the object's "code"
 *
 * Prints {"code", "message", "file", "line", "column"} on stdout when a
 * failure was reported (cli_error(), cli_usage_error(), cli_fail()), and
 * "problems" when cli_problems() listed some; the text went to stderr
 * already. Frees what was recorded.
 */
void cli_print_failure(int status);

/*
 * cli_getopt() - getopt_long() that also takes the global options
 * @shortopts: the command's own short options
 *
 * -q and -C dir may follow the command's name as well as precede it
 * ("kpin set -q ..."); they are handled here and never returned. A -C
 * whose directory cannot be entered ends kpin with exit 1 before anything
 * was read or written.
 */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/*
 * cli_chdir() - -C dir: change to @dir
 * Returns: EXIT_OK, or EXIT_FAIL after the message.
 */
int cli_chdir(const char *dir);

/* cli_exit_code() - The exit status for a library error code. */
int cli_exit_code(int code);

/*
 * cli_problems() - Print problems on stderr, one per line of @lines
 *
 * With --json they are also listed, in order, as the "problems" array of
 * the failure's JSON object (see cli_print_failure()).
 */
void cli_problems(const char *lines);

/* cli_note() - Progress or a remark on stderr, unless -q. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_usage() - Print @cmd's usage; to stdout for -h, else stderr. */
int cli_usage(const struct kpin_cmd *cmd, bool to_stdout);

/*
 * cli_print_buf() - Write a buffer to stdout
 *
 * Returns: 0, or EXIT_FAIL with a message when stdout fails.
 */
int cli_print_buf(const struct kpin_buf *buf);

/* cli_short_digest() - "sha256:3f1c2a9b0d4e" from a full digest. */
const char *cli_short_digest(const char *digest, char *tmp, size_t size);

/*
 * cli_format_time() - UTC, "2026-11-20 14:02", or with @iso ISO 8601
 * "2026-11-20T14:02:11Z"
 */
void cli_format_time(char *out, size_t size, long long t, bool iso);

/*
 * cli_md_cell() - Append " TEXT |", a Markdown table cell of the first
 * @len bytes of @s (INT_MAX: all), '|', '\\', '`' and '<' escaped
 */
void cli_md_cell(struct kpin_buf *b, const char *s, int len);

/* cli_json_key() - Append ',"KEY":VALUE', VALUE a JSON string or null. */
void cli_json_key(struct kpin_buf *b, const char *key, const char *v);

/*
 * cli_sig_text() - A signature's verdict in words: "signed by WHO",
 * "signed by an unknown key KEY", "BAD signature: WHY" or "unsigned"
 */
void cli_sig_text(struct kpin_buf *b, const struct kpin_sig_check *c);

/*
 * cli_sig_json() - Append ',"signature":{...}' with the verdict's
 * "status", "signer", "key" and "reason" (null when absent)
 */
void cli_sig_json(struct kpin_buf *b, const struct kpin_sig_check *c);

/*
 * cli_sig_failed() - Does --verify fail on @c: a bad signature, or under
 * "signing: required" (@required), anything but a good one
 */
bool cli_sig_failed(const struct kpin_sig_check *c, bool required);

/*
 * cli_verify_commits() - kpin_verify_commits() against the repository's
 * gpg.ssh.allowedSignersFile (else each commit's .kpin/allowed_signers)
 *
 * Returns: EXIT_OK, or an exit status after the message.
 */
int cli_verify_commits(struct kpin_sig_check *out, struct kpin_repo *repo,
		       const char *const *commits, size_t n);

/*
 * cli_parse_size() - Parse a byte count ("4194304", "4M", "512K")
 *
 * Returns: 0 or -1.
 */
int cli_parse_size(const char *s, size_t *out);

extern const struct kpin_cmd cmd_set_entry;
extern const struct kpin_cmd cmd_get_entry;

#endif

/* ---- committing commands (cli-commit.c) ------------------------------ */

#include "kpin/policy.h"
#include "kpin/repo.h"

/* The options every committing command takes, as in their SYNOPSIS. */
#define CLI_COMMIT_USAGE \
	"[--branch branch] [--root path] [--author ident] [--message text] " \
	"[--reason text] [--trailer key=value]... [--push [remote]] " \
	"[--token-env name] " \
	"[--retries n] [--timeout seconds] [--force] [--sign | --no-sign] [--dry-run] [--json]"

enum cli_commit_opt {
	OPT_BRANCH = 1000, OPT_ROOT, OPT_AUTHOR, OPT_MESSAGE, OPT_TRAILER,
	OPT_RETRIES, OPT_DRY_RUN_C, OPT_JSON_C, OPT_PUSH, OPT_TOKEN_ENV,
	OPT_FORCE, OPT_SIGN, OPT_NO_SIGN, OPT_REASON, OPT_TIMEOUT
};

#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)

#define CLI_COMMIT_HELP \
	"  --branch branch       commit on branch (default: HEAD's branch)\n" \
	"  --root path           the overlays' root (default: .kpin.yaml's, " \
	"or " KPIN_ROOT_DEFAULT ")\n" \
	"  --author ident        \"Name <email>\" of the commit (default: git " \
	"config, then $GITHUB_ACTOR)\n" \
	"  --message text        the commit's subject\n" \
	"  --reason text         why: a Reason: trailer (and in a " \
	"Policy-Override:)\n" \
	"  --trailer key=value   add a \"Key: value\" trailer (repeatable)\n" \
	"  --push [remote]       push the commit to remote (default: origin)\n" \
	"  --token-env name      the variable holding the HTTPS token " \
	"(default: KPIN_TOKEN, GITHUB_TOKEN)\n" \
	"  --retries n           attempts after losing a race (default: " \
	CLI_STR(KPIN_RETRIES_DEFAULT) ")\n" \
	"  --timeout seconds     give up a fetch or push stalled this long " \
	"(default: " CLI_STR(KPIN_TIMEOUT_DEFAULT) "; 0: never)\n" \
	"  --force               let what the promotion order refuses through\n" \
	"  --sign, --no-sign     sign the commit, or not, whatever " \
	"commit.gpgsign says\n" \
	"  --dry-run             print the diff and the message; write nothing\n" \
	"  --json                print the result as one JSON object\n"

#define CLI_COMMIT_OPTIONS \
	{ "branch", required_argument, NULL, OPT_BRANCH }, \
	{ "root", required_argument, NULL, OPT_ROOT }, \
	{ "author", required_argument, NULL, OPT_AUTHOR }, \
	{ "message", required_argument, NULL, OPT_MESSAGE }, \
	{ "reason", required_argument, NULL, OPT_REASON }, \
	{ "trailer", required_argument, NULL, OPT_TRAILER }, \
	{ "retries", required_argument, NULL, OPT_RETRIES }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN_C }, \
	{ "json", no_argument, NULL, OPT_JSON_C }, \
	{ "push", optional_argument, NULL, OPT_PUSH }, \
	{ "token-env", required_argument, NULL, OPT_TOKEN_ENV }, \
	{ "force", no_argument, NULL, OPT_FORCE }, \
	{ "sign", no_argument, NULL, OPT_SIGN }, \
	{ "no-sign", no_argument, NULL, OPT_NO_SIGN }

/*
 * struct cli_commit - Options and state of a committing command
 * @branch: --branch, or NULL for HEAD's branch
 * @root: --root, or NULL for the policy's
 * @author: --author "Name <email>", or NULL
 * @message: --message (the subject), or NULL
 * @reason: --reason (a Reason trailer, and in a Policy-Override), or NULL
 * @trailers: --trailer values turned into "Key: value"
 * @ntrailers: how many
 * @retries: --retries
 * @timeout: --timeout: seconds a fetch or push may stall; 0: no bound
 * @push: --push: the remote, or NULL
 * @token_env: --token-env
 * @force: --force: override the promotion policy
 * @sign: --sign (1), --no-sign (0), or -1: commit.gpgsign decides
 * @dry_run: --dry-run
 * @json: --json
 * @meta: what the commit message records
 */
struct cli_commit {
	const char *branch;
	const char *root;
	const char *author;
	const char *message;
	const char *reason;
	char **trailers;
	size_t ntrailers;
	int retries;
	int timeout;
	const char *push;
	const char *token_env;
	bool force;
	int sign;
	bool dry_run;
	bool json;
	/* more members for --json's object, each ",\"key\":value" */
	const char *json_extra;
	struct kpin_meta meta;
};

void cli_commit_init(struct cli_commit *c);
void cli_commit_release(struct cli_commit *c);

/*
 * cli_commit_option() - Handle one of CLI_COMMIT_OPTIONS
 * @argc: the command's argument count, for --push's optional word
 * @argv: its arguments; optind may be advanced past a remote name
 *
 * For the options a command's getopt loop does not handle itself.
 *
 * Returns: EXIT_OK when @opt was one of them, else EXIT_USAGE after the
 * usage error (its argument is invalid, or @opt is no option of @cmd's:
 * cli_unknown_option()).
 */
int cli_commit_option(struct cli_commit *c, const struct kpin_cmd *cmd,
		      int opt, const char *arg, int argc, char **argv);

/*
 * cli_open_repo() - Open the repository at "." and its policy file
 * @repo: receives the repository (NULL on failure)
 * @policy: receives .kpin.yaml from the branch tip, or the defaults;
 *          release it even on failure
 * @branch: --branch, or NULL
 * @c: the commit options, or NULL; with --push, the branch is fetched
 *     first and read as the remote has it (kpin_repo_fetch_view())
 *
 * Returns: EXIT_OK, or the exit status after printing the error.
 */
int cli_open_repo(struct kpin_repo **repo, struct kpin_policy *policy,
		  const char *branch, const struct cli_commit *c);

/*
 * cli_commit_run() - Commit @targets in the repository at "."
 *
 * Loads .kpin.yaml from the branch tip, checks environments, resolves the
 * identity, commits through kpin_repo_update() and prints the result
 * (diff and message for --dry-run, one JSON object for --json, else the
 * commit id on stdout and a note on stderr).
 *
 * Returns: the exit status.
 */
int cli_commit_run(struct cli_commit *c, struct kpin_target *targets,
		   size_t n);

/*
 * cli_commit_json_nothing() - What --json prints when a command finds
 * nothing to commit before it gets to cli_commit_run(): "changed" false,
 * no commit, @branch, an empty "updates" array and @c->json_extra.
 */
void cli_commit_json_nothing(const struct cli_commit *c, const char *branch);

/*
 * cli_commit_in() - cli_commit_run() in a repository already open
 * @repo: from cli_open_repo()
 * @policy: its policy, from cli_open_repo()
 *
 * For commands that look at the repository before they commit (apply
 * checks every request's environment and overlay first).
 */
int cli_commit_in(struct cli_commit *c, struct kpin_repo *repo,
		  const struct kpin_policy *policy,
		  struct kpin_target *targets, size_t n);

/* cli_actor() - $GITHUB_ACTOR, or NULL when unset or empty. */
const char *cli_actor(void);

/*
 * cli_run_url() - In GitHub Actions (GITHUB_ACTIONS=true), the run's URL
 * "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
 * into @out; false (and @out empty) elsewhere or when one is unset.
 */
bool cli_run_url(struct kpin_buf *out);

extern const struct kpin_cmd cmd_apply_entry;
extern const struct kpin_cmd cmd_check_entry;
extern const struct kpin_cmd cmd_history_entry;
extern const struct kpin_cmd cmd_promote_entry;
extern const struct kpin_cmd cmd_rollback_entry;
extern const struct kpin_cmd cmd_status_entry;
