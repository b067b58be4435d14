"""What the joint normal models share: parameters and priors, exact conditional draws."""
