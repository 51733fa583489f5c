/* SPDX-License-Identifier: MIT */
/* pylow - the command: dispatches to record/ and report/. */
#include <stdio.h>
#include <string.h>

#include "record/record.h"
#include "report/report.h"

#define PYLOW_VERSION "0.1.0"

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "record", cmd_record, "record Python calls of processes into a perf.data file (root)" },
	{ "report", cmd_report, "print flows, timelines and graphs from recordings (offline, no root)" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pylow [--version] [--help] COMMAND [ARGS]\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f,
		"\nExamples:\n"
		"  pylow record -p 4821 -o trace.plw          # as root, Ctrl-C to stop\n"
		"  pylow record -o trace.plw -- python3.11 app.py\n"
		"  pylow report flow --top 3 trace.plw        # anywhere, no root\n"
		"\n'pylow COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pylow %s\n", PYLOW_VERSION);
		return 0;
	}
	const struct cmd *found = NULL;
	size_t len = strlen(argv[1]);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(cmds[i].name, argv[1], len))
			continue;
		if (found) {
			fprintf(stderr, "pylow: '%s' is ambiguous; see 'pylow --help'\n", argv[1]);
			return 2;
		}
		found = &cmds[i];
	}
	if (!found) {
		fprintf(stderr, "pylow: unknown command '%s'; see 'pylow --help'\n", argv[1]);
		return 2;
	}
	return found->fn(argc - 1, argv + 1);
}
