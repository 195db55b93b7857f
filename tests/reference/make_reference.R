# R reference values for envejind_eval.analysis.paired (paired pre/post statistics).
#
# Run from the repository root:   Rscript tests/reference/make_reference.R
#
# 1. Crafts tests/reference/paired_input.csv with a fixed seed (only when it does not exist,
#    so the committed input stays stable): groups with ties, zero differences, n = 1, 2, 5,
#    49, 50 and 60, missing pairs, constant and all-zero differences.
# 2. Writes, per group and confidence level (0.95 and 0.90):
#      paired_reference.csv  t.test(post, pre, paired = TRUE)
#                            wilcox.test(post, pre, paired = TRUE)   (V, p, exact/normal)
#                            effectsize::cohens_d(post, pre, paired = TRUE)  (d_z and CI)
#                            dz CI by exact root finding (uniroot) of the noncentral t
#                            effectsize::rank_biserial(post, pre, paired = TRUE)
#                            rank-biserial CI by the documented formula with the number of
#                            non-zero *differences* (see docs/statistics.md)
#      paired_holm.csv       p.adjust(p, "holm") with NA values
#      paired_wilson.csv     Wilson interval: prop.test(k, n, correct = FALSE)$conf.int and
#                            the hand formula (binom is not packaged for this Debian release)
# 3. Records sessionInfo() in tests/reference/sessionInfo.txt.
#
# R and packages come from Debian: apt-get install r-base-core r-cran-effectsize.

suppressPackageStartupMessages(library(effectsize))

here <- "tests/reference"
input <- file.path(here, "paired_input.csv")

if (!file.exists(input)) {
  set.seed(20261126)
  mk <- function(group, pre, post) data.frame(group = group, pre = pre, post = post)
  likert <- function(n, lo, hi) sample(lo:hi, n, replace = TRUE)
  groups <- list(
    # continuous, no ties, no zeros -> exact p
    mk("g01_n5_exact", round(rnorm(5, 5, 1), 2), round(rnorm(5, 5.8, 1), 2)),
    # n = 60 continuous -> normal approximation (n >= 50)
    mk("g02_n60_normal", round(rnorm(60, 5, 1.5), 2), round(rnorm(60, 5.6, 1.5), 2)),
    # integer scale with ties but no zero differences
    mk("g03_ties", c(2, 3, 4, 5, 3, 2, 6, 4), c(4, 5, 5, 7, 4, 5, 8, 7)),
    # zero differences (and ties)
    mk("g04_zeros", likert(10, 1, 5), likert(10, 1, 5)),
    # missing pairs (NA in pre or post)
    mk("g05_missing", c(round(rnorm(10, 3, 1), 2), NA, 4.1), c(round(rnorm(10, 3.5, 1), 2), 3.2, NA)),
    # a single pair
    mk("g06_n1", 4, 6),
    # constant differences
    mk("g07_constant", c(1, 2, 3, 4, 5, 6), c(3, 4, 5, 6, 7, 8)),
    # boundaries of the exact Wilcoxon test
    mk("g08_n49_exact", round(rnorm(49, 0, 1), 3) + 10, round(rnorm(49, 0.3, 1), 3) + 10),
    mk("g09_n50_normal", round(rnorm(50, 0, 1), 3) + 10, round(rnorm(50, 0.3, 1), 3) + 10),
    # mostly worsening, small n, no ties
    mk("g10_worse", c(6.5, 7.25, 5.5, 8, 6.75, 7.1, 5.9), c(5.1, 6.0, 5.7, 6.2, 4.3, 7.05, 4.6)),
    # all differences zero
    mk("g11_all_zero", c(3, 4, 2, 5), c(3, 4, 2, 5)),
    # n = 2
    mk("g12_n2", c(3.5, 4.25), c(4.75, 4.0)),
    # Likert items, team-sized n = 30 with many ties and zeros
    mk("g13_likert30", likert(30, 1, 5), likert(30, 2, 5)),
    # n = 60 Likert (normal approximation with heavy ties)
    mk("g14_likert60", likert(60, 1, 10), pmin(10, likert(60, 1, 10) + 1)),
    # one zero difference only (normal approximation forced by the zero)
    mk("g15_one_zero", c(2.5, 3.1, 4.2, 1.9, 3.3, 2.2), c(3.0, 3.1, 5.0, 2.7, 2.9, 4.0)),
    # constant negative differences: effectsize 0.8.3 reports r_rb = +1 here
    mk("g16_constant_negative", c(5, 4, 6, 5), c(4, 3, 5, 4))
  )
  write.csv(do.call(rbind, groups), input, row.names = FALSE, na = "")
}

dat <- read.csv(input, stringsAsFactors = FALSE)

safe <- function(expr) tryCatch(expr, error = function(e) NULL)

ncp_root <- function(t, df, p) {
  f <- function(ncp) suppressWarnings(pt(t, df, ncp)) - p
  uniroot(f, c(t - 40, t + 40), tol = 1e-14)$root
}

rows <- list()
for (conf in c(0.95, 0.90)) {
  for (g in unique(dat$group)) {
    d <- dat[dat$group == g, ]
    ok <- complete.cases(d$pre, d$post)
    pre <- d$pre[ok]
    post <- d$post[ok]
    n <- length(pre)
    r <- list(group = g, confidence = conf, n = n, n_excluded = sum(!ok),
              mean_pre = mean(pre), mean_post = mean(post), mean_diff = mean(post - pre),
              sd_diff = if (n >= 2) sd(post - pre) else NA)
    tt <- safe(t.test(post, pre, paired = TRUE, conf.level = conf))
    if (is.null(tt) || !is.finite(tt$statistic)) {
      r[c("ci_low", "ci_high", "t_statistic", "t_df", "t_p_value")] <- NA
    } else {
      r$ci_low <- tt$conf.int[1]
      r$ci_high <- tt$conf.int[2]
      r$t_statistic <- unname(tt$statistic)
      r$t_df <- unname(tt$parameter)
      r$t_p_value <- tt$p.value
    }
    wt <- safe(suppressWarnings(wilcox.test(post, pre, paired = TRUE)))
    if (is.null(wt)) {
      r[c("wilcoxon_v", "wilcoxon_p_value", "wilcoxon_method")] <- NA
    } else {
      r$wilcoxon_v <- unname(wt$statistic)
      r$wilcoxon_p_value <- wt$p.value
      r$wilcoxon_method <- if (grepl("exact", wt$method)) "exact" else "normal_cc"
    }
    cd <- safe(suppressWarnings(cohens_d(post, pre, paired = TRUE, ci = conf, verbose = FALSE)))
    if (is.null(cd) || is.null(tt) || !is.finite(tt$statistic)) {
      r[c("cohens_dz", "dz_ci_low", "dz_ci_high", "dz_ci_low_exact", "dz_ci_high_exact")] <- NA
    } else {
      r$cohens_dz <- cd$Cohens_d
      r$dz_ci_low <- cd$CI_low
      r$dz_ci_high <- cd$CI_high
      tstat <- unname(tt$statistic)
      r$dz_ci_low_exact <- ncp_root(tstat, n - 1, (1 + conf) / 2) / sqrt(n)
      r$dz_ci_high_exact <- ncp_root(tstat, n - 1, (1 - conf) / 2) / sqrt(n)
    }
    rb <- safe(suppressWarnings(rank_biserial(post, pre, paired = TRUE, ci = conf,
                                              verbose = FALSE)))
    if (is.null(rb)) {
      r[c("rank_biserial", "rb_ci_low", "rb_ci_high")] <- NA
    } else {
      r$rank_biserial <- rb$r_rank_biserial
      r$rb_ci_low <- rb$CI_low
      r$rb_ci_high <- rb$CI_high
    }
    # documented formula on the non-zero differences (the Wilcoxon ranks)
    dd <- (post - pre)[(post - pre) != 0]
    m <- length(dd)
    if (m == 0) {
      r[c("rb_formula", "rb_ci_low_formula", "rb_ci_high_formula")] <- NA
    } else {
      rk <- rank(abs(dd))
      s <- m * (m + 1) / 2
      rr <- (sum(rk[dd > 0]) - sum(rk[dd < 0])) / s
      se <- sqrt((2 * m^3 + 3 * m^2 + m) / 6) / s
      ci <- tanh(atanh(rr) + c(-1, 1) * qnorm(1 - (1 - conf) / 2) * se)
      r$rb_formula <- rr
      r$rb_ci_low_formula <- ci[1]
      r$rb_ci_high_formula <- ci[2]
    }
    rows[[length(rows) + 1]] <- as.data.frame(r, stringsAsFactors = FALSE)
  }
}
ref <- do.call(rbind, rows)
write.csv(ref, file.path(here, "paired_reference.csv"), row.names = FALSE, na = "")

# Holm ----------------------------------------------------------------------------------
holm_sets <- list(
  a = c(0.01, 0.04, 0.03, 0.005, NA, 0.2),
  b = c(0.5, 0.5, 0.01),
  c = c(NA, NA),
  d = c(0.049)
)
holm <- do.call(rbind, lapply(names(holm_sets), function(s) {
  p <- holm_sets[[s]]
  data.frame(set = s, i = seq_along(p), p = p, p_holm = p.adjust(p, "holm"))
}))
write.csv(holm, file.path(here, "paired_holm.csv"), row.names = FALSE, na = "")

# Wilson --------------------------------------------------------------------------------
wk <- expand.grid(k = c(0, 1, 3, 5, 8), n = c(8, 30), confidence = c(0.95, 0.9))
wk <- wk[wk$k <= wk$n, ]
wil <- do.call(rbind, lapply(seq_len(nrow(wk)), function(i) {
  k <- wk$k[i]; n <- wk$n[i]; conf <- wk$confidence[i]
  pt_ci <- suppressWarnings(prop.test(k, n, correct = FALSE, conf.level = conf))$conf.int
  z <- qnorm(1 - (1 - conf) / 2)
  centre <- (k + z^2 / 2) / (n + z^2)
  half <- z / (n + z^2) * sqrt(k * (n - k) / n + z^2 / 4)
  data.frame(k = k, n = n, confidence = conf, low = pt_ci[1], high = pt_ci[2],
             low_formula = centre - half, high_formula = centre + half)
}))
write.csv(wil, file.path(here, "paired_wilson.csv"), row.names = FALSE, na = "")

writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
