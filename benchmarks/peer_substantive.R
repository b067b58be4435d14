# R peers for the substantive model's simulation designs, for bench_substantive.py --peers.
# Usage: Rscript peer_substantive.R design data.csv m out.csv
# Writes the m completed sets of two imputers, stacked with `.imp` and `.method` columns
# (the data's own columns only, in their own coding):
# * jomo: its substantive-model-compatible sampler jomo.lmer with the design's analysis
#   formula, the auxiliary z in the covariate model (defaults: nburn 1000, nbetween 1000).
#   S4 (a contextual effect) has no jomo.lmer formula, since a cluster mean is not a term
#   it can write; there the joint model `jomo` of y, x, z with random intercepts imputes,
#   which is compatible with the latent-mean model (Enders, Keller and Levy 2018).
# * mice 2l.lmer: FIMD 7.10's recipes with 2l.lmer where FIMD uses miceadds' 2l.pmm (not
#   packaged by Debian): each incomplete level-1 variable from the others, z and passive
#   products of the outcome with the analysis model's moderators; level-2 w by
#   2lonly.norm (level-1 predictors aggregated); a binary b by 2l.bin; the analysis
#   model's passive terms recomputed after each update; 20 iterations.
suppressMessages({library(jomo); library(mice)})
args <- commandArgs(trailingOnly = TRUE)
design <- args[1]
d <- read.csv(args[2], na.strings = c("NA", ""))
m <- as.integer(args[3])
d$g <- as.integer(factor(d$g))

jomo_sets <- function(imp, cols) {
  sets <- imp[imp$Imputation > 0, ]
  out <- sets[, cols, drop = FALSE]
  out$g <- as.integer(as.character(sets$clus))
  out$.imp <- sets$Imputation
  out
}

run_jomo <- function() {
  if (design == "S1") {
    x <- d[, c("y", "x", "z", "g")]
    imp <- jomo.lmer(y ~ x + (1 + x | g), x, nburn = 1000, nbetween = 1000, nimp = m, output = 0)
    return(jomo_sets(imp, c("y", "x", "z")))
  }
  if (design == "S2") {
    x <- d[, c("y", "x", "z", "w", "g")]
    imp <- jomo.lmer(y ~ x * w + (1 | g), x, level = c(1, 1, 1, 2, 1),
                     nburn = 1000, nbetween = 1000, nimp = m, output = 0)
    return(jomo_sets(imp, c("y", "x", "z", "w")))
  }
  if (design %in% c("S3", "S3c")) {
    mod <- if (design == "S3") "b" else "v"
    x <- d[, c("y", "x", "z", mod, "g")]
    x[[mod]] <- factor(x[[mod]])
    f <- as.formula(sprintf("y ~ x * %s + I(x^2) + (1 | g)", mod))
    imp <- jomo.lmer(f, x, nburn = 1000, nbetween = 1000, nimp = m, output = 0)
    out <- jomo_sets(imp, c("y", "x", "z", mod))
    out[[mod]] <- as.character(out[[mod]])
    return(out)
  }
  if (design == "S4") {
    imp <- jomo(d[, c("y", "x", "z")], clus = d$g, nburn = 1000, nbetween = 1000, nimp = m,
                output = 0)
    return(jomo_sets(imp, c("y", "x", "z")))
  }
  stop("no jomo recipe for design ", design)
}

# mice: `passive` maps a derived column to its formula; `pred` lists each incomplete
# variable's predictors (g, the cluster, is added as -2); `meth` each one's method.
run_mice <- function() {
  x <- d[, setdiff(names(d), character(0))]
  passive <- list()
  pred_of <- list()
  meth_of <- list(y = "2l.lmer", x = "2l.lmer")
  random <- character(0)  # predictors with a random slope (2)
  if (design == "S1") {
    pred_of <- list(y = c("x", "z"), x = c("y", "z"))
    random <- c("y:x", "x:y")
  } else if (design == "S2") {
    passive <- list(xw = "~ I(x * w)", yw = "~ I(y * w)")
    pred_of <- list(y = c("x", "w", "xw", "z"), x = c("y", "w", "yw", "z"), w = c("y", "x", "z"))
    meth_of$w <- "2lonly.norm"
  } else if (design %in% c("S3", "S3c")) {
    mod <- if (design == "S3") "b" else "v"
    if (design == "S3") {
      x$b <- factor(x$b, levels = c("no", "yes"))
      meth_of$b <- "2l.bin"
      pred_of$b <- c("y", "x", "z")
      num <- "(as.integer(b) - 1)"
    } else {
      num <- "v"
    }
    passive <- list(xm = sprintf("~ I(x * %s)", num), ym = sprintf("~ I(y * %s)", num),
                    x2 = "~ I(x^2)")
    pred_of$y <- c("x", mod, "xm", "x2", "z")
    pred_of$x <- c("y", mod, "ym", "z")
  } else if (design == "S4") {
    passive <- list(xbar = "~ I(ave(x, g))", ybar = "~ I(ave(y, g))")
    pred_of <- list(y = c("x", "xbar", "z"), x = c("y", "ybar", "z"))
  } else {
    stop("no mice recipe for design ", design)
  }
  for (p in names(passive)) x[[p]] <- NA_real_
  pred <- make.predictorMatrix(x)
  pred[, ] <- 0
  meth <- make.method(x)
  meth[] <- ""
  for (v in names(pred_of)) {
    pred[v, pred_of[[v]]] <- 1
    pred[v, "g"] <- -2
    meth[v] <- meth_of[[v]]
  }
  for (r in random) {
    parts <- strsplit(r, ":")[[1]]
    pred[parts[1], parts[2]] <- 2
  }
  for (p in names(passive)) meth[p] <- passive[[p]]
  imputed <- names(pred_of)
  visit <- c(unlist(lapply(imputed, function(v) c(v, names(passive)))))
  mi <- mice(x, m = m, method = meth, predictorMatrix = pred, visitSequence = visit,
             maxit = 20, printFlag = FALSE, seed = 1)
  long <- complete(mi, "long")
  out <- long[, setdiff(names(d), character(0)), drop = FALSE]
  if ("b" %in% names(out)) out$b <- as.character(out$b)
  out$.imp <- long$.imp
  out
}

t0 <- proc.time()[["elapsed"]]
jomo_out <- run_jomo()
jomo_s <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
mice_out <- run_mice()
mice_s <- proc.time()[["elapsed"]] - t0
jomo_out$.method <- if (design == "S4") "jomo (joint)" else "jomo.lmer"
mice_out$.method <- "mice 2l.lmer"
cols <- c(names(d), ".imp", ".method")
write.csv(rbind(jomo_out[, cols], mice_out[, cols]), args[4], row.names = FALSE)
cat(sprintf("RESULT seconds jomo=%.3f mice=%.3f\n", jomo_s, mice_s))
