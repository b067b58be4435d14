# jomoImpute with cluster-specific level-1 covariances (random.L1 = "full", jomo's
# meth = "random"), then the analysis model pooled by mitml, for bench_cluster_cov.py.
# Usage: Rscript peer_jomo_random.R FILE CLUSTER "FORMULA" "ANALYSIS" M
# Prints "RESULT wall seconds=..." (jomoImpute with n.burn 5000, n.iter 100, as the
# reference runs), "RESULT psr max=..." (jomo's own PSR) and, per fixed effect,
# "RESULT <term> estimate=... se=..." (Rubin's rules, mitml::testEstimates).
args <- commandArgs(trailingOnly = TRUE)
file <- args[1]; cluster <- args[2]; fml <- as.formula(args[3]); analysis <- args[4]
m <- as.integer(args[5])
suppressMessages({library(mitml); library(lme4)})
d <- read.csv(file)
set.seed(1)
t <- system.time(imp <- jomoImpute(data = d, formula = fml, random.L1 = "full",
                                   n.burn = 5000, n.iter = 100, m = m,
                                   silent = TRUE))[["elapsed"]]
conv <- summary(imp)$conv
psr <- max(unlist(lapply(conv, function(p) if (is.null(p)) NA else max(p[, "Rhat"]))),
           na.rm = TRUE)
fits <- with(mitmlComplete(imp, "all"), lmer(as.formula(analysis), REML = FALSE))
est <- testEstimates(fits)$estimates
cat(sprintf("RESULT wall seconds=%.3f\n", t))
cat(sprintf("RESULT psr max=%.4f\n", psr))
for (term in rownames(est)) {
  cat(sprintf("RESULT %s estimate=%.6f se=%.6f\n", gsub("[()]", "", term),
              est[term, "Estimate"], est[term, "Std.Error"]))
}
