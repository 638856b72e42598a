"""Auditing a labelled dataset on cached features: label issues (out-of-fold probabilities + cleanlab), exact and
near duplicates, leaks into a test set, outliers, unreadable files; a JSON/CSV/HTML report and an MLflow audit run.
May import data, features, plugins and tracking."""
