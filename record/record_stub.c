/* SPDX-License-Identifier: MIT */
/* record_stub.c - `pylow record` in a report-only build (make NO_BPF=1). */
#include <stdio.h>

#include "record.h"

int cmd_record(int argc, char **argv)
{
	fprintf(stderr, "pylow record: this pylow was built with NO_BPF=1 (report only); "
		"rebuild with 'make' on a machine with BTF, clang and bpftool to record\n");
	return 2;
}
