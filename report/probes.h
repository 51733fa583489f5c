/* SPDX-License-Identifier: MIT */
/*
 * probes.h - generic probes (`record -e usdt:/uprobe:/uretprobe:/tracepoint:`)
 * and native stacks (`record --stacks`) on the report side.
 *
 *  - struct plw_native: per input, the names of the probes (META probe.N),
 *    of the kernel tracepoints (META tracepoint.ID) and the symbolised
 *    stacks (STACK_DEF).  Owned by the model (plw_model_stack(), ...).
 *  - struct plw_tpdec: decodes the samples of kernel tracepoints with
 *    libtraceevent from the file's own tracing data (the formats recorded
 *    on the recording host), "field=value ..." like perf script.
 *
 * Library code: returns -errno, never prints.
 */
#ifndef PYLOW_REPORT_PROBES_H
#define PYLOW_REPORT_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../format/plw.h"

struct plw_native;

int plw_native_new(struct plw_native **n);
void plw_native_free(struct plw_native *n);
/* META KEY=VALUE of INPUT: keeps probe.N and tracepoint.ID (others: 0) */
int plw_native_meta(struct plw_native *n, uint32_t input, const char *key, const char *value);
/* a STACK_DEF event of INPUT */
int plw_native_stack_def(struct plw_native *n, uint32_t input, const struct plw_event *ev);
/* frames of stack ID of INPUT ('\n'-separated, innermost first); NULL if
 * not defined; *KIND gets PLW_STACK_KERNEL or PLW_STACK_USER */
const char *plw_native_stack(const struct plw_native *n, uint32_t input, uint32_t id,
			     uint32_t *kind);
/* "uprobe libc:getppid" for probe number PROBE of INPUT ("probe N" in BUF
 * when the file does not name it) */
const char *plw_native_probe_name(const struct plw_native *n, uint32_t input, uint32_t probe,
				  char *buf, size_t len);
/* the probe's kind: "usdt", "uprobe", "uretprobe" (NULL if unknown) */
const char *plw_native_probe_kind(const struct plw_native *n, uint32_t input, uint32_t probe);
/* "tracepoint sched:sched_process_fork" for tracepoint ID of INPUT; NULL if
 * the file does not name it (not a pylow -e tracepoint) */
const char *plw_native_tp_name(const struct plw_native *n, uint32_t input, uint32_t id);

/* "uprobe libc:getppid" from a spec "uprobe:/usr/lib/.../libc.so.6:getppid" */
void plw_probe_short_name(const char *spec, char *out, size_t len);

/* ------------------------------------------------------------ decoding */

struct plw_tpdec;

/* from a file's HEADER_TRACING_DATA (plw_reader_tracing_data); -EINVAL if
 * it cannot be parsed */
int plw_tpdec_new(struct plw_tpdec **d, const void *data, size_t len);
void plw_tpdec_free(struct plw_tpdec *d);
/* "parent_comm=python3 parent_pid=12 ..." for the sample RAW (common header
 * first) into OUT; "" when the format is unknown.  Returns OUT. */
const char *plw_tpdec_fields(struct plw_tpdec *d, const void *raw, size_t len, char *out,
			     size_t outlen);

#endif /* PYLOW_REPORT_PROBES_H */
