"""Using a registered model: loading it from any reference, ``predict`` into a CSV, ``evaluate`` on labelled data
(logged as an MLflow evaluation run), ``export`` to .keras / SavedModel / TFLite, verified after writing. May
import data, features and tracking."""
