/* SPDX-License-Identifier: MIT */
/*
 * model.c - event stream -> per-thread stacks -> calling-context trees.
 * See model.h for the rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "probes.h"

/* ------------------------------------------------------------------ arena */

#define ARENA_BLOCK	(64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	max_align_t data[];
};

struct plw_arena {
	struct arena_block *head;	/* current block; older ones follow */
	size_t bytes;
	struct plw_arena *next_free;	/* model's pool of recycled arenas */
};

struct plw_arena *plw_arena_new(void)
{
	return calloc(1, sizeof(struct plw_arena));
}

static struct arena_block *arena_block_new(size_t size)
{
	struct arena_block *b = malloc(sizeof(*b) + size);

	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

void *plw_arena_alloc(struct plw_arena *a, size_t size)
{
	struct arena_block *b = a->head;

	size = (size + 15) & ~(size_t)15;
	if (!b || b->size - b->used < size) {
		size_t bs = size > ARENA_BLOCK ? size : ARENA_BLOCK;

		b = arena_block_new(bs);
		if (!b)
			return NULL;
		b->next = a->head;
		a->head = b;
		a->bytes += bs;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

void plw_arena_reset(struct plw_arena *a)
{
	struct arena_block *b = a->head, *keep = NULL;

	/* keep the oldest block (the first allocated), free the rest */
	while (b) {
		struct arena_block *next = b->next;

		if (!next) {
			keep = b;
		} else {
			a->bytes -= b->size;
			free(b);
		}
		b = next;
	}
	if (keep)
		keep->used = 0;
	a->head = keep;
}

void plw_arena_free(struct plw_arena *a)
{
	if (!a)
		return;
	struct arena_block *b = a->head;

	while (b) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
	free(a);
}

size_t plw_arena_bytes(const struct plw_arena *a)
{
	return a ? a->bytes : 0;
}

/* ------------------------------------------------------ u64 -> ptr table */

struct umap {
	uint64_t *keys;
	void **vals;
	size_t cap, len;		/* cap: power of two or 0 */
};

static inline size_t umap_hash(uint64_t k, size_t cap)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & (cap - 1);
}

static void *umap_get(const struct umap *u, uint64_t key)
{
	if (!u->cap)
		return NULL;
	for (size_t i = umap_hash(key, u->cap);; i = (i + 1) & (u->cap - 1)) {
		if (!u->vals[i])
			return NULL;
		if (u->keys[i] == key)
			return u->vals[i];
	}
}

static int umap_put(struct umap *u, uint64_t key, void *val)
{
	if ((u->len + 1) * 2 > u->cap) {
		size_t ncap = u->cap ? u->cap * 2 : 64;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		void **nv = calloc(ncap, sizeof(*nv));

		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		for (size_t i = 0; i < u->cap; i++) {
			if (!u->vals[i])
				continue;
			size_t j = umap_hash(u->keys[i], ncap);

			while (nv[j])
				j = (j + 1) & (ncap - 1);
			nk[j] = u->keys[i];
			nv[j] = u->vals[i];
		}
		free(u->keys);
		free(u->vals);
		u->keys = nk;
		u->vals = nv;
		u->cap = ncap;
	}
	size_t i = umap_hash(key, u->cap);

	while (u->vals[i] && u->keys[i] != key)
		i = (i + 1) & (u->cap - 1);
	if (!u->vals[i])
		u->len++;
	u->keys[i] = key;
	u->vals[i] = val;
	return 0;
}

static void umap_free(struct umap *u)
{
	free(u->keys);
	free(u->vals);
	memset(u, 0, sizeof(*u));
}

/* ------------------------------------------------------------------ nodes */

#define NODE_SCAN_MAX	8	/* children scanned linearly up to this many */

static inline size_t ptr_hash(const void *p, size_t cap)
{
	return umap_hash((uint64_t)(uintptr_t)p, cap);
}

struct plw_node *plw_node_find(const struct plw_node *parent, const struct plw_site *site)
{
	if (parent->tab) {
		for (size_t i = ptr_hash(site, parent->tab_cap);; i = (i + 1) & (parent->tab_cap - 1)) {
			struct plw_node *n = parent->tab[i];

			if (!n || n->site == site)
				return n;
		}
	}
	for (struct plw_node *n = parent->child; n; n = n->next)
		if (n->site == site)
			return n;
	return NULL;
}

static int node_tab_insert(struct plw_arena *a, struct plw_node *parent, struct plw_node *child)
{
	if (!parent->tab || (parent->nr_children + 1) * 2 > parent->tab_cap) {
		uint32_t ncap = parent->tab_cap ? parent->tab_cap * 2 : 32;
		struct plw_node **nt = plw_arena_alloc(a, ncap * sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		/* rebuild from the sibling list (CHILD is not linked yet) */
		for (struct plw_node *n = parent->child; n; n = n->next) {
			size_t j = ptr_hash(n->site, ncap);

			while (nt[j])
				j = (j + 1) & (ncap - 1);
			nt[j] = n;
		}
		parent->tab = nt;
		parent->tab_cap = ncap;
	}
	size_t j = ptr_hash(child->site, parent->tab_cap);

	while (parent->tab[j])
		j = (j + 1) & (parent->tab_cap - 1);
	parent->tab[j] = child;
	return 0;
}

static struct plw_node *node_get(struct plw_arena *a, struct plw_node *parent,
				 const struct plw_site *site, bool *created)
{
	struct plw_node *n;

	*created = false;
	if (parent->tab) {
		n = plw_node_find(parent, site);
		if (n)
			return n;
	} else {
		for (n = parent->child; n; n = n->next)
			if (n->site == site)
				return n;
	}
	n = plw_arena_alloc(a, sizeof(*n));
	if (!n)
		return NULL;
	n->site = site;
	n->parent = parent;
	if (parent->tab || parent->nr_children >= NODE_SCAN_MAX) {
		if (node_tab_insert(a, parent, n))
			return NULL;
	}
	if (parent->last)
		parent->last->next = n;
	else
		parent->child = n;
	parent->last = n;
	parent->nr_children++;
	*created = true;
	return n;
}

static size_t node_count(const struct plw_node *n)
{
	size_t k = 1;

	for (const struct plw_node *c = n->child; c; c = c->next)
		k += node_count(c);
	return k;
}

static struct plw_node *node_copy(const struct plw_node *n, struct plw_node *parent,
				  struct plw_node **next)
{
	struct plw_node *d = (*next)++;

	*d = *n;
	d->parent = parent;
	d->child = d->last = d->next = NULL;
	d->tab = NULL;
	d->tab_cap = 0;
	for (const struct plw_node *c = n->child; c; c = c->next) {
		struct plw_node *dc = node_copy(c, d, next);

		if (d->last)
			d->last->next = dc;
		else
			d->child = dc;
		d->last = dc;
	}
	return d;
}

struct plw_node *plw_node_clone(const struct plw_node *root)
{
	struct plw_node *v = malloc(node_count(root) * sizeof(*v)), *next = v;

	if (!v)
		return NULL;
	return node_copy(root, NULL, &next);
}

struct plw_node *plw_node_get(struct plw_arena *arena, struct plw_node *parent,
			      const struct plw_site *site)
{
	bool created;

	return node_get(arena, parent, site, &created);
}

/* ------------------------------------------------------------------ model */

static const char *const kind_names[PLW_KIND_MAX] = {
	[PLW_KIND_PYTHON] = "python",	[PLW_KIND_SYSCALL] = "syscall",
	[PLW_KIND_OFFCPU] = "offcpu",	[PLW_KIND_FAULT] = "fault",
	[PLW_KIND_IO] = "io",		[PLW_KIND_MEM] = "mem",
	[PLW_KIND_GIL] = "gil",		[PLW_KIND_EXCEPTION] = "exception",
	[PLW_KIND_IRQ] = "irq",		[PLW_KIND_TLB] = "tlb",
	[PLW_KIND_PROBE] = "probe",	[PLW_KIND_NET] = "net",
	[PLW_KIND_SPAN] = "span",
};

const char *plw_kind_name(enum plw_kind kind)
{
	return (unsigned)kind < PLW_KIND_MAX ? kind_names[kind] : "unknown";
}

/* off-CPU intervals held per thread until the enclosing syscall's event */
#define PEND_OFF_MAX	8

struct frame {
	const struct plw_site *site;
	struct plw_node *node;		/* NULL without trees */
	uint64_t start, child_ns;
	uint32_t flags;
	struct plw_node *snode;		/* its node in the thread's span view, or NULL */
};

/* a server request span's view of a thread's calls (plw_model_span_begin) */
struct span_view {
	struct plw_tree *tree;
	struct plw_arena *arena;
	uint64_t start, end;
	bool ended;
	uint32_t open;			/* frames on the stack with a node in the view */
};

struct thread {
	uint32_t input, pid, tid;
	uint32_t depth, cap;
	uint32_t low;			/* lowest depth since plw_model_mark */
	struct frame *stack;
	struct plw_tree *tree;		/* open root tree */
	struct plw_arena *arena;	/* arena of the open (or next) tree */
	struct thread *next;		/* all threads, in order of appearance */
	/* off-CPU intervals not placed yet: the one inside a blocking syscall
	 * ends (and is fed) before the syscall's own event, which then takes
	 * it as its child; placed under the frame instead at the thread's
	 * next Python event, a syscall not enclosing it, its exit or the end */
	struct pend_off {
		uint64_t ts, dur, runq;
		uint32_t reason;
		uint32_t kstack1, ustack1;	/* record --stacks */
	} pend[PEND_OFF_MAX];
	/* the kernel leaf given last to on_leaf (its stacks may follow) */
	const struct plw_site *leaf_site;
	uint64_t leaf_ts, leaf_start, leaf_dur;
	uint32_t leaf_depth;
	uint32_t nr_pend;
	/* off-CPU time placed early (more than PEND_OFF_MAX pending) since
	 * the last syscall: a syscall that contains it takes it out of its
	 * own self time (the off-CPU leaf under the frame has it) */
	uint64_t off_acc, off_first;
	struct span_view *sv;		/* open or held span view, or NULL */
};

#define LOC_DIRECT_MAX	(1u << 22)	/* loc ids below: direct index */

struct input {
	const struct plw_site **sites;	/* by loc id, < LOC_DIRECT_MAX */
	uint32_t nr_sites;
	struct umap sites_far;		/* larger ids */
	struct umap threads;		/* pid << 32 | tid -> struct thread */
	struct umap idents;		/* hash(name, file) -> first site (chained by strcmp) */
	uint64_t start;
	bool has_start;
	struct umap irqnames;		/* irq number -> META "irq.N" (handler names) */
	char *sysnames;			/* META syscall_names, ',' replaced by NUL */
	const char **sysname;		/* by number */
	uint32_t nr_sysnames;
};

struct plw_model {
	struct plw_model_opts o;
	struct plw_model_stats st;
	struct input *inputs;
	uint32_t nr_inputs;
	struct plw_arena *sites;	/* sites and their strings */
	struct thread *threads, **threads_tail;
	struct thread *last;		/* lookup cache */
	struct plw_arena *pool;		/* recycled tree arenas */
	struct umap named;		/* hash(kind, name) -> site; collisions take key + 1 */
	bool finished;
	const struct plw_site **leaf_stack;	/* scratch for on_leaf */
	uint32_t leaf_cap;
	struct plw_native *nat;		/* probe names, stacks (report/probes.c) */
};

int plw_model_new(struct plw_model **mp, const struct plw_model_opts *opts)
{
	struct plw_model *m = calloc(1, sizeof(*m));

	*mp = NULL;
	if (!m)
		return -ENOMEM;
	if (opts)
		m->o = *opts;
	m->sites = plw_arena_new();
	if (!m->sites || plw_native_new(&m->nat)) {
		plw_arena_free(m->sites);
		free(m);
		return -ENOMEM;
	}
	m->threads_tail = &m->threads;
	*mp = m;
	return 0;
}

static struct input *get_input(struct plw_model *m, uint32_t input)
{
	if (input >= m->nr_inputs) {
		uint32_t n = input + 1;
		struct input *ni = realloc(m->inputs, n * sizeof(*ni));

		if (!ni)
			return NULL;
		memset(ni + m->nr_inputs, 0, (n - m->nr_inputs) * sizeof(*ni));
		m->inputs = ni;
		m->nr_inputs = n;
	}
	return &m->inputs[input];
}

void plw_model_set_start(struct plw_model *m, uint32_t input, uint64_t ts)
{
	struct input *in = get_input(m, input);

	if (in) {
		in->start = ts;
		in->has_start = true;
	}
}

static char *arena_strdup(struct plw_arena *a, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	char *d = plw_arena_alloc(a, len + 1);

	if (d && len)
		memcpy(d, s, len);
	return d;
}

static struct plw_site **site_slot(struct plw_model *m, struct input *in, uint32_t loc)
{
	if (loc < LOC_DIRECT_MAX) {
		if (loc >= in->nr_sites) {
			uint32_t n = in->nr_sites ? in->nr_sites : 256;

			while (n <= loc)
				n *= 2;
			if (n > LOC_DIRECT_MAX)
				n = LOC_DIRECT_MAX;
			const struct plw_site **ns = realloc(in->sites, n * sizeof(*ns));

			if (!ns)
				return NULL;
			memset(ns + in->nr_sites, 0, (n - in->nr_sites) * sizeof(*ns));
			in->sites = ns;
			in->nr_sites = n;
		}
		return (struct plw_site **)&in->sites[loc];
	}
	return NULL;
}

static uint64_t str_hash(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/* Finds or registers the identity (name, file) of S within its input;
 * colliding hashes are probed linearly by key + 1. */
static int site_ident(struct plw_model *m, struct plw_site *s)
{
	struct input *in = &m->inputs[s->input];
	uint64_t key = str_hash(str_hash(0xcbf29ce484222325ULL, s->name) * 31, s->file);

	for (;; key++) {
		struct plw_site *o = umap_get(&in->idents, key);

		if (!o) {
			s->ident = s;
			s->entry = s->line ? s : NULL;
			return umap_put(&in->idents, key, s);
		}
		if (o == s || (!strcmp(o->name, s->name) && !strcmp(o->file, s->file))) {
			s->ident = o;
			if (s->line && !o->entry)
				o->entry = s;
			return 0;
		}
	}
}

/* The identity whose open frames SITE's frames count in (NULL: none).  The
 * model made every site, so it may write the count. */
static inline struct plw_site *open_ident(const struct plw_site *site)
{
	return (struct plw_site *)site->ident;
}

static int site_set(struct plw_model *m, struct plw_site *s, const char *func,
		    const char *file, uint32_t line)
{
	char *f = arena_strdup(m->sites, func);
	char *p = arena_strdup(m->sites, file);

	const struct plw_site *was = s->ident;
	int err;

	if (!f || !p)
		return -ENOMEM;
	s->name = f;
	s->file = p;
	s->line = line;
	if ((err = site_ident(m, s)))
		return err;
	/* a placeholder (an event came before its PY_LOC) that now has a
	 * name may join another identity: its open frames count there */
	if (was == s && s->ident != s && s->open) {
		open_ident(s)->open += s->open;
		s->open = 0;
	}
	return 0;
}

static struct plw_site *site_new(struct plw_model *m, uint32_t input, struct input *in,
				 uint32_t loc)
{
	struct plw_site *s = plw_arena_alloc(m->sites, sizeof(*s));

	if (!s)
		return NULL;
	s->kind = PLW_KIND_PYTHON;
	s->input = input;
	s->loc = loc;
	if (loc < LOC_DIRECT_MAX) {
		struct plw_site **slot = site_slot(m, in, loc);

		if (!slot)
			return NULL;
		*slot = s;
	} else if (umap_put(&in->sites_far, loc, s)) {
		return NULL;
	}
	return s;
}

static inline struct plw_site *site_lookup(struct input *in, uint32_t loc)
{
	if (loc < in->nr_sites)
		return (struct plw_site *)in->sites[loc];
	if (loc >= LOC_DIRECT_MAX)
		return umap_get(&in->sites_far, loc);
	return NULL;
}

static inline struct plw_site *site_fast(struct plw_model *m, uint32_t input, uint32_t loc);
static struct plw_site *site_get(struct plw_model *m, uint32_t input, uint32_t loc)
{
	struct input *in = input < m->nr_inputs ? &m->inputs[input] : get_input(m, input);
	struct plw_site *s;

	if (!in)
		return NULL;
	s = site_lookup(in, loc);
	if (s)
		return s;
	s = site_new(m, input, in, loc);
	if (!s)
		return NULL;
	const struct plw_loc *l = m->o.resolve ? m->o.resolve(m->o.ctx, input, loc) : NULL;

	if (l) {
		if (site_set(m, s, l->func, l->file, l->line))
			return NULL;
	} else {
		char name[32];

		snprintf(name, sizeof(name), "<loc %u>", loc);
		if (site_set(m, s, name, "", 0))
			return NULL;
	}
	return s;
}

static inline struct plw_site *site_fast(struct plw_model *m, uint32_t input, uint32_t loc)
{
	if (input < m->nr_inputs && loc < m->inputs[input].nr_sites) {
		struct plw_site *s = (struct plw_site *)m->inputs[input].sites[loc];

		if (s)
			return s;
	}
	return site_get(m, input, loc);
}

const struct plw_site *plw_model_site(struct plw_model *m, uint32_t input, uint32_t loc)
{
	return site_get(m, input, loc);
}

static int define_loc(struct plw_model *m, uint32_t input, const struct plw_loc *l)
{
	struct input *in = get_input(m, input);
	struct plw_site *s;

	if (!in)
		return -ENOMEM;
	s = site_lookup(in, l->id);
	if (!s)
		s = site_new(m, input, in, l->id);
	if (!s)
		return -ENOMEM;
	return site_set(m, s, l->func ? l->func : "", l->file ? l->file : "", l->line);
}

static struct thread *get_thread_slow(struct plw_model *m, uint32_t input, uint32_t pid,
				      uint32_t tid);

static inline struct thread *get_thread(struct plw_model *m, uint32_t input, uint32_t pid,
					uint32_t tid)
{
	struct thread *t = m->last;

	if (t && t->tid == tid && t->pid == pid && t->input == input)
		return t;
	return get_thread_slow(m, input, pid, tid);
}

static struct thread *get_thread_slow(struct plw_model *m, uint32_t input, uint32_t pid,
				      uint32_t tid)
{
	struct thread *t;

	struct input *in = get_input(m, input);

	if (!in)
		return NULL;
	uint64_t key = (uint64_t)pid << 32 | tid;

	t = umap_get(&in->threads, key);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->input = input;
		t->pid = pid;
		t->tid = tid;
		if (umap_put(&in->threads, key, t)) {
			free(t);
			return NULL;
		}
		*m->threads_tail = t;
		m->threads_tail = &t->next;
	}
	m->last = t;
	return t;
}

static struct plw_arena *arena_get(struct plw_model *m)
{
	struct plw_arena *a = m->pool;

	if (a) {
		m->pool = a->next_free;
		a->next_free = NULL;
		return a;
	}
	return plw_arena_new();
}

void plw_model_tree_free(struct plw_model *m, struct plw_tree *tree)
{
	if (!tree)
		return;
	struct plw_arena *a = tree->arena;

	plw_arena_reset(a);
	a->next_free = m->pool;
	m->pool = a;
}

/* Pushes a frame for SITE starting at START; opens a root tree at depth 0. */
static int push(struct plw_model *m, struct thread *t, const struct plw_site *site, uint64_t start)
{
	if (t->depth == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 32;
		struct frame *ns = realloc(t->stack, ncap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		t->stack = ns;
		t->cap = ncap;
	}
	struct frame *f = &t->stack[t->depth];
	struct plw_node *node = NULL;

	if (m->o.trees) {
		bool created = true;

		if (t->depth == 0) {
			if (!t->arena && !(t->arena = arena_get(m)))
				return -ENOMEM;
			t->tree = plw_arena_alloc(t->arena, sizeof(*t->tree));
			node = t->tree ? plw_arena_alloc(t->arena, sizeof(*node)) : NULL;
			if (!node)
				return -ENOMEM;
			node->site = site;
			t->tree->root = node;
			t->tree->arena = t->arena;
			/* a root entered inside a request span: the view has it */
			if (t->sv && !t->sv->ended)
				node->flags |= PLW_NODE_SPANS;
		} else if (t->depth >= PLW_TREE_DEPTH_MAX || !t->stack[t->depth - 1].node) {
			/* too deep to draw (or print recursively): counted in the
			 * deepest node's time, which is flagged */
			created = false;
			if (t->stack[t->depth - 1].node)
				t->stack[t->depth - 1].node->flags |= PLW_NODE_INCOMPLETE;
		} else {
			node = node_get(t->arena, t->stack[t->depth - 1].node, site, &created);
			if (!node)
				return -ENOMEM;
		}
		if (created) {
			node->input = t->input;
			node->pid = t->pid;
			node->tid = t->tid;
			node->start_ns = start;
		}
	}
	f->site = site;
	if (site->ident)
		open_ident(site)->open++;
	f->node = node;
	f->start = start;
	f->child_ns = 0;
	f->flags = 0;
	f->snode = NULL;
	if (t->sv && m->o.trees) {
		/* calls entered while the span is open, and everything below
		 * them, are in its view too */
		struct plw_node *ps = t->depth ? t->stack[t->depth - 1].snode : NULL;

		if (ps || !t->sv->ended) {
			bool created;
			struct plw_node *sn = node_get(t->sv->arena, ps ? ps : t->sv->tree->root,
						       site, &created);

			if (!sn)
				return -ENOMEM;
			if (created) {
				sn->input = t->input;
				sn->pid = t->pid;
				sn->tid = t->tid;
				sn->start_ns = start;
			}
			f->snode = sn;
			t->sv->open++;
		}
	}
	t->depth++;
	return 0;
}

static void span_emit(struct plw_model *m, struct thread *t, uint32_t flags);

/* Closes the top frame at TS with FLAGS added. */
static void pop(struct plw_model *m, struct thread *t, uint64_t ts, uint32_t flags)
{
	struct frame *f = &t->stack[--t->depth];

	if (f->site->ident)
		open_ident(f->site)->open--;
	if (t->depth < t->low)
		t->low = t->depth;
	uint64_t dur = ts > f->start ? ts - f->start : 0;
	uint64_t self = dur > f->child_ns ? dur - f->child_ns : 0;

	flags |= f->flags;
	if (flags & PLW_NODE_CUT_START)
		m->st.cut_start++;
	if (flags & PLW_NODE_CUT_END)
		m->st.cut_end++;
	if (flags & PLW_NODE_INCOMPLETE)
		m->st.incomplete++;
	if (t->depth)
		t->stack[t->depth - 1].child_ns += dur;
	if (f->node) {
		f->node->dur_ns += dur;
		f->node->self_ns += self;
		f->node->count++;
		f->node->flags |= flags;
	}
	if (f->snode) {
		f->snode->dur_ns += dur;
		f->snode->self_ns += self;
		f->snode->count++;
		f->snode->flags |= flags;
		f->snode = NULL;
		if (t->sv && !--t->sv->open && t->sv->ended)
			span_emit(m, t, 0);
	}
	if (m->o.on_exit) {
		struct plw_call_info ci = {
			.site = f->site, .input = t->input, .pid = t->pid, .tid = t->tid,
			.depth = t->depth, .flags = flags, .ts = ts,
			.start_ns = f->start, .dur_ns = dur,
		};
		m->o.on_exit(m->o.ctx, &ci);
	}
	if (t->depth == 0 && t->tree) {
		struct plw_tree *tree = t->tree;

		t->tree = NULL;
		tree->seq = m->st.roots++;
		if (m->o.on_root && m->o.on_root(m->o.ctx, tree))
			t->arena = NULL;	/* kept by the callback */
		else
			plw_arena_reset(t->arena);
	}
}

static uint64_t input_start(struct plw_model *m, uint32_t input)
{
	struct input *in = get_input(m, input);

	return in ? in->start : 0;
}

static int flush_offcpu(struct plw_model *m, struct thread *t);

/* What a Python entry or return needs first: its thread and site, and the
 * thread's held off-CPU intervals placed (they ended before this event). */
static inline int py_event_begin(struct plw_model *m, uint32_t input, const struct plw_event *ev,
				 struct thread **tp, const struct plw_site **sitep)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	const struct plw_site *site = site_fast(m, input, ev->u.py.loc);

	if (!t || !site)
		return -ENOMEM;
	*tp = t;
	*sitep = site;
	return t->nr_pend ? flush_offcpu(m, t) : 0;
}

static int on_entry(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t;
	const struct plw_site *site;
	int err = py_event_begin(m, input, ev, &t, &site);

	if (err)
		return err;
	m->st.calls++;
	err = push(m, t, site, ev->ts);

	if (err)
		return err;
	if (m->o.on_enter) {
		struct plw_call_info ci = {
			.site = site, .input = input, .pid = t->pid, .tid = t->tid,
			.depth = t->depth - 1, .ts = ev->ts, .start_ns = ev->ts,
		};
		m->o.on_enter(m->o.ctx, &ci);
	}
	return 0;
}

static int on_return(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t;
	const struct plw_site *site;
	int err = py_event_begin(m, input, ev, &t, &site);

	if (err)
		return err;
	m->st.returns++;
	if (t->depth && t->stack[t->depth - 1].site->ident == site->ident) {
		pop(m, t, ev->ts, 0);
		return 0;
	}
	/* a frame of this identity further down?  Only scanned for when one
	 * is open somewhere: unmatched returns (a corrupt or cut stream) stay
	 * O(1) however deep the stack has grown */
	for (uint32_t i = !site->ident || site->ident->open ? t->depth : 0; i-- > 0;) {
		if (t->stack[i].site->ident != site->ident)
			continue;
		/* frames above I never returned: close them, flagged */
		while (t->depth > i + 1)
			pop(m, t, ev->ts, PLW_NODE_INCOMPLETE);
		t->stack[0].flags |= PLW_NODE_INCOMPLETE;
		pop(m, t, ev->ts, 0);
		return 0;
	}
	/* never entered: began before the recording, or its entry was lost */
	uint64_t start = t->depth ? t->stack[t->depth - 1].start : input_start(m, input);

	if (start > ev->ts)
		start = ev->ts;
	/* the function's first site: an entry's, with its first line, when
	 * the function was entered anywhere before */
	const struct plw_site *shown = site->ident && site->ident->entry ? site->ident->entry : site;
	err = push(m, t, shown, start);

	if (err)
		return err;
	pop(m, t, ev->ts, PLW_NODE_CUT_START);
	return 0;
}

static uint64_t name_hash(enum plw_kind kind, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

const struct plw_site *plw_model_site_named(struct plw_model *m, enum plw_kind kind,
					    const char *name)
{
	uint64_t h = name_hash(kind, name ? name : "");
	struct plw_site *s;

	/* open addressing over keys h, h+1, ...: a different (kind, name)
	 * with the same hash takes the next key */
	for (;; h++) {
		s = umap_get(&m->named, h);
		if (!s)
			break;
		if (s->kind == kind && !strcmp(s->name, name ? name : ""))
			return s;
	}
	s = plw_arena_alloc(m->sites, sizeof(*s));
	if (!s)
		return NULL;
	s->kind = (uint16_t)kind;
	s->name = arena_strdup(m->sites, name);
	s->file = arena_strdup(m->sites, "");
	s->ident = s;
	if (!s->name || !s->file || umap_put(&m->named, h, s))
		return NULL;
	return s;
}


/* one more event in leaf node N (of thread INPUT/PID/TID): the first gives
 * its start, DUR and SELF add up, the longest is kept; LI (may be NULL)
 * adds the bytes moved and the fd (PLW_FD_MIXED once they differ) */
static void leaf_add(struct plw_node *n, uint32_t input, uint32_t pid, uint32_t tid,
		     uint64_t start, uint64_t dur, uint64_t self, const struct plw_leaf_info *li)
{
	if (!n->count) {
		n->input = input;
		n->pid = pid;
		n->tid = tid;
		n->start_ns = start;
	}
	n->count++;
	n->dur_ns += dur;
	n->self_ns += self;
	if (dur > n->max_ns)
		n->max_ns = dur;
	if (li) {
		n->bytes += li->bytes;
		if (li->fd >= 0 && n->count == 1)
			n->fd1 = (uint32_t)li->fd + 1;
		else if (n->fd1 != (li->fd >= 0 ? (uint32_t)li->fd + 1 : 0))
			n->fd1 = PLW_FD_MIXED;
	}
}
/* a leaf in T's span view: under the top frame's view node, or the span's
 * root while it is open; LI (may be NULL) for the syscall details */
static int view_leaf(struct thread *t, const struct plw_site *site, uint64_t start,
		     uint64_t dur, uint64_t self, const struct plw_leaf_info *li)
{
	struct plw_node *parent = t->depth ? t->stack[t->depth - 1].snode : NULL;

	if (!parent && t->sv && !t->sv->ended)
		parent = t->sv->tree->root;
	if (!parent)
		return 0;
	struct plw_node *n = plw_node_get(t->sv->arena, parent, site);

	if (!n)
		return -ENOMEM;
	leaf_add(n, t->input, t->pid, t->tid, start, dur, self, li);
	return 0;
}

void plw_model_mark(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid)
{
	struct thread *t = get_thread(m, input, pid, tid);

	if (t)
		t->low = t->depth;
}

int plw_model_leaf_marked(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
			  const struct plw_site *site, uint64_t start, uint64_t dur)
{
	struct thread *t = get_thread(m, input, pid, tid);
	uint32_t at;

	if (!t)
		return -ENOMEM;
	at = t->low < t->depth ? t->low : t->depth;
	if (!at || !m->o.trees) {
		/* no frame was open throughout: a root of its own */
		int err;
		uint32_t depth = t->depth;

		if (depth)
			return plw_model_leaf(m, input, pid, tid, site, start, dur);
		err = push(m, t, site, start);
		if (err)
			return err;
		pop(m, t, start + dur, 0);
		return 0;
	}
	struct frame *f = &t->stack[at - 1];
	struct plw_node *parents[2] = { f->node, NULL };

	f->child_ns += dur;

	/* in the span view too: under the frame's view node, or the span's
	 * root when the frame began before the span */
	if (t->sv)
		parents[1] = f->snode ? f->snode : !t->sv->ended ? t->sv->tree->root : NULL;
	for (int i = 0; i < 2; i++) {
		struct plw_arena *a = i ? (t->sv ? t->sv->arena : NULL) : t->arena;

		if (!parents[i] || !a)
			continue;
		struct plw_node *n = plw_node_get(a, parents[i], site);

		if (!n)
			return -ENOMEM;
		leaf_add(n, input, pid, tid, start, dur, dur, NULL);
	}
	return 0;
}

int plw_model_leaf(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
		   const struct plw_site *site, uint64_t start, uint64_t dur)
{
	struct thread *t = get_thread(m, input, pid, tid);
	int err;

	if (!t)
		return -ENOMEM;
	if (t->sv && m->o.trees && t->depth &&
	    (err = view_leaf(t, site, start, dur, dur, NULL)))
		return err;
	if (!t->depth || !m->o.trees) {
		/* no open frame: a root (or, without trees, a call) of its own */
		err = push(m, t, site, start);
		if (err)
			return err;
		pop(m, t, start + dur, 0);
		return 0;
	}
	struct frame *f = &t->stack[t->depth - 1];

	f->child_ns += dur;
	if (!f->node)
		return 0;
	struct plw_node *n = plw_node_get(t->arena, f->node, site);

	if (!n)
		return -ENOMEM;
	leaf_add(n, input, pid, tid, start, dur, dur, NULL);
	return 0;
}

const struct plw_site *plw_model_site_named_id(struct plw_model *m, enum plw_kind kind,
					       const char *name, uint32_t id)
{
	struct plw_site *s = (struct plw_site *)plw_model_site_named(m, kind, name);

	if (s && !s->loc)
		s->loc = id;
	return s;
}

const struct plw_site *plw_model_site_unique(struct plw_model *m, enum plw_kind kind,
					     const char *name, uint32_t input, uint32_t id)
{
	struct plw_site *s = plw_arena_alloc(m->sites, sizeof(*s));

	if (!s)
		return NULL;
	s->kind = (uint16_t)kind;
	s->input = input;
	s->loc = id;
	s->name = arena_strdup(m->sites, name);
	s->file = arena_strdup(m->sites, "");
	s->ident = s;
	return s->name && s->file ? s : NULL;
}

/* ------------------------------------------------------------ span views */

/* hands T's span view to on_root (or recycles it); frames still holding
 * nodes in it are detached */
static void span_emit(struct plw_model *m, struct thread *t, uint32_t flags)
{
	struct span_view *sv = t->sv;
	struct plw_node *root = sv->tree->root;
	uint64_t child = 0;

	t->sv = NULL;
	for (uint32_t i = 0; i < t->depth; i++)
		t->stack[i].snode = NULL;
	if (!sv->ended) {
		uint64_t last = m->st.last_ts > sv->start ? m->st.last_ts : sv->start;

		sv->end = last;
		flags |= PLW_NODE_CUT_END;
	}
	root->dur_ns = sv->end - sv->start;
	for (const struct plw_node *c = root->child; c; c = c->next)
		child += c->dur_ns;
	root->self_ns = root->dur_ns > child ? root->dur_ns - child : 0;
	root->count = 1;
	root->flags |= flags | (sv->open ? PLW_NODE_INCOMPLETE : 0);
	sv->tree->seq = m->st.roots + m->st.spans++;
	if (m->o.on_root && m->o.on_root(m->o.ctx, sv->tree))
		sv->arena = NULL;	/* kept by the callback */
	else
		plw_model_tree_free(m, sv->tree);
	free(sv);
}

int plw_model_span_begin(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
			 const struct plw_site *site, uint64_t start)
{
	struct thread *t = get_thread(m, input, pid, tid);

	if (!t)
		return -ENOMEM;
	if (!m->o.trees)
		return 0;
	if (t->sv)
		span_emit(m, t, PLW_NODE_INCOMPLETE);
	if (t->depth && t->stack[0].node)
		t->stack[0].node->flags |= PLW_NODE_SPANS;
	struct span_view *sv = calloc(1, sizeof(*sv));

	if (!sv)
		return -ENOMEM;
	sv->arena = arena_get(m);
	sv->tree = sv->arena ? plw_arena_alloc(sv->arena, sizeof(*sv->tree)) : NULL;
	struct plw_node *root = sv->tree ? plw_arena_alloc(sv->arena, sizeof(*root)) : NULL;

	if (!root) {
		if (sv->arena)
			plw_arena_free(sv->arena);
		free(sv);
		return -ENOMEM;
	}
	root->site = site;
	root->input = input;
	root->pid = pid;
	root->tid = tid;
	root->start_ns = start;
	sv->tree->root = root;
	sv->tree->arena = sv->arena;
	sv->start = start;
	t->sv = sv;
	return 0;
}

int plw_model_span_end(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
		       uint64_t end)
{
	struct thread *t = get_thread(m, input, pid, tid);

	if (!t)
		return -ENOMEM;
	if (!t->sv || t->sv->ended)
		return 0;
	t->sv->ended = true;
	t->sv->end = end > t->sv->start ? end : t->sv->start;
	if (!t->sv->open)
		span_emit(m, t, 0);
	return 0;
}

/* ------------------------------------------------------- kernel leaves */

static const char *const bytes_calls[] = {
	"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev",
	"preadv2", "pwritev2", "recvfrom", "sendto", "recvmsg", "sendmsg", "sendfile",
	"splice", "copy_file_range", "getdents64", "tee", NULL,
};

static const char *const wait_calls[] = {
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"futex", "futex_waitv", "nanosleep", "clock_nanosleep", "wait4", "waitid", "pause",
	"rt_sigtimedwait", "rt_sigsuspend", "accept", "accept4", "io_getevents",
	"io_uring_enter", "msgrcv", "semtimedop", NULL,
};

static bool in_list(const char *const *l, const char *name)
{
	for (; *l; l++)
		if (!strcmp(*l, name))
			return true;
	return false;
}

bool plw_syscall_moves_bytes(const char *name)
{
	return name && in_list(bytes_calls, name);
}

bool plw_syscall_waits(const char *name)
{
	return name && in_list(wait_calls, name);
}

static int set_sysnames(struct plw_model *m, uint32_t input, const char *v)
{
	struct input *in = get_input(m, input);
	uint32_t n = 1;

	if (!in)
		return -ENOMEM;
	if (in->sysnames)
		return 0;		/* the first table of a file wins */
	for (const char *p = v; *p; p++)
		n += *p == ',';
	in->sysnames = strdup(v);
	in->sysname = calloc(n, sizeof(*in->sysname));
	if (!in->sysnames || !in->sysname)
		return -ENOMEM;
	char *p = in->sysnames;

	for (uint32_t i = 0; i < n; i++) {
		char *c = strchr(p, ',');

		in->sysname[i] = p;
		if (c)
			*c = 0;
		p = c ? c + 1 : p + strlen(p);
	}
	in->nr_sysnames = n;
	return 0;
}

const char *plw_model_syscall_name(struct plw_model *m, uint32_t input, uint32_t nr,
				   char *buf, size_t len)
{
	if (input < m->nr_inputs && nr < m->inputs[input].nr_sysnames &&
	    *m->inputs[input].sysname[nr])
		return m->inputs[input].sysname[nr];
	snprintf(buf, len, "syscall_%u", nr);
	return buf;
}

/* a kernel leaf: under the open frame (not a root of its own when none is
 * open: only on_leaf sees those), or, NESTED, under the syscall leaf SYS that
 * encloses it.  FRAME_NS is taken from the frame's self time (0 when nested:
 * the syscall's took it); *NODE gets the node */
static int kernel_leaf(struct plw_model *m, struct thread *t, uint64_t ts,
		       struct plw_leaf_info *li, uint64_t dur, uint64_t self, uint64_t frame_ns,
		       bool nested, struct plw_node *sys, struct plw_node **node)
{
	uint64_t start = ts > dur ? ts - dur : 0;

	if (node)
		*node = NULL;
	if (m->o.on_leaf) {
		if (t->depth > m->leaf_cap) {
			uint32_t cap = t->depth * 2;
			const struct plw_site **ns = realloc(m->leaf_stack, cap * sizeof(*ns));

			if (!ns)
				return -ENOMEM;
			m->leaf_stack = ns;
			m->leaf_cap = cap;
		}
		for (uint32_t i = 0; i < t->depth; i++)
			m->leaf_stack[i] = t->stack[i].site;
		li->stack = m->leaf_stack;
		li->depth = t->depth;
		struct plw_call_info ci = {
			.input = t->input, .pid = t->pid, .tid = t->tid,
			.depth = t->depth + nested,
			.ts = ts, .start_ns = start, .dur_ns = dur,
		};
		ci.site = plw_model_site_named(m, li->kind, li->name);
		if (!ci.site)
			return -ENOMEM;
		m->o.on_leaf(m->o.ctx, &ci, li);
	}
	if (m->o.on_leaf && li->kind != PLW_KIND_OFFCPU) {
		/* off-CPU intervals get their stacks while held (pend) */
		t->leaf_site = plw_model_site_named(m, li->kind, li->name);
		t->leaf_ts = ts;
		t->leaf_start = start;
		t->leaf_dur = dur;
		t->leaf_depth = t->depth + nested;
	}
	if (!m->o.kernel_leaves)
		return 0;
	if (t->sv && m->o.trees && !nested) {
		const struct plw_site *vs = plw_model_site_named(m, li->kind, li->name);
		int err = vs ? view_leaf(t, vs, start, dur, self, li) : -ENOMEM;

		if (err)
			return err;
	}
	if (!t->depth || !m->o.trees) {
		if (t->depth)
			t->stack[t->depth - 1].child_ns += frame_ns;
		return 0;
	}
	struct frame *f = &t->stack[t->depth - 1];
	const struct plw_site *site = plw_model_site_named(m, li->kind, li->name);

	if (!site)
		return -ENOMEM;
	f->child_ns += frame_ns;
	struct plw_node *parent = nested ? sys : f->node;

	if (!parent)
		return 0;
	struct plw_node *n = plw_node_get(t->arena, parent, site);

	if (!n)
		return -ENOMEM;
	leaf_add(n, t->input, t->pid, t->tid, start, dur, self, li);
	if (node)
		*node = n;
	return 0;
}

/* a held off-CPU interval, placed (under the frame, or NESTED under SYS) */
static int offcpu_leaf(struct plw_model *m, struct thread *t, const struct pend_off *p,
		       bool nested, struct plw_node *sys)
{
	struct plw_leaf_info li = {
		.kind = PLW_KIND_OFFCPU, .fd = -1, .runq_ns = p->runq, .reason = p->reason,
		.name = p->reason == PLW_OFFCPU_PREEMPTED ? "preempted" : "blocked",
		.kstack1 = p->kstack1, .ustack1 = p->ustack1,
	};

	return kernel_leaf(m, t, p->ts, &li, p->dur, p->dur, nested ? 0 : p->dur, nested, sys,
			   NULL);
}

/* places the held off-CPU intervals of T under its frame, in order */
static int flush_offcpu(struct plw_model *m, struct thread *t)
{
	uint32_t n = t->nr_pend;
	int err = 0;

	t->nr_pend = 0;
	for (uint32_t i = 0; i < n && !err; i++)
		err = offcpu_leaf(m, t, &t->pend[i], false, NULL);
	return err;
}

static int on_syscall(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	uint64_t dur = ev->u.sys.dur_ns, start = ev->ts > dur ? ev->ts - dur : 0, self = dur;
	uint64_t nested = 0;
	uint32_t nr_in = 0;
	char buf[32];
	struct plw_leaf_info li = {
		.kind = PLW_KIND_SYSCALL, .nr = ev->u.sys.nr, .fd = ev->u.sys.fd,
		.ret = ev->u.sys.ret,
	};
	struct plw_node *sys;
	int err = 0;

	if (!t)
		return -ENOMEM;
	li.name = plw_model_syscall_name(m, input, li.nr, buf, sizeof(buf));
	if (li.ret >= 0 && plw_syscall_moves_bytes(li.name))
		li.bytes = (uint64_t)li.ret;
	/* held off-CPU intervals: those inside this call stay for it (kept
	 * at the front), the others go under the frame first */
	for (uint32_t i = 0; i < t->nr_pend; i++) {
		struct pend_off *p = &t->pend[i];
		uint64_t ps = p->ts > p->dur ? p->ts - p->dur : 0;

		if (ps >= start && p->ts <= ev->ts) {
			nested += p->dur;
			t->pend[nr_in++] = *p;
		} else if (!err) {
			err = offcpu_leaf(m, t, p, false, NULL);
		}
	}
	t->nr_pend = 0;
	if (err)
		return err;
	/* off-CPU intervals placed early under the frame, inside this call:
	 * the frame has their time already */
	uint64_t early = t->off_acc && t->off_first >= start ? t->off_acc : 0;

	t->off_acc = t->off_first = 0;
	self = dur > nested + early ? dur - nested - early : 0;
	err = kernel_leaf(m, t, ev->ts, &li, dur, self, dur > early ? dur - early : 0, false,
			  NULL, &sys);
	for (uint32_t i = 0; i < nr_in && !err; i++)
		err = offcpu_leaf(m, t, &t->pend[i], true, sys);
	return err;
}

static int on_offcpu(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	uint64_t dur = ev->u.off.dur_ns;

	if (!t)
		return -ENOMEM;
	if (t->nr_pend == PEND_OFF_MAX) {
		/* bounded: the oldest goes under the frame now */
		const struct pend_off *p = &t->pend[0];
		int err;

		if (!t->off_acc)
			t->off_first = p->ts > p->dur ? p->ts - p->dur : 0;
		t->off_acc += p->dur;
		err = offcpu_leaf(m, t, p, false, NULL);
		memmove(t->pend, t->pend + 1, (PEND_OFF_MAX - 1) * sizeof(*t->pend));
		t->nr_pend--;
		if (err)
			return err;
	}
	t->pend[t->nr_pend++] = (struct pend_off){
		.ts = ev->ts, .dur = dur, .runq = ev->u.off.runq_ns, .reason = ev->u.off.reason,
	};
	return 0;
}

/* ------------------------------------- faults, io, irq, tlb (kgroups) */

const char *plw_io_op_name(uint32_t op)
{
	static const char *const n[] = { "read", "write", "flush", "discard", "other" };

	op &= PLW_IO_OP_MASK;
	return op < sizeof(n) / sizeof(n[0]) ? n[op] : "other";
}

const char *plw_softirq_name(uint32_t vec)
{
	static const char *const n[] = {
		"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
		"HRTIMER", "RCU",
	};

	return vec < sizeof(n) / sizeof(n[0]) ? n[vec] : NULL;
}

const char *plw_tlb_reason_name(uint32_t reason)
{
	static const char *const n[] = {
		"task switch", "remote shootdown", "local shootdown", "local mm shootdown",
		"remote send ipi", "remote wrong cpu",
	};

	return reason < sizeof(n) / sizeof(n[0]) ? n[reason] : NULL;
}

/* META "irq.N" = "name[,name...]": the handlers of hard irq N */
static int set_irqname(struct plw_model *m, uint32_t input, const char *num, const char *v)
{
	struct input *in = get_input(m, input);
	char *end;
	unsigned long irq = strtoul(num, &end, 10);
	char *copy;

	if (!in)
		return -ENOMEM;
	if (end == num || *end || !*v || umap_get(&in->irqnames, irq))
		return 0;		/* malformed, empty, or named already: the first wins */
	copy = arena_strdup(m->sites, v);
	if (!copy)
		return -ENOMEM;
	return umap_put(&in->irqnames, irq, copy);
}

/* a FAULT, IO, IRQ or TLB event: a leaf under the thread's open frame.
 * Faults and TLB flushes are counted (no time); an irq's time is taken from
 * the frame's self time (it ran instead of the thread); a block request's
 * device time overlaps the syscall (or off-CPU interval) that waited for it,
 * so it is the leaf's own time but not taken from the frame again. */
static int on_kevent(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	struct plw_leaf_info li = { .fd = -1 };
	uint64_t dur = 0, frame_ns = 0;
	char name[64];
	const char *s;

	if (!t)
		return -ENOMEM;
	li.name = name;
	switch (ev->type) {
	case PLW_EV_FAULT:
		li.kind = PLW_KIND_FAULT;
		li.addr = ev->u.fault.addr;
		li.error_code = ev->u.fault.error_code;
		snprintf(name, sizeof(name), "page_fault");
		break;
	case PLW_EV_IO:
		li.kind = PLW_KIND_IO;
		li.io_op = ev->u.io.op;
		li.dev = ev->u.io.dev;
		li.sector = ev->u.io.sector;
		li.bytes = ev->u.io.bytes;
		dur = ev->u.io.dur_ns;
		snprintf(name, sizeof(name), "block_%s", plw_io_op_name(li.io_op));
		break;
	case PLW_EV_IRQ:
		li.kind = PLW_KIND_IRQ;
		li.vec = ev->u.irq.vec;
		li.irq_kind = ev->u.irq.kind;
		dur = frame_ns = ev->u.irq.dur_ns;
		s = li.irq_kind == PLW_IRQ_SOFT ? plw_softirq_name(li.vec) : NULL;
		if (s)
			snprintf(name, sizeof(name), "softirq %s", s);
		else if (li.irq_kind == PLW_IRQ_HARD && input < m->nr_inputs &&
			 (s = umap_get(&m->inputs[input].irqnames, li.vec)))
			snprintf(name, sizeof(name), "hardirq %u %.40s", li.vec, s);
		else
			snprintf(name, sizeof(name), "%s %u",
				 li.irq_kind == PLW_IRQ_SOFT ? "softirq" : "hardirq", li.vec);
		break;
	case PLW_EV_TLB:
		li.kind = PLW_KIND_TLB;
		li.tlb_reason = ev->u.tlb.reason;
		li.pages = ev->u.tlb.pages;
		s = plw_tlb_reason_name(li.tlb_reason);
		if (s)
			snprintf(name, sizeof(name), "%s", s);
		else
			snprintf(name, sizeof(name), "reason %u", li.tlb_reason);
		break;
	default:
		return 0;
	}
	return kernel_leaf(m, t, ev->ts, &li, dur, dur, frame_ns, false, NULL, NULL);
}

/* ------------------------------------------------ probes, stacks */

/* a generic probe hit (PROBE) or a kernel tracepoint sample named by the
 * file (PLW_REC_OTHER): a count-only leaf under the running frame */
static int on_probe(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	struct plw_leaf_info li = { .kind = PLW_KIND_PROBE, .fd = -1, .ev = ev };
	char buf[48];

	if (!t)
		return -ENOMEM;
	if (ev->type == PLW_EV_PROBE) {
		li.name = plw_native_probe_name(m->nat, input, ev->u.probe.probe, buf, sizeof(buf));
	} else {
		if (ev->u.other.attr_type != 2 /* PERF_TYPE_TRACEPOINT */)
			return 0;
		li.name = plw_native_tp_name(m->nat, input, (uint32_t)ev->u.other.attr_config);
		if (!li.name)
			return 0;	/* not a pylow -e tracepoint */
	}
	/* held off-CPU intervals stay held: the syscall enclosing them (and
	 * maybe this hit: a tracepoint inside clone) has not ended yet */
	return kernel_leaf(m, t, ev->ts, &li, 0, 0, 0, false, NULL, NULL);
}

/* STACK: the stacks of the thread's event just before it */
static int on_stack_ev(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	uint32_t k1 = ev->u.stack.kstack >= 0 ? (uint32_t)ev->u.stack.kstack + 1 : 0;
	uint32_t u1 = ev->u.stack.ustack >= 0 ? (uint32_t)ev->u.stack.ustack + 1 : 0;

	if (!t)
		return -ENOMEM;
	if (t->nr_pend && t->pend[t->nr_pend - 1].ts == ev->ts) {
		t->pend[t->nr_pend - 1].kstack1 = k1;
		t->pend[t->nr_pend - 1].ustack1 = u1;
		return 0;
	}
	if (m->o.on_stack && t->leaf_site && t->leaf_ts == ev->ts) {
		struct plw_call_info ci = {
			.site = t->leaf_site, .input = input, .pid = t->pid, .tid = t->tid,
			.depth = t->leaf_depth, .ts = ev->ts, .start_ns = t->leaf_start,
			.dur_ns = t->leaf_dur,
		};

		m->o.on_stack(m->o.ctx, &ci, k1, u1);
	}
	return 0;
}

const char *plw_model_stack(const struct plw_model *m, uint32_t input, uint32_t id,
			    uint32_t *kind)
{
	return plw_native_stack(m->nat, input, id, kind);
}

const char *plw_model_probe_name(const struct plw_model *m, uint32_t input, uint32_t probe,
				 char *buf, size_t len)
{
	return plw_native_probe_name(m->nat, input, probe, buf, len);
}

const char *plw_model_probe_kind(const struct plw_model *m, uint32_t input, uint32_t probe)
{
	return plw_native_probe_kind(m->nat, input, probe);
}

static const char *const mem_ops[] = { "malloc", "calloc", "realloc", "free", "memalign" };

/* MEM, GIL, EXCEPTION: leaves under the open frame.  An allocator call is
 * count-only (bytes: the size asked for); a GIL wait takes its time from the
 * frame like a syscall; a raise is count-only. */
static int on_native(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	struct thread *t = get_thread(m, input, ev->pid, ev->tid);
	struct plw_leaf_info li = { .fd = -1, .ev = ev };
	uint64_t dur = 0;

	if (!t)
		return -ENOMEM;
	if (ev->type == PLW_EV_MEM) {
		li.kind = PLW_KIND_MEM;
		li.name = ev->u.mem.op < 5 ? mem_ops[ev->u.mem.op] : "mem";
		li.bytes = ev->u.mem.op == PLW_MEM_FREE ? 0 : ev->u.mem.size;
	} else if (ev->type == PLW_EV_GIL) {
		li.kind = PLW_KIND_GIL;
		li.name = "GIL";
		dur = ev->u.gil.wait_ns;
	} else {
		li.kind = PLW_KIND_EXCEPTION;
		li.name = ev->u.exc.type && ev->u.exc.type[0] ? ev->u.exc.type : "?";
	}
	return kernel_leaf(m, t, ev->ts, &li, dur, dur, dur, false, NULL, NULL);
}

static uint64_t bn_own(const struct plw_bottleneck_ops *ops, const struct plw_node *n)
{
	return ops && ops->own ? ops->own(n) : n->self_ns;
}

static const struct plw_node *bn_graft(const struct plw_bottleneck_ops *ops,
				       const struct plw_node *n)
{
	return ops && ops->graft ? ops->graft(n) : NULL;
}

const struct plw_node *plw_tree_bottleneck_ops(const struct plw_node *root,
					       const struct plw_bottleneck_ops *ops)
{
	const struct plw_node *best = root;
	/* grafts chain trees: bound the walk against a cycle */
	bool bounded = ops && ops->graft;
	int hops = 0;

	if (!root || (!root->child && !bn_graft(ops, root)))
		return NULL;
	for (const struct plw_node *n = root; n && (!bounded || hops < PLW_TREE_DEPTH_MAX); hops++) {
		const struct plw_node *slow = bn_graft(ops, n);

		if (bn_own(ops, n) > bn_own(ops, best))
			best = n;
		for (const struct plw_node *c = n->child; c; c = c->next) {
			if (!slow || c->dur_ns > slow->dur_ns)
				slow = c;
			/* a kernel leaf beside the path, and the off-CPU
			 * intervals nested in it, count as on it (a request
			 * span, only in joined trees, is on no path) */
			if (c->site->kind == PLW_KIND_PYTHON || c->site->kind == PLW_KIND_SPAN)
				continue;
			if (bn_own(ops, c) > bn_own(ops, best))
				best = c;
			for (const struct plw_node *g = c->child; g; g = g->next)
				if (g->self_ns > bn_own(ops, best))
					best = g;
		}
		n = slow;
	}
	/* off-CPU time inside a syscall is that call's wait: the call is
	 * the bottleneck, not its blocked part */
	if (best->site->kind == PLW_KIND_OFFCPU && best->parent &&
	    best->parent->site->kind == PLW_KIND_SYSCALL)
		best = best->parent;
	return best;
}

const struct plw_node *plw_tree_bottleneck(const struct plw_node *root)
{
	return plw_tree_bottleneck_ops(root, NULL);
}

static void close_thread(struct plw_model *m, struct thread *t, uint64_t ts)
{
	while (t->depth)
		pop(m, t, ts, PLW_NODE_CUT_END);
	if (t->sv)
		span_emit(m, t, 0);
}

static void on_lost(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	m->st.lost += ev->u.lost.lost;
	for (struct thread *t = m->threads; t; t = t->next)
		for (uint32_t i = 0; i < t->depth; i++)
			t->stack[i].flags |= PLW_NODE_INCOMPLETE;
}

int plw_model_feed(struct plw_model *m, uint32_t input, const struct plw_event *ev)
{
	if (m->finished)
		return -EINVAL;
	m->st.events++;
	if (!m->st.first_ts || ev->ts < m->st.first_ts)
		m->st.first_ts = ev->ts;
	if (ev->ts > m->st.last_ts)
		m->st.last_ts = ev->ts;
	if (__builtin_expect(input >= m->nr_inputs || !m->inputs[input].has_start, 0)) {
		struct input *in = get_input(m, input);

		if (!in)
			return -ENOMEM;
		in->start = ev->ts;
		in->has_start = true;
	}
	switch (ev->type) {
	case PLW_EV_PY_ENTRY:
		return on_entry(m, input, ev);
	case PLW_EV_PY_RETURN:
		return on_return(m, input, ev);
	case PLW_EV_PY_LOC:
		return define_loc(m, input, &ev->u.loc);
	case PLW_EV_SYSCALL:
		return on_syscall(m, input, ev);
	case PLW_EV_OFFCPU:
		return on_offcpu(m, input, ev);
	case PLW_EV_FAULT:
	case PLW_EV_IO:
	case PLW_EV_IRQ:
	case PLW_EV_TLB:
		return on_kevent(m, input, ev);
	case PLW_EV_MEM:
	case PLW_EV_GIL:
	case PLW_EV_EXCEPTION:
		return on_native(m, input, ev);
	case PLW_EV_META:
		if (ev->u.meta.key && !strcmp(ev->u.meta.key, "syscall_names") && ev->u.meta.value)
			return set_sysnames(m, input, ev->u.meta.value);
		if (ev->u.meta.key && !strncmp(ev->u.meta.key, "irq.", 4) && ev->u.meta.value)
			return set_irqname(m, input, ev->u.meta.key + 4, ev->u.meta.value);
		return plw_native_meta(m->nat, input, ev->u.meta.key, ev->u.meta.value);
	case PLW_EV_PROBE:
	case PLW_REC_OTHER:
		return on_probe(m, input, ev);
	case PLW_EV_STACK:
		return on_stack_ev(m, input, ev);
	case PLW_EV_STACK_DEF:
		return plw_native_stack_def(m->nat, input, ev);
	case PLW_REC_LOST:
		on_lost(m, input, ev);
		return 0;
	case PLW_REC_EXIT: {
		/* the thread is gone: what it had open will never return */
		struct input *in = get_input(m, input);
		struct thread *t = in ? umap_get(&in->threads, (uint64_t)ev->pid << 32 | ev->tid) : NULL;

		if (!t)
			return 0;
		int err = flush_offcpu(m, t);

		close_thread(m, t, ev->ts);
		return err;
	}
	default:
		return 0;
	}
}

int plw_model_finish(struct plw_model *m, uint64_t end_ns)
{
	if (m->finished)
		return 0;
	int err = 0;

	if (!end_ns)
		end_ns = m->st.last_ts;
	for (struct thread *t = m->threads; t; t = t->next) {
		int e = flush_offcpu(m, t);

		err = err ? err : e;
		close_thread(m, t, end_ns);
	}
	m->finished = true;
	return err;
}

const struct plw_model_stats *plw_model_stats(const struct plw_model *m)
{
	return &m->st;
}

void plw_model_free(struct plw_model *m)
{
	if (!m)
		return;
	struct thread *t = m->threads;

	while (t) {
		struct thread *next = t->next;

		free(t->stack);
		plw_arena_free(t->arena);
		if (t->sv) {
			plw_arena_free(t->sv->arena);
			free(t->sv);
		}
		free(t);
		t = next;
	}
	for (uint32_t i = 0; i < m->nr_inputs; i++) {
		free(m->inputs[i].sites);
		umap_free(&m->inputs[i].sites_far);
		umap_free(&m->inputs[i].threads);
		umap_free(&m->inputs[i].idents);
		umap_free(&m->inputs[i].irqnames);
		free(m->inputs[i].sysnames);
		free(m->inputs[i].sysname);
	}
	free(m->leaf_stack);
	free(m->inputs);
	while (m->pool) {
		struct plw_arena *a = m->pool;

		m->pool = a->next_free;
		plw_arena_free(a);
	}
	umap_free(&m->named);
	plw_arena_free(m->sites);
	plw_native_free(m->nat);
	free(m);
}
