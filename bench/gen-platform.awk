# A synthetic platform repository as a `git fast-import` stream: one
# commit on refs/heads/main holding `apps` applications under
# .platform/kubernetes (base/kustomization.yaml, base/deployment.yaml and
# dev/stg/prd overlays each: 5 files an app) plus filler source files,
# 100 to a directory, up to `files` files in all. Deterministic: the same
# variables give the same commit id.
#
#   awk -v apps=1000 -v files=100000 -f bench/gen-platform.awk | git fast-import --quiet
#
# App i is app-NNNN (4 digits); its overlays pin image app-NNNN to
# digest(i, env) and carry a second, tag-only image (envoy), so a
# `digest:` line in an overlay belongs to the app's own image.
#
# With -v commits=N, N more commits follow on main, one overlay each,
# as `kpin set --app --env --image --digest --tag` makes them (the same
# subject and trailers; every 25th one a hand edit: another author, a
# free-form message, no trailers), one every 10 minutes. Which overlay:
# app-0000 (the "hot" app) in a quarter of the commits, the last app (the
# "rare" one) in its prd overlay at 4 commits spread over the range, and
# otherwise a pseudo-random app of the others; the environment is dev,
# stg or prd in about 5:3:2. commits=0 (the default) gives exactly the
# one commit above.
#
#   awk -v apps=100 -v files=1000 -v commits=10000 -f bench/gen-platform.awk
#
# Part of the benchmarks (bench/repo.sh, bench/check.sh,
# bench/history.sh), not of kpin.

# 64 hex digits from two small numbers, always the same
function digest(a, b,   h, s, k) {
	h = (a * 7919 + b * 104729 + 12345) % 4294967291
	s = ""
	for (k = 0; k < 8; k++) {
		h = (h * 48271 + 11) % 2147483647
		s = s sprintf("%08x", h)
	}
	return s
}

function file(path, body) {
	printf "M 100644 inline %s\ndata %d\n%s\n", path, length(body), body
	n++
}

function overlay(app, env, i, e) {
	return overlay_pin(app, env, "1." i % 50 "." e, digest(i, e))
}

function overlay_pin(app, env, tag, dig) {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\n" \
	    "kind: Kustomization\n" \
	    "namespace: " app "-" env "\n" \
	    "resources:\n" \
	    "  - ../../base\n" \
	    "patches:\n" \
	    "  - path: replicas.yaml   # per-environment replica count\n" \
	    "images:\n" \
	    "  - name: " app "\n" \
	    "    newName: ghcr.io/example/" app "\n" \
	    "    newTag: \"" tag "\"\n" \
	    "    digest: sha256:" dig "\n" \
	    "  - name: envoy\n" \
	    "    newName: docker.io/envoyproxy/envoy\n" \
	    "    newTag: v1.29.1\n"
}

BEGIN {
	if (apps == "" || files == "") {
		print "usage: awk -v apps=N -v files=M -f gen-platform.awk" > "/dev/stderr"
		exit 2
	}
	msg = "Synthetic platform repository: " apps " apps, " files " files\n"
	print "commit refs/heads/main"
	print "author Bench <bench@example.invalid> 1700000000 +0000"
	print "committer Bench <bench@example.invalid> 1700000000 +0000"
	printf "data %d\n%s\n", length(msg), msg
	n = 0
	file("README.md", "# platform\n\nSynthetic repository for kpin's benchmarks.\n")
	split("dev stg prd", envs, " ")
	for (i = 0; i < apps; i++) {
		app = sprintf("app-%04d", i)
		d = ".platform/kubernetes/" app
		file(d "/base/kustomization.yaml",
		    "apiVersion: kustomize.config.k8s.io/v1beta1\n" \
		    "kind: Kustomization\nresources:\n  - deployment.yaml\n")
		file(d "/base/deployment.yaml",
		    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n" \
		    "  name: " app "\nspec:\n  replicas: 1\n  template:\n" \
		    "    spec:\n      containers:\n        - name: " app "\n" \
		    "          image: " app "\n")
		for (e = 1; e <= 3; e++)
			file(d "/overlays/" envs[e] "/kustomization.yaml",
			    overlay(app, envs[e], i, e))
	}
	# filler: src/mNNNN/fNN.txt, 100 files a directory
	for (f = 0; n < files; f++)
		file(sprintf("src/m%04d/f%02d.txt", int(f / 100), f % 100),
		    sprintf("module %d file %d\n%s\n", int(f / 100), f % 100,
		    digest(f, 7)))
	print ""
	for (k = 1; k <= commits + 0; k++)
		history_commit(k)
}

# commit k of the history (see the header)
function history_commit(k,   r, i, e, app, env, tag, dig, t, msg, who) {
	r = (k * 2654435761 + 97) % 4294967296
	if (apps > 1 && k % int(commits / 4 > 1 ? commits / 4 : 1) == int(commits / 8) + 1) {
		i = apps - 1
		e = 3
	} else {
		i = r % 4 == 0 || apps < 3 ? 0 : 1 + int(r / 4) % (apps - 2)
		e = int(r / 1024) % 10
		e = e < 5 ? 1 : e < 8 ? 2 : 3
	}
	app = sprintf("app-%04d", i)
	env = envs[e]
	tag = "1." int(k / 100) % 50 "." k % 100
	dig = digest(k, 1000 + i)
	t = 1700000000 + k * 600
	if (k % 25 == 0) {
		who = "Dana Ops <dana@example.invalid>"
		msg = "Hand edit: pin " app " in " env " to " tag "\n"
	} else {
		who = "Promotion Bot <bot@example.invalid>"
		msg = app "/" env ": set " app " to sha256:" substr(dig, 1, 12) \
		    " (" tag ")\n\nImage: " app "\nDigest: sha256:" dig \
		    "\nEnvironment: " env "\nTag: " tag \
		    "\nSource-Repository: example/" app \
		    "\nPromoted-By: build " k " <ci@example.invalid>" \
		    "\nRelease: v" tag "\n"
	}
	print "commit refs/heads/main"
	print "author " who " " t " +0000"
	print "committer Promotion Bot <bot@example.invalid> " t " +0000"
	printf "data %d\n%s\n", length(msg), msg
	file(".platform/kubernetes/" app "/overlays/" env "/kustomization.yaml",
	    overlay_pin(app, env, tag, dig))
	print ""
}
