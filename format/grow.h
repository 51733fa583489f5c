/* SPDX-License-Identifier: MIT */
/*
 * grow.h - the growable arrays of the recorder and the reports: *P holds
 * *CAP elements of SIZE bytes; make room for NEED (doubling from 64), the
 * new elements zeroed.  0 or -ENOMEM (then *P and *CAP are unchanged).
 */
#ifndef PYLOW_GROW_H
#define PYLOW_GROW_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static inline int plw_grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (!(np = realloc(*p, ncap * size)))
		return -ENOMEM;
	memset((char *)np + *cap * size, 0, (ncap - *cap) * size);
	*p = np;
	*cap = ncap;
	return 0;
}

#endif /* PYLOW_GROW_H */
