"""A connection's life after the flow: token refresh, health, and webhooks about it.

- `refresh`: credentials valid now, one refresh per connection at a time across processes.
- `refresher`: the background task that refreshes tokens ahead of expiry, at a bounded rate.
- `dispatcher`: the background task that delivers the webhook outbox, signed, with retries.
- `tasks`: starts and stops both with the app's lifespan.
"""
