/*
 * Fetch and push through libgit2 (local paths, file://, smart HTTP(S),
 * SSH). The token comes from an environment variable and is offered once
 * as HTTP basic-auth password; a second request for credentials means it
 * was refused, which is reported as an authentication failure rather than
 * retried. Server-side rejections reach push only through the
 * push_update_reference callback (git_remote_push returns 0), so every
 * status seen there counts as a rejection. Every message that could carry
 * a URL or the token goes through kpin_redact().
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kpin/error.h"
#include "kpin/repo.h"
#include "remote.h"
#include "kpin/xalloc.h"
#include "git-lazy.h"

struct kpin_remote {
	git_repository *repo;
	git_remote *git;
	char *name;		/* configured name, or NULL for a URL */
	char *url;		/* redacted */
	char *local;		/* the path, when the remote is on this machine */
	git_oid fetched;	/* the remote's tip at the last fetch */
	bool have_fetched;
	const char *token;	/* from the environment, never printed */
	char *token_env;	/* the variable named by --token-env */
	int cred_calls;		/* credential requests in this operation */
	bool auth_failed;
	char *rejected;		/* the first push status, if any */
	struct kpin_buf said;	/* the server's messages ("remote: ...") */
	struct kpin_buf line;	/* a message line still arriving */
	bool completed;		/* a shallow history was completed */
	int timeout;		/* seconds without progress; 0: no bound */
	struct watchdog *wd;	/* watching the operation under way */
	bool cut;		/* the watchdog cut the last one off */
};

/*
 * Appends @text to @out with every occurrence of @secret, leftmost first
 * and never overlapping, replaced by "***". The copy goes into a new
 * buffer, so the replacement may be longer or shorter than the secret and
 * may even contain it ("*").
 */
static void redact_secret(struct kpin_buf *out, const char *text,
			  const char *secret)
{
	size_t sl = secret ? strlen(secret) : 0;
	const char *p = text, *hit;

	if (!sl) {
		kpin_buf_adds(out, text);
		return;
	}
	while ((hit = strstr(p, secret)) != NULL) {
		kpin_buf_add(out, p, (size_t)(hit - p));
		kpin_buf_adds(out, "***");
		p = hit + sl;
	}
	kpin_buf_adds(out, p);
}

void kpin_redact(struct kpin_buf *out, const char *text, const char *secret)
{
	struct kpin_buf tmp = KPIN_BUF_INIT;
	const char *p;

	/* the secret first: user info may hold it, or a part of it */
	redact_secret(&tmp, text, secret);
	p = kpin_buf_cstr(&tmp);
	kpin_buf_reset(out);
	kpin_buf_grow(out, 0);
	while (*p) {
		const char *scheme = strstr(p, "://");
		const char *hostend, *at;

		if (!scheme) {
			kpin_buf_adds(out, p);
			break;
		}
		kpin_buf_add(out, p, (size_t)(scheme + 3 - p));
		p = scheme + 3;
		hostend = p + strcspn(p, "/ \t\n'\"");
		at = memchr(p, '@', (size_t)(hostend - p));
		if (at) {
			kpin_buf_adds(out, "***");
			p = at;
		}
	}
	kpin_buf_release(&tmp);
}

/*
 * Is this failure one that no retry can mend: a URL no transport takes,
 * a malformed one, a certificate that does not verify, an HTTP client
 * error such as 404 (401 and 403 are authentication, handled before)?
 * Those fail at once instead of as a network error worth retrying.
 */
static bool cannot_heal(int rc, const char *msg)
{
	return rc == GIT_ECERTIFICATE || rc == GIT_EINVALIDSPEC ||
	       strstr(msg, "unsupported URL") || strstr(msg, "malformed URL") ||
	       strstr(msg, "invalid URL") || strstr(msg, "unknown scheme") ||
	       strstr(msg, "status code: 4");	/* 404 and the like */
}

/* Set an error from libgit2's, classified and redacted. */
static int remote_fail(struct kpin_remote *r, int rc, const char *what)
{
	const git_error *e = git_error_last();
	struct kpin_buf msg = KPIN_BUF_INIT;
	int code;

	kpin_redact(&msg, e && e->message ? e->message : "libgit2 error",
		    r->token);
	if (r->cut) {
		code = kpin_error_set(KPIN_ERROR, "cannot %s %s: nothing came "
				      "for %d s (--timeout), so kpin gave "
				      "up%s", what, r->url, r->timeout,
				      !strncmp(what, "push", 4) ? "; the push "
				      "may have landed (fetch to see)" : "");
	} else if (r->auth_failed || rc == GIT_EAUTH ||
	    (e && e->klass == GIT_ERROR_HTTP && strstr(msg.ptr, "403"))) {
		if (r->token)
			code = kpin_error_set(KPIN_EAUTH, "authentication "
					      "failed for %s (the token was "
					      "refused)", r->url);
		else if (r->token_env)
			code = kpin_error_set(KPIN_EAUTH, "authentication "
					      "failed for %s (no token: %s is "
					      "unset or empty)", r->url,
					      r->token_env);
		else
			code = kpin_error_set(KPIN_EAUTH, "authentication "
					      "failed for %s (no token: set "
					      "KPIN_TOKEN or GITHUB_TOKEN, or "
					      "name the variable with "
					      "--token-env)", r->url);
	} else if (e && !cannot_heal(rc, msg.ptr) &&
		   (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_HTTP ||
		    e->klass == GIT_ERROR_SSL || e->klass == GIT_ERROR_SSH ||
		    e->klass == GIT_ERROR_OS)) {
		code = kpin_error_set(KPIN_ENETWORK, "cannot %s %s: %s", what,
				      r->url, msg.ptr);
	} else {
		code = kpin_error_set(KPIN_ERROR, "cannot %s %s: %s", what,
				      r->url, msg.ptr);
	}
	kpin_buf_release(&msg);
	return code;
}

/* ---- the bound on a stalled network (--timeout) ---------------------- */

/*
 * libgit2 1.5 has no network timeout (GIT_OPT_SET_SERVER_TIMEOUT came in
 * 1.7), and a server that accepts a connection and then says nothing
 * holds a blocking recv() forever. So a network operation runs under a
 * watchdog thread: every callback libgit2 makes as data arrives or
 * leaves counts as progress, and when none has come for the timeout the
 * watchdog shuts down the sockets opened since the operation began.
 * libgit2's blocked read then sees the end of the stream, fails, and
 * unwinds as after any network error; nothing is left half-done,
 * because the local branch moves only after a push succeeded. Sockets
 * open before the operation (a caller's own) are left alone, and
 * SIGPIPE from writing to a shut-down socket is held back on this
 * thread and discarded, so it cannot kill the process.
 */
struct watchdog {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long timeout_ms;
	long last_ms;		/* last progress, CLOCK_MONOTONIC */
	bool stop;		/* the operation ended */
	bool fired;		/* the watchdog cut it off */
	ino_t *before;		/* sockets open when it began */
	size_t nbefore;
	sigset_t oldmask;
};

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Call @fn for every socket this process has open, with its descriptor
 * and inode; /proc/self/fd lists them, else the first 1024 are tried.
 */
static void each_socket(void (*fn)(int fd, ino_t ino, void *arg), void *arg)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;
	struct stat st;
	int fd;

	if (!dir) {
		for (fd = 0; fd < 1024; fd++)
			if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
				fn(fd, st.st_ino, arg);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		fd = atoi(d->d_name);
		if (d->d_name[0] != '.' && fd != dirfd(dir) &&
		    fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			fn(fd, st.st_ino, arg);
	}
	closedir(dir);
}

static void note_socket(int fd, ino_t ino, void *arg)
{
	struct watchdog *wd = arg;

	(void)fd;
	wd->before = xreallocarray(wd->before, wd->nbefore + 1,
				   sizeof(*wd->before));
	wd->before[wd->nbefore++] = ino;
}

static void cut_socket(int fd, ino_t ino, void *arg)
{
	const struct watchdog *wd = arg;
	size_t i;

	for (i = 0; i < wd->nbefore; i++)
		if (wd->before[i] == ino)
			return;
	shutdown(fd, SHUT_RDWR);
}

static void *watch(void *arg)
{
	struct watchdog *wd = arg;

	pthread_mutex_lock(&wd->mu);
	while (!wd->stop) {
		long due = wd->last_ms + wd->timeout_ms, now = mono_ms();
		struct timespec ts;

		if (now >= due) {
			each_socket(cut_socket, wd);
			wd->fired = true;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (due - now) / 1000;
		ts.tv_nsec += ((due - now) % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
	}
	pthread_mutex_unlock(&wd->mu);
	return NULL;
}

/* Progress: the watchdog's clock starts again. */
static void progress(struct kpin_remote *r)
{
	if (!r->wd)
		return;
	pthread_mutex_lock(&r->wd->mu);
	r->wd->last_ms = mono_ms();
	pthread_mutex_unlock(&r->wd->mu);
}

/* Start watching a network operation (none for a local remote or 0 s). */
static void watch_start(struct kpin_remote *r)
{
	struct watchdog *wd;
	pthread_condattr_t ca;
	sigset_t pipe;

	r->cut = false;
	if (r->local || r->timeout <= 0)
		return;
	wd = xcalloc(1, sizeof(*wd));
	wd->timeout_ms = (long)r->timeout * 1000;
	wd->last_ms = mono_ms();
	each_socket(note_socket, wd);
	pthread_mutex_init(&wd->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd->cv, &ca);
	pthread_condattr_destroy(&ca);
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &wd->oldmask);
	if (pthread_create(&wd->thread, NULL, watch, wd)) {
		/* no thread, no bound: the operation still runs */
		pthread_sigmask(SIG_SETMASK, &wd->oldmask, NULL);
		pthread_cond_destroy(&wd->cv);
		pthread_mutex_destroy(&wd->mu);
		free(wd->before);
		free(wd);
		return;
	}
	r->wd = wd;
}

/* Stop watching; true (and r->cut) when the watchdog cut it off. */
static bool watch_stop(struct kpin_remote *r)
{
	struct watchdog *wd = r->wd;
	struct timespec none = { 0, 0 };
	sigset_t pipe;
	bool fired;

	if (!wd)
		return false;
	pthread_mutex_lock(&wd->mu);
	wd->stop = true;
	pthread_cond_signal(&wd->cv);
	pthread_mutex_unlock(&wd->mu);
	pthread_join(wd->thread, NULL);
	fired = wd->fired;
	/* a SIGPIPE held back while the socket was cut: discard it */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	while (sigtimedwait(&pipe, NULL, &none) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &wd->oldmask, NULL);
	pthread_cond_destroy(&wd->cv);
	pthread_mutex_destroy(&wd->mu);
	free(wd->before);
	free(wd);
	r->wd = NULL;
	r->cut = fired;
	return fired;
}

static int credentials(git_credential **out, const char *url,
		       const char *user_from_url, unsigned int allowed,
		       void *payload)
{
	struct kpin_remote *r = payload;

	(void)url;
	progress(r);
	if (allowed & GIT_CREDENTIAL_USERNAME)	/* SSH asks who first */
		return git_credential_username_new(out, user_from_url ?
						   user_from_url : "git");
	if (r->cred_calls++ > 0 || !r->token ||
	    !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
		/* SSH: let the agent answer, once */
		if (r->cred_calls == 1 && (allowed & GIT_CREDENTIAL_SSH_KEY))
			return git_credential_ssh_key_from_agent(out,
				user_from_url ? user_from_url : "git");
		r->auth_failed = true;
		git_error_set_str(GIT_ERROR_HTTP, "authentication failed");
		return GIT_EAUTH;
	}
	return git_credential_userpass_plaintext_new(out, KPIN_TOKEN_USER,
						     r->token);
}

/*
 * What the server says on the sideband ("remote: ..." in git): its hooks'
 * output, such as the reason a protected branch refused the push. Lines
 * ended by '\r' are progress being redrawn and are dropped; control
 * characters become '?', as git's sideband does, so a server cannot
 * drive the terminal. Kept to a few lines.
 */
static int sideband(const char *data, int len, void *payload)
{
	struct kpin_remote *r = payload;
	int i;

	progress(r);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];

		if (ch == '\r') {
			kpin_buf_reset(&r->line);
		} else if (ch == '\n') {
			if (r->line.len && r->said.len < 512) {
				kpin_buf_adds(&r->said, r->said.len ? "; " :
					      "");
				kpin_buf_add(&r->said, r->line.ptr,
					     r->line.len);
			}
			kpin_buf_reset(&r->line);
		} else if (r->line.len < 256) {
			kpin_buf_addch(&r->line, ch < 0x20 || ch == 0x7f ?
				       '?' : (char)ch);
		}
	}
	return 0;
}

/*
 * Did a push status report a lost race (the ref moved or was locked
 * while the push ran), which another attempt on the new tip can win?
 * Anything else is the server refusing the update: a hook, a protected
 * branch, a checked-out branch. Trying again would only be refused again.
 */
static bool status_lost_race(const char *status)
{
	static const char *const race[] = {
		"non-fast-forward", "fetch first", "cannot lock ref",
		"failed to lock", "failed to update ref",
		"incorrect old value", "stale info",
	};
	size_t i;

	for (i = 0; i < sizeof(race) / sizeof(race[0]); i++)
		if (strstr(status, race[i]))
			return true;
	return false;
}

static int push_status(const char *refname, const char *status, void *payload)
{
	struct kpin_remote *r = payload;

	(void)refname;
	progress(r);
	if (status && !r->rejected)
		r->rejected = xstrdup(status);
	return 0;
}

/* Objects arriving or leaving: progress, for the watchdog. */
static int fetch_progress(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	progress(payload);
	return 0;
}

static int push_progress(unsigned int current, unsigned int total,
			 size_t bytes, void *payload)
{
	(void)current;
	(void)total;
	(void)bytes;
	progress(payload);
	return 0;
}

static void callbacks(git_remote_callbacks *cb, struct kpin_remote *r)
{
	cb->transfer_progress = fetch_progress;
	cb->push_transfer_progress = push_progress;
	cb->credentials = credentials;
	cb->push_update_reference = push_status;
	cb->sideband_progress = sideband;
	cb->payload = r;
	r->cred_calls = 0;
	r->auth_failed = false;
}

/*
 * The directory of a remote on this machine (a path or a file:// URL),
 * or NULL for a network remote ("scheme://..." or scp-like "host:path").
 */
static char *local_path(const char *url)
{
	const char *colon, *slash;

	if (!url)
		return NULL;
	if (!strncmp(url, "file://", 7))
		return xstrdup(url + 7);
	if (strstr(url, "://"))
		return NULL;
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon && (!slash || colon < slash))
		return NULL;
	return xstrdup(url);
}

/*
 * A remote given as a relative path names a directory relative to the
 * top of the worktree (the git directory when bare), wherever kpin was
 * started: git runs from there too. Point the remote at the absolute
 * path, keeping its name for the remote-tracking refs.
 */
static int resolve_relative(struct kpin_remote *r)
{
	const char *top = git_repository_workdir(r->repo);
	struct kpin_buf abs = KPIN_BUF_INIT;
	git_remote *anon = NULL;
	int rc;

	kpin_buf_addf(&abs, "%s%s", top ? top : git_repository_path(r->repo),
		      r->local);
	rc = git_remote_create_anonymous(&anon, r->repo, abs.ptr);
	if (rc) {
		rc = remote_fail(r, rc, "resolve");
		kpin_buf_release(&abs);
		return rc;
	}
	git_remote_free(r->git);
	r->git = anon;
	free(r->local);
	r->local = kpin_buf_detach(&abs, NULL);
	return 0;
}

int kpin_remote_open(struct kpin_remote **out, git_repository *repo,
		     const char *name, const char *token_env)
{
	struct kpin_remote *r = xcalloc(1, sizeof(*r));
	struct kpin_buf b = KPIN_BUF_INIT;
	const char *tok;
	int rc;

	*out = NULL;
	r->repo = repo;
	rc = git_remote_lookup(&r->git, repo, name);
	if (rc == 0) {
		r->name = xstrdup(name);
	} else if (strchr(name, '/') || strchr(name, ':')) {
		rc = git_remote_create_anonymous(&r->git, repo, name);
		if (rc) {
			kpin_redact(&b, name, NULL);
			rc = kpin_error_set(KPIN_EINVALID, "invalid remote '%s'",
					    b.ptr);
			goto fail;
		}
	} else {
		rc = kpin_error_set(KPIN_ENOTFOUND, "no remote named '%s' (give "
				    "a configured remote, a URL or a path)",
				    name);
		goto fail;
	}
	kpin_redact(&b, git_remote_url(r->git) ? git_remote_url(r->git) : name,
		    NULL);
	r->url = kpin_buf_detach(&b, NULL);
	r->local = local_path(git_remote_url(r->git));
	if (r->local && r->local[0] != '/') {
		rc = resolve_relative(r);
		if (rc)
			goto fail;
	}
	if (token_env) {
		r->token_env = xstrdup(token_env);
		tok = getenv(token_env);
	} else {
		tok = getenv("KPIN_TOKEN");
		if (!tok || !*tok)
			tok = getenv("GITHUB_TOKEN");
	}
	r->token = tok && *tok ? tok : NULL;
	r->timeout = KPIN_TIMEOUT_DEFAULT;
	*out = r;
	return 0;
fail:
	kpin_buf_release(&b);
	kpin_remote_free(r);
	return rc;
}

void kpin_remote_free(struct kpin_remote *r)
{
	if (!r)
		return;
	git_remote_free(r->git);
	free(r->name);
	free(r->url);
	free(r->local);
	free(r->token_env);
	free(r->rejected);
	kpin_buf_release(&r->said);
	kpin_buf_release(&r->line);
	free(r);
}

void kpin_remote_set_timeout(struct kpin_remote *r, int seconds)
{
	r->timeout = seconds > 0 ? seconds : seconds < 0 ? 0 :
		     KPIN_TIMEOUT_DEFAULT;
}

const char *kpin_remote_url(const struct kpin_remote *r)
{
	return r->url;
}

/*
 * Does the repository's history stop short somewhere? True when it is a
 * shallow clone (git's "shallow" file lists boundary commits) and some
 * boundary commit's parent is missing; a clone whose history was once
 * completed is not short any more, whatever the file says.
 */
static bool history_short(git_repository *repo)
{
	struct kpin_buf path = KPIN_BUF_INIT;
	char line[128];
	bool shortened = false;
	FILE *fp;

	if (git_repository_is_shallow(repo) != 1)
		return false;
	kpin_buf_addf(&path, "%sshallow", git_repository_commondir(repo));
	fp = fopen(path.ptr, "r");
	kpin_buf_release(&path);
	if (!fp)
		return false;
	while (!shortened && fgets(line, sizeof(line), fp)) {
		git_commit *c = NULL;
		git_odb *odb = NULL;
		git_oid id;
		unsigned i;

		if (git_oid_fromstrn(&id, line, 40) ||
		    git_commit_lookup(&c, repo, &id) ||
		    git_repository_odb(&odb, repo)) {
			git_commit_free(c);
			continue;
		}
		for (i = 0; i < git_commit_parentcount(c); i++)
			if (!git_odb_exists(odb, git_commit_parent_id(c, i)))
				shortened = true;
		git_odb_free(odb);
		git_commit_free(c);
	}
	fclose(fp);
	git_error_clear();
	return shortened;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * Move the packs fetched into @from (a scratch repository's pack
 * directory) into @repo's: each .pack first, then its .idx, which is what
 * makes a pack visible, as git's own fetch does.
 */
static int adopt_packs(git_repository *repo, const char *from)
{
	struct kpin_buf src = KPIN_BUF_INIT, dst = KPIN_BUF_INIT;
	struct dirent *d;
	DIR *dir = opendir(from);
	int rc = 0;

	if (!dir)
		return kpin_error_set(KPIN_ERROR, "cannot read '%s': %s", from,
				      strerror(errno));
	while (!rc && (d = readdir(dir)) != NULL) {
		size_t len = strlen(d->d_name);
		static const char *const ext[] = { ".pack", ".idx" };
		size_t k;

		if (len < 6 || strcmp(d->d_name + len - 5, ".pack"))
			continue;
		for (k = 0; k < 2 && !rc; k++) {
			kpin_buf_reset(&src);
			kpin_buf_reset(&dst);
			kpin_buf_addf(&src, "%s/%.*s%s", from, (int)len - 5,
				      d->d_name, ext[k]);
			kpin_buf_addf(&dst, "%sobjects/pack/%.*s%s",
				      git_repository_commondir(repo),
				      (int)len - 5, d->d_name, ext[k]);
			if (rename(src.ptr, dst.ptr) < 0)
				rc = kpin_error_set(KPIN_ERROR, "cannot move "
						    "'%s' to '%s': %s", src.ptr,
						    dst.ptr, strerror(errno));
		}
	}
	closedir(dir);
	kpin_buf_release(&src);
	kpin_buf_release(&dst);
	return rc;
}

/*
 * Complete a shallow clone's history of @head: libgit2 1.5 knows nothing
 * of shallow clones, and its fetch and push walk the local history and
 * fail at the first missing parent. So fetch once with nothing to offer
 * the server, into a scratch repository of our own in the git directory:
 * the server sends the branch's whole history, as `git fetch
 * --unshallow` would, and its pack joins this repository's. No ref
 * moves. (A scratch repository sharing our object database would not
 * do: libgit2 asks for nothing when it has the wanted tip already.)
 */
static int complete_history(struct kpin_remote *r, const char *head)
{
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	struct kpin_buf dir = KPIN_BUF_INIT, spec = KPIN_BUF_INIT;
	git_repository *scratch = NULL;
	git_remote *remote = NULL;
	char *specs[1];
	git_strarray refspecs = { specs, 1 };
	int rc;

	kpin_buf_addf(&dir, "%skpin-complete-%ld",
		      git_repository_path(r->repo), (long)getpid());
	kpin_buf_adds(&spec, head);
	specs[0] = spec.ptr;
	nftw(dir.ptr, rm_entry, 16, FTW_DEPTH | FTW_PHYS);	/* a leftover */
	rc = git_repository_init(&scratch, dir.ptr, 1);
	if (!rc)
		rc = git_remote_create_anonymous(&remote, scratch,
						 git_remote_url(r->git));
	if (!rc) {
		callbacks(&fo.callbacks, r);
		fo.proxy_opts.type = GIT_PROXY_AUTO;
		fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
		fo.update_fetchhead = 0;
		watch_start(r);
		rc = git_remote_fetch(remote, &refspecs, &fo,
				      "kpin: complete a shallow history");
		watch_stop(r);
	}
	git_remote_free(remote);
	git_repository_free(scratch);
	if (rc) {
		rc = remote_fail(r, rc, "fetch the history of the shallow "
				 "clone from");
	} else {
		kpin_buf_addf(&spec, "%s/objects/pack", dir.ptr);
		rc = adopt_packs(r->repo, spec.ptr + strlen(head));
	}
	if (!rc)
		r->completed = true;
	nftw(dir.ptr, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	kpin_buf_release(&dir);
	kpin_buf_release(&spec);
	return rc;
}

int kpin_remote_fetch(struct kpin_remote *r, const char *branch, git_oid *tip,
		      bool track)
{
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	struct kpin_buf spec = KPIN_BUF_INIT, head = KPIN_BUF_INIT;
	const git_remote_head **heads;
	git_remote *anon = NULL, *use = r->git;
	char *specs[1];
	git_strarray refspecs = { specs, 1 };
	size_t n, i;
	int rc;

	kpin_buf_addf(&head, "refs/heads/%s", branch);
	if (!r->completed && history_short(r->repo)) {
		rc = complete_history(r, head.ptr);
		if (rc)
			goto out;
	}
	if (!track) {
		/*
		 * Objects only. Through an anonymous remote: libgit2, like
		 * git, would otherwise update the configured remote's
		 * tracking refs opportunistically.
		 */
		kpin_buf_adds(&spec, head.ptr);
		if (r->name) {
			rc = git_remote_create_anonymous(&anon, r->repo,
							 git_remote_url(r->git));
			if (rc) {
				rc = remote_fail(r, rc, "fetch from");
				goto out;
			}
			use = anon;
		}
	} else if (r->name)
		kpin_buf_addf(&spec, "+%s:refs/remotes/%s/%s", head.ptr,
			      r->name, branch);
	else
		kpin_buf_addf(&spec, "+%s:refs/kpin/fetched/%s", head.ptr,
			      branch);
	specs[0] = spec.ptr;
	callbacks(&fo.callbacks, r);
	fo.proxy_opts.type = GIT_PROXY_AUTO;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	watch_start(r);
	rc = git_remote_fetch(use, &refspecs, &fo, "kpin: fetch");
	watch_stop(r);
	if (rc) {
		rc = remote_fail(r, rc, "fetch from");
		goto out;
	}
	/* the advertisement says what the remote's tip is, right now */
	rc = git_remote_ls(&heads, &n, use);
	if (rc) {
		rc = remote_fail(r, rc, "list the refs of");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(heads[i]->name, head.ptr))
			break;
	if (i == n) {
		rc = kpin_error_set(KPIN_ENOTFOUND, "branch '%s' does not exist "
				    "on %s", branch, r->url);
		goto out;
	}
	git_oid_cpy(tip, &heads[i]->oid);
	git_oid_cpy(&r->fetched, tip);
	r->have_fetched = true;
out:
	git_remote_free(anon);
	kpin_buf_release(&spec);
	kpin_buf_release(&head);
	return rc;
}

/* Copy object @id from @src to @dst unless @dst has it. */
static int copy_object(git_odb *dst, git_odb *src, const git_oid *id)
{
	git_odb_object *obj = NULL;
	git_oid written;
	int rc;

	if (git_odb_exists(dst, id))
		return 0;
	rc = git_odb_read(&obj, src, id);
	if (!rc)
		rc = git_odb_write(&written, dst, git_odb_object_data(obj),
				   git_odb_object_size(obj),
				   git_odb_object_type(obj));
	git_odb_object_free(obj);
	return rc;
}

/*
 * Copy tree @id and what it holds, skipping any subtree @dst already has
 * (a sound repository has everything below it then). Children go first,
 * so that @dst never holds a tree whose entries it lacks.
 */
static int copy_tree(git_odb *dst, git_odb *src, git_repository *repo,
		     const git_oid *id)
{
	git_tree *t = NULL;
	size_t i;
	int rc;

	if (git_odb_exists(dst, id))
		return 0;
	rc = git_tree_lookup(&t, repo, id);
	for (i = 0; !rc && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
			rc = copy_tree(dst, src, repo, git_tree_entry_id(e));
		else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
			rc = copy_object(dst, src, git_tree_entry_id(e));
	}
	if (!rc)
		rc = copy_object(dst, src, id);
	git_tree_free(t);
	return rc;
}

/*
 * The hook @name that a push to @there would run, when it is there and
 * executable (git skips one that is not): in core.hooksPath, taken
 * relative to where receive-pack runs hooks, else in the hooks directory.
 */
static bool has_hook(git_repository *there, git_config *cfg, const char *name)
{
	git_buf dir = GIT_BUF_INIT;
	struct kpin_buf path = KPIN_BUF_INIT;
	const char *top = git_repository_workdir(there);
	struct stat st;
	bool found;

	if (cfg && git_config_get_string_buf(&dir, cfg, "core.hooksPath") == 0 &&
	    dir.ptr[0])
		kpin_buf_addf(&path, "%s%s/%s", dir.ptr[0] == '/' ? "" : top ?
			      top : git_repository_path(there), dir.ptr, name);
	else
		kpin_buf_addf(&path, "%shooks/%s",
			      git_repository_commondir(there), name);
	git_error_clear();
	found = stat(path.ptr, &st) == 0 && S_ISREG(st.st_mode) &&
		access(path.ptr, X_OK) == 0;
	git_buf_dispose(&dir);
	kpin_buf_release(&path);
	return found;
}

/*
 * Does @there refuse a push to a branch it has checked out, as git's
 * receive.denyCurrentBranch says (unset: refuse)? "ignore" and "warn"
 * let it through, as in git; "updateInstead" is refused too, because
 * kpin cannot update that worktree as receive-pack would.
 */
static bool deny_current(git_config *cfg)
{
	static const char *const allow[] = {
		"ignore", "warn", "false", "no", "off", "0"
	};
	git_buf v = GIT_BUF_INIT;
	bool deny = true;
	size_t i;

	if (cfg && git_config_get_string_buf(&v, cfg,
					     "receive.denyCurrentBranch") == 0)
		for (i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
			if (!strcasecmp(v.ptr, allow[i]))
				deny = false;
	git_error_clear();
	git_buf_dispose(&v);
	return deny;
}

/*
 * What receive-pack would do that kpin cannot: run the receiving
 * repository's pre-receive and update hooks (they are there to stop some
 * pushes: skipping them would let this one through), and refuse to move
 * a branch that one of its worktrees has checked out
 * (receive.denyCurrentBranch). Either is a refusal, KPIN_EREFUSED.
 */
static int local_refusal(struct kpin_remote *r, git_repository *there,
			 const char *refname)
{
	static const char *const hooks[] = { "pre-receive", "update" };
	git_reference *ref = NULL;
	git_config *cfg = NULL;
	size_t i;
	int rc = 0, out = 0;

	if (git_repository_config_snapshot(&cfg, there))
		cfg = NULL;
	for (i = 0; !rc && i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (has_hook(there, cfg, hooks[i]))
			rc = kpin_error_set(KPIN_EREFUSED, "%s has a %s hook, "
					    "which a push over ssh or https "
					    "would run; kpin pushes to a "
					    "repository on this machine "
					    "without running hooks, so it "
					    "refuses (push to its ssh or https "
					    "URL instead); nothing pushed",
					    r->url, hooks[i]);
	/* a new branch (no ref yet) is nobody's checkout */
	if (!rc && deny_current(cfg) &&
	    git_reference_lookup(&ref, there, refname) == 0)
		out = git_branch_is_checked_out(ref);
	git_reference_free(ref);
	git_config_free(cfg);
	git_error_clear();
	if (out == 1)
		rc = kpin_error_set(KPIN_EREFUSED, "%s has '%s' checked out "
				    "in a worktree; refusing to move it under "
				    "that worktree, as git does "
				    "(receive.denyCurrentBranch): push to a "
				    "bare repository; nothing pushed", r->url,
				    refname + 11);
	return rc;
}

/*
 * Push to a repository on this machine as receive-pack would, without
 * libgit2's local transport (which sets refs without checking their old
 * value, and races when several processes push at once): copy the
 * objects the remote lacks, then move its branch by compare-and-swap
 * against the tip this remote had when it was fetched.
 */
static int push_local(struct kpin_remote *r, const git_oid *commit,
		      const char *branch)
{
	git_repository *there = NULL;
	git_odb *src = NULL, *dst = NULL;
	git_commit *c = NULL;
	git_reference *ref = NULL;
	struct kpin_buf name = KPIN_BUF_INIT;
	unsigned i;
	int rc;

	kpin_buf_addf(&name, "refs/heads/%s", branch);
	rc = git_repository_open(&there, r->local);
	if (rc) {
		rc = remote_fail(r, rc, "open");
		goto out;
	}
	rc = local_refusal(r, there, name.ptr);
	if (rc)
		goto out;
	rc = git_repository_odb(&src, r->repo);
	if (!rc)
		rc = git_repository_odb(&dst, there);
	if (!rc)
		rc = git_commit_lookup(&c, r->repo, commit);
	for (i = 0; !rc && i < git_commit_parentcount(c); i++)
		if (!git_odb_exists(dst, git_commit_parent_id(c, i)))
			rc = kpin_error_set(KPIN_EREJECTED, "%s lacks the "
					    "commit kpin built on", r->url);
	if (!rc)
		rc = copy_tree(dst, src, r->repo, git_commit_tree_id(c));
	if (!rc)
		rc = copy_object(dst, src, commit);
	if (rc) {
		if (rc != KPIN_EREJECTED)
			rc = remote_fail(r, rc, "copy objects to");
		goto out;
	}
	rc = git_reference_create_matching(&ref, there, name.ptr, commit, 1,
					   r->have_fetched ? &r->fetched : NULL,
					   "kpin: push");
	if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED)
		rc = kpin_error_set(KPIN_EREJECTED, "%s rejected the push: "
				    "'%s' moved since it was fetched", r->url,
				    branch);
	else if (rc)
		rc = remote_fail(r, rc, "update");
out:
	git_reference_free(ref);
	git_commit_free(c);
	git_odb_free(src);
	git_odb_free(dst);
	git_repository_free(there);
	kpin_buf_release(&name);
	return rc;
}

/*
 * The error for a ref status: a lost race is KPIN_EREJECTED (retried),
 * anything else KPIN_EREFUSED, with what the server said about it.
 */
static int push_rejected(struct kpin_remote *r, const char *branch)
{
	struct kpin_buf m = KPIN_BUF_INIT, said = KPIN_BUF_INIT;
	int rc;

	kpin_redact(&m, r->rejected, r->token);
	if (status_lost_race(r->rejected)) {
		rc = kpin_error_set(KPIN_EREJECTED, "%s rejected the push: %s",
				    r->url, m.ptr);
	} else {
		kpin_redact(&said, r->said.len ? r->said.ptr : "", r->token);
		rc = kpin_error_set(KPIN_EREFUSED, "%s refused the update of "
				    "'%s' (%s)%s%s; not retried, nothing "
				    "pushed", r->url, branch, m.ptr,
				    said.len ? ": remote: " : "", said.ptr);
	}
	kpin_buf_release(&m);
	kpin_buf_release(&said);
	return rc;
}

/* Keep the remote-tracking ref where the remote now is. */
static void update_tracking(struct kpin_remote *r, const git_oid *commit,
			    const char *branch)
{
	struct kpin_buf track = KPIN_BUF_INIT;
	git_reference *ref = NULL;

	kpin_buf_addf(&track, "refs/remotes/%s/%s", r->name, branch);
	if (git_reference_create(&ref, r->repo, track.ptr, commit, 1,
				 "kpin: push") == 0)
		git_reference_free(ref);
	kpin_buf_release(&track);
}

int kpin_remote_push(struct kpin_remote *r, const git_oid *commit,
		     const char *branch)
{
	git_push_options po = GIT_PUSH_OPTIONS_INIT;
	struct kpin_buf tmp = KPIN_BUF_INIT, spec = KPIN_BUF_INIT;
	git_reference *ref = NULL;
	char *specs[1];
	git_strarray refspecs = { specs, 1 };
	int rc;

	if (r->local) {
		rc = push_local(r, commit, branch);
		if (!rc && r->name)
			update_tracking(r, commit, branch);
		return rc;
	}
	/* git_remote_push pushes refs, not ids: a private ref names it */
	kpin_buf_addf(&tmp, "refs/kpin/push/%ld", (long)getpid());
	rc = git_reference_create(&ref, r->repo, tmp.ptr, commit, 1,
				  "kpin: push");
	git_reference_free(ref);
	ref = NULL;
	if (rc) {
		rc = remote_fail(r, rc, "prepare the push to");
		goto out;
	}
	/* no '+': never a forced update */
	kpin_buf_addf(&spec, "%s:refs/heads/%s", tmp.ptr, branch);
	specs[0] = spec.ptr;
	callbacks(&po.callbacks, r);
	po.proxy_opts.type = GIT_PROXY_AUTO;
	free(r->rejected);
	r->rejected = NULL;
	kpin_buf_reset(&r->said);
	kpin_buf_reset(&r->line);
	watch_start(r);
	rc = git_remote_push(r->git, &refspecs, &po);
	watch_stop(r);
	if (rc && r->cut) {
		rc = remote_fail(r, rc, "push to");
	} else if (rc == GIT_ENONFASTFORWARD) {
		rc = kpin_error_set(KPIN_EREJECTED, "%s refused the push: not a "
				    "fast-forward", r->url);
	} else if (rc) {
		rc = remote_fail(r, rc, "push to");
	} else if (r->rejected) {
		rc = push_rejected(r, branch);
	} else if (r->name) {
		update_tracking(r, commit, branch);
	}
	if (git_reference_lookup(&ref, r->repo, tmp.ptr) == 0) {
		git_reference_delete(ref);
		git_reference_free(ref);
	}
out:
	kpin_buf_release(&tmp);
	kpin_buf_release(&spec);
	return rc;
}
