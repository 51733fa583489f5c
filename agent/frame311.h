/* SPDX-License-Identifier: MIT */
/*
 * frame311.h - the head of CPython 3.11's struct _PyInterpreterFrame
 * (Include/internal/pycore_frame.h), as far as the agent's PEP 523 frame
 * evaluation hook reads it: the code object and the owner.  The internal
 * header needs Py_BUILD_CORE, which the agent must not be built with, so it
 * keeps this copy; agent/frame311_check.c compares the two at build time
 * (build.sh, 3.11 only) and the build fails if they differ.
 */
#ifndef PLW_AGENT_FRAME311_H
#define PLW_AGENT_FRAME311_H

struct plw_frame311 {
	PyObject *f_func;
	PyObject *f_globals;
	PyObject *f_builtins;
	PyObject *f_locals;
	PyCodeObject *f_code;
	PyObject *frame_obj;
	void *previous;
	void *prev_instr;
	int stacktop;
	char is_entry;		/* bool */
	char owner;		/* FRAME_OWNED_BY_* */
};

#define PLW_FRAME_OWNED_BY_THREAD	0

#endif
