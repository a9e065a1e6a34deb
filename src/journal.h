/*
 * The repository engine's journal: what an update has under way, so that
 * the next kpin can finish or undo what a killed one left behind (a stale
 * index.lock or ref lock, a checkout whose files did not follow the
 * branch). It is one small text file, <gitdir>/kpin-journal, replaced
 * atomically at each step (written beside it, then renamed) and removed
 * when the update ends, whichever way. Only the holder of kpin.lock
 * writes or reads it, and the kernel releases that lock when its holder
 * dies, so a journal that the next holder finds is always a dead
 * process's. Included by repo only.
 */
#ifndef KPIN_JOURNAL_H
#define KPIN_JOURNAL_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "kpin/buf.h"

/*
 * struct kpin_journal - One update in progress
 * @ref: the branch's full ref name
 * @old: the tip it was built on
 * @new: the commit the branch is about to move to (zero before that)
 * @paths: files of the checkout that will follow the branch
 * @npaths: how many
 * @owned: whether @paths' strings belong to the journal (for its user)
 */
struct kpin_journal {
	const char *ref;
	git_oid old;
	git_oid new;
	const char *const *paths;
	size_t npaths;
	bool owned;
};

/* kpin_journal_write() - Record @j, replacing what was recorded. */
int kpin_journal_write(git_repository *repo, const struct kpin_journal *j);

/* kpin_journal_clear() - The update is over: remove the journal. */
void kpin_journal_clear(git_repository *repo);

/*
 * kpin_journal_recover() - Repair what a killed update left behind
 * @repo: the repository, with kpin.lock held
 * @notes: receives one line per repair, for the user
 *
 * Removes the locks a dead kpin provably left (owner records, see
 * lock.h), the private ref and scratch repository of a push that was cut
 * off, and the branch's ref lock when it is the dead update's own (the
 * lock holds the commit it was
 * writing); when the branch did move to the new commit, brings the
 * recorded files of the checkout (index entry and worktree) to it, unless
 * they hold something other than the old or the new version, which is
 * left alone with a note. Then removes the journal.
 *
 * Returns: 0, or KPIN_ERROR when a repair failed (the journal stays).
 */
int kpin_journal_recover(git_repository *repo, struct kpin_buf *notes);

#endif
