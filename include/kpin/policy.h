/*
 * The repository's policy file, .kpin.yaml at the repository root: where
 * overlays live, which environments exist and in which order, which of
 * them must pin digests, and whether promotions must follow that order.
 * Included by the CLI and by check.
 */
#ifndef KPIN_POLICY_H
#define KPIN_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define KPIN_POLICY_FILE ".kpin.yaml"
#define KPIN_POLICY_MAX (64u * 1024)	/* bytes of the policy file */

/*
 * struct kpin_policy - The parsed policy (or the defaults)
 * @root: overlay root, default ".platform/kubernetes"
 * @envs: environments in promotion order, default dev, stg, prd
 * @nenvs: how many
 * @require_digest: environments whose entries must pin a digest
 * @nrequire: how many
 * @ordered: "promotion: ordered": environment N takes only digests that
 *           environment N-1 holds or held
 * @signing_required: "signing: required": every commit kpin makes is
 *                    signed, and history --verify fails on one that
 *                    is not signed or not good
 * @from_file: whether a policy file was read
 */
struct kpin_policy {
	char *root;
	char **envs;
	size_t nenvs;
	char **require_digest;
	size_t nrequire;
	bool ordered;
	bool signing_required;
	bool from_file;
};

/* kpin_policy_init() - The defaults. */
void kpin_policy_init(struct kpin_policy *p);
void kpin_policy_release(struct kpin_policy *p);

/*
 * kpin_policy_parse() - Read a policy file's bytes over the defaults
 *
 * Unknown keys, wrong types, unsafe paths, duplicate or unknown
 * environments are errors with line and column.
 *
 * Returns: 0 or KPIN_EINVALID.
 */
int kpin_policy_parse(struct kpin_policy *p, const char *buf, size_t len);

/* kpin_policy_env_index() - Position of @env in the order, or -1. */
int kpin_policy_env_index(const struct kpin_policy *p, const char *env);

/*
 * kpin_policy_check_env() - Refuse an environment the policy does not
 * know (the message lists the known ones).
 *
 * Returns: 0 or KPIN_EINVALID.
 */
int kpin_policy_check_env(const struct kpin_policy *p, const char *env);

#endif
