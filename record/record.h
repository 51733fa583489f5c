/* SPDX-License-Identifier: MIT */
#ifndef PYLOW_RECORD_H
#define PYLOW_RECORD_H
/* `pylow record`: the command's entry point (record/record.c). */
int cmd_record(int argc, char **argv);
#endif
