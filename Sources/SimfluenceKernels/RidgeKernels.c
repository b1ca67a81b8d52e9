#include "SimfluenceKernels.h"

// Lane-wise IEEE arithmetic in source order: no fused multiply-add, so every instruction set
// gives the same bits.
#pragma clang fp contract(off)

#include "KernelLanes.h"

/// Adds weight x half `half` (0 or 1) of record `i` of `src` to *sum, as doubles: records of 2W
/// doubles, or with `single` of 2W floats (converted exactly). No weight (`weighted` 0) adds the
/// record itself. (Pointers rather than vector values: the baseline clone has no 64-byte
/// vector registers to pass them in.)
static inline __attribute__((always_inline))
void add_record(lanes *sum, const void *src, long i, long half, int single, int weighted, double weight) {
    lanes x = single ? __builtin_convertvector(*(const flanes *)((const float *)src + 2 * W * i + W * half), lanes)
                     : LOAD((const double *)src + 2 * W * i + W * half);
    *sum += weighted ? weight * x : x;
}

/// Sums the records of `src` at index[e] (two lane vectors each) over e in [start, end),
/// weighted by weight[e] unless `weight` is NULL, in doubles. Unweighted sums keep two partial
/// sums (even and odd entries, added at the end), which halves the dependency chain.
static inline __attribute__((always_inline))
void gather_pairs(long start, long end, const int32_t *index, const double *weight, const void *src, int single,
                  lanes *first, lanes *second) {
    lanes s1 = {0}, s2 = {0};
    if (weight) {
        for (long e = start; e < end; e++) {
            long i = index[e];
            double n = weight[e];
            add_record(&s1, src, i, 0, single, 1, n);
            add_record(&s2, src, i, 1, single, 1, n);
        }
    } else {
        lanes t1 = {0}, t2 = {0};
        long e = start;
        for (; e + 1 < end; e += 2) {
            long i = index[e], j = index[e + 1];
            add_record(&s1, src, i, 0, single, 0, 0);
            add_record(&s2, src, i, 1, single, 0, 0);
            add_record(&t1, src, j, 0, single, 0, 0);
            add_record(&t2, src, j, 1, single, 0, 0);
        }
        if (e < end) {
            long i = index[e];
            add_record(&s1, src, i, 0, single, 0, 0);
            add_record(&s2, src, i, 1, single, 0, 0);
        }
        s1 += t1;
        s2 += t2;
    }
    *first = s1;
    *second = s2;
}

static inline __attribute__((always_inline))
void ridge_rows(long rows, const long *entry_start, const int32_t *local, const double *count,
                const void *v, const double *lp, double carry, const uint8_t *run_start, void *ul, int single) {
    lanes carried = {0};
    for (long r = 0; r < rows; r++) {
        lanes sb, sa;
        gather_pairs(entry_start[r], entry_start[r + 1], local, count, v, single, &sb, &sa);
        if (run_start) {
            carried = run_start[r] ? sb : carry * carried + sb;
            sb = carried;
        }
        lanes l = LOAD(lp + W * r);
        lanes u = sb + l * sa;
        lanes lu = l * u;
        if (single) {
            float *o = (float *)ul + 2 * W * r;
            *(flanes *)o = __builtin_convertvector(u, flanes);
            *(flanes *)(o + W) = __builtin_convertvector(lu, flanes);
        } else {
            STORE((double *)ul + 2 * W * r, u);
            STORE((double *)ul + 2 * W * r + W, lu);
        }
    }
}

MULTIVERSION
void sf_ridge_rows(long rows, const long *entry_start, const int32_t *local, const double *count,
                   const double *v, const double *lp, double *ul) {
    ridge_rows(rows, entry_start, local, count, v, lp, 0, 0, ul, 0);
}

MULTIVERSION
void sf_ridge_rows_carried(long rows, const long *entry_start, const int32_t *local, const double *count,
                           const double *v, const double *lp, double carry, const uint8_t *run_start, double *ul) {
    ridge_rows(rows, entry_start, local, count, v, lp, carry, run_start, ul, 0);
}

MULTIVERSION
void sf_ridge_rows_single(long rows, const long *entry_start, const int32_t *local, const double *count,
                          const float *v, const double *lp, float *ul) {
    ridge_rows(rows, entry_start, local, count, v, lp, 0, 0, ul, 1);
}

static inline __attribute__((always_inline))
void ridge_columns(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                   const void *ul, int single, const double *v, double lambda, int uses_a, int uses_b,
                   double *out, double *v_dot_out) {
    lanes dot = {0}, zero = {0};
    for (long i = 0; i < m; i++) {
        lanes qb, qa;
        gather_pairs(col_start[i], col_start[i + 1], col_row, col_count, ul, single, &qb, &qa);
        lanes vb = zero, va = zero;
        if (v) {
            vb = LOAD(v + 2 * W * i);
            va = LOAD(v + 2 * W * i + W);
            qb += lambda * vb;
            qa += lambda * va;
        }
        lanes ob = uses_b ? qb : zero;
        lanes oa = uses_a ? qa : zero;
        STORE(out + 2 * W * i, ob);
        STORE(out + 2 * W * i + W, oa);
        if (v_dot_out) {
            dot += vb * ob;
            dot += va * oa;
        }
    }
    if (v_dot_out) STORE(v_dot_out, dot);
}

MULTIVERSION
void sf_ridge_columns(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                      const double *ul, const double *v, double lambda, int uses_a, int uses_b,
                      double *out, double *v_dot_out) {
    ridge_columns(m, col_start, col_row, col_count, ul, 0, v, lambda, uses_a, uses_b, out, v_dot_out);
}

MULTIVERSION
void sf_ridge_columns_single(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                             const float *ul, const double *v, double lambda, int uses_a, int uses_b,
                             double *out, double *v_dot_out) {
    ridge_columns(m, col_start, col_row, col_count, ul, 1, v, lambda, uses_a, uses_b, out, v_dot_out);
}

/// z = M^-1 r for example i: its 2 x 2 block (bb, ba, aa) at pre + 3W i, or z = r without `pre`.
static inline __attribute__((always_inline))
void precondition(const double *pre, long i, const lanes *rb, const lanes *ra, lanes *zb, lanes *za) {
    if (pre) {
        lanes a = LOAD(pre + 3 * W * i), b = LOAD(pre + 3 * W * i + W), c = LOAD(pre + 3 * W * i + 2 * W);
        *zb = a * *rb + b * *ra;
        *za = b * *rb + c * *ra;
    } else {
        *zb = *rb;
        *za = *ra;
    }
}

MULTIVERSION
void sf_cg_update(long m, const double *alpha, double *x, double *r, const double *p, const double *q,
                  const double *pre, double *rz_out, double *rr_out) {
    lanes al = LOAD(alpha), rz = {0}, rr = {0};
    for (long i = 0; i < m; i++) {
        long o = 2 * W * i;
        STORE(x + o, LOAD(x + o) + al * LOAD(p + o));
        STORE(x + o + W, LOAD(x + o + W) + al * LOAD(p + o + W));
        lanes rb = LOAD(r + o) - al * LOAD(q + o);
        lanes ra = LOAD(r + o + W) - al * LOAD(q + o + W);
        STORE(r + o, rb);
        STORE(r + o + W, ra);
        lanes zb, za;
        precondition(pre, i, &rb, &ra, &zb, &za);
        rz += rb * zb + ra * za;
        rr += rb * rb + ra * ra;
    }
    STORE(rz_out, rz);
    STORE(rr_out, rr);
}

MULTIVERSION
void sf_cg_direction(long m, const double *beta, const int64_t *keep, const double *r, const double *pre,
                     double *p, float *p_single) {
    lanes be = LOAD(beta);
    mask k = *(const mask *)keep;
    for (long i = 0; i < m; i++) {
        long o = 2 * W * i;
        lanes rb = LOAD(r + o), ra = LOAD(r + o + W), zb, za;
        precondition(pre, i, &rb, &ra, &zb, &za);
        lanes pb = zb + be * LOAD(p + o);
        lanes pa = za + be * LOAD(p + o + W);
        pb = (lanes)((mask)pb & k);
        pa = (lanes)((mask)pa & k);
        STORE(p + o, pb);
        STORE(p + o + W, pa);
        if (p_single) {
            *(flanes *)(p_single + o) = __builtin_convertvector(pb, flanes);
            *(flanes *)(p_single + o + W) = __builtin_convertvector(pa, flanes);
        }
    }
}

MULTIVERSION
void sf_cg_shift_update(long m, long half, long count, const int64_t *shifts, long stride, const double *scalars,
                        const double *r, double *xp) {
    for (long i = 0; i < m; i++) {
        lanes ri = LOAD(r + 2 * W * i + W * half);
        for (long s = 0; s < count; s++) {
            double *x = xp + 2 * W * (i * stride + shifts[s]), *p = x + W;
            lanes pi = LOAD(p);
            STORE(x, LOAD(x) + LOAD(scalars + 3 * W * s) * pi);
            STORE(p, LOAD(scalars + 3 * W * s + W) * ri + LOAD(scalars + 3 * W * s + 2 * W) * pi);
        }
    }
}
