# R peers for the substantive model's S1 design (random slope of an incomplete predictor),
# for bench_substantive.py --peers. Usage: Rscript peer_substantive_s1.R data.csv m out.csv
# Writes the m completed sets of two imputers, stacked with `.imp` and `.method` columns:
# * jomo.lmer: y ~ x + (1 + x | g), its substantive-model-compatible sampler, with the
#   auxiliary z in the covariate model (jomo's defaults: nburn 1000, nbetween 1000);
# * mice 2l.lmer: FIMD 7.10.6's recipe without miceadds' 2l.pmm (not installed here):
#   y from x (random slope) and z, x from y (random slope) and z, 20 iterations.
suppressMessages({library(jomo); library(mice)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
m <- as.integer(args[2])
d$g <- as.integer(factor(d$g))
d <- d[, c("y", "x", "z", "g")]
t0 <- proc.time()[["elapsed"]]
imp <- jomo.lmer(y ~ x + (1 + x | g), d, nburn = 1000, nbetween = 1000, nimp = m, output = 0)
jomo_s <- proc.time()[["elapsed"]] - t0
sets <- imp[imp$Imputation > 0, ]
jomo_sets <- data.frame(y = sets$y, x = sets$x, z = sets$z, g = as.integer(as.character(sets$clus)),
                        .imp = sets$Imputation, .method = "jomo.lmer", check.names = FALSE)
pred <- make.predictorMatrix(d)
pred[,] <- 0
pred["y", c("x", "z", "g")] <- c(2, 1, -2)
pred["x", c("y", "z", "g")] <- c(2, 1, -2)
meth <- make.method(d)
meth[c("y", "x")] <- "2l.lmer"
meth["z"] <- ""
t0 <- proc.time()[["elapsed"]]
mi <- mice(d, m = m, method = meth, predictorMatrix = pred, maxit = 20, printFlag = FALSE, seed = 1)
mice_s <- proc.time()[["elapsed"]] - t0
long <- complete(mi, "long")
mice_sets <- data.frame(y = long$y, x = long$x, z = long$z, g = long$g, .imp = long$.imp,
                        .method = "mice 2l.lmer", check.names = FALSE)
write.csv(rbind(jomo_sets, mice_sets), args[3], row.names = FALSE)
cat(sprintf("RESULT seconds jomo=%.3f mice=%.3f\n", jomo_s, mice_s))
