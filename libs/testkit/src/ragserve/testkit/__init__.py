"""Fixtures for tests that run real parts: service processes started on port 0
and awaited through their health, a real Redis server, a real OTLP/gRPC trace
receiver and a real OpenAI-speaking HTTP server. Nothing here mocks a dependency."""
