"""Post-deployment checks: does the endpoint answer correctly (health, chat, streaming, tools, auth, metrics)?"""
