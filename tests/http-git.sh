#!/bin/sh
# A real smart-HTTP git server for the push tests: lighttpd running
# git http-backend over CGI on 127.0.0.1, with HTTP basic authentication
# that accepts one user and one password (the token).
#
#   sh tests/http-git.sh start DIR TOKEN   serve DIR/repos; prints the port
#   sh tests/http-git.sh stop DIR          stop it
#
# DIR is a scratch directory of the test's own. Repositories are served
# at http://127.0.0.1:PORT/git/<name>. Nothing listens beyond loopback.
set -eu
cmd=$1
dir=$2

case $cmd in
start)
	token=$3
	lighttpd=$(command -v lighttpd || echo /usr/sbin/lighttpd)
	backend=$(git --exec-path)/git-http-backend
	mkdir -p "$dir/repos"
	printf 'x-access-token:%s\n' "$token" >"$dir/users"
	# a free port: let the kernel pick, then bind lighttpd to it
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$dir/lighttpd.conf" <<CONF
server.document-root = "$dir/repos"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$dir/lighttpd.pid"
server.errorlog = "$dir/error.log"
server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi")
alias.url = ("/git/" => "$backend/")
\$HTTP["url"] =~ "^/git/" {
	cgi.assign = ("" => "")
	setenv.add-environment = (
		"GIT_PROJECT_ROOT" => "$dir/repos",
		"GIT_HTTP_EXPORT_ALL" => "1"
	)
	auth.backend = "plain"
	auth.backend.plain.userfile = "$dir/users"
	auth.require = ("" => ("method" => "basic", "realm" => "git",
			       "require" => "valid-user"))
}
CONF
	"$lighttpd" -f "$dir/lighttpd.conf"
	# wait until it accepts connections
	i=0
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "lighttpd did not start" >&2; cat "$dir/error.log" >&2; exit 1; }
		sleep 0.05
	done
	echo "$port"
	;;
stop)
	if [ -f "$dir/lighttpd.pid" ]; then
		pid=$(cat "$dir/lighttpd.pid")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			i=$((i + 1))
			sleep 0.05
		done
		rm -f "$dir/lighttpd.pid"
	fi
	;;
*)
	echo "usage: sh tests/http-git.sh start DIR TOKEN | stop DIR" >&2
	exit 2
	;;
esac
