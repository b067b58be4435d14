# panImpute and jomoImpute on one data set, for benchmarks/bench_impute.py.
# Usage: Rscript peer_mitml.R FILE CLUSTER Y1,Y2 M
# Prints one "RESULT" line per sampler:
#   min_ess      smallest coda effective sample size over the beta, psi and sigma elements
#                in the last 2000 of 3000 iterations (the first 1000 are burn-in);
#   ess_seconds  wall time of those 3000 iterations (one run with n.burn = 3000, m = 1,
#                keep.chains = "full", so that mitml's per-imputation overhead is not
#                counted against the sampler: this is how the reference's ~400 ESS/s for
#                pan was obtained; the peers' gibbs_ess.R (docs/peers.md), which asks for m = 2000
#                imputations, measures about 20 ESS/s here because of that overhead);
#   wall_m       wall time of an imputation with m sets, n.burn 5000, n.iter 100
#                (the settings of the reference runs in docs/reference.md).
args <- commandArgs(trailingOnly = TRUE)
file <- args[1]; cluster <- args[2]; y <- strsplit(args[3], ",")[[1]]; m <- as.integer(args[4])
suppressMessages({library(mitml); library(coda)})
d <- read.csv(file)
d <- d[, c(cluster, y)]
fml <- as.formula(paste(paste(y, collapse = " + "), "~ 1 + (1|", cluster, ")"))
set.seed(1)
for (fn in c("panImpute", "jomoImpute")) {
  f <- get(fn)
  t <- system.time(imp <- f(data = d, formula = fml, n.burn = 3000, n.iter = 1, m = 1,
                            keep.chains = "full", silent = TRUE))[["elapsed"]]
  ch <- imp$par.burnin
  ess <- c()
  for (nm in c("beta", "psi", "sigma")) {
    a <- ch[[nm]]; dims <- dim(a)
    for (i in 1:dims[1]) for (j in 1:dims[2]) {
      x <- a[i, j, 1001:3000, 1]
      if (sd(x) > 0) ess <- c(ess, effectiveSize(mcmc(x)))
    }
  }
  t2 <- system.time(f(data = d, formula = fml, n.burn = 5000, n.iter = 100, m = m,
                      silent = TRUE))[["elapsed"]]
  cat(sprintf("RESULT %s min_ess=%.2f ess_seconds=%.3f wall_m=%.3f\n", fn, min(ess), t, t2))
}
