# Reference values for tests/test_models.py, tests/test_meta.py and tests/test_missing.py.
#
# Inputs (committed, written by make_models_input.py):
#   models_input.csv        long scores: participant_id, cohort_id, municipality, timepoint, score
#   models_boundary_input.csv  the same for two simulated programmes (case), fitted separately
#   rhythm_input.csv        weekly values of the sample: participant_id, week, y, measure
#   meta_input.csv          case, study, yi, vi
#   models_mh_input.csv     case, pre, post (paired ordinal answers)
#   models_rubin_input.csv  case, imputation, n, q, u (completed-data estimates)
# Outputs (committed; the tests read them, so CI needs no R):
#   models_lmer_fixed.csv, models_lmer_varcomp.csv   lme4::lmer (df, t, p: lmerTest, Satterthwaite)
#   rhythm_lmer.csv                                  lme4::lmer, daily_rhythm's group trend
#   meta_effects.csv, meta_rma.csv                   metafor::escalc / metafor::rma
#   models_mh.csv                                    coin::mh_test
#   models_rubin.csv                                 mice::pool.scalar
#   sessionInfo_models.txt
#
# Run from the repository root:  Rscript tests/reference/make_reference_models.R
# R and packages from Debian: r-base-core r-cran-lme4 r-cran-lmertest r-cran-metafor r-cran-coin
# r-cran-mice

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)  # its lmer() is lme4's fit plus Satterthwaite df in summary()
  library(metafor)
  library(coin)
  library(mice)
})

ref <- "tests/reference"
rd <- function(f) read.csv(file.path(ref, f), encoding = "UTF-8", stringsAsFactors = FALSE)
wr <- function(x, f) write.csv(x, file.path(ref, f), row.names = FALSE, fileEncoding = "UTF-8")
options(digits = 17)

# ---- mixed models ----------------------------------------------------------------------
d <- rd("models_input.csv")
munis <- sort(unique(d$municipality))

# R coefficient name -> patsy name used by envejind_eval (C(x)[T.level], ':' for interactions)
patsy_term <- function(term) {
  if (term == "(Intercept)") return("Intercept")
  parts <- strsplit(term, ":", fixed = TRUE)[[1]]
  parts <- vapply(parts, function(p) {
    for (v in c("timepoint", "municipality")) {
      if (startsWith(p, v)) return(sprintf("C(%s)[T.%s]", v, substring(p, nchar(v) + 1)))
    }
    stop("unexpected term ", p)
  }, character(1))
  paste(parts, collapse = ":")
}

fits <- list(
  three_timepoints = list(tps = c("baseline", "midway", "end"), reml = TRUE),
  two_timepoints = list(tps = c("baseline", "end"), reml = TRUE),
  three_timepoints_ml = list(tps = c("baseline", "midway", "end"), reml = FALSE),
  # two teams in one municipality: the team variance is at the boundary (singular fit)
  aalborg_singular = list(tps = c("baseline", "end"), reml = TRUE, munis = "Aalborg",
                          formula = score ~ timepoint + (1 | cohort_id/participant_id))
)
# lmer at a tight optimum; fixed effects with lmerTest's Satterthwaite df, and variances
ref_fit <- function(name, formula, dd, reml) {
  m <- lmer(formula, data = dd, REML = reml,
            control = lmerControl(optimizer = "bobyqa",
                                  optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10, maxfun = 1e5)))
  cf <- summary(m, ddf = "Satterthwaite")$coefficients
  vc <- as.data.frame(VarCorr(m))
  list(
    fixed = data.frame(
      fit = name,
      term = vapply(rownames(cf), patsy_term, character(1)),
      estimate = cf[, "Estimate"],
      std_error = cf[, "Std. Error"],
      df = cf[, "df"],
      t_value = cf[, "t value"],
      p_value = cf[, "Pr(>|t|)"]
    ),
    vc = data.frame(
      fit = name,
      component = c("participant_id:cohort_id" = "participant", cohort_id = "team",
                    Residual = "residual")[vc$grp],
      variance = vc$vcov,
      loglik = as.numeric(logLik(m))
    )
  )
}

fixed <- list()
vcs <- list()
for (name in names(fits)) {
  f <- fits[[name]]
  dd <- d[d$timepoint %in% f$tps, ]
  if (!is.null(f$munis)) dd <- dd[dd$municipality %in% f$munis, ]
  dd$timepoint <- factor(dd$timepoint, levels = f$tps)
  dd$municipality <- factor(dd$municipality, levels = munis)
  if (is.null(f$formula))
    f$formula <- score ~ timepoint * municipality + (1 | cohort_id/participant_id)
  r <- ref_fit(name, f$formula, dd, f$reml)
  fixed[[name]] <- r$fixed
  vcs[[name]] <- r$vc
}
# simulated programmes where a variance belongs at (or near) the boundary
b <- rd("models_boundary_input.csv")
for (name in unique(b$case)) {
  dd <- b[b$case == name, ]
  dd$timepoint <- factor(dd$timepoint, levels = c("baseline", "end"))
  dd$municipality <- factor(dd$municipality, levels = sort(unique(dd$municipality)))
  r <- ref_fit(name, score ~ timepoint + municipality + (1 | cohort_id/participant_id), dd, TRUE)
  fixed[[name]] <- r$fixed
  vcs[[name]] <- r$vc
}
wr(do.call(rbind, fixed), "models_lmer_fixed.csv")

# ---- daily_rhythm's group trend: y ~ week + (1 + week | participant) ----------------------
rh <- rd("rhythm_input.csv")
trend <- list()
for (ms in unique(rh$measure)) {
  x <- rh[rh$measure == ms, ]
  weeks <- tapply(x$week, x$participant_id, function(w) length(unique(w)))
  x <- x[x$participant_id %in% names(weeks)[weeks >= 2], ]
  m <- lmer(y ~ week + (1 + week | participant_id), data = x, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa",
                                  optCtrl = list(rhobeg = 2e-4, rhoend = 2e-10, maxfun = 1e5)))
  cf <- summary(m)$coefficients
  trend[[ms]] <- data.frame(measure = ms, term = c("intercept", "week"),
                            estimate = cf[, "Estimate"], se = cf[, "Std. Error"],
                            loglik = as.numeric(logLik(m)))
}
wr(do.call(rbind, trend), "rhythm_lmer.csv")
wr(do.call(rbind, vcs), "models_lmer_varcomp.csv")

# ---- municipality comparison: per-municipality effects from models_input, then rma ------
w <- reshape(d[d$timepoint %in% c("baseline", "end"), c("participant_id", "municipality",
                                                            "timepoint", "score")],
             idvar = c("participant_id", "municipality"), timevar = "timepoint",
             direction = "wide")
w <- w[complete.cases(w), ]
eff <- list()
for (mu in munis) {
  x <- w[w$municipality == mu, ]
  dif <- x$score.end - x$score.baseline
  n <- nrow(x)
  smcc <- escalc(measure = "SMCC", m1i = mean(x$score.end), m2i = mean(x$score.baseline),
                 sd1i = sd(x$score.end), sd2i = sd(x$score.baseline),
                 ri = cor(x$score.end, x$score.baseline), ni = n)
  dz <- mean(dif) / sd(dif)
  eff[[mu]] <- data.frame(
    municipality = mu, n = n,
    case = c("input_mean_diff", "input_dz", "input_gz"),
    yi = c(mean(dif), dz, smcc$yi),
    vi = c(var(dif) / n, 1 / n + dz^2 / (2 * n), smcc$vi)
  )
}
eff <- do.call(rbind, eff)
wr(eff, "meta_effects.csv")

mi <- rd("meta_input.csv")
cases <- rbind(mi[, c("case", "yi", "vi")], eff[, c("case", "yi", "vi")])
out <- list()
for (cs in unique(cases$case)) {
  x <- cases[cases$case == cs, ]
  for (meth in c("DL", "REML")) {
    r <- rma(yi, vi, data = x, method = meth,
             control = list(threshold = 1e-12, maxiter = 1000))
    out[[paste(cs, meth)]] <- data.frame(
      case = cs, method = tolower(meth), k = r$k,
      estimate = as.numeric(r$beta), se = r$se, zval = r$zval, pval = r$pval,
      ci_lb = r$ci.lb, ci_ub = r$ci.ub, tau2 = r$tau2, i2 = r$I2, h2 = r$H2,
      q = r$QE, q_df = r$k - 1, q_p = r$QEp
    )
  }
}
wr(do.call(rbind, out), "meta_rma.csv")

# ---- marginal homogeneity -----------------------------------------------------------------
mh <- rd("models_mh_input.csv")
res <- list()
for (cs in unique(mh$case)) {
  x <- mh[mh$case == cs, ]
  lev <- sort(unique(c(x$pre, x$post)))
  tab <- table(factor(x$pre, levels = lev), factor(x$post, levels = lev))
  t <- mh_test(tab)
  res[[cs]] <- data.frame(case = cs, n = nrow(x), statistic = as.numeric(statistic(t)),
                          df = as.numeric(t@statistic@df), p_value = as.numeric(pvalue(t)))
}
wr(do.call(rbind, res), "models_mh.csv")

# ---- Rubin's rules ------------------------------------------------------------------------
rb <- rd("models_rubin_input.csv")
res <- list()
for (cs in unique(rb$case)) {
  x <- rb[rb$case == cs, ]
  p <- pool.scalar(x$q, x$u, n = x$n[1], k = 1)
  res[[cs]] <- data.frame(case = cs, m = p$m, qbar = p$qbar, ubar = p$ubar, b = p$b,
                          t = p$t, df = p$df, r = p$r, fmi = p$fmi)
}
wr(do.call(rbind, res), "models_rubin.csv")

writeLines(capture.output(sessionInfo()), file.path(ref, "sessionInfo_models.txt"))
