/*
 * A minimal ssh-agent client (src/sshagent.h): one connection per
 * signature, a message is a uint32 length and a type byte followed by
 * wire-encoded fields.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "sshagent.h"
#include "sshkey.h"
#include "sshsig.h"
#include "kpin/error.h"

#define AGENT_FAILURE 5
#define AGENT_REQUEST_IDENTITIES 11
#define AGENT_IDENTITIES_ANSWER 12
#define AGENT_SIGN_REQUEST 13
#define AGENT_SIGN_RESPONSE 14
#define AGENT_RSA_SHA2_512 4
#define AGENT_MAX_REPLY (256 * 1024)
#define AGENT_TIMEOUT_S 60	/* the agent may ask the user to confirm */

static int agent_connect(const char *path)
{
	struct sockaddr_un sa;
	struct timeval tv = { AGENT_TIMEOUT_S, 0 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		kpin_error_set(KPIN_ERROR, "SSH_AUTH_SOCK is too long");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		kpin_error_set(KPIN_ERROR, "cannot reach ssh-agent at '%s': %s",
			       path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send @req (type and fields) and read the reply into @reply. */
static int agent_call(struct kpin_buf *reply, int fd,
		      const struct kpin_buf *req)
{
	struct kpin_buf msg = KPIN_BUF_INIT;
	unsigned char hdr[4];
	size_t off, want;
	ssize_t n = -1;

	kpin_ssh_put_string(&msg, req->ptr, req->len);
	for (off = 0; off < msg.len; off += (size_t)n) {
		n = send(fd, msg.ptr + off, msg.len - off, MSG_NOSIGNAL);
		if (n <= 0 && errno != EINTR)
			break;
		if (n < 0)
			n = 0;
	}
	kpin_buf_release(&msg);
	if (off < msg.len)
		goto io;
	for (off = 0, want = 4; off < want; off += (size_t)n) {
		if (off < 4)
			n = recv(fd, hdr + off, 4 - off, 0);
		else
			n = recv(fd, reply->ptr + (off - 4), want - off, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			goto io;
		}
		if (off < 4 && off + (size_t)n == 4) {
			want = 4 + ((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
				    (size_t)hdr[2] << 8 | hdr[3]);
			if (want - 4 > AGENT_MAX_REPLY || want == 4)
				return kpin_error_set(KPIN_ERROR, "ssh-agent sent "
						      "a malformed reply");
			kpin_buf_grow(reply, want - 4);
			reply->len = want - 4;
		}
	}
	return 0;
io:
	return kpin_error_set(KPIN_ERROR, "ssh-agent: %s", n == 0 ?
			      "connection closed" : strerror(errno));
}

/* Whether the identities answer in @reply lists @pub. */
static int agent_holds(const struct kpin_buf *reply, const unsigned char *pub,
		       size_t publen)
{
	struct kpin_ssh_reader r;
	const unsigned char *k, *comment;
	size_t klen, clen;
	unsigned char type;
	uint32_t n;

	kpin_ssh_reader_init(&r, reply->ptr, reply->len);
	if (kpin_ssh_get_u8(&r, &type) || type != AGENT_IDENTITIES_ANSWER ||
	    kpin_ssh_get_u32(&r, &n))
		return kpin_error_set(KPIN_ERROR, "ssh-agent refused to list "
				      "its keys");
	while (n--) {
		if (kpin_ssh_get_string(&r, &k, &klen) ||
		    kpin_ssh_get_string(&r, &comment, &clen))
			return kpin_error_set(KPIN_ERROR, "ssh-agent sent a "
					      "malformed key list");
		if (klen == publen && !memcmp(k, pub, publen))
			return 0;
	}
	return KPIN_ENOTFOUND;
}

int kpin_sshagent_sign(struct kpin_buf *out, const char *sock,
		       const unsigned char *pub, size_t publen,
		       const void *data, size_t len)
{
	struct kpin_buf req = KPIN_BUF_INIT, reply = KPIN_BUF_INIT;
	struct kpin_buf fp = KPIN_BUF_INIT;
	struct kpin_ssh_reader r;
	const unsigned char *sig;
	unsigned char type = 0;
	size_t siglen;
	int fd, rc;

	fd = agent_connect(sock);
	if (fd < 0)
		return KPIN_ERROR;
	kpin_buf_addch(&req, AGENT_REQUEST_IDENTITIES);
	rc = agent_call(&reply, fd, &req);
	if (!rc)
		rc = agent_holds(&reply, pub, publen);
	if (rc == KPIN_ENOTFOUND) {
		kpin_sshkey_fingerprint(&fp, pub, publen);
		rc = kpin_error_set(KPIN_ENOTFOUND, "ssh-agent at '%s' does not "
				    "hold the signing key %s (add it with "
				    "ssh-add)", sock, fp.ptr ? fp.ptr : "");
	}
	if (rc)
		goto out;
	kpin_buf_reset(&req);
	kpin_buf_reset(&reply);
	kpin_buf_addch(&req, AGENT_SIGN_REQUEST);
	kpin_ssh_put_string(&req, pub, publen);
	kpin_ssh_put_string(&req, data, len);
	kpin_ssh_put_u32(&req, kpin_sshkey_is_rsa(pub, publen) ?
			 AGENT_RSA_SHA2_512 : 0);
	rc = agent_call(&reply, fd, &req);
	if (rc)
		goto out;
	kpin_ssh_reader_init(&r, reply.ptr, reply.len);
	if (kpin_ssh_get_u8(&r, &type) || type != AGENT_SIGN_RESPONSE ||
	    kpin_ssh_get_string(&r, &sig, &siglen)) {
		rc = kpin_error_set(KPIN_ERROR, "ssh-agent refused to sign%s",
				    type == AGENT_FAILURE ? " (the key may "
				    "need confirmation, or be restricted)" : "");
		goto out;
	}
	kpin_buf_add(out, sig, siglen);
out:
	close(fd);
	kpin_buf_release(&req);
	kpin_buf_release(&reply);
	kpin_buf_release(&fp);
	return rc;
}
