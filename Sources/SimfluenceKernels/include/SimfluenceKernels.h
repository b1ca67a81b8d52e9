#ifndef SIMFLUENCE_KERNELS_H
#define SIMFLUENCE_KERNELS_H

#include <stdint.h>

/// The lane width: test examples per vector (one per lane). Eight, so that the vectors the
/// passes gather from at random (two lane vectors per training example, 128 bytes) stay in the
/// last-level cache up to ~100,000 active training examples per thread: measured on the large
/// benchmark workload, sixteen lanes (256-byte records, 25.6 MB per vector) made every gather a
/// memory access and the passes 2-3x slower per test example.
#define SF_LANES 8

/// The inner loops of the conjugate-gradient ridge solver (`IterativeRidge` in SimfluenceCore),
/// SF_LANES test examples at a time.
///
/// Layout: a "lane vector" is SF_LANES (W) consecutive doubles, one per test example of the
/// block. Per active training example i, the unknowns are two lane vectors, B_i at [2W i, 2W i + W)
/// and A_i at [2W i + W, 2W i + 2W) of a parameter-shaped array; per design row r, losses L_{t-1}
/// are the lane vector at W r; the row sums of a product are two lane vectors at 2W r
/// (u_r, then L_{t-1} u_r). Preconditioner blocks are three lane vectors per example at 3W i
/// (the inverse 2 x 2 block's bb, ba and aa entries); a NULL preconditioner is the identity.
///
/// Arithmetic is lane-wise, in the same order for every lane and on every instruction set
/// (no floating-point contraction), so a result does not depend on which CPU features the
/// machine has, nor on the lane width: on x86-64 Linux each kernel is compiled for AVX-512,
/// AVX2 and the baseline and the loader picks one; elsewhere the baseline is used.

/// Row pass of (X^T X) v: for every row r, u_r = sum over its entries e of n_e (v_B[i_e] +
/// L_r v_A[i_e]) and ul = (u_r, L_r u_r). `count` (multiplicities n_e) may be NULL for all ones.
/// `entry_start` has rows + 1 offsets into `local` (active example per entry).
void sf_ridge_rows(long rows, const long *entry_start, const int32_t *local, const double *count,
                   const double *v, const double *lp, double *ul);

/// The row pass with the carry-over filter of the B side (the extended methods' linear-carry):
/// along each run the example B sums are filtered, c_r = sb_r at a row where `run_start[r]` is
/// non-zero and c_r = carry c_{r-1} + sb_r otherwise, and u_r = c_r + L_r sa_r; ul = (u_r, L_r u_r)
/// as in `sf_ridge_rows`.
void sf_ridge_rows_carried(long rows, const long *entry_start, const int32_t *local, const double *count,
                           const double *v, const double *lp, double carry, const uint8_t *run_start, double *ul);

/// The row pass from a single-precision copy of v, writing single-precision ul (same layouts,
/// floats for doubles): each gathered value is converted exactly to double, the sums and u are
/// computed in double and rounded to float once at the end. Half the bytes per random access;
/// the product is exact up to a relative perturbation of ~6e-8 of v and ul (see the solver's
/// mixed-precision mode).
void sf_ridge_rows_single(long rows, const long *entry_start, const int32_t *local, const double *count,
                          const float *v, const double *lp, float *ul);

/// Column pass: out_B[i] = sum over i's appearances (row r, multiplicity n) of n u_r, plus
/// lambda v_B[i]; out_A[i] likewise with L_r u_r. A half the form does not use (`uses_b`,
/// `uses_a` zero) is set to zero. When `v_dot_out` is not NULL it receives, per lane, the dot
/// product of v and out summed over examples in index order (B before A). A NULL `v` is zero:
/// out is X^T ul alone.
void sf_ridge_columns(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                      const double *ul, const double *v, double lambda, int uses_a, int uses_b,
                      double *out, double *v_dot_out);

/// The column pass from single-precision row records `ul` (converted exactly, summed in double);
/// v, out and the dot product are double, as in `sf_ridge_columns`.
void sf_ridge_columns_single(long m, const long *col_start, const int32_t *col_row, const double *col_count,
                             const float *ul, const double *v, double lambda, int uses_a, int uses_b,
                             double *out, double *v_dot_out);

/// One CG update: x += alpha p, r -= alpha q, z = M^-1 r (per example 2 x 2 blocks `pre`, or
/// z = r when `pre` is NULL),
/// and per lane rz_out = sum r.z and rr_out = sum r.r over examples in index order.
void sf_cg_update(long m, const double *alpha, double *x, double *r, const double *p, const double *q,
                  const double *pre, double *rz_out, double *rr_out);

/// The next search direction: p = M^-1 r + beta p (M = I when `pre` is NULL) in lanes whose
/// `keep` is all ones, 0 where it is 0 (a converged lane stops moving). When `p_single` is not
/// NULL it receives p rounded to float (the copy `sf_ridge_rows_single` gathers from).
void sf_cg_direction(long m, const double *beta, const int64_t *keep, const double *r, const double *pre,
                     double *p, float *p_single);

/// One step of the shifted systems of multi-shift CG (`IterativeRidge.solveShifted`). `xp` holds
/// per example i and system j (of `stride`) the solution lane vector at 2W (i stride + j) and
/// the search direction's right after it, for the form's one half (`half` 0: B, 1: A) of the
/// seed residual `r` (parameter layout). For each of the `count` systems j = shifts[s], with the
/// lane vectors alpha, zeta, beta at 3W s of `scalars`: x += alpha p, then p = zeta r + beta p.
/// Systems not listed are not touched.
void sf_cg_shift_update(long m, long half, long count, const int64_t *shifts, long stride, const double *scalars,
                        const double *r, double *xp);

/// The extended methods' shared terms (`ExtendedIterative` in SimfluenceCore), per lane: q
/// shared unknowns per side in `shared` (2q lane vectors: the B side's pooled b when `pooled`,
/// then its K = `knots` step values v_k; then the A side's a and u_k). Per row r: batch size
/// size[r], the carried batch size carried_size[r] (size[r] without carry-over), and the
/// hat-function knot k_r and weight w_r of its step (read when K > 1).

/// Adds the shared columns to the row records of a product: per row r, with
/// hv = carried_size[r] b + (1 - w_r) v_{k_r} + w_r v_{k_r + 1} (v_0 alone when K = 1) and ha
/// likewise from size[r], a and the u_k, u = ul_u[r] + hv + L_r ha and ul = (u, L_r u).
void sf_extended_rows(long rows, const double *lp, const double *size, const double *carried_size, const long *knot,
                      const double *weight, long knots, int pooled, long q, const double *shared, double *ul);

/// The shared columns' part of X^T u from row records ul = (u, L u), last row first: with
/// `run_start` (carry-over) the B side's u is replaced in ul by its reverse filter
/// U_r = u_r + carry U_{r+1} within a run (U_r = u_r at a run's last row); shared_out (2q lane
/// vectors) receives the sums over rows of size[r] U_r (b), the hat weights times u_r (v_k), of
/// size[r] L_r u_r (a) and the hat weights times L_r u_r (u_k).
void sf_extended_columns(long rows, const double *size, const long *knot, const double *weight, long knots, int pooled,
                         long q, double carry, const uint8_t *run_start, double *ul, double *shared_out);

/// Dense Cholesky factorisation L L^T = M in place (`PackedCholesky` in SimfluenceCore drives
/// it), M a symmetric positive definite matrix held as a packed lower triangle, row-major
/// (element (i, j), j <= i, at i (i + 1) / 2 + j). Left-looking and row-oriented
/// (Cholesky-Crout), in panels of SF_CHOLESKY_PANEL rows that share each pass over the earlier
/// rows: for each panel [i0, i1), `sf_packed_cholesky_rows` over its rows (split between threads
/// or not), then `sf_packed_cholesky_finish`. `inverse_diagonal` receives 1 / L[i, i]. Every
/// element of L is (M[i, j] - dot(L[i, ..<j], L[j, ..<j])) / L[j, j], the dot product summed in
/// one fixed order: the same bits on every instruction set, whatever the panels' first row and
/// however their rows are split.
#define SF_CHOLESKY_PANEL 32

/// Panel step 1: for rows [begin, end) of the panel starting at row i0, the columns below
/// i0 rounded down to a multiple of 4 (rows < i0 factored, `inverse_diagonal` filled for them).
/// Rows are independent: disjoint ranges may run on different threads.
void sf_packed_cholesky_rows(double *p, long i0, long begin, long end, const double *inverse_diagonal);

/// Panel step 2: the remaining columns and the diagonal of rows [i0, i1), row by row. Returns
/// -1, or the first row whose pivot d_i (the diagonal left after eliminating the earlier rows)
/// is not finite or not above `pivot_tolerance` times M[i, i] (the contents of `p` are then
/// unspecified).
long sf_packed_cholesky_finish(double *p, long i0, long i1, double pivot_tolerance, double *inverse_diagonal);

/// Solves L L^T x = b in place for `nrhs` right-hand sides, L the factor of `sf_packed_cholesky_*`
/// (only read, so one factor can serve many solves at once). `x` is row-major n x nrhs (b on
/// entry, x on return). Each right-hand side's arithmetic is the same whatever `nrhs` and its
/// column: solving a block of them gives, bit for bit, what solving each alone gives.
void sf_packed_solve(const double *p, long n, double *x, long nrhs);

/// M -= sum_s scale[s] x_s x_s^T for `count` vectors x_s (row-major count x n) on the packed
/// lower triangle `p` (order n, layout as in `sf_packed_cholesky_rows`): element (i, j) becomes
/// (((M[i, j] - a_0 x_0[j]) - a_1 x_1[j]) - ...) with a_s = x_s[i] scale[s], terms with a_s = 0
/// skipped, in that order. Rows [begin, end) only (disjoint ranges may run on different
/// threads), each written once.
void sf_packed_subtract_outer(double *p, long n, const double *x, const double *scale, long count, long begin, long end);

/// y = M x for `count` vectors, M symmetric held as its packed lower triangle (order n, layout as
/// in `sf_packed_cholesky_rows`), x and y row-major n x count (distinct arrays). Per vector, row
/// by row: the sum over j < i of M[i, j] x[j] in order, while M[i, j] x[i] is added to y[j]; then
/// y[i] += sum + M[i, i] x[i]. Each vector's arithmetic is the same whatever `count` and its
/// column; up to 32 vectors share each pass over M.
void sf_packed_symmetric_product(const double *p, long n, const double *x, double *y, long count);

/// The lag-kernel simulator's conjugate-gradient solver (`LagKernelIterative` in SimfluenceCore):
/// one unknown per active training example, B_i, a lane vector at W i; one lane vector per
/// design row (run r's simulated steps in order, runs one after another) at W r.
///
/// Row pass: u_r = sum over row r's entries e of weight[e] v[local[e]] (`weight` NULL: 1).
void sf_lag_rows(long rows, const long *entry_start, const int32_t *local, const double *weight,
                 const double *v, double *u);

/// Column pass: out_i = sum over example i's entries (row col_row[e], weight col_weight[e], NULL:
/// 1) of weight t_row, plus lambda v_i when `v` is not NULL, and then per lane v_dot_out = sum_i
/// v_i out_i in index order.
void sf_lag_columns(long m, const long *col_start, const int32_t *col_row, const double *col_weight,
                    const double *t, const double *v, double lambda, double *out, double *v_dot_out);

/// The lag kernel between the passes, in place on the row vectors `u` of `runs` runs (run k's
/// rows [run_row[k], run_row[k + 1])), the kernel piecewise constant: kappa(d) = weights[b] for
/// starts[b] <= d < starts[b + 1] (`bins` bins, the last open-ended). By the bits of `mode`:
/// 1, forward: x_k = sum_{s <= k} kappa(k - s) phi_s u_s along each run (phi NULL: 1);
/// 2, demean: subtract from every row the mean over its group (`group[r]`; group_scale[g] = 1 /
/// the group's rows, `groups` groups); 4, backward (the transpose of forward):
/// t_s = phi_s sum_{k >= s} kappa(k - s) x_k. Bin sums come from running sums along the run
/// (`scratch`: longest run + 1 lane vectors; `group_scratch`: `groups` lane vectors).
void sf_lag_filter(long runs, const long *run_row, long bins, const long *starts, const double *weights,
                   const double *phi, const int64_t *group, const double *group_scale, long groups,
                   double *u, double *scratch, double *group_scratch, int mode);

#endif
