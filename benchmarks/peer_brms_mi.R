# brms with mi() on one data file, for bench_brms_mi.py: the substantive model's posterior
# (random slope of an incomplete continuous predictor) from another sampler.
# Usage: Rscript peer_brms_mi.R data.csv [slope_scale chains warmup draws seed]
# The data (columns y, x, g; x with NA) are standardised already; the priors are
# jmimpute's defaults on that scale (benchmarks/bench_brms_mi.py says why each is so):
#   y ~ mi(x) + (1 + mi(x) | g): Intercept N(0, 2.5), slope N(0, 2.5 / slope_scale),
#     random-effect sds HalfNormal(1) and HalfNormal(1 / slope_scale), LKJ(1), sigma
#     HalfNormal(1);
#   x | mi() ~ 1 + (1 | g): Intercept N(0, 2.5), sd HalfNormal(1), sigma HalfNormal(1).
# Prints RESULT lines `RESULT <name> mean= sd= ess= rhat=` (ess: posterior::ess_bulk), the
# variances and the covariance computed per draw from brms's sds and correlation, then
# `RESULT seconds compile= sampling=` and `RESULT diagnostics divergent= max_rhat=`.
suppressMessages({library(brms); library(posterior)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
opt <- function(i, default) if (length(args) >= i) as.numeric(args[i]) else default
slope_scale <- opt(2, 1)
chains <- as.integer(opt(3, 4))
warmup <- as.integer(opt(4, 1000))
draws <- as.integer(opt(5, 1000))
seed <- as.integer(opt(6, 1))
d$g <- as.integer(factor(d$g))
d <- d[, c("y", "x", "g")]

f <- bf(y ~ mi(x) + (1 + mi(x) | g)) + bf(x | mi() ~ 1 + (1 | g)) + set_rescor(FALSE)
priors <- c(
  set_prior("normal(0, 2.5)", class = "Intercept", resp = "y"),
  set_prior(sprintf("normal(0, %.10g)", 2.5 / slope_scale), class = "b", coef = "mix", resp = "y"),
  set_prior("normal(0, 1)", class = "sd", coef = "Intercept", group = "g", resp = "y"),
  set_prior(sprintf("normal(0, %.10g)", 1 / slope_scale), class = "sd", coef = "mix",
            group = "g", resp = "y"),
  set_prior("lkj(1)", class = "cor", group = "g"),
  set_prior("normal(0, 1)", class = "sigma", resp = "y"),
  set_prior("normal(0, 2.5)", class = "Intercept", resp = "x"),
  set_prior("normal(0, 1)", class = "sd", coef = "Intercept", group = "g", resp = "x"),
  set_prior("normal(0, 1)", class = "sigma", resp = "x")
)

t0 <- proc.time()[["elapsed"]]
fit0 <- suppressMessages(brm(f, data = d, prior = priors, chains = 0, backend = "rstan"))
compile_s <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
fit <- suppressMessages(update(fit0, recompile = FALSE, chains = chains, cores = min(chains, 2),
                               warmup = warmup, iter = warmup + draws, seed = seed, refresh = 0))
sampling_s <- proc.time()[["elapsed"]] - t0

dr <- as_draws_df(fit)
dr <- mutate_variables(
  dr,
  intercept = b_y_Intercept,
  slope = bsp_y_mix,
  tau_intercept = sd_g__y_Intercept^2,
  tau_slope = sd_g__y_mix^2,
  tau_cov = cor_g__y_Intercept__y_mix * sd_g__y_Intercept * sd_g__y_mix,
  sigma2 = sigma_y^2,
  x_intercept = b_x_Intercept,
  psi_x = sd_g__x_Intercept^2,
  sigma2_x = sigma_x^2
)
params <- c("intercept", "slope", "tau_intercept", "tau_slope", "tau_cov", "sigma2",
           "x_intercept", "psi_x", "sigma2_x")
est <- summarise_draws(subset_draws(dr, variable = params), mean, sd, ess_bulk, rhat)
for (i in seq_len(nrow(est))) {
  cat(sprintf("RESULT %s mean=%.8g sd=%.8g ess=%.1f rhat=%.5f\n", est$variable[i],
              est$mean[i], est$sd[i], est$ess_bulk[i], est$rhat[i]))
}
all_rhat <- summarise_draws(fit, rhat)$rhat
np <- nuts_params(fit)
divergent <- sum(np$Value[np$Parameter == "divergent__"])
cat(sprintf("RESULT seconds compile=%.3f sampling=%.3f\n", compile_s, sampling_s))
cat(sprintf("RESULT diagnostics divergent=%d max_rhat=%.5f\n", as.integer(divergent),
            max(all_rhat, na.rm = TRUE)))
