"""slm-deploy (smoke image subset)."""
