/*
 * Allowed-signers files (ssh-keygen(1) ALLOWED SIGNERS) read as OpenSSH
 * reads them for git: each line is principals, options and a key; a line
 * whose options OpenSSH would refuse (an unknown option, a clause given
 * twice, a bad time) does not count; "namespaces" is a pattern list
 * (ssh_config(5) PATTERNS); "valid-after" and "valid-before" bound the
 * time the key may be used, checked against the commit's committer time
 * as git passes it (-Overify-time). Pure: bytes in, verdict out, no I/O
 * and no crypto. Included by verify.c and its tests.
 */
#ifndef KPIN_ALLOWED_H
#define KPIN_ALLOWED_H

#include <stdbool.h>
#include <stddef.h>

/*
 * enum kpin_allowed_status - What the file says of a key
 * @KPIN_ALLOWED_NONE: no line that counts holds the key
 * @KPIN_ALLOWED_YES: a line allows it
 * @KPIN_ALLOWED_TIME: lines hold it, none valid at that time (git: "No
 *                     principal matched", an unknown key)
 * @KPIN_ALLOWED_NAMESPACE: a line valid at that time holds it, but its
 *                          namespaces refuse the signature's (git: "Could
 *                          not verify signature", bad)
 */
enum kpin_allowed_status {
	KPIN_ALLOWED_NONE,
	KPIN_ALLOWED_YES,
	KPIN_ALLOWED_TIME,
	KPIN_ALLOWED_NAMESPACE,
};

/*
 * struct kpin_allowed - The verdict of kpin_allowed_lookup()
 * @status: the verdict
 * @principals: the principals of the line that allows the key (YES), or
 *              of the first line that refused it (TIME, NAMESPACE)
 * @why: for TIME and NAMESPACE, the refusal in words
 */
struct kpin_allowed {
	enum kpin_allowed_status status;
	char *principals;
	char *why;
};

/*
 * kpin_allowed_lookup() - Look a key up in an allowed-signers file
 * @out: the verdict (release with kpin_allowed_release())
 * @file: the file's bytes
 * @len: their length
 * @pub: the public key blob that signed
 * @publen: its length
 * @ns: the signature's namespace ("git")
 * @when: the time the key is checked at (seconds since the epoch)
 *
 * Lines with "cert-authority" do not count (the key signs certificates,
 * which kpin does not take). Lines are tried in order; the first that
 * allows the key wins.
 */
void kpin_allowed_lookup(struct kpin_allowed *out, const char *file,
			 size_t len, const unsigned char *pub, size_t publen,
			 const char *ns, long long when);
void kpin_allowed_release(struct kpin_allowed *a);

/*
 * kpin_allowed_match_list() - OpenSSH's match_pattern_list()
 * @s: the string (NUL-terminated)
 * @list: comma-separated patterns ('*', '?'; a leading '!' negates)
 * @len: the list's length
 *
 * Returns: true when a pattern matches @s and no negated one does.
 */
bool kpin_allowed_match_list(const char *s, const char *list, size_t len);

/*
 * kpin_allowed_parse_time() - A "valid-after"/"valid-before" time
 * @out: seconds since the epoch
 * @s: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS; with a trailing "Z" (or
 *     "UTC") in UTC, else in local time, as OpenSSH reads it
 * @len: its length
 *
 * Returns: 0, or -1 when OpenSSH would refuse it (including a time not
 * after the epoch).
 */
int kpin_allowed_parse_time(long long *out, const char *s, size_t len);

#endif
