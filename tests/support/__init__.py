"""Test support: independent judges, a local Docker engine, registry and base image for the suite."""
