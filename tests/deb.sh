#!/bin/sh
# The Debian package (debian/, make deb): built into a scratch directory,
# it must leave the tree as it was, depend on the runtime libraries
# (libgit2 too, which kpin loads with dlopen), hold the binary, every man
# page and the shell completions make install puts under the prefix, and
# work once unpacked into a scratch root: kpin --version, kpin set -f on a
# copied file, and a commit in a repository (libgit2 found at run time).
# About a minute: make check-deb runs it (tools/quickstart check does).
#
# Run from the top of the tree. Prints "ok"/"not ok" lines.
. tests/lib.sh

for t in dpkg-buildpackage dh; do
	if ! command -v $t >/dev/null 2>&1; then
		not_ok "$t is installed (sh tools/deps --deb)"
		exit 1
	fi
done

status_before=$(git status --porcelain --ignored 2>/dev/null | grep -v '^!! build/$')
# what dpkg-buildpackage writes beside a tree: kpin_* and kpin-dbgsym_*
# (not the kpin-test-* directories of tests running in $TMPDIR meanwhile)
parent_before=$(ls "$top/.." | grep '^kpin\(-dbgsym\)\{0,1\}_' || true)
make -s deb B="$tmp/out" >"$tmp/build.log" 2>&1
rc=$?
check "make deb builds the package (exit $rc)" [ "$rc" -eq 0 ]
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$tmp/build.log" | sed 's/^/# /'
	exit 1
fi
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
deb=$tmp/out/kpin_${version}_$(dpkg --print-architecture).deb
check "make deb leaves kpin_${version}_*.deb in its build directory" [ -f "$deb" ]
check "make deb leaves the tree as it was" [ "$(git status --porcelain --ignored 2>/dev/null | grep -v '^!! build/$')" = "$status_before" ]
check "make deb writes nothing beside the tree" \
	[ "$(ls "$top/.." | grep '^kpin\(-dbgsym\)\{0,1\}_' || true)" = "$parent_before" ]

# What it depends on: each library kpin links, and libgit2 (dlopen);
# what it recommends: libcrypto (dlopen, for signing only). libfyaml at
# the one version kpin runs with (src/yaml.c), and none newer.
for field in Depends:libfyaml:libpcre2-8:libgit2 Recommends:libcrypto; do
	value=$(dpkg-deb -f "$deb" "${field%%:*}")
	echo "# ${field%%:*}: $value"
	for lib in $(echo "${field#*:}" | tr : ' '); do
		dir=$(pkg-config --variable=libdir "$lib")
		so=$dir/$(objdump -p "$dir/$lib.so" | awk '/SONAME/ { print $2 }')
		pkg=$(dpkg-query -S "$so" 2>/dev/null | sed 's/:.*//')
		check "the package's ${field%%:*} names $pkg ($so)" \
			sh -c 'printf "%s\n" "$1" | tr "," "\n" |
				grep -q "^ *$2 "' - "$value" "$pkg"
	done
done

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"
check "the package holds /usr/bin/kpin" grep -qx /usr/bin/kpin "$tmp/files"
for m in man/*.1 man/*.5; do
	s=${m##*.}
	check "the package holds $m" \
		grep -qx "/usr/share/man/man$s/${m##*/}.gz" "$tmp/files"
done
# Whatever make install puts under the prefix (completions...) is there:
# make install in the copy the package was built from.
make -s -C "$tmp/out/deb/kpin" install DESTDIR="$tmp/staged" PREFIX=/usr \
	>/dev/null 2>&1
(cd "$tmp/staged" && find . -type f | sed 's|^\.||' |
	grep -v '^/usr/share/man/') >"$tmp/staged.list"
while read -r f; do
	check "the package holds ${f##*/} (make install: $f)" \
		grep -q "/${f##*/}\$" "$tmp/files"
done <"$tmp/staged.list"
# The completions where Debian's bash and zsh look for them.
for f in /usr/share/bash-completion/completions/kpin \
	/usr/share/zsh/vendor-completions/_kpin; do
	check "the package holds $f" grep -qx "$f" "$tmp/files"
done

fy=$(sed -n 's/^LIBFYAML_VERSION = //p' Makefile)
check "the package's Depends pins libfyaml $fy" sh -c \
	'd=$(dpkg-deb -f "$1" Depends | tr , "\n")
	echo "$d" | grep -qx " *libfyaml[^ ]* (>= $2)" &&
	echo "$d" | grep -qx " *libfyaml[^ ]* (<< $2\.0~)"' - "$deb" "$fy"

# Unpacked into a scratch root, it runs.
mkdir "$tmp/root"
dpkg -x "$deb" "$tmp/root"
kpin=$tmp/root/usr/bin/kpin
out=$("$kpin" --version 2>&1)
check "the installed kpin --version says $version ('$out')" \
	[ "$out" = "kpin $version" ]

d1=sha256:$(printf '1%.0s' $(seq 64))
d2=sha256:$(printf '2%.0s' $(seq 64))
cat >"$tmp/k.yaml" <<EOF
# prd
images:
  - name: web   # the app
    newTag: "1.0"
    digest: $d1
EOF
cp "$tmp/k.yaml" "$tmp/k.orig"
"$kpin" set -f "$tmp/k.yaml" --image web --digest "$d2" \
	>"$tmp/set.out" 2>&1
rc=$?
check "the installed kpin set -f succeeds (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/set.out"
check "the installed kpin set -f changed the digest" \
	grep -q "digest: *$d2" "$tmp/k.yaml"
check "the installed kpin set -f changed nothing else" \
	sh -c '[ "$(diff "$1" "$2" | grep -c "^[<>]")" -le 2 ]' - \
	"$tmp/k.orig" "$tmp/k.yaml"

# A commit: libgit2, loaded at run time by the installed binary.
export HOME="$tmp" XDG_CONFIG_HOME="$tmp" GIT_CONFIG_NOSYSTEM=1
git init -q -b main "$tmp/repo"
overlay=.platform/kubernetes/web/overlays/dev/kustomization.yaml
mkdir -p "$tmp/repo/${overlay%/*}"
printf 'images:\n  - name: web\n    digest: %s\n' "$d1" >"$tmp/repo/$overlay"
git -C "$tmp/repo" add -A
git -C "$tmp/repo" -c user.name=t -c user.email=t@example.com commit -q -m seed
(cd "$tmp/repo" && "$kpin" set --app web --env dev --image web \
	--digest "$d2" --author "T <t@example.com>") >"$tmp/commit.out" 2>&1
rc=$?
check "the installed kpin commits in a repository (exit $rc)" \
	[ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/commit.out"
check "the commit is on main, with the new digest" \
	sh -c 'git -C "$1" show "main:$2" | grep -q "$3"' - \
	"$tmp/repo" "$overlay" "$d2"
exit $failed
