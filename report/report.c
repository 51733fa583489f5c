/* SPDX-License-Identifier: MIT */
/*
 * report.c - `pylow report SUBCOMMAND [options] FILE...`: the command layer.
 * Parses options, runs one report (info.c, flow.c, timeline.c, graph.c),
 * prints errors (as JSON with --json) and warnings, chooses the exit code:
 *   0  done (also when a damaged file was salvaged: a warning on stderr)
 *   1  failed (missing or unreadable file, --strict and damage, out of memory)
 *   2  usage error
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_int.h"

struct sub {
	const char *name;
	int (*fn)(const struct report_opts *o, struct report_result *res);
	const char *summary;
	const char *usage;
};

static const struct sub subs[] = {
	{ "info", report_info, "what a recording holds: host, span, processes, events, losses, damage",
	  "usage: pylow report info [--json] [--strict] FILE...\n"
	  "\n"
	  "Describes each recording: host, kernel, cpus, wall-clock span, whether the\n"
	  "recorder finished, processes and threads, events by kind, lost events,\n"
	  "probes, and damage (a file cut short is described up to where it is intact).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report info trace.plw\n"
	  "  pylow report info --json trace.plw | jq .lost\n" },
	{ "flow", report_flow, "call trees, one per root call (slowest first by default)",
	  "usage: pylow report flow [--json] [--top N | --all | --last] [--min-ms X] [--depth N] FILE...\n"
	  "\n"
	  "One calling-context tree per root call (a call whose caller was not\n"
	  "recorded, e.g. a request handler).  Calls from the same place under the\n"
	  "same parent are grouped: 'f ×3  15.000 ms' is three calls taking 15 ms in all.\n"
	  "Flags: [cut at start] began before the recording, [cut at end] still\n"
	  "running at its end, [incomplete] events were lost or did not match.\n"
	  "\n"
	  "Options:\n"
	  "  --top N       the N slowest root calls, slowest first (default: 10)\n"
	  "  --all         every root call, in start order\n"
	  "  --last        the root call that completed last\n"
	  "  --min-ms X    hide calls (and root calls) shorter than X ms; hidden\n"
	  "                children are summed in a '… N more calls' line\n"
	  "  --depth N     show N levels below each root (0: roots only)\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report flow trace.plw                 # the 10 slowest requests\n"
	  "  pylow report flow --top 3 --min-ms 1 trace.plw\n"
	  "  pylow report flow --last --depth 2 trace.plw\n"
	  "  pylow report flow --all --json trace.plw > flows.json\n" },
	{ "timeline", report_timeline, "every call and return in time order, indented by depth",
	  "usage: pylow report timeline [--json] [--threshold MS] [--pid P] [--tid T] FILE...\n"
	  "\n"
	  "Chronological entries (→) and returns (←) with the time since the first\n"
	  "event, pid and tid, indented by the thread's call depth.\n"
	  "\n"
	  "Options:\n"
	  "  --threshold MS  mark returns of calls longer than MS with '⚠ SLOW'\n"
	  "  --pid P         only process P\n"
	  "  --tid T         only thread T\n"
	  "  --json          one JSON document on stdout (errors too)\n"
	  "  --strict        fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help      this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report timeline trace.plw | less\n"
	  "  pylow report timeline --threshold 2 --pid 4821 trace.plw\n" },
	{ "graph", report_graph, "call paths over the whole recording: calls, total, avg, self",
	  "usage: pylow report graph [--json] FILE...\n"
	  "\n"
	  "Every root call merged into one tree of call paths: how often each path\n"
	  "was called, its total, average and self time; heaviest first.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report graph trace.plw\n"
	  "  pylow report graph --json trace.plw | jq '.roots[0]'\n" },
};
#define NR_SUBS (sizeof(subs) / sizeof(subs[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: pylow report SUBCOMMAND [options] FILE...\n\nSubcommands:\n");
	for (size_t i = 0; i < NR_SUBS; i++)
		fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
	fprintf(f,
		"\nEvery subcommand takes --json.  Several files are merged by time.\n"
		"A damaged file is reported up to where it is intact, with a warning on\n"
		"stderr (exit 0); --strict makes that an error.\n"
		"\nExamples:\n"
		"  pylow report info trace.plw\n"
		"  pylow report flow --top 3 trace.plw\n"
		"  pylow report timeline --threshold 2 trace.plw\n"
		"  pylow report graph trace.plw\n"
		"\n'pylow report SUBCOMMAND --help' for its options.\n");
}

enum { OPT_JSON = 256, OPT_STRICT, OPT_TOP, OPT_ALL, OPT_LAST, OPT_MIN_MS, OPT_DEPTH,
       OPT_THRESHOLD, OPT_PID, OPT_TID };

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "last", no_argument, NULL, OPT_LAST },
	{ "min-ms", required_argument, NULL, OPT_MIN_MS },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "tid", required_argument, NULL, OPT_TID },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static const char *opt_name(int val)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/* which options each subcommand takes */
static bool takes(const struct sub *s, int opt)
{
	switch (opt) {
	case OPT_JSON: case OPT_STRICT: case 'h':
		return true;
	case OPT_TOP: case OPT_ALL: case OPT_LAST: case OPT_MIN_MS: case OPT_DEPTH:
		return s->fn == report_flow;
	case OPT_THRESHOLD: case OPT_PID: case OPT_TID:
		return s->fn == report_timeline;
	}
	return false;
}

static bool json_mode;

static void fail(const char *sub, const char *msg)
{
	if (json_mode) {
		fputs("{\"error\":", stdout);
		json_string(stdout, msg);
		fputs("}\n", stdout);
		fflush(stdout);
	} else {
		fprintf(stderr, "pylow report%s%s: %s\n", sub ? " " : "", sub ? sub : "", msg);
	}
}

static int usage_err(const struct sub *s, const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	if (json_mode) {
		fail(s ? s->name : NULL, msg);
	} else {
		fprintf(stderr, "pylow report%s%s: %s; see 'pylow report %s%s--help'\n",
			s ? " " : "", s ? s->name : "", msg, s ? s->name : "", s ? " " : "");
	}
	return 2;
}

static bool parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || n > UINT32_MAX || *s == '-')
		return false;
	*v = (uint32_t)n;
	return true;
}

static bool parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e12)
		return false;
	*ns = (uint64_t)llround(v * 1e6);
	return true;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o = { .out = stdout, .mode = FLOW_TOP, .top = 10, .depth = -1 };
	struct report_result res = { 0 };
	const struct sub *s = NULL;
	uint32_t u;
	int c, ret;

	json_mode = false;
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			json_mode = true;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	size_t len = strlen(argv[1]);

	for (size_t i = 0; i < NR_SUBS; i++) {
		if (strncmp(subs[i].name, argv[1], len))
			continue;
		if (s)
			return usage_err(NULL, "'%s' is ambiguous", argv[1]);
		s = &subs[i];
		if (len == strlen(s->name))
			break;
	}
	if (!s)
		return usage_err(NULL, "unknown subcommand '%s' (info, flow, timeline, graph)", argv[1]);

	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
		if (c == '?')
			return usage_err(s, "unknown option '%s'", argv[optind - 1]);
		if (c == ':')
			return usage_err(s, "option '%s' needs a value", argv[optind - 1]);
		if (!takes(s, c))
			return usage_err(s, "option '--%s' does not apply here", opt_name(c));
		switch (c) {
		case 'h':
			fputs(s->usage, stdout);
			return 0;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_STRICT:
			o.strict = true;
			break;
		case OPT_TOP:
			if (!parse_u32(optarg, &o.top) || !o.top)
				return usage_err(s, "--top wants a positive number, not '%s'", optarg);
			o.mode = FLOW_TOP;
			break;
		case OPT_ALL:
			o.mode = FLOW_ALL;
			break;
		case OPT_LAST:
			o.mode = FLOW_LAST;
			break;
		case OPT_MIN_MS:
			if (!parse_ms(optarg, &o.min_ns))
				return usage_err(s, "--min-ms wants milliseconds (e.g. 0.5), not '%s'", optarg);
			break;
		case OPT_DEPTH:
			if (!parse_u32(optarg, &u) || u > INT32_MAX)
				return usage_err(s, "--depth wants a number of levels, not '%s'", optarg);
			o.depth = (int)u;
			break;
		case OPT_THRESHOLD:
			if (!parse_ms(optarg, &o.threshold_ns))
				return usage_err(s, "--threshold wants milliseconds (e.g. 2.5), not '%s'", optarg);
			break;
		case OPT_PID:
			if (!parse_u32(optarg, &o.pid))
				return usage_err(s, "--pid wants a process id, not '%s'", optarg);
			o.has_pid = true;
			break;
		case OPT_TID:
			if (!parse_u32(optarg, &o.tid))
				return usage_err(s, "--tid wants a thread id, not '%s'", optarg);
			o.has_tid = true;
			break;
		}
	}
	if (optind >= argc)
		return usage_err(s, "no FILE given%s", " (record one with 'pylow record')");
	o.paths = (const char *const *)&argv[optind];
	o.nr_paths = (size_t)(argc - optind);

	static char obuf[1 << 16];

	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	ret = s->fn(&o, &res);
	fflush(stdout);
	if (ret) {
		if (res.msg[0]) {
			char msg[1200];

			snprintf(msg, sizeof(msg), "%s%s", res.msg,
				 ret == -ENOENT ? " (record one with 'pylow record')" : "");
			fail(s->name, msg);
		}
		return 1;
	}
	for (size_t i = 0; i < res.nr_warn; i++)
		fprintf(stderr, "pylow report %s: warning: %s; %s\n", s->name, res.warn[i],
			o.strict ? "failing (--strict)" : "reported what is intact");
	if (o.strict && res.nr_warn)
		return 1;
	if (ferror(stdout)) {
		fprintf(stderr, "pylow report %s: cannot write the output: %s\n", s->name, strerror(errno));
		return 1;
	}
	return 0;
}
