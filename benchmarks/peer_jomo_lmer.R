# jomo.lmer (jomo's substantive-model-compatible sampler) on one data file, for
# bench_substantive_speed.py. Usage: Rscript peer_jomo_lmer.R data.csv formula n_iter nimp
# Prints RESULT lines: the chain's seconds and smallest ESS (coda, second half of the
# chain, over the outcome and covariate models' parameters), and the wall time of
# jomo.lmer(nburn = 1000, nbetween = 1000, nimp) -- its defaults but for nimp.
suppressMessages({library(jomo); library(coda)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$g <- as.integer(factor(d$g))
f <- as.formula(args[2])
n_iter <- as.integer(args[3])
nimp <- as.integer(args[4])
vars <- unique(c(all.vars(f)))
d <- d[, vars]
t0 <- proc.time()[["elapsed"]]
out <- jomo.lmer.MCMCchain(f, d, nburn = n_iter, output = 0)
chain_s <- proc.time()[["elapsed"]] - t0
keep <- seq(n_iter %/% 2 + 1, n_iter)
ess <- c()
for (n in c("collectbeta", "collectomega", "collectcovu", "collectbetaY", "collectcovuY")) {
  x <- out[[n]]
  if (is.null(x)) next
  m <- matrix(x, ncol = dim(x)[length(dim(x))])
  for (i in seq_len(nrow(m))) {
    row <- m[i, keep]
    if (var(row) > 0) ess <- c(ess, effectiveSize(row))
  }
}
ess <- c(ess, effectiveSize(out$collectvarY[keep]))
cat(sprintf("RESULT chain seconds=%.3f min_ess=%.1f iterations=%d\n", chain_s, min(ess), n_iter))
t0 <- proc.time()[["elapsed"]]
imp <- jomo.lmer(f, d, nburn = 1000, nbetween = 1000, nimp = nimp, output = 0)
cat(sprintf("RESULT impute seconds=%.3f\n", proc.time()[["elapsed"]] - t0))
