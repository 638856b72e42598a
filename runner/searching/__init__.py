"""The head search: ``SearchConfig``, opening a search (data, study, parent run), a worker's share of the trials
(objective, head training, fused updates, seeded sampler), ``--n-jobs`` helpers, study reports, and finalizing the
best trial into a registered model. May import data, features, plugins and tracking."""
