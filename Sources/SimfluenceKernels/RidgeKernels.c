#include "SimfluenceKernels.h"

// Lane-wise IEEE arithmetic in source order: no fused multiply-add, so every instruction set
// gives the same bits.
#pragma clang fp contract(off)

typedef double lanes __attribute__((vector_size(128), aligned(8)));
typedef int64_t mask __attribute__((vector_size(128), aligned(8)));

#if defined(__linux__) && defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

#define LOAD(p) (*(const lanes *)(p))
#define STORE(p, x) (*(lanes *)(p) = (x))

/// Sums the 256-byte records src[32 index[e]] (two lane vectors each) over e in [start, end),
/// weighted by weight[e] unless `weight` is NULL. Unweighted sums keep two partial sums (even
/// and odd entries, added at the end), which halves the dependency chain of the accumulation.
static inline __attribute__((always_inline))
void gather_pairs(long start, long end, const int32_t *index, const double *weight, const double *src,
                  lanes *first, lanes *second) {
    lanes s1 = {0}, s2 = {0};
    if (weight) {
        for (long e = start; e < end; e++) {
            const double *x = src + 32 * (long)index[e];
            double n = weight[e];
            s1 += n * LOAD(x);
            s2 += n * LOAD(x + 16);
        }
    } else {
        lanes t1 = {0}, t2 = {0};
        long e = start;
        for (; e + 1 < end; e += 2) {
            const double *x = src + 32 * (long)index[e], *y = src + 32 * (long)index[e + 1];
            s1 += LOAD(x);
            s2 += LOAD(x + 16);
            t1 += LOAD(y);
            t2 += LOAD(y + 16);
        }
        if (e < end) {
            const double *x = src + 32 * (long)index[e];
            s1 += LOAD(x);
            s2 += LOAD(x + 16);
        }
        s1 += t1;
        s2 += t2;
    }
    *first = s1;
    *second = s2;
}

MULTIVERSION
void sf_ridge_rows(long rows, const long *entry_start, const int32_t *local, const double *count,
                   const double *v, const double *lp, double *ul) {
    for (long r = 0; r < rows; r++) {
        lanes sb, sa;
        gather_pairs(entry_start[r], entry_start[r + 1], local, count, v, &sb, &sa);
        lanes l = LOAD(lp + 16 * r);
        lanes u = sb + l * sa;
        STORE(ul + 32 * r, u);
        STORE(ul + 32 * r + 16, l * u);
    }
}

MULTIVERSION
void sf_ridge_columns(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                      const double *ul, const double *v, double lambda, int uses_a, int uses_b,
                      double *out, double *v_dot_out) {
    lanes dot = {0}, zero = {0};
    for (long i = 0; i < m; i++) {
        lanes qb, qa;
        gather_pairs(col_start[i], col_start[i + 1], col_row, col_count, ul, &qb, &qa);
        lanes vb = LOAD(v + 32 * i), va = LOAD(v + 32 * i + 16);
        lanes ob = uses_b ? qb + lambda * vb : zero;
        lanes oa = uses_a ? qa + lambda * va : zero;
        STORE(out + 32 * i, ob);
        STORE(out + 32 * i + 16, oa);
        if (v_dot_out) {
            dot += vb * ob;
            dot += va * oa;
        }
    }
    if (v_dot_out) STORE(v_dot_out, dot);
}

MULTIVERSION
void sf_cg_update(long m, const double *alpha, double *x, double *r, const double *p, const double *q,
                  const double *pre, double *rz_out, double *rr_out) {
    lanes al = LOAD(alpha), rz = {0}, rr = {0};
    for (long i = 0; i < m; i++) {
        long o = 32 * i;
        STORE(x + o, LOAD(x + o) + al * LOAD(p + o));
        STORE(x + o + 16, LOAD(x + o + 16) + al * LOAD(p + o + 16));
        lanes rb = LOAD(r + o) - al * LOAD(q + o);
        lanes ra = LOAD(r + o + 16) - al * LOAD(q + o + 16);
        STORE(r + o, rb);
        STORE(r + o + 16, ra);
        lanes a = LOAD(pre + 48 * i), b = LOAD(pre + 48 * i + 16), c = LOAD(pre + 48 * i + 32);
        lanes zb = a * rb + b * ra, za = b * rb + c * ra;
        rz += rb * zb + ra * za;
        rr += rb * rb + ra * ra;
    }
    STORE(rz_out, rz);
    STORE(rr_out, rr);
}

MULTIVERSION
void sf_cg_direction(long m, const double *beta, const int64_t *keep, const double *r, const double *pre,
                     double *p) {
    lanes be = LOAD(beta);
    mask k = *(const mask *)keep;
    for (long i = 0; i < m; i++) {
        long o = 32 * i;
        lanes rb = LOAD(r + o), ra = LOAD(r + o + 16);
        lanes a = LOAD(pre + 48 * i), b = LOAD(pre + 48 * i + 16), c = LOAD(pre + 48 * i + 32);
        lanes pb = (a * rb + b * ra) + be * LOAD(p + o);
        lanes pa = (b * rb + c * ra) + be * LOAD(p + o + 16);
        STORE(p + o, (lanes)((mask)pb & k));
        STORE(p + o + 16, (lanes)((mask)pa & k));
    }
}
