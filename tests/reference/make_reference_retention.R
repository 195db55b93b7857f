# R reference values for envejind_eval.analysis.survival (retention(): Kaplan-Meier, log-rank) and
# envejind_eval.analysis.outcomes (McNemar, exact binomial intervals).
#
# Run from the repository root:   Rscript tests/reference/make_reference_retention.R
#
# 1. Crafts (only when missing, so the committed inputs stay stable):
#      retention_input.csv   dataset, group, time, event
#                            "municipal": three groups, integer days, ties between events
#                                         and censorings, one group ending in an event (S = 0)
#                            "weeks":     two groups, fractional weeks (days / 7)
#                            "small":     two teams of 5 and 6, one with a single event
#      outcomes_input.csv    scenario, n00, n01, n10, n11 (paired 2x2 counts)
# 2. Writes
#      retention_km.csv      summary(survfit(Surv(time, event) ~ group, conf.type, conf.int))
#                            at the event times, for conf.type in log / log-log / plain and
#                            conf.int in 0.95 / 0.90: time, n_risk, n_event, surv, std_err
#                            (standard error of S), lower, upper
#      retention_logrank.csv survdiff(Surv(time, event) ~ group): chisq, df, p
#      retention_logrank_groups.csv   observed and expected events per group
#      outcomes_mcnemar.csv  mcnemar.test(tab) (correct = TRUE) statistic and p;
#                            binom.test(n01, n01 + n10) p (exact McNemar)
#      outcomes_binom_ci.csv binom.test(k, n, conf.level)$conf.int (Clopper-Pearson)
# 3. Records sessionInfo() in tests/reference/sessionInfo_retention.txt.
#
# R and survival come from Debian: apt-get install r-base-core r-cran-survival.

suppressPackageStartupMessages(library(survival))

here <- "tests/reference"
input <- file.path(here, "retention_input.csv")
if (!file.exists(input)) {
  set.seed(20261126)
  mk <- function(dataset, group, time, event) {
    data.frame(dataset = dataset, group = group, time = time, event = event)
  }
  d1 <- rbind(
    mk("municipal", "Aalborg", c(5, 12, 12, 20, 33, 33, 47, 60, 120, 120, 120, 120),
       c(1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0)),
    mk("municipal", "Odense", c(3, 9, 9, 9, 14, 21, 28, 56, 77, 119, 121),
       c(1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1)),
    mk("municipal", "Ishoj", sample(c(2:60, rep(122, 10)), 18),
       rbinom(18, 1, 0.5))
  )
  d1$event[d1$group == "Ishoj" & d1$time == 122] <- 0
  days <- sample(1:130, 25, replace = TRUE)
  d2 <- mk("weeks", rep(c("A", "B"), length.out = 25), days / 7, rbinom(25, 1, 0.4))
  d3 <- rbind(
    mk("small", "T1", c(16, 52, 52, 52, 52), c(1, 0, 0, 0, 0)),
    mk("small", "T2", c(4, 11, 11, 30, 52, 52), c(1, 1, 0, 1, 0, 0))
  )
  write.csv(rbind(d1, d2, d3), input, row.names = FALSE)
}
d <- read.csv(input)

km <- list()
lr <- list()
lrg <- list()
for (ds in unique(d$dataset)) {
  sub <- d[d$dataset == ds, ]
  for (ct in c("log", "log-log", "plain")) {
    for (cl in c(0.95, 0.90)) {
      fit <- survfit(Surv(time, event) ~ group, data = sub, conf.type = ct, conf.int = cl)
      s <- summary(fit, censored = FALSE)
      km[[length(km) + 1]] <- data.frame(
        dataset = ds, group = sub("^group=", "", as.character(s$strata)),
        conf_type = ct, conf_level = cl, time = s$time, n_risk = s$n.risk,
        n_event = s$n.event, surv = s$surv, std_err = s$std.err, lower = s$lower,
        upper = s$upper
      )
    }
  }
  sd <- survdiff(Surv(time, event) ~ group, data = sub)
  df <- length(sd$n) - 1
  lr[[length(lr) + 1]] <- data.frame(
    dataset = ds, chisq = sd$chisq, df = df, p = pchisq(sd$chisq, df, lower.tail = FALSE)
  )
  lrg[[length(lrg) + 1]] <- data.frame(
    dataset = ds, group = sub("^group=", "", names(sd$n)), n = as.integer(sd$n),
    observed = sd$obs, expected = sd$exp
  )
}
wr <- function(x, f) write.csv(x, file.path(here, f), row.names = FALSE)
wr(do.call(rbind, km), "retention_km.csv")
wr(do.call(rbind, lr), "retention_logrank.csv")
wr(do.call(rbind, lrg), "retention_logrank_groups.csv")

oin <- file.path(here, "outcomes_input.csv")
if (!file.exists(oin)) {
  o <- data.frame(
    scenario = c("crafted", "none_discordant", "one_way", "balanced", "small_mixed",
                 "large", "large_one_way"),
    n00 = c(1, 3, 0, 2, 1, 40, 10),
    n01 = c(3, 0, 6, 2, 4, 30, 25),
    n10 = c(0, 0, 0, 2, 1, 18, 2),
    n11 = c(1, 4, 2, 1, 2, 35, 8)
  )
  write.csv(o, oin, row.names = FALSE)
}
o <- read.csv(oin)
mc <- do.call(rbind, lapply(seq_len(nrow(o)), function(i) {
  r <- o[i, ]
  tab <- matrix(c(r$n00, r$n10, r$n01, r$n11), 2, 2)  # rows = pre, columns = post
  m <- suppressWarnings(mcnemar.test(tab))
  nd <- r$n01 + r$n10
  ex <- if (nd > 0) binom.test(r$n01, nd, 0.5)$p.value else 1
  data.frame(scenario = r$scenario, chisq = unname(m$statistic), p_asymptotic = m$p.value,
             p_exact = ex)
}))
wr(mc, "outcomes_mcnemar.csv")

ks <- data.frame(k = c(0, 1, 4, 5, 3, 17, 40), n = c(5, 5, 5, 5, 8, 30, 123))
ci <- do.call(rbind, lapply(c(0.95, 0.90), function(cl) {
  do.call(rbind, lapply(seq_len(nrow(ks)), function(i) {
    b <- binom.test(ks$k[i], ks$n[i], conf.level = cl)
    data.frame(k = ks$k[i], n = ks$n[i], conf_level = cl, lower = b$conf.int[1],
               upper = b$conf.int[2])
  }))
}))
wr(ci, "outcomes_binom_ci.csv")

writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo_retention.txt"))
