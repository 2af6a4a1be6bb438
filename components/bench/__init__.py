"""Load tests of a deployed endpoint: latency, throughput, goodput and memory, compared across runs."""
