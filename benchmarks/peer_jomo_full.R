# jomoImpute on a full joint model (categorical and level-2 targets), for bench_full.py.
# Usage: Rscript peer_jomo_full.R FILE CLUSTER "FORMULA1" "FORMULA2" FACTORS M
#   FORMULA1 / FORMULA2: level-1 and level-2 formulas in mitml's syntax; FACTORS: comma-separated
#   columns to treat as factors (categorical targets).
# Prints one "RESULT" line:
#   min_ess      smallest coda effective sample size over the beta, psi and sigma elements
#                in the last 2000 of 3000 iterations (one run with n.burn = 3000, m = 1,
#                keep.chains = "full", as peer_mitml.R);
#   ess_seconds  wall time of those 3000 iterations;
#   wall_m       wall time of an imputation with m sets and jomoImpute's defaults as the
#                reference runs used them (n.burn 5000, n.iter 100);
#   max_psr      jomo's own potential scale reduction (max over parameters) of that run.
args <- commandArgs(trailingOnly = TRUE)
file <- args[1]; cluster <- args[2]; f1 <- args[3]; f2 <- args[4]
factors <- strsplit(args[5], ",")[[1]]; m <- as.integer(args[6])
suppressMessages({library(mitml); library(coda)})
d <- read.csv(file)
for (v in factors) d[[v]] <- factor(d[[v]])
fml <- list(as.formula(f1), as.formula(f2))
set.seed(1)
t <- system.time(imp <- jomoImpute(data = d, formula = fml, n.burn = 3000, n.iter = 1, m = 1,
                                   keep.chains = "full", silent = TRUE))[["elapsed"]]
ch <- imp$par.burnin
ess <- c()
for (nm in names(ch)) {
  a <- ch[[nm]]; dims <- dim(a)
  if (length(dims) != 4) next
  for (i in 1:dims[1]) for (j in 1:dims[2]) {
    x <- a[i, j, 1001:3000, 1]
    if (sd(x) > 0) ess <- c(ess, effectiveSize(mcmc(x)))
  }
}
t2 <- system.time(imp2 <- jomoImpute(data = d, formula = fml, n.burn = 5000, n.iter = 100,
                                      m = m, silent = TRUE))[["elapsed"]]
conv <- summary(imp2)$conv
psr <- max(unlist(lapply(conv, function(p) if (is.null(p)) NA else max(p[, "Rhat"]))),
           na.rm = TRUE)
cat(sprintf("RESULT jomoImpute min_ess=%.2f ess_seconds=%.3f wall_m=%.3f max_psr=%.3f\n",
            min(ess), t, t2, psr))
