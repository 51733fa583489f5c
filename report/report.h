/* SPDX-License-Identifier: MIT */
#ifndef PYLOW_REPORT_H
#define PYLOW_REPORT_H
/* `pylow report`: the command's entry point (report/report.c). */
int cmd_report(int argc, char **argv);
#endif
