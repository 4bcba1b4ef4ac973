"""The one SLO spec: model, Prometheus rule generator, and the evaluator the monitor shares."""
