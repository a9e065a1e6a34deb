# The benchmark table, in Markdown for README's "Performance" section,
# from a results file of KEY=VALUE lines (build/bench/results.txt, or the
# results file of one benchmark run on its own):
#
#   awk -f bench/table.awk build/bench/results.txt
#
# A row is printed only when its benchmark left numbers in the file, so
# each benchmark's own table (bench/repo.sh, bench/check.sh,
# bench/history.sh) comes from here too; -v head=0 leaves out the caption
# and the header.
#
# Columns: kpin's median; the peer's median (another tool, or kpin itself
# on a smaller input, as the operation says); the ratio, as "kpin is N
# times faster" or "N times slower" than the peer; the target; whether it
# was met; peak RSS (kpin / peer) and notes.
#
# Part of the benchmarks (bench/run.sh), not of kpin.

BEGIN { FS = "=" }
{ v[$1] = substr($0, length($1) + 2) }

function has(k) { return (k in v) && v[k] != "" }
function ms(k,   x) {
	if (!has(k)) return "-"
	x = v[k] + 0
	if (x >= 1000) return sprintf("%.2f s", x / 1000)
	return sprintf(x < 1 ? "%.3f ms" : x < 10 ? "%.2f ms" : "%.1f ms", x)
}
function mib(k) { return has(k) ? sprintf("%.1f", v[k] / 1024) : "-" }
function rss2(rk, rp) {
	if (rk == "" || !has(rk)) return ""
	return mib(rk) (rp != "" && has(rp) ? " / " mib(rp) : "") " MiB"
}
# "12.3x faster" (peer/kpin >= 1) or "1.50x slower" (kpin/peer)
function speed(kk, pk,   r) {
	if (!has(kk) || !has(pk) || v[kk] + 0 <= 0 || v[pk] + 0 <= 0) return "-"
	r = v[pk] / v[kk]
	return r >= 1 ? sprintf("%.2fx faster", r) : sprintf("%.2fx slower", 1 / r)
}
function row(op, a, b, ratio, target, met, notes) {
	printf "| %s | %s | %s | %s | %s | %s | %s |\n", op, a, b, ratio,
	    target, met, notes
}
function verdict(ok) { return ok ? "met" : "**missed**" }
# against a peer: min_ratio, kpin at least that many times faster;
# max_ratio, kpin at most that many times the peer's time; neither: no
# target
function cmp(op, kk, pk, min_ratio, max_ratio, rk, rp,   r, t) {
	if (!has(kk) || !has(pk)) {
		row(op, ms(kk), ms(pk), "-", "-", "skipped", "")
		return
	}
	r = v[pk] / v[kk]
	if (min_ratio)
		row(op, ms(kk), ms(pk), speed(kk, pk),
		    sprintf(">= %gx faster", min_ratio), verdict(r >= min_ratio),
		    rss2(rk, rp))
	else if (max_ratio)
		row(op, ms(kk), ms(pk), speed(kk, pk),
		    sprintf("<= %gx slower", max_ratio),
		    verdict(1 / r <= max_ratio), rss2(rk, rp))
	else
		row(op, ms(kk), ms(pk), speed(kk, pk), "-", "-", rss2(rk, rp))
}
# an absolute target on kpin's median (limit in ms; 0: none), with a
# peer for comparison when pk is not ""
function abs(op, kk, pk, limit, rk, rp, notes,   t, met, n) {
	if (!has(kk)) {
		row(op, "-", ms(pk), "-", limit ? "< " fmt_ms(limit) : "-",
		    "skipped", notes)
		return
	}
	t = limit ? "< " fmt_ms(limit) : "-"
	met = limit ? verdict(v[kk] + 0 < limit) : "-"
	n = rss2(rk, rp)
	if (notes != "") n = n == "" ? notes : n "; " notes
	row(op, ms(kk), pk == "" ? "-" : ms(pk), pk == "" ? "-" : speed(kk, pk),
	    t, met, n)
}
# "CPU 1.10 s / 0.52 s": mean user + system time of kpin / the peer
# (hyperfine), which others' load on the machine skews less than wall time
function cpu(kp, pp,   a, b) {
	if (!has(kp "_user_ms")) return ""
	a = v[kp "_user_ms"] + v[kp "_system_ms"]
	b = has(pp "_user_ms") ? v[pp "_user_ms"] + v[pp "_system_ms"] : -1
	return "CPU " fmt_t(a) (b >= 0 ? " / " fmt_t(b) : "")
}
function fmt_t(x) {
	return x >= 1000 ? sprintf("%.2f s", x / 1000) : sprintf(x < 10 ? "%.2f ms" : "%.1f ms", x)
}
function fmt_ms(x) { return x >= 1000 ? sprintf("%g s", x / 1000) : sprintf("%g ms", x) }
function race(op, p,   n, got) {
	if (!has(p "_updates")) {
		row(op, "-", "-", "-", "every update lands", "skipped", "")
		return
	}
	n = v[p "_updates"]; got = v[p "_landed"]
	row(op, ms(p "_wall_median_ms"), ms(p "_solo_median_ms"), "-",
	    "every update lands",
	    sprintf("%d/%d %s", got, n, verdict(got + 0 == n + 0 &&
	    v[p "_check_failures"] + 0 == 0)),
	    sprintf("attempts mean %s, max %s; %d gave up%s",
	    v[p "_attempts_mean"], v[p "_attempts_max"], v[p "_failed"],
	    v[p "_lost_silently"] + 0 ? "; " v[p "_lost_silently"] " LOST SILENTLY" : ""))
}
function loop(op, k, limit) {
	if (has("loop_" k "_median_ms"))
		abs(op, "loop_" k "_median_ms", "", limit, "", "", "")
}
# 10002 -> "10,002"
function num(k,   s) {
	if (!has(k)) return "?"
	s = sprintf("%d", v[k])
	while (s ~ /[0-9][0-9][0-9][0-9]/)
		sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
	return s
}

END {
	if (head != "0") {
		printf "%s, %s; %s, %s CPUs (%s)",
		    has("kpin_version") ? v["kpin_version"] : "kpin",
		    has("date") ? v["date"] : "?",
		    has("cpu") ? v["cpu"] : "?",
		    has("cpus") ? v["cpus"] : "?", has("host") ? v["host"] : "?"
		if (has("loadavg_start"))
			printf "; load average %s at the start, %s at the end",
			    v["loadavg_start"], has("loadavg_end") ? v["loadavg_end"] : "?"
		if (has("total_s"))
			printf "; %d min %02d s in all", v["total_s"] / 60, v["total_s"] % 60
		printf ".\n\n"
		row("operation (medians)", "kpin", "peer", "kpin vs peer",
		    "target", "met", "peak RSS kpin / peer; notes")
		row("---", "--:", "--:", "--:", "---", "---", "---")
	}

	# ---- the edit core, file mode (bench/run.sh) ----
	if (has("kpin_set_median_ms")) {
		cmp("`set -f` typical overlay vs ruamel.yaml", "kpin_set_median_ms",
		    "ruamel_median_ms", 10, 0, "rss_kpin_set_kib", "rss_ruamel_kib")
		cmp("`set -f` typical overlay vs eemeli/yaml", "kpin_set_median_ms",
		    "yaml_median_ms", 25, 0, "rss_kpin_set_kib", "rss_yaml_kib")
		cmp("`set -f` vs `kpin --version`", "kpin_set_median_ms",
		    "kpin_version_median_ms", 0, 1.2, "rss_kpin_set_kib",
		    "rss_kpin_version_kib")
		if (has("kpin_set_tmpfs_median_ms"))
			cmp("`set -f` on tmpfs vs `kpin --version`",
			    "kpin_set_tmpfs_median_ms", "kpin_version_median_ms",
			    0, 1.2, "", "")
		if (has("kpin_bare_median_ms"))
			row("(process floor: a C program that does nothing)", "",
			    ms("kpin_bare_median_ms"), "", "", "", "")
	}
	if (has("rss_kpin_set_kib"))
		row("peak RSS, `set -f` typical overlay",
		    mib("rss_kpin_set_kib") " MiB", "-", "-", "< 8 MiB",
		    verdict(v["rss_kpin_set_kib"] + 0 < 8192), "")
	loop("edit in-process, typical 1 KB overlay", "typical_1k", 0)
	loop("edit in-process, 2 KB", "small_2k", 0)
	loop("edit in-process, 200 KB (images)", "images_200k", 0)
	loop("edit in-process, 4 MiB (patch)", "patch_4m", 50)
	loop("edit in-process, 4 MiB (images)", "images_4m", 50)
	if (has("rss_kpin_set_patch_4m_kib"))
		row("peak RSS, `set -f` 4 MiB (patch)",
		    mib("rss_kpin_set_patch_4m_kib") " MiB", "-", "-", "", "", "")
	if (has("rss_kpin_set_images_4m_kib"))
		row("peak RSS, `set -f` 4 MiB (images)",
		    mib("rss_kpin_set_images_4m_kib") " MiB", "-", "-", "", "", "")
	if (has("overlay_diff_lines_kpin"))
		row("diff lines (`<` and `>`), typical overlay",
		    v["overlay_diff_lines_kpin"],
		    (has("overlay_diff_lines_ruamel") ? "ruamel " v["overlay_diff_lines_ruamel"] : "") \
		    (has("overlay_diff_lines_yaml") ? ", yaml " v["overlay_diff_lines_yaml"] : ""),
		    "", "", "", "")
	if (has("corpus_entries")) {
		n = v["corpus_entries"]
		row("corpus edits with a minimal diff", v["corpus_minimal_kpin"] "/" n,
		    (has("corpus_minimal_ruamel") ? "ruamel " v["corpus_minimal_ruamel"] "/" n : "-") \
		    (has("corpus_minimal_yaml") ? ", yaml " v["corpus_minimal_yaml"] "/" n : ""),
		    "", "", "", "")
	}

	# ---- the repository engine (bench/repo.sh) ----
	if (has("repo_files_large")) {
		cmp("`set --app`, bare repository: 100k files vs 1k files",
		    "repo_bare_large_median_ms", "repo_bare_small_median_ms",
		    0, 1.5, "repo_bare_large_rss_kib", "repo_bare_small_rss_kib")
		cmp("`set --app` vs git CLI, 100k-file checkout",
		    "repo_co_large_kpin_median_ms", "repo_co_large_git_median_ms",
		    5, 0, "repo_co_large_kpin_rss_kib", "repo_co_large_git_rss_kib")
		cmp("`set --app` vs git CLI, 1k-file checkout",
		    "repo_co_small_kpin_median_ms", "repo_co_small_git_median_ms",
		    0, 0, "repo_co_small_kpin_rss_kib", "repo_co_small_git_rss_kib")
	}
	# KPIN_BENCH_BASELINE: the cost of a change, against an older kpin
	if (has("repo_co_large_base_median_ms")) {
		cmp("`set --app` vs the baseline kpin, 100k-file checkout",
		    "repo_co_large_kpin_median_ms", "repo_co_large_base_median_ms",
		    0, 1.1, "", "")
		cmp("`set --app` vs the baseline kpin, 1k-file checkout",
		    "repo_co_small_kpin_median_ms", "repo_co_small_base_median_ms",
		    0, 1.1, "", "")
	}
	if (has("repo_push_n")) {
		# kpin: the wall time of a race; peer: one update alone
		race(sprintf("push race, local path, %d clones x %d updates: wall / one alone",
		    v["repo_push_n"], v["repo_push_u"]), "repo_push_local")
		race(sprintf("push race, HTTP, %d clones x %d updates: wall / one alone",
		    v["repo_push_n"], v["repo_push_u"]), "repo_push_http")
	}

	# ---- kpin check (bench/check.sh) ----
	# peer: grep -r over the same tree, a floor (walk and read every
	# file), not a checker
	if (has("check_small_overlays"))
		abs(sprintf("`check`, %s overlays (%s files) vs `grep -r` floor",
		    num("check_small_overlays"), num("check_small_files")),
		    "check_small_kpin_median_ms", "check_small_grep_median_ms", 0,
		    "check_small_kpin_rss_kib", "check_small_grep_rss_kib",
		    cpu("check_small_kpin", "check_small_grep"))
	if (has("check_large_overlays"))
		abs(sprintf("`check`, %s overlays (%s files) vs `grep -r` floor",
		    num("check_large_overlays"), num("check_large_files")),
		    "check_large_kpin_median_ms", "check_large_grep_median_ms", 1000,
		    "check_large_kpin_rss_kib", "check_large_grep_rss_kib",
		    cpu("check_large_kpin", "check_large_grep"))

	if (has("check_big_entries"))
		cmp(sprintf("`check` vs `get -f`, one file of %s entries",
		    num("check_big_entries")), "check_big_check_median_ms",
		    "check_big_get_median_ms", 0, 3, "check_big_check_rss_kib",
		    "check_big_get_rss_kib")

	# ---- kpin history (bench/history.sh) ----
	if (has("history_commits")) {
		abs(sprintf("`history`, %s commits, rare app (%s changes) vs `git log -p`",
		    num("history_commits"), num("history_rare_entries")),
		    "history_rare_kpin_median_ms", "history_rare_git_median_ms", 200,
		    "history_rare_kpin_rss_kib", "history_rare_git_rss_kib",
		    cpu("history_rare_kpin", "history_rare_git"))
		abs(sprintf("`history`, %s commits, hot app (%s changes) vs `git log -p`",
		    num("history_commits"), num("history_hot_entries")),
		    "history_hot_kpin_median_ms", "history_hot_git_median_ms", 200,
		    "history_hot_kpin_rss_kib", "history_hot_git_rss_kib",
		    cpu("history_hot_kpin", "history_hot_git"))
	}

	# ---- kpin status (bench/status.sh) ----
	if (has("status_commits"))
		abs(sprintf("`status`, %s apps x 3 envs, %s commits vs `git log --name-only`",
		    num("status_apps"), num("status_commits")),
		    "status_kpin_median_ms", "status_git_median_ms", 1000,
		    "status_kpin_rss_kib", "status_git_rss_kib",
		    cpu("status_kpin", "status_git"))
}
