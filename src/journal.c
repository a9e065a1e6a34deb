/*
 * The update journal (see src/journal.h). The file is plain
 * text, one field per line:
 *
 *	kpin-journal 1
 *	ref refs/heads/main
 *	old <hex>
 *	new <hex>			(once the commit exists)
 *	path <path>			(one per file of the checkout)
 *
 * It is not synced: it guards against a killed process, whose writes the
 * kernel keeps, not against a machine that loses power. (Older journals
 * also had an "index" line; index.lock is now proven kpin's by its owner
 * record, see src/lock.h, and the line is ignored.)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpin/error.h"
#include "kpin/file.h"
#include "journal.h"
#include "lock.h"
#include "kpin/xalloc.h"
#include "git-lazy.h"

#define JOURNAL_MAX (1 << 20)

static void journal_path(struct kpin_buf *out, git_repository *repo,
			 const char *suffix)
{
	kpin_buf_reset(out);
	kpin_buf_addf(out, "%skpin-journal%s", git_repository_path(repo),
		      suffix);
}

int kpin_journal_write(git_repository *repo, const struct kpin_journal *j)
{
	struct kpin_buf text = KPIN_BUF_INIT, tmp = KPIN_BUF_INIT;
	struct kpin_buf path = KPIN_BUF_INIT;
	size_t i;
	int fd, rc = 0;

	kpin_buf_addf(&text, "kpin-journal 1\nref %s\nold %s\n", j->ref,
		      git_oid_tostr_s(&j->old));
	if (!git_oid_is_zero(&j->new))
		kpin_buf_addf(&text, "new %s\n", git_oid_tostr_s(&j->new));
	for (i = 0; i < j->npaths; i++)
		kpin_buf_addf(&text, "path %s\n", j->paths[i]);
	journal_path(&tmp, repo, ".tmp");
	journal_path(&path, repo, "");
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text.ptr, text.len) != (ssize_t)text.len ||
	    close(fd) < 0 || rename(tmp.ptr, path.ptr) < 0) {
		rc = kpin_error_set(KPIN_ERROR, "cannot write '%s': %s",
				    path.ptr, strerror(errno));
		unlink(tmp.ptr);
	}
	kpin_buf_release(&text);
	kpin_buf_release(&tmp);
	kpin_buf_release(&path);
	return rc;
}

void kpin_journal_clear(git_repository *repo)
{
	struct kpin_buf path = KPIN_BUF_INIT;

	journal_path(&path, repo, "");
	unlink(path.ptr);
	kpin_buf_release(&path);
}

/* A journal as read back; strings point into the file's bytes. */
struct record {
	const char *ref;
	git_oid old, new;
	const char **paths;
	size_t npaths;
	struct timespec mtime;	/* of the journal: when the last step began */
};

static int parse(struct record *r, char *text)
{
	char *line, *next;
	bool header = false;

	memset(&r->old, 0, sizeof(r->old));
	memset(&r->new, 0, sizeof(r->new));
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!header) {
			if (strcmp(line, "kpin-journal 1"))
				return -1;
			header = true;
		} else if (!strncmp(line, "ref ", 4)) {
			r->ref = line + 4;
		} else if (!strncmp(line, "old ", 4)) {
			if (git_oid_fromstr(&r->old, line + 4))
				return -1;
		} else if (!strncmp(line, "new ", 4)) {
			if (git_oid_fromstr(&r->new, line + 4))
				return -1;
		} else if (!strncmp(line, "index ", 6)) {
			continue;	/* an older journal's */
		} else if (!strncmp(line, "path ", 5)) {
			r->paths = xreallocarray(r->paths, r->npaths + 1,
						 sizeof(*r->paths));
			r->paths[r->npaths++] = line + 5;
		} else {
			return -1;
		}
	}
	return header && r->ref && !strncmp(r->ref, "refs/heads/", 11) ? 0 :
	       -1;
}

/* Is @st no older than the journal (with a second of slack for clocks)? */
static bool since_journal(const struct stat *st, const struct record *r)
{
	return st->st_mtim.tv_sec + 1 >= r->mtime.tv_sec;
}

/*
 * The branch's ref lock, if it is the dead update's: it holds the commit
 * being written, or it is still empty and no older than the last step.
 */
static void release_ref_lock(git_repository *repo, const struct record *r,
			     struct kpin_buf *notes)
{
	struct kpin_buf lock = KPIN_BUF_INIT, bytes = KPIN_BUF_INIT;
	struct stat st;
	bool ours;

	if (git_oid_is_zero(&r->new))
		return;
	/* refs live in the common directory, also for a linked worktree */
	kpin_buf_addf(&lock, "%s%s.lock", git_repository_commondir(repo),
		      r->ref);
	if (lstat(lock.ptr, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	if (st.st_size == 0)
		ours = since_journal(&st, r);
	else
		ours = kpin_file_read(&bytes, lock.ptr, 4096, NULL) == 0 &&
		       bytes.len >= GIT_OID_HEXSZ &&
		       !strncmp(bytes.ptr, git_oid_tostr_s(&r->new),
				GIT_OID_HEXSZ);
	kpin_error_clear();
	if (ours && unlink(lock.ptr) == 0)
		kpin_buf_addf(notes, "removed the stale '%s'\n", lock.ptr);
out:
	kpin_buf_release(&lock);
	kpin_buf_release(&bytes);
}

/* The id of @path in @commit's tree; zero when absent. */
static void blob_at(git_oid *out, git_repository *repo, const git_oid *commit,
		    const char *path)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *e = NULL;

	memset(out, 0, sizeof(*out));
	if (!git_commit_lookup(&c, repo, commit) && !git_commit_tree(&t, c) &&
	    !git_tree_entry_bypath(&e, t, path))
		git_oid_cpy(out, git_tree_entry_id(e));
	git_tree_entry_free(e);
	git_tree_free(t);
	git_commit_free(c);
}

static bool old_or_new(const git_oid *id, const git_oid *a, const git_oid *b)
{
	return git_oid_equal(id, a) || git_oid_equal(id, b);
}

/* Is @ref the branch HEAD names? */
static bool is_head(git_repository *repo, const char *ref)
{
	git_reference *head = NULL;
	bool yes = false;

	if (!git_reference_lookup(&head, repo, "HEAD") &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		yes = !strcmp(git_reference_symbolic_target(head), ref);
	git_reference_free(head);
	return yes;
}

/*
 * The checkout may not agree with the branch: kpin writes the worktree
 * files and puts the new index in place just before the branch moves. Bring each recorded file whose index entry and worktree
 * copy are the old or the new version to the version the branch holds:
 * the new one when the branch moved, else the old one.
 */
static int finish_checkout(git_repository *repo, const struct record *r,
			   struct kpin_buf *notes)
{
	git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
	git_index *index = NULL;
	git_commit *c = NULL, *oc = NULL;
	git_tree *t = NULL, *ot = NULL;
	git_oid tip;
	const git_oid *want, *other;
	const char **todo;
	size_t i, n = 0;
	int rc = 0;

	if (!r->npaths || git_oid_is_zero(&r->new) ||
	    git_repository_is_bare(repo) || !is_head(repo, r->ref) ||
	    git_reference_name_to_id(&tip, repo, r->ref))
		return 0;
	if (git_oid_equal(&tip, &r->new)) {
		want = &r->new;
		other = &r->old;
	} else if (git_oid_equal(&tip, &r->old)) {
		want = &r->old;
		other = &r->new;
	} else {
		return 0;	/* someone moved it since: theirs now */
	}
	rc = git_repository_index(&index, repo);
	if (!rc)
		rc = git_index_read(index, 1);
	if (rc) {
		git_index_free(index);
		return kpin_error_set(KPIN_ERROR, "cannot read the index: %s",
				      git_error_last() ?
				      git_error_last()->message : "");
	}
	todo = xcalloc(r->npaths + 1, sizeof(*todo));
	for (i = 0; i < r->npaths; i++) {
		struct kpin_buf full = KPIN_BUF_INIT;
		const git_index_entry *e;
		git_oid old, new, target, wt;

		/* a worktree file's replacement that was cut off */
		kpin_buf_addf(&full, "%s%s", git_repository_workdir(repo),
			      r->paths[i]);
		kpin_file_clean_temps(full.ptr);
		kpin_buf_release(&full);

		blob_at(&old, repo, &r->old, r->paths[i]);
		blob_at(&new, repo, &r->new, r->paths[i]);
		blob_at(&target, repo, want, r->paths[i]);
		e = git_index_get_bypath(index, r->paths[i], 0);
		if (git_repository_hashfile(&wt, repo, r->paths[i],
					    GIT_OBJECT_BLOB, NULL))
			memset(&wt, 0, sizeof(wt));
		if (e && git_oid_equal(&e->id, &target) &&
		    git_oid_equal(&wt, &target))
			continue;	/* it agrees with the branch */
		if (e && old_or_new(&e->id, &old, &new) &&
		    old_or_new(&wt, &old, &new))
			todo[n++] = r->paths[i];
		else
			kpin_buf_addf(notes, "left '%s' in the checkout alone: "
				      "it has changes of its own\n",
				      r->paths[i]);
	}
	git_index_free(index);
	git_error_clear();
	if (!n)
		goto out;
	co.checkout_strategy = GIT_CHECKOUT_FORCE |
			       GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	co.paths.strings = (char **)todo;
	co.paths.count = n;
	/* from the other tree: compared with HEAD, nothing would change */
	rc = git_commit_lookup(&oc, repo, other);
	if (!rc)
		rc = git_commit_tree(&ot, oc);
	if (!rc)
		rc = git_commit_lookup(&c, repo, want);
	if (!rc)
		rc = git_commit_tree(&t, c);
	if (!rc) {
		co.baseline = ot;
		rc = git_checkout_tree(repo, (git_object *)t, &co);
	}
	if (rc) {
		rc = kpin_error_set(KPIN_ERROR, "cannot bring the checkout to "
				    "%.12s: %s", git_oid_tostr_s(want),
				    git_error_last() ?
				    git_error_last()->message : "");
		goto out;
	}
	for (i = 0; i < n; i++)
		kpin_buf_addf(notes, "brought '%s' in the checkout to %.12s, "
			      "where the branch is\n", todo[i],
			      git_oid_tostr_s(want));
out:
	git_tree_free(t);
	git_commit_free(c);
	git_tree_free(ot);
	git_commit_free(oc);
	free(todo);
	return rc;
}

/* Collect the names of kpin's push refs whose process is gone. */
static int dead_push_ref(const char *name, void *arg)
{
	struct kpin_buf *names = arg;
	const char *pid = strrchr(name, '/') + 1;
	char *end;
	long n = strtol(pid, &end, 10);

	if (!*end && kpin_lock_process_dead((pid_t)n, 0))
		kpin_buf_addf(names, "%s%c", name, '\0');
	return 0;
}

/*
 * What a killed push left: its private ref (refs/kpin/push/<pid>) and the
 * scratch repository of a history completion (<gitdir>/kpin-complete-<pid>),
 * when their process is gone.
 */
static void remove_push_leftovers(git_repository *repo, struct kpin_buf *notes)
{
	static const char scratch[] = "kpin-complete-";
	struct kpin_buf names = KPIN_BUF_INIT, path = KPIN_BUF_INIT;
	const char *gitdir = git_repository_path(repo);
	struct dirent *de;
	size_t off;
	DIR *d;

	git_reference_foreach_glob(repo, "refs/kpin/push/*", dead_push_ref,
				   &names);
	for (off = 0; off < names.len; off += strlen(names.ptr + off) + 1)
		if (git_reference_remove(repo, names.ptr + off) == 0)
			kpin_buf_addf(notes, "removed '%s', left by a push "
				      "that was cut off\n", names.ptr + off);
	git_error_clear();
	d = opendir(gitdir);
	while (d && (de = readdir(d)) != NULL) {
		char *end;
		long pid;

		if (strncmp(de->d_name, scratch, sizeof(scratch) - 1))
			continue;
		pid = strtol(de->d_name + sizeof(scratch) - 1, &end, 10);
		if (*end || !kpin_lock_process_dead((pid_t)pid, 0))
			continue;
		kpin_buf_reset(&path);
		kpin_buf_addf(&path, "%s%s", gitdir, de->d_name);
		if (kpin_file_remove_tree(path.ptr) == 0)
			kpin_buf_addf(notes, "removed '%s', left by a history "
				      "completion that was cut off\n",
				      path.ptr);
	}
	if (d)
		closedir(d);
	kpin_buf_release(&names);
	kpin_buf_release(&path);
}

int kpin_journal_recover(git_repository *repo, struct kpin_buf *notes)
{
	struct kpin_buf path = KPIN_BUF_INIT, text = KPIN_BUF_INIT;
	struct kpin_buf leftovers = KPIN_BUF_INIT;
	struct record r;
	struct stat st;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	kpin_lock_repair(git_repository_path(repo), &leftovers);
	remove_push_leftovers(repo, &leftovers);
	journal_path(&path, repo, "");
	if (lstat(path.ptr, &st) < 0) {
		if (leftovers.len)
			kpin_buf_addf(notes, "a kpin run was cut off; "
				      "repairing\n%s", leftovers.ptr);
		goto out;
	}
	r.mtime = st.st_mtim;
	rc = kpin_file_read(&text, path.ptr, JOURNAL_MAX, NULL);
	if (rc || parse(&r, text.ptr)) {
		kpin_error_clear();
		kpin_buf_addf(notes, "ignored the unreadable '%s'\n%s",
			      path.ptr, leftovers.ptr ? leftovers.ptr : "");
		rc = 0;
		goto done;
	}
	kpin_buf_addf(notes, "an update of '%s' was cut off; repairing\n%s",
		      r.ref + 11, leftovers.ptr ? leftovers.ptr : "");
	release_ref_lock(repo, &r, notes);
	rc = finish_checkout(repo, &r, notes);
	if (rc)
		goto out;
done:
	unlink(path.ptr);
out:
	free(r.paths);
	kpin_buf_release(&text);
	kpin_buf_release(&path);
	kpin_buf_release(&leftovers);
	return rc;
}
