#include "SimfluenceKernels.h"

// IEEE arithmetic in source order: no fused multiply-add, so every instruction set gives the
// same bits.
#pragma clang fp contract(off)

#include <math.h>
#include "KernelLanes.h"

static inline long row_start(long i) { return (i * (i + 1)) >> 1; }

/// The W partial sums of a lane-vector accumulator (lane l holding the terms k = l mod W), added
/// in one fixed order. (A macro, not a function: the baseline clone has no 64-byte vector
/// registers to pass a vector in.)
#define REDUCE(c) ((((c)[0] + (c)[1]) + ((c)[2] + (c)[3])) + (((c)[4] + (c)[5]) + ((c)[6] + (c)[7])))

/// sum_{k < len} a[k] b[k]: W partial sums over k mod W for k below len rounded down to a
/// multiple of W, reduced, then the remaining terms in order. The order depends only on `len`.
static inline __attribute__((always_inline)) double dot(const double *a, const double *b, long len) {
    lanes c = {0};
    long k = 0;
    for (; k + W <= len; k += W) c += LOAD(a + k) * LOAD(b + k);
    double s = REDUCE(c);
    for (; k < len; k++) s += a[k] * b[k];
    return s;
}

/// Completes L[r, j..<j+4] of row r from its prefix dot products s (over k < j, j a multiple of
/// 4, summed as `dot` sums them): adds the triangular tail in order and divides by the diagonal,
/// so that every element is exactly (r[j] - dot(r, row j, j)) * inv[j], however it is reached.
static inline __attribute__((always_inline))
void finish4(double *r, const double s[4], const double *b1, const double *b2, const double *b3,
             const double *inv, long j) {
    double x0 = (r[j] - s[0]) * inv[j];
    r[j] = x0;
    double x1 = (r[j + 1] - (s[1] + x0 * b1[j])) * inv[j + 1];
    r[j + 1] = x1;
    double x2 = (r[j + 2] - ((s[2] + x0 * b2[j]) + x1 * b2[j + 1])) * inv[j + 2];
    r[j + 2] = x2;
    double x3 = (r[j + 3] - (((s[3] + x0 * b3[j]) + x1 * b3[j + 1]) + x2 * b3[j + 2])) * inv[j + 3];
    r[j + 3] = x3;
}

/// Prefix dot products (k < len, len a multiple of 4) of rows a0..a3 with rows b0..b3, each
/// summed exactly as `dot` sums it. 16 accumulators (4 x 4 lane vectors) stay in registers with
/// AVX-512; with only AVX2's 16 registers this runs about 10% slower than a 2 x 4 kernel, with
/// AVX-512 1.4x faster (measured side by side; the same bits either way).
static inline __attribute__((always_inline))
void kernel4x4(const double *a0, const double *a1, const double *a2, const double *a3,
               const double *b0, const double *b1, const double *b2, const double *b3, long len, double s[4][4]) {
    lanes c[4][4];
    for (int u = 0; u < 4; u++) for (int v = 0; v < 4; v++) c[u][v] = (lanes){0};
    long k = 0;
    for (; k + W <= len; k += W) {
        lanes y0 = LOAD(b0 + k), y1 = LOAD(b1 + k), y2 = LOAD(b2 + k), y3 = LOAD(b3 + k);
        lanes x;
        x = LOAD(a0 + k); c[0][0] += x * y0; c[0][1] += x * y1; c[0][2] += x * y2; c[0][3] += x * y3;
        x = LOAD(a1 + k); c[1][0] += x * y0; c[1][1] += x * y1; c[1][2] += x * y2; c[1][3] += x * y3;
        x = LOAD(a2 + k); c[2][0] += x * y0; c[2][1] += x * y1; c[2][2] += x * y2; c[2][3] += x * y3;
        x = LOAD(a3 + k); c[3][0] += x * y0; c[3][1] += x * y1; c[3][2] += x * y2; c[3][3] += x * y3;
    }
    const double *a[4] = {a0, a1, a2, a3};
    for (int u = 0; u < 4; u++) {
        s[u][0] = REDUCE(c[u][0]); s[u][1] = REDUCE(c[u][1]); s[u][2] = REDUCE(c[u][2]); s[u][3] = REDUCE(c[u][3]);
    }
    for (; k < len; k++) {
        for (int u = 0; u < 4; u++) {
            s[u][0] += a[u][k] * b0[k]; s[u][1] += a[u][k] * b1[k]; s[u][2] += a[u][k] * b2[k]; s[u][3] += a[u][k] * b3[k];
        }
    }
}

MULTIVERSION
void sf_packed_cholesky_rows(double *p, long i0, long begin, long end, const double *inv) {
    // Columns of whole blocks of four below the panel: every row against the same four finished
    // rows, four rows at a time (a last group of fewer repeats its last row in the kernel and
    // keeps only its own rows' results).
    long jb = i0 & ~3L;
    for (long j = 0; j < jb; j += 4) {
        const double *b0 = p + row_start(j), *b1 = p + row_start(j + 1);
        const double *b2 = p + row_start(j + 2), *b3 = p + row_start(j + 3);
        double s[4][4];
        for (long i = begin; i < end; i += 4) {
            long rows = end - i < 4 ? end - i : 4;
            double *r[4];
            for (long u = 0; u < 4; u++) r[u] = p + row_start(i + (u < rows ? u : rows - 1));
            kernel4x4(r[0], r[1], r[2], r[3], b0, b1, b2, b3, j, s);
            for (long u = 0; u < rows; u++) finish4(r[u], s[u], b1, b2, b3, inv, j);
        }
    }
}

MULTIVERSION
long sf_packed_cholesky_finish(double *p, long i0, long i1, double pivot_tolerance, double *inv) {
    long jb = i0 & ~3L;
    for (long i = i0; i < i1; i++) {
        double *r = p + row_start(i);
        for (long j = jb; j < i; j++) r[j] = (r[j] - dot(r, p + row_start(j), j)) * inv[j];
        double a = r[i], d = a - dot(r, r, i);
        if (!(a > 0) || !(d > pivot_tolerance * a) || !isfinite(d)) return i;
        r[i] = sqrt(d);
        inv[i] = 1 / r[i];
    }
    return -1;
}

/// Up to this many right-hand sides share one pass over the factor (four lane vectors: x is 256
/// bytes per unknown, 1.3 MB at 5,000 unknowns, so it stays in cache while the factor streams).
#define RHS_BLOCK (4 * W)

/// Forward and backward substitution for the `w` (<= RHS_BLOCK) right-hand sides at x, rows
/// `stride` doubles apart: whole lane vectors of them lane-wise, the rest one by one, with the
/// same operations per right-hand side either way (two partial sums over even and odd k in the
/// forward pass, added last).
static inline __attribute__((always_inline)) void solve_chunk(const double *p, long n, double *x, long stride, long w) {
    long vectors = w / W, rest = w - vectors * W;
    for (long i = 0; i < n; i++) {
        const double *r = p + row_start(i);
        for (long v = 0; v < vectors; v++) {
            double *xv = x + W * v;
            lanes even = {0}, odd = {0};
            long k = 0;
            for (; k + 2 <= i; k += 2) {
                even += r[k] * LOAD(xv + stride * k);
                odd += r[k + 1] * LOAD(xv + stride * (k + 1));
            }
            if (k < i) even += r[k] * LOAD(xv + stride * k);
            STORE(xv + stride * i, (LOAD(xv + stride * i) - (even + odd)) / r[i]);
        }
        if (rest) {
            double *xr = x + W * vectors;
            double even[W] = {0}, odd[W] = {0};
            long k = 0;
            for (; k + 2 <= i; k += 2) {
                const double *x0 = xr + k * stride, *x1 = x0 + stride;
                for (long c = 0; c < rest; c++) { even[c] += r[k] * x0[c]; odd[c] += r[k + 1] * x1[c]; }
            }
            if (k < i) {
                const double *x0 = xr + k * stride;
                for (long c = 0; c < rest; c++) even[c] += r[k] * x0[c];
            }
            double *xi = xr + i * stride;
            for (long c = 0; c < rest; c++) xi[c] = (xi[c] - (even[c] + odd[c])) / r[i];
        }
    }
    for (long i = n - 1; i >= 0; i--) {
        const double *r = p + row_start(i);
        for (long v = 0; v < vectors; v++) {
            double *xv = x + W * v;
            lanes xi = LOAD(xv + stride * i) / r[i];
            STORE(xv + stride * i, xi);
            for (long k = 0; k < i; k++) STORE(xv + stride * k, LOAD(xv + stride * k) - r[k] * xi);
        }
        if (rest) {
            double *xr = x + W * vectors, *xi = xr + i * stride;
            for (long c = 0; c < rest; c++) xi[c] /= r[i];
            for (long k = 0; k < i; k++) {
                double *xk = xr + k * stride;
                for (long c = 0; c < rest; c++) xk[c] -= r[k] * xi[c];
            }
        }
    }
}

MULTIVERSION
void sf_packed_solve(const double *p, long n, double *x, long nrhs) {
    for (long c0 = 0; c0 < nrhs; c0 += RHS_BLOCK) {
        long w = nrhs - c0 < RHS_BLOCK ? nrhs - c0 : RHS_BLOCK;
        solve_chunk(p, n, x + c0, nrhs, w);
    }
}

MULTIVERSION
void sf_packed_subtract_outer(double *p, long n, const double *x, const double *scale, long count, long begin, long end) {
    for (long i = begin; i < end; i++) {
        double *r = p + row_start(i);
        for (long s = 0; s < count; s++) {
            const double *xs = x + s * n;
            double a = xs[i] * scale[s];
            if (a == 0) continue;
            for (long j = 0; j <= i; j++) r[j] -= a * xs[j];
        }
    }
}

/// y = M x for the `w` (<= RHS_BLOCK) vectors at x (rows `stride` doubles apart, results at y with
/// the same layout): per row i, the sum over j < i of M[i, j] x_j in order, while x_i scatters
/// into y_j; then M[i, i] x_i. Lane-wise for whole lane vectors, one by one for the rest, the same
/// operations per vector either way.
static inline __attribute__((always_inline))
void symv_chunk(const double *p, long n, const double *x, double *y, long stride, long w) {
    long vectors = w / W, rest = w - vectors * W;
    for (long i = 0; i < n; i++)
        for (long c = 0; c < w; c++) y[i * stride + c] = 0;
    for (long i = 0; i < n; i++) {
        const double *r = p + row_start(i);
        for (long v = 0; v < vectors; v++) {
            const double *xv = x + W * v;
            double *yv = y + W * v;
            lanes sum = {0}, xi = LOAD(xv + stride * i);
            for (long j = 0; j < i; j++) {
                sum += r[j] * LOAD(xv + stride * j);
                STORE(yv + stride * j, LOAD(yv + stride * j) + r[j] * xi);
            }
            STORE(yv + stride * i, LOAD(yv + stride * i) + (sum + r[i] * xi));
        }
        for (long c = W * vectors; c < W * vectors + rest; c++) {
            double sum = 0, xi = x[stride * i + c];
            for (long j = 0; j < i; j++) {
                sum += r[j] * x[stride * j + c];
                y[stride * j + c] += r[j] * xi;
            }
            y[stride * i + c] += sum + r[i] * xi;
        }
    }
}

MULTIVERSION
void sf_packed_symmetric_product(const double *p, long n, const double *x, double *y, long count) {
    for (long c0 = 0; c0 < count; c0 += RHS_BLOCK) {
        long w = count - c0 < RHS_BLOCK ? count - c0 : RHS_BLOCK;
        symv_chunk(p, n, x + c0, y + c0, count, w);
    }
}
