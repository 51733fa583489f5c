/* SPDX-License-Identifier: MIT */
/*
 * frame311_check.c - build.sh compiles this (-fsyntax-only) against each
 * 3.11's headers before it builds the agent: agent/frame311.h's copy of the
 * frame head must match Include/internal/pycore_frame.h.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_frame.h>
#include <stddef.h>

#include "agent/frame311.h"

#define SAME(f) _Static_assert(offsetof(_PyInterpreterFrame, f) == offsetof(struct plw_frame311, f) && \
			       sizeof(((_PyInterpreterFrame *)0)->f) == sizeof(((struct plw_frame311 *)0)->f), \
			       "agent/frame311.h: " #f " differs from this Python's _PyInterpreterFrame")
SAME(f_code);
SAME(owner);
_Static_assert(FRAME_OWNED_BY_THREAD == PLW_FRAME_OWNED_BY_THREAD, "FRAME_OWNED_BY_THREAD");
