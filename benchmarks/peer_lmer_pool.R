# Fit an lme4 model to each completed data set of a stacked file and pool, for
# bench_substantive.py. Usage: Rscript peer_lmer_pool.R long.csv formula
# The file has an `.imp` column (1..m); a 0/1 response is fitted by a probit glmer.
# Prints RESULT lines: each fixed effect's pooled estimate and Rubin's 95% interval
# (mitml's testEstimates), and each variance component averaged over the sets (as mitml
# does), by lme4's names.
suppressMessages({library(lme4); library(mitml)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], check.names = FALSE)
f <- as.formula(args[2])
sets <- split(d, d$.imp)
# a 0/1 response (a binary outcome, coded by bench_substantive.py): a probit glmer
binary <- all(d[[all.vars(f)[1]]] %in% c(0, 1))
fit <- function(s) {
  if (binary) glmer(f, data = s, family = binomial(link = "probit")) else lmer(f, data = s, REML = TRUE)
}
fits <- lapply(sets, fit)
class(fits) <- c("mitml.result", "list")
est <- testEstimates(fits, extra.pars = TRUE)
fe <- est$estimates
for (i in seq_len(nrow(fe))) {
  q <- qt(0.975, fe[i, "df"])
  cat(sprintf("RESULT fixed:%s estimate=%.8g low=%.8g high=%.8g\n", gsub(" ", "", rownames(fe)[i]),
              fe[i, "Estimate"], fe[i, "Estimate"] - q * fe[i, "Std.Error"],
              fe[i, "Estimate"] + q * fe[i, "Std.Error"]))
}
vc <- est$extra.pars
for (i in seq_len(nrow(vc))) {
  cat(sprintf("RESULT extra:%s estimate=%.8g\n", gsub(" ", "", rownames(vc)[i]), vc[i, 1]))
}
