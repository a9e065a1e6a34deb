/*
 * Error codes and the last error message of the calling thread.
 *
 * Included by every module and by the CLI. Library functions return 0 or a
 * negative enum kpin_error_code and set the message once, where the problem
 * is found; callers propagate the code and never overwrite the message.
 */
#ifndef KPIN_ERROR_H
#define KPIN_ERROR_H

enum kpin_error_code {
	KPIN_OK = 0,
	KPIN_ERROR = -1,	/* generic failure (I/O, library) */
	KPIN_ENOTFOUND = -3,	/* overlay, entry, branch or path missing */
	KPIN_EAMBIGUOUS = -5,	/* more than one candidate */
	KPIN_EINVALID = -6,	/* bad input: digest, name, path, YAML */
	KPIN_EUNCHANGED = -7,	/* the change is already in place */
	KPIN_EUSAGE = -8,	/* caller asked for something contradictory */
	KPIN_EPOLICY = -9,	/* refused by the promotion policy */
	KPIN_EAUTH = -10,	/* the remote refused our credentials */
	KPIN_ENETWORK = -11,	/* the remote could not be reached */
	KPIN_EREJECTED = -12,	/* the push lost a race: the remote moved */
	KPIN_EREFUSED = -13,	/* the remote refused the update for good */
	KPIN_ELOCKED = -14,	/* a lock is held by another writer */
	KPIN_EMODIFIED = -15,	/* the branch moved under us */
	KPIN_EVERIFY = -70	/* an edit failed its own verification */
};

/*
 * struct kpin_error - The last error of this thread
 * @code: the enum kpin_error_code that was returned
 * @line: 1-based line in the input the message is about, 0 when none
 * @col: 1-based column (in characters), 0 when none
 * @message: lowercase text without a final full stop
 */
struct kpin_error {
	int code;
	int line;
	int col;
	char message[1024];
};

/*
 * kpin_error_set() - Record the error of this thread
 * @code: the code the caller is about to return
 * @fmt: printf-style message
 *
 * Returns: @code, so that `return kpin_error_set(...)` reads naturally.
 */
int kpin_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * kpin_error_set_at() - Record an error that has a position in the input
 * @code: the code the caller is about to return
 * @line: 1-based line
 * @col: 1-based column
 * @fmt: printf-style message
 *
 * Returns: @code.
 */
int kpin_error_set_at(int code, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * kpin_error_last() - The last error set in this thread
 *
 * Returns: a borrowed pointer, valid until the next kpin_error_set*() or
 * kpin_error_clear(); its code is 0 when no error was set.
 */
const struct kpin_error *kpin_error_last(void);

/*
 * kpin_error_prefix() - Put context before the last error's message
 * @fmt: printf-style prefix; ": " separates it from the old message
 *
 * Keeps the code and position. Returns: the code.
 */
int kpin_error_prefix(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* kpin_error_clear() - Forget the last error of this thread. */
void kpin_error_clear(void);

#endif
