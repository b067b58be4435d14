"""The imputation models, each behind the :class:`~jmimpute.models.protocol.ImputationModel` protocol."""
