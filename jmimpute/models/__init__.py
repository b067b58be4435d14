"""The imputation models, each behind one protocol (:mod:`jmimpute.models.protocol`)."""
