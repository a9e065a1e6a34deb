/*
 * libgit2, loaded when a command first needs it. Linking libgit2 makes
 * every process load sixteen more shared libraries (OpenSSL's libcrypto,
 * Kerberos, mbed TLS, libssh2...), which costs more than everything
 * "kpin set -f" or "kpin check" does; so kpin itself does not link it.
 * Each libgit2 function the library calls is listed once below; the
 * names are then macros for pointers that kpin_git_load() fills with
 * dlsym() from the libgit2 kpin was built against. A call to a function
 * missing from the list fails to link, so nothing can bypass the table.
 * Included, after <git2.h>, by the modules that use libgit2 only.
 */
#ifndef KPIN_GIT_LAZY_H
#define KPIN_GIT_LAZY_H

#include <git2.h>
#include <git2/sys/repository.h>

#define KPIN_GIT_FUNCTIONS(F) \
	F(git_attr_get_many) \
	F(git_attr_value) \
	F(git_blob_create_from_buffer) \
	F(git_blob_filter) \
	F(git_blob_free) \
	F(git_blob_lookup) \
	F(git_blob_rawcontent) \
	F(git_blob_rawsize) \
	F(git_branch_is_checked_out) \
	F(git_buf_dispose) \
	F(git_checkout_tree) \
	F(git_commit_author) \
	F(git_commit_create) \
	F(git_commit_create_buffer) \
	F(git_commit_create_with_signature) \
	F(git_commit_extract_signature) \
	F(git_commit_free) \
	F(git_commit_id) \
	F(git_commit_lookup) \
	F(git_commit_message) \
	F(git_commit_parent) \
	F(git_commit_parent_id) \
	F(git_commit_parentcount) \
	F(git_commit_time) \
	F(git_commit_tree) \
	F(git_commit_tree_id) \
	F(git_config_free) \
	F(git_config_get_bool) \
	F(git_config_get_string_buf) \
	F(git_config_open_ondisk) \
	F(git_credential_ssh_key_from_agent) \
	F(git_credential_username_new) \
	F(git_credential_userpass_plaintext_new) \
	F(git_diff_free) \
	F(git_diff_get_delta) \
	F(git_diff_num_deltas) \
	F(git_diff_tree_to_tree) \
	F(git_error_clear) \
	F(git_error_last) \
	F(git_error_set_str) \
	F(git_graph_descendant_of) \
	F(git_index_free) \
	F(git_index_get_bypath) \
	F(git_index_read) \
	F(git_libgit2_init) \
	F(git_libgit2_opts) \
	F(git_libgit2_shutdown) \
	F(git_message_trailer_array_free) \
	F(git_message_trailers) \
	F(git_odb_exists) \
	F(git_odb_free) \
	F(git_odb_hash) \
	F(git_odb_hashfile) \
	F(git_odb_object_data) \
	F(git_odb_object_free) \
	F(git_odb_object_size) \
	F(git_odb_object_type) \
	F(git_odb_read) \
	F(git_odb_write) \
	F(git_oid_cpy) \
	F(git_oid_equal) \
	F(git_oid_fromstr) \
	F(git_oid_fromstrn) \
	F(git_oid_is_zero) \
	F(git_oid_tostr) \
	F(git_oid_tostr_s) \
	F(git_patch_free) \
	F(git_patch_from_buffers) \
	F(git_patch_get_hunk) \
	F(git_patch_get_line_in_hunk) \
	F(git_patch_num_hunks) \
	F(git_reference_create) \
	F(git_reference_create_matching) \
	F(git_reference_delete) \
	F(git_reference_foreach_glob) \
	F(git_reference_free) \
	F(git_reference_is_valid_name) \
	F(git_reference_lookup) \
	F(git_reference_name_to_id) \
	F(git_reference_remove) \
	F(git_reference_symbolic_target) \
	F(git_reference_type) \
	F(git_remote_create_anonymous) \
	F(git_remote_fetch) \
	F(git_remote_free) \
	F(git_remote_lookup) \
	F(git_remote_ls) \
	F(git_remote_push) \
	F(git_remote_url) \
	F(git_repository_commondir) \
	F(git_repository_config_snapshot) \
	F(git_repository_discover) \
	F(git_repository_free) \
	F(git_repository_hashfile) \
	F(git_repository_index) \
	F(git_repository_init) \
	F(git_repository_is_bare) \
	F(git_repository_is_shallow) \
	F(git_repository_odb) \
	F(git_repository_open) \
	F(git_repository_open_ext) \
	F(git_repository_path) \
	F(git_repository_state) \
	F(git_repository_workdir) \
	F(git_signature_default) \
	F(git_signature_free) \
	F(git_signature_now) \
	F(git_status_file) \
	F(git_tree_create_updated) \
	F(git_tree_dup) \
	F(git_tree_entry_byindex) \
	F(git_tree_entry_byname) \
	F(git_tree_entry_bypath) \
	F(git_tree_entry_filemode) \
	F(git_tree_entry_free) \
	F(git_tree_entry_id) \
	F(git_tree_entry_name) \
	F(git_tree_entry_type) \
	F(git_tree_entrycount) \
	F(git_tree_free) \
	F(git_tree_id) \
	F(git_tree_lookup)

#define KPIN_GIT_POINTER(name) extern __typeof__(name) *kpin_lazy_##name;
KPIN_GIT_FUNCTIONS(KPIN_GIT_POINTER)
#undef KPIN_GIT_POINTER

/*
 * kpin_git_load() - Load libgit2 and resolve every function in the list
 *
 * Idempotent and cheap after the first call; git-lazy.c calls it before
 * git_libgit2_init().
 *
 * Returns: 0 or KPIN_ERROR (message says which library or symbol).
 */
int kpin_git_load(void);

#ifndef KPIN_GIT_LAZY_IMPL
#define git_attr_get_many (*kpin_lazy_git_attr_get_many)
#define git_attr_value (*kpin_lazy_git_attr_value)
#define git_blob_create_from_buffer (*kpin_lazy_git_blob_create_from_buffer)
#define git_blob_filter (*kpin_lazy_git_blob_filter)
#define git_blob_free (*kpin_lazy_git_blob_free)
#define git_blob_lookup (*kpin_lazy_git_blob_lookup)
#define git_blob_rawcontent (*kpin_lazy_git_blob_rawcontent)
#define git_blob_rawsize (*kpin_lazy_git_blob_rawsize)
#define git_branch_is_checked_out (*kpin_lazy_git_branch_is_checked_out)
#define git_buf_dispose (*kpin_lazy_git_buf_dispose)
#define git_checkout_tree (*kpin_lazy_git_checkout_tree)
#define git_commit_author (*kpin_lazy_git_commit_author)
#define git_commit_create (*kpin_lazy_git_commit_create)
#define git_commit_create_buffer (*kpin_lazy_git_commit_create_buffer)
#define git_commit_create_with_signature (*kpin_lazy_git_commit_create_with_signature)
#define git_commit_extract_signature (*kpin_lazy_git_commit_extract_signature)
#define git_commit_free (*kpin_lazy_git_commit_free)
#define git_commit_id (*kpin_lazy_git_commit_id)
#define git_commit_lookup (*kpin_lazy_git_commit_lookup)
#define git_commit_message (*kpin_lazy_git_commit_message)
#define git_commit_parent (*kpin_lazy_git_commit_parent)
#define git_commit_parent_id (*kpin_lazy_git_commit_parent_id)
#define git_commit_parentcount (*kpin_lazy_git_commit_parentcount)
#define git_commit_time (*kpin_lazy_git_commit_time)
#define git_commit_tree (*kpin_lazy_git_commit_tree)
#define git_commit_tree_id (*kpin_lazy_git_commit_tree_id)
#define git_config_free (*kpin_lazy_git_config_free)
#define git_config_get_bool (*kpin_lazy_git_config_get_bool)
#define git_config_get_string_buf (*kpin_lazy_git_config_get_string_buf)
#define git_config_open_ondisk (*kpin_lazy_git_config_open_ondisk)
#define git_credential_ssh_key_from_agent (*kpin_lazy_git_credential_ssh_key_from_agent)
#define git_credential_username_new (*kpin_lazy_git_credential_username_new)
#define git_credential_userpass_plaintext_new (*kpin_lazy_git_credential_userpass_plaintext_new)
#define git_diff_free (*kpin_lazy_git_diff_free)
#define git_diff_get_delta (*kpin_lazy_git_diff_get_delta)
#define git_diff_num_deltas (*kpin_lazy_git_diff_num_deltas)
#define git_diff_tree_to_tree (*kpin_lazy_git_diff_tree_to_tree)
#define git_error_clear (*kpin_lazy_git_error_clear)
#define git_error_last (*kpin_lazy_git_error_last)
#define git_error_set_str (*kpin_lazy_git_error_set_str)
#define git_graph_descendant_of (*kpin_lazy_git_graph_descendant_of)
#define git_index_free (*kpin_lazy_git_index_free)
#define git_index_get_bypath (*kpin_lazy_git_index_get_bypath)
#define git_index_read (*kpin_lazy_git_index_read)
#define git_libgit2_init (*kpin_lazy_git_libgit2_init)
#define git_libgit2_opts (*kpin_lazy_git_libgit2_opts)
#define git_libgit2_shutdown (*kpin_lazy_git_libgit2_shutdown)
#define git_message_trailer_array_free (*kpin_lazy_git_message_trailer_array_free)
#define git_message_trailers (*kpin_lazy_git_message_trailers)
#define git_odb_exists (*kpin_lazy_git_odb_exists)
#define git_odb_free (*kpin_lazy_git_odb_free)
#define git_odb_hash (*kpin_lazy_git_odb_hash)
#define git_odb_hashfile (*kpin_lazy_git_odb_hashfile)
#define git_odb_object_data (*kpin_lazy_git_odb_object_data)
#define git_odb_object_free (*kpin_lazy_git_odb_object_free)
#define git_odb_object_size (*kpin_lazy_git_odb_object_size)
#define git_odb_object_type (*kpin_lazy_git_odb_object_type)
#define git_odb_read (*kpin_lazy_git_odb_read)
#define git_odb_write (*kpin_lazy_git_odb_write)
#define git_oid_cpy (*kpin_lazy_git_oid_cpy)
#define git_oid_equal (*kpin_lazy_git_oid_equal)
#define git_oid_fromstr (*kpin_lazy_git_oid_fromstr)
#define git_oid_fromstrn (*kpin_lazy_git_oid_fromstrn)
#define git_oid_is_zero (*kpin_lazy_git_oid_is_zero)
#define git_oid_tostr (*kpin_lazy_git_oid_tostr)
#define git_oid_tostr_s (*kpin_lazy_git_oid_tostr_s)
#define git_patch_free (*kpin_lazy_git_patch_free)
#define git_patch_from_buffers (*kpin_lazy_git_patch_from_buffers)
#define git_patch_get_hunk (*kpin_lazy_git_patch_get_hunk)
#define git_patch_get_line_in_hunk (*kpin_lazy_git_patch_get_line_in_hunk)
#define git_patch_num_hunks (*kpin_lazy_git_patch_num_hunks)
#define git_reference_create (*kpin_lazy_git_reference_create)
#define git_reference_create_matching (*kpin_lazy_git_reference_create_matching)
#define git_reference_delete (*kpin_lazy_git_reference_delete)
#define git_reference_foreach_glob (*kpin_lazy_git_reference_foreach_glob)
#define git_reference_free (*kpin_lazy_git_reference_free)
#define git_reference_is_valid_name (*kpin_lazy_git_reference_is_valid_name)
#define git_reference_lookup (*kpin_lazy_git_reference_lookup)
#define git_reference_name_to_id (*kpin_lazy_git_reference_name_to_id)
#define git_reference_remove (*kpin_lazy_git_reference_remove)
#define git_reference_symbolic_target (*kpin_lazy_git_reference_symbolic_target)
#define git_reference_type (*kpin_lazy_git_reference_type)
#define git_remote_create_anonymous (*kpin_lazy_git_remote_create_anonymous)
#define git_remote_fetch (*kpin_lazy_git_remote_fetch)
#define git_remote_free (*kpin_lazy_git_remote_free)
#define git_remote_lookup (*kpin_lazy_git_remote_lookup)
#define git_remote_ls (*kpin_lazy_git_remote_ls)
#define git_remote_push (*kpin_lazy_git_remote_push)
#define git_remote_url (*kpin_lazy_git_remote_url)
#define git_repository_commondir (*kpin_lazy_git_repository_commondir)
#define git_repository_config_snapshot (*kpin_lazy_git_repository_config_snapshot)
#define git_repository_discover (*kpin_lazy_git_repository_discover)
#define git_repository_free (*kpin_lazy_git_repository_free)
#define git_repository_hashfile (*kpin_lazy_git_repository_hashfile)
#define git_repository_index (*kpin_lazy_git_repository_index)
#define git_repository_init (*kpin_lazy_git_repository_init)
#define git_repository_is_bare (*kpin_lazy_git_repository_is_bare)
#define git_repository_is_shallow (*kpin_lazy_git_repository_is_shallow)
#define git_repository_odb (*kpin_lazy_git_repository_odb)
#define git_repository_open (*kpin_lazy_git_repository_open)
#define git_repository_open_ext (*kpin_lazy_git_repository_open_ext)
#define git_repository_path (*kpin_lazy_git_repository_path)
#define git_repository_state (*kpin_lazy_git_repository_state)
#define git_repository_workdir (*kpin_lazy_git_repository_workdir)
#define git_signature_default (*kpin_lazy_git_signature_default)
#define git_signature_free (*kpin_lazy_git_signature_free)
#define git_signature_now (*kpin_lazy_git_signature_now)
#define git_status_file (*kpin_lazy_git_status_file)
#define git_tree_create_updated (*kpin_lazy_git_tree_create_updated)
#define git_tree_dup (*kpin_lazy_git_tree_dup)
#define git_tree_entry_byindex (*kpin_lazy_git_tree_entry_byindex)
#define git_tree_entry_byname (*kpin_lazy_git_tree_entry_byname)
#define git_tree_entry_bypath (*kpin_lazy_git_tree_entry_bypath)
#define git_tree_entry_filemode (*kpin_lazy_git_tree_entry_filemode)
#define git_tree_entry_free (*kpin_lazy_git_tree_entry_free)
#define git_tree_entry_id (*kpin_lazy_git_tree_entry_id)
#define git_tree_entry_name (*kpin_lazy_git_tree_entry_name)
#define git_tree_entry_type (*kpin_lazy_git_tree_entry_type)
#define git_tree_entrycount (*kpin_lazy_git_tree_entrycount)
#define git_tree_free (*kpin_lazy_git_tree_free)
#define git_tree_id (*kpin_lazy_git_tree_id)
#define git_tree_lookup (*kpin_lazy_git_tree_lookup)
#endif

#endif
