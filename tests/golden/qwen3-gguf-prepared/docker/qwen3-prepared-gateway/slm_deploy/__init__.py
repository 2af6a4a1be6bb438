"""slm-deploy (gateway image subset)."""
