"""What comes back: the :class:`~jmimpute.results.imputation.Imputation`, its DataTree, files."""
