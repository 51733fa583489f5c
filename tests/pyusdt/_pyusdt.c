/* SPDX-License-Identifier: MIT */
/*
 * _pyusdt.c - a minimal "pyusdt" library for pylow's tests: a CPython 3.12+
 * extension whose sys.monitoring callbacks fire USDT probes of provider
 * pyusdt, the way a pyusdt library does for Pythons built without probes:
 *
 *   pyusdt:PY_START(function, file, line)    PY_START, PY_THROW
 *   pyusdt:PY_RESUME(function, file, line)   PY_RESUME
 *   pyusdt:PY_RETURN(function, file, line)   PY_RETURN, PY_UNWIND
 *   pyusdt:PY_YIELD(function, file, line)    PY_YIELD
 *
 * function = co_name, file = co_filename (UTF-8, NUL-terminated), line =
 * co_firstlineno.  pyusdt.py registers the callbacks (tool id 5).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/sdt.h>

static int code_info(PyObject *code, const char **func, const char **file, long *line)
{
	PyCodeObject *co = (PyCodeObject *)code;

	if (!PyCode_Check(code))
		return -1;
	*func = PyUnicode_AsUTF8(co->co_name);
	*file = PyUnicode_AsUTF8(co->co_filename);
	*line = co->co_firstlineno;
	if (!*func || !*file) {
		PyErr_Clear();
		return -1;
	}
	return 0;
}

#define CALLBACK(pyname, probe)								\
static PyObject *cb_##pyname(PyObject *self, PyObject *const *args, Py_ssize_t n)	\
{											\
	const char *func, *file;							\
	long line;									\
											\
	if (n >= 1 && !code_info(args[0], &func, &file, &line))				\
		DTRACE_PROBE3(pyusdt, probe, func, file, line);				\
	Py_RETURN_NONE;									\
}

CALLBACK(start, PY_START)
CALLBACK(resume, PY_RESUME)
CALLBACK(ret, PY_RETURN)
CALLBACK(yield, PY_YIELD)

static PyMethodDef methods[] = {
	{ "start", (PyCFunction)(void (*)(void))cb_start, METH_FASTCALL, NULL },
	{ "resume", (PyCFunction)(void (*)(void))cb_resume, METH_FASTCALL, NULL },
	{ "ret", (PyCFunction)(void (*)(void))cb_ret, METH_FASTCALL, NULL },
	{ "yield_", (PyCFunction)(void (*)(void))cb_yield, METH_FASTCALL, NULL },
	{ NULL },
};

static struct PyModuleDef mod = { PyModuleDef_HEAD_INIT, "_pyusdt", NULL, -1, methods };

PyMODINIT_FUNC PyInit__pyusdt(void)
{
	return PyModule_Create(&mod);
}
