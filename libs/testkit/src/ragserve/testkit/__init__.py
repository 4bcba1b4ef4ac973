"""Fixtures for tests that run real parts: service processes started on port 0
and awaited through their health, a real Redis server, and a real OTLP/gRPC
trace receiver. Nothing here mocks a dependency."""
