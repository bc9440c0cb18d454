"""The sandbox provider's substance: tokens that carry an account, and each account's synthetic data.

Framework-free: the consent and token endpoints (server/routes/sandbox.py), the data API
(server/routes/sandbox_api.py) and the flow code that makes test connections all mint or read
these, so they live below every one of them.
"""
