"""The runtime every ragserve service shares: server factory and lifecycle,
health, reflection, interceptors (tracing, access logs, RED metrics, the
error table, deadlines), client channels, telemetry, metrics and settings."""
